import { createKubernetesRollout, type RolloutState, replicaSplit } from '@kanary/core';
import { type Cluster, REALISTIC_LATENCY, startCluster } from '@kanary/testkit';
import { expectShare } from '@kanary/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, imagesBehind, service } from './fixtures.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

const selectorOf = (name: string) =>
  (cluster.get('Service', 'default', name)!.spec as { selector: Record<string, string> }).selector;

describe('seed 001: blue-green by switching the Service selector', () => {
  const spec = {
    name: 'py-hello',
    target: { name: 'py-hello-blue', service: 'py-hello-service' },
    update: { image: 'localhost:5001/py-http:2' },
    strategy: {
      type: 'blueGreen',
      activeService: 'py-hello-service',
      previewService: 'py-hello-preview',
      autoPromotionSeconds: 30,
      scaleDownDelaySeconds: 60,
    },
  };
  const setup = async (strategy: Record<string, unknown> = spec.strategy) => {
    // Controllers that react late, as a cluster's: the switch must wait for the Endpoints to follow.
    cluster = await startCluster({ podReadyAfterMs: 2_000, controllerLatency: REALISTIC_LATENCY });
    cluster.apply(
      deployment('py-hello-blue', 'default', 'localhost:5001/py-http:1', 2, { app: 'hello', color: 'blue' }),
      service('py-hello-service', 'default', { app: 'hello' }),
      service('py-hello-preview', 'default', { app: 'hello' }),
    );
    // Blue serves before the release starts: ready, and in the Service's Endpoints.
    await cluster.virtualClock!.advance(3_000);
    return createKubernetesRollout({
      spec: { ...spec, strategy },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      pollInterval: '1s',
    });
  };

  it('previews green, switches the active Service in one write, keeps blue for the delay, then retires it', async () => {
    const rollout = await setup();
    const seen: string[] = [];
    rollout.on('state', (s: RolloutState) => {
      const active = imagesBehind(cluster, 'default', 'py-hello-service');
      const label = `${s.phase}:${[...new Set(active)].join('+')}`;
      if (seen.at(-1) !== label) seen.push(label);
      if (s.cursor.section === 'steps' && s.cursor.step === 0) {
        // While waiting for auto-promotion: users see blue only, the preview shows green only.
        expect(new Set(active)).toEqual(new Set(['localhost:5001/py-http:1']));
        expect(imagesBehind(cluster, 'default', 'py-hello-preview')).toEqual([
          'localhost:5001/py-http:2',
          'localhost:5001/py-http:2',
        ]);
      }
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('succeeded');
    expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual([
      'localhost:5001/py-http:2',
      'localhost:5001/py-http:2',
    ]);
    // Blue has no pods left: the Services have the user's own selectors back (issue 22, finding 3).
    expect(selectorOf('py-hello-service')).toEqual({ app: 'hello' });
    expect(selectorOf('py-hello-preview')).toEqual({ app: 'hello' });
    expect(
      (cluster.get('Deployment', 'default', 'py-hello-blue')!.spec as { replicas: number }).replicas,
    ).toBe(0);
    expect(seen).toContain('paused:localhost:5001/py-http:1');
    expect(seen.some((x) => x.endsWith(':localhost:5001/py-http:2'))).toBe(true);
  });

  it('promoteFull() while waiting for promotion still switches to green before blue is retired: no request fails', async () => {
    const rollout = await setup({
      type: 'blueGreen',
      activeService: 'py-hello-service',
      previewService: 'py-hello-preview',
      autoPromotionEnabled: false,
      scaleDownDelaySeconds: 5,
    });
    const entry = { kind: 'service' as const, namespace: 'default', service: 'py-hello-service' };
    let failedWhileRunning = 0;
    rollout.on('state', (s: RolloutState) => {
      if (s.phase === 'paused') queueMicrotask(() => void rollout.promoteFull().catch(() => undefined));
      for (const [backend, n] of cluster.traffic.sample(entry, 200))
        if (backend.startsWith('status-')) failedWhileRunning += n;
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('succeeded');
    expect(final.history.some((h) => h.event === 'promoteFull')).toBe(true);
    expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual([
      'localhost:5001/py-http:2',
      'localhost:5001/py-http:2',
    ]);
    expect(
      (cluster.get('Deployment', 'default', 'py-hello-blue')!.spec as { replicas: number }).replicas,
    ).toBe(0);
    expect(failedWhileRunning).toBe(0);
    const after = cluster.traffic.sample(entry, 1_000);
    expect([...after.keys()].filter((k) => k.startsWith('status-'))).toEqual([]);
  });

  it('the same spec works for every release: the colour that serves is found, so release 2 and 3 never point users at 0 pods', async () => {
    const first = await setup({ ...spec.strategy, scaleDownDelaySeconds: 5 });
    const entry = { kind: 'service' as const, namespace: 'default', service: 'py-hello-service' };
    let failed = 0;
    const count = () => {
      for (const [backend, n] of cluster.traffic.sample(entry, 100))
        if (backend.startsWith('status-')) failed += n;
    };
    first.on('state', count);
    expect((await cluster.run(first.run())).phase).toBe('succeeded');
    for (const [release, image] of [
      [2, 'localhost:5001/py-http:3'],
      [3, 'localhost:5001/py-http:4'],
    ] as const) {
      const next = createKubernetesRollout({
        spec: { ...spec, update: { image }, strategy: { ...spec.strategy, scaleDownDelaySeconds: 5 } },
        kubeConfig: cluster.kubeConfig,
        clock: cluster.clock,
        pollInterval: '1s',
      });
      next.on('state', count);
      const final = await cluster.run(next.run());
      expect(final.phase, `release ${release}`).toBe('succeeded');
      // Release 2 runs on blue (green served release 1), release 3 on green again.
      expect(final.targets.stable?.name).toBe(release === 2 ? 'py-hello-green' : 'py-hello-blue');
      expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual([image, image]);
    }
    expect(failed).toBe(0);
    const replicas = (name: string) =>
      (cluster.get('Deployment', 'default', name)!.spec as { replicas: number }).replicas;
    expect([replicas('py-hello-blue'), replicas('py-hello-green')]).toEqual([0, 2]);
  });

  it('is succeeded at the switch; a next release started during the scale-down delay does not wait for it: blue is scaled down first, no request fails', async () => {
    const first = await setup({ ...spec.strategy, scaleDownDelaySeconds: 600 });
    const entry = { kind: 'service' as const, namespace: 'default', service: 'py-hello-service' };
    let failed = 0;
    const count = () => {
      for (const [backend, n] of cluster.traffic.sample(entry, 100))
        if (backend.startsWith('status-')) failed += n;
    };
    first.on('state', count);
    const succeededAt = new Promise<RolloutState>((resolve) =>
      first.on('state', (s) => s.phase === 'succeeded' && resolve(s)),
    );
    const firstRun = cluster.run(first.run(), { maxMs: 3_600_000 });
    const atSwitch = await cluster.run(succeededAt);
    // Green serves; blue still has its pods for the delay (a rollback is one selector write), and the
    // Lease is free for whoever comes next.
    expect(atSwitch.cursor.section).toBe('promotion');
    expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual([
      'localhost:5001/py-http:2',
      'localhost:5001/py-http:2',
    ]);
    const replicas = (name: string) =>
      (cluster.get('Deployment', 'default', name)!.spec as { replicas: number }).replicas;
    expect(replicas('py-hello-blue')).toBe(2);
    await cluster.virtualClock!.advance(1_000);
    expect(
      (cluster.get('Lease', 'default', 'kanary-py-hello')!.spec as { holderIdentity: unknown })
        .holderIdentity,
    ).toBeFalsy();
    const startedAt = cluster.clock.now();
    const next = createKubernetesRollout({
      spec: {
        ...spec,
        update: { image: 'localhost:5001/py-http:3' },
        strategy: { ...spec.strategy, scaleDownDelaySeconds: 600 },
      },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      pollInterval: '1s',
    });
    next.on('state', count);
    const warnings: string[] = [];
    next.on('warning', (w) => warnings.push(w.message));
    const began = new Promise<RolloutState>((resolve) =>
      next.on('state', (s) => s.cursor.section === 'steps' && resolve(s)),
    );
    const nextRun = cluster.run(next.run(), { maxMs: 3_600_000 });
    await cluster.run(began);
    // Started long before the first release's 10 minutes were up, with the old blue retired first.
    expect(cluster.clock.now() - startedAt).toBeLessThan(120_000);
    expect(warnings.join('\n')).toMatch(/scaling its old version down now/);
    // The first driver comes back when its delay is up, finds the work done and returns.
    const firstFinal = await firstRun;
    expect(firstFinal.phase).toBe('succeeded');
    const final = await nextRun;
    expect(final.phase).toBe('succeeded');
    expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual([
      'localhost:5001/py-http:3',
      'localhost:5001/py-http:3',
    ]);
    expect(failed).toBe(0);
  });

  it('rolls back by switching the selector back while blue is still up', async () => {
    const rollout = await setup();
    rollout.on('phase', ({ to }) => {
      if (to === 'promoting') queueMicrotask(() => rollout.abort('errors after the switch'));
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('aborted');
    expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual([
      'localhost:5001/py-http:1',
      'localhost:5001/py-http:1',
    ]);
    expect(cluster.get('Deployment', 'default', 'py-hello-green')).toBeUndefined();
    expect(
      (cluster.get('Deployment', 'default', 'py-hello-blue')!.spec as { replicas: number }).replicas,
    ).toBe(2);
  });
  it('green crash-looping during the scale-down delay rolls back to blue, which was kept for that: users fail for at most a poll', async () => {
    const rollout = await setup({ ...spec.strategy, autoPromotionSeconds: 5, scaleDownDelaySeconds: 120 });
    const entry = { kind: 'service' as const, namespace: 'default', service: 'py-hello-service' };
    let crashedAt: number | undefined;
    rollout.on('phase', ({ to }) => {
      if (to === 'succeeded' && crashedAt === undefined)
        void cluster.virtualClock!.advance(10_000).then(() => {
          crashedAt = cluster.clock.now();
          expect(cluster.crashPods({ image: 'localhost:5001/py-http:2' })).toBeGreaterThan(0);
        });
    });
    const failures: number[] = [];
    const stop = new AbortController();
    const watch = (async () => {
      while (!stop.signal.aborted) {
        const n = [...cluster.traffic.sample(entry, 100)].filter(([k]) => k.startsWith('status-')).length;
        if (n > 0) failures.push(cluster.clock.now());
        await cluster.clock.sleep(250, stop.signal).catch(() => undefined);
      }
    })();
    const final = await cluster.run(rollout.run());
    stop.abort();
    await watch;
    expect(crashedAt).toBeDefined();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toMatch(/before the previous version was scaled down.*rolling back/);
    expect(final.history.filter((h) => h.event === 'abort')).toHaveLength(1);
    expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual([
      'localhost:5001/py-http:1',
      'localhost:5001/py-http:1',
    ]);
    expect(selectorOf('py-hello-service')).toEqual({ app: 'hello' });
    // Users failed only between the crash and the next look (a poll of 1 s, plus the write).
    expect(failures.every((t) => t <= (crashedAt as number) + 2_000)).toBe(true);
  });
});

describe('seed 001: gray release by replica ratio behind one Service', () => {
  /** The article's blue (v1) with `replicas` pods behind one Service that selects both colours. */
  const blueBehindOneService = async (replicas: number) => {
    cluster = await startCluster({ podReadyAfterMs: 2_000, seed: 5 });
    cluster.apply(
      deployment('py-hello-blue', 'default', 'py-http:1', replicas, { app: 'hello', color: 'blue' }),
      service('py-hello-service', 'default', { app: 'hello' }),
    );
    await cluster.virtualClock!.advance(2_000);
  };

  it('documents the rounding rule', () => {
    expect(replicaSplit(10, 10, 1)).toEqual({ stable: 9, canary: 1 });
    expect(replicaSplit(10, 25, 1)).toEqual({ stable: 7, canary: 3 }); // 2.5 rounds half up
    expect(replicaSplit(4, 10, 1)).toEqual({ stable: 3, canary: 1 }); // 0.4 → 0, floor of 1 pod
    expect(replicaSplit(4, 95, 1)).toEqual({ stable: 1, canary: 3 }); // 3.8 → 4, stable keeps 1
    expect(replicaSplit(2, 50, 1)).toEqual({ stable: 1, canary: 1 });
    expect(replicaSplit(10, 0, 1)).toEqual({ stable: 10, canary: 0 });
    expect(replicaSplit(10, 100, 1)).toEqual({ stable: 0, canary: 10 });
  });

  it('refuses what one replica cannot give (a side with a share and no pod), naming the fix, writing nothing', async () => {
    await blueBehindOneService(1);
    const before = cluster.requests.length;
    const rollout = createKubernetesRollout({
      spec: {
        name: 'py-hello',
        target: { name: 'py-hello-blue', service: 'py-hello-service' },
        update: { image: 'py-http:2' },
        strategy: { type: 'replicaRatio', canary: { name: 'py-hello-green' } },
        steps: [{ setWeight: 10 }, { pause: { duration: '1m' } }, { setWeight: 50 }],
      },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
    });
    await expect(cluster.run(rollout.run())).rejects.toMatchObject({
      code: 'PREFLIGHT',
      issues: [
        {
          path: 'steps[0].setWeight',
          message: expect.stringMatching(/10% with 1 replica leaves one side without a pod/),
          hint: 'set strategy.totalReplicas to 2 or more, or scale py-hello-blue to 2',
        },
      ],
    });
    const writes = cluster.requests
      .slice(before)
      .filter((r) => ['create', 'update', 'patch', 'delete'].includes(r.verb) && r.resource !== 'leases');
    expect(writes).toEqual([]);
    expect(cluster.get('Deployment', 'default', 'py-hello-green')).toBeUndefined();
  });

  it('an abort moves every user off the canary in one write, then the stable goes back to the size the user had', async () => {
    await blueBehindOneService(1);
    const rollout = createKubernetesRollout({
      spec: {
        name: 'py-hello',
        target: { name: 'py-hello-blue', service: 'py-hello-service' },
        update: { image: 'py-http:2' },
        strategy: { type: 'replicaRatio', totalReplicas: 6, canary: { name: 'py-hello-green' } },
        steps: [{ setWeight: 50 }, { pause: {} }],
      },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      pollInterval: '1s',
    });
    const entry = { kind: 'service' as const, namespace: 'default', service: 'py-hello-service' };
    let abortedAt: number | undefined;
    let offCanaryAt: number | undefined;
    rollout.on('phase', ({ to }) => {
      if (to === 'paused' && abortedAt === undefined) {
        abortedAt = cluster.clock.now();
        queueMicrotask(() => void rollout.abort('bad canary'));
      }
    });
    rollout.on('state', () => {
      if (abortedAt === undefined || offCanaryAt !== undefined) return;
      const served = cluster.traffic.sample(entry, 200);
      if (!served.get('py-hello-green') && (served.get('py-hello-blue') ?? 0) > 0)
        offCanaryAt = cluster.clock.now();
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('aborted');
    // One write and the Endpoints' update: no waiting for stable pods to start one by one.
    expect((offCanaryAt as number) - (abortedAt as number)).toBeLessThan(2_000);
    for (let i = 0; i < 5; i++) await cluster.virtualClock!.advance(2_000);
    expect(
      (cluster.get('Deployment', 'default', 'py-hello-blue')!.spec as { replicas: number }).replicas,
    ).toBe(1);
    expect(cluster.get('Deployment', 'default', 'py-hello-green')).toBeUndefined();
    expect([...cluster.traffic.sample(entry, 200).keys()]).toEqual(['py-hello-blue']);
  });

  it('turns each weight into replica counts, never above total + maxSurge, and the observed split follows them', async () => {
    await blueBehindOneService(10);
    const rollout = createKubernetesRollout({
      spec: {
        name: 'py-hello',
        target: { name: 'py-hello-blue', service: 'py-hello-service' },
        update: { image: 'py-http:2' },
        strategy: {
          type: 'replicaRatio',
          totalReplicas: 10,
          maxSurge: 1,
          canary: { name: 'py-hello-green' },
        },
        steps: [
          { setWeight: 10 },
          { pause: { duration: '1m' } },
          { setWeight: 50 },
          { pause: { duration: '1m' } },
        ],
      },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      pollInterval: '1s',
    });
    let maxPods = 0;
    const splits: Array<{ requested: number; effective: number | undefined; observed: number }> = [];
    const podCount = () => cluster.list('Pod', 'default').length;
    rollout.on('state', () => {
      const specReplicas = ['py-hello-blue', 'py-hello-green'].reduce(
        (s, n) =>
          s +
          ((cluster.get('Deployment', 'default', n)?.spec as { replicas?: number } | undefined)?.replicas ??
            0),
        0,
      );
      maxPods = Math.max(maxPods, specReplicas);
    });
    rollout.on('weight', ({ canary, effective }) => {
      if (canary === 0 || canary === 100) return;
      const counts = cluster.traffic.sample(
        { kind: 'service', namespace: 'default', service: 'py-hello-service' },
        4000,
      );
      splits.push({ requested: canary, effective, observed: counts.get('py-hello-green') ?? 0 });
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('succeeded');
    expect(maxPods).toBeLessThanOrEqual(11);
    expect(splits.map((s) => [s.requested, s.effective])).toEqual([
      [10, 10],
      [50, 50],
    ]);
    for (const s of splits) expectShare(s.observed, 4000, s.requested / 100, `${s.requested}%`);
    // Promoted: the stable Deployment runs the new version with every pod; the canary is gone.
    expect(imagesBehind(cluster, 'default', 'py-hello-service')).toEqual(Array(10).fill('py-http:2'));
    expect(cluster.get('Deployment', 'default', 'py-hello-green')).toBeUndefined();
    expect(podCount()).toBe(10);
  });
});
