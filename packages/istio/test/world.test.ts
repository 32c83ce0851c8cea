import {
  createKubeClient,
  createKubernetesRollout,
  type HoldCause,
  type Rollout,
  type RolloutSpecInput,
  type RolloutState,
} from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, deployment, istioApp, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Findings 3, 4 and 8 of the release-safety review, replayed as a person would cause them: a side
 * deleted, the target's image changed, the stable scaled, each in the middle of a weighted Istio
 * rollout with traffic. What users see is measured every second of virtual time.
 */
let cluster: Cluster;
afterEach(() => cluster?.close());

const entry = { kind: 'istio' as const, host: 'web', namespace: 'default' };
const POLL = 2_000;

const SPEC: RolloutSpecInput = {
  name: 'web',
  target: { name: 'web', service: 'web' },
  update: { image: 'web:2' },
  strategy: { type: 'weighted' },
  steps: [{ setWeight: 30 }, { pause: { duration: '5m' } }, { setWeight: 60 }, { pause: { duration: '5m' } }],
  scaleDownDelay: '10s',
  abortScaleDownDelay: '10s',
};

async function setup(spec: RolloutSpecInput = SPEC): Promise<Rollout> {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 7 });
  cluster.apply(...istioApp('web', 'default', 'web:1', 4));
  await cluster.settle();
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  return createKubernetesRollout({
    spec,
    client,
    clock: cluster.clock,
    pollInterval: POLL,
    router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
  });
}

/** A person with kubectl: their own identity and connection, no fence. */
const person = () => createKubeClient({ kubeConfig: cluster.kubeConfigFor('person'), clock: cluster.clock });
const deploymentRef = (name: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'default',
  name,
});

/**
 * A person's edit of the target's template with kubectl: a new image, optionally paused, or written
 * back with `creationTimestamp: null` as `kubectl rollout undo` does.
 */
const editTarget = (image: string, how: { paused?: boolean; withNull?: boolean } = {}) =>
  person().update<{
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: Record<string, never>;
  }>(deploymentRef('web'), (d) => {
    const spec = d.spec as unknown as {
      paused?: boolean;
      template: { metadata: Record<string, unknown>; spec: { containers: Array<{ image: string }> } };
    };
    spec.template.spec.containers[0]!.image = image;
    if (how.paused) spec.paused = true;
    if (how.withNull) spec.template.metadata = { ...spec.template.metadata, creationTimestamp: null };
    return d;
  });

/** Samples 200 requests every virtual second until stopped: when each answer came, and from where. */
function watchUsers() {
  const seen: Array<{ at: number; counts: Map<string, number> }> = [];
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      seen.push({ at: cluster.clock.now(), counts: cluster.traffic.sample(entry, 200) });
      await cluster.clock.sleep(1_000, stopped.signal).catch(() => undefined);
    }
  })();
  const failed = (from: number, to = Number.POSITIVE_INFINITY) =>
    seen
      .filter((s) => s.at >= from && s.at <= to)
      .reduce(
        (n, s) => n + [...s.counts].filter(([k]) => k.startsWith('status-')).reduce((a, [, c]) => a + c, 0),
        0,
      );
  return {
    failed,
    stop: async () => {
      stopped.abort();
      await loop;
    },
  };
}

const imageOf = (name: string) =>
  (
    cluster.get('Deployment', 'default', name)?.spec as
      | { template: { spec: { containers: Array<{ image: string }> } } }
      | undefined
  )?.template.spec.containers[0]?.image;
const replicasOf = (name: string) =>
  (cluster.get('Deployment', 'default', name)?.spec as { replicas: number } | undefined)?.replicas;

const VS_REF = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  namespace: 'default',
  name: 'web',
};
/** A person's emergency: the canary's weight set to 0 on the VirtualService. */
const zeroByHand = () =>
  person().update<{
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: Record<string, never>;
  }>(VS_REF, (vs) => {
    const spec = vs.spec as unknown as {
      http: Array<{ route: Array<{ destination: { subset: string }; weight?: number }> }>;
    };
    for (const r of spec.http)
      if (r.route.length > 1) for (const d of r.route) d.weight = d.destination.subset === 'stable' ? 100 : 0;
    return vs;
  });

/** Resolves on the first state the predicate accepts. */
const when = (rollout: Rollout, ok: (s: RolloutState) => boolean) =>
  new Promise<RolloutState>((resolve) => rollout.on('state', (s) => ok(s) && resolve(s)));
const atPause = (step: number) => (s: RolloutState) =>
  s.cursor.section === 'steps' && s.cursor.step === step && s.action?.until !== undefined;

/**
 * A weighted release paused at 30% whose stable Deployment a person deletes: returned once Kanary
 * holds, with users watched from just before the deletion.
 */
async function stableDeletedAtPause() {
  const rollout = await setup();
  const running = rollout.run();
  await cluster.run(when(rollout, atPause(1)));
  const users = watchUsers();
  const deletedAt = cluster.clock.now();
  await person().delete(deploymentRef('web'));
  const held = await cluster.run(when(rollout, (s) => s.held !== undefined));
  return { rollout, running, users, deletedAt, held };
}

describe('never route users to nothing', () => {
  it('the canary Deployment deleted at 30%: users are back on stable within a poll, the rollout holds, abort() rolls back cleanly', async () => {
    const rollout = await setup();
    const users = watchUsers();
    const heldEvents: HoldCause[] = [];

    rollout.on('held', (h) => heldEvents.push(h));
    const running = rollout.run();
    await cluster.run(when(rollout, atPause(1)));
    expect(cluster.traffic.shareServed(entry, 'web-canary')).toBeGreaterThan(0.2);

    const deletedAt = cluster.clock.now();
    await person().delete(deploymentRef('web-canary'));
    const held = await cluster.run(when(rollout, (s) => s.held !== undefined));
    expect(held.phase).toBe('paused');
    expect(held.held).toMatchObject({ kind: 'unready', side: 'canary', restart: true });
    expect(held.held?.reason).toMatch(/web-canary does not exist: all traffic moved to the stable/);
    expect(held.weights.canary).toBe(0);
    expect(heldEvents).toHaveLength(1);
    // Failures only in the window Kanary needs to notice: at most one poll interval.
    await cluster.virtualClock!.advance(30_000);
    expect(users.failed(deletedAt + POLL + 1_000)).toBe(0);
    expect(cluster.traffic.shareServed(entry, 'web')).toBe(1);
    // Held means held: promote() and skipStep() say why not.
    await expect(rollout.promote()).rejects.toThrow(/held .*resume\(\) once that is fixed, or abort\(\)/);

    await cluster.run(rollout.abort('canary gone'));
    const final = await cluster.run(running);
    await users.stop();
    expect(final.phase).toBe('aborted');
    expect(users.failed(deletedAt + POLL + 1_000)).toBe(0);
  });

  it('resume() after the canary was deleted makes it again and starts the steps from the beginning', async () => {
    const rollout = await setup();
    const running = rollout.run();
    await cluster.run(when(rollout, atPause(1)));
    await person().delete(deploymentRef('web-canary'));
    await cluster.run(when(rollout, (s) => s.held !== undefined));
    const users = watchUsers();
    const resumedAt = cluster.clock.now();
    await cluster.run(rollout.resume());
    const final = await cluster.run(running);
    await users.stop();
    expect(final.phase).toBe('succeeded');
    expect(imageOf('web')).toBe('web:2');
    expect(final.history.filter((h) => h.event === 'resume').at(-1)?.detail).toMatch(/from the beginning/);
    expect(users.failed(resumedAt)).toBe(0);
  });

  it('the stable Deployment deleted at 30%: users move to the canary (the side that can serve); abort() keeps them there until the stable is back', async () => {
    const { rollout, running, users, deletedAt, held } = await stableDeletedAtPause();
    expect(held.held).toMatchObject({ kind: 'unready', side: 'stable' });
    expect(held.weights.canary).toBe(100);

    // Abort cannot send users to a stable that is not there: they stay on the canary.
    const aborting = rollout.abort('stable deleted');
    await cluster.virtualClock!.advance(60_000);
    expect(cluster.traffic.shareServed(entry, 'web-canary')).toBe(1);
    // The person puts the stable back; the abort finishes onto it.
    cluster.apply(deployment('web', 'default', 'web:1', 4));
    await cluster.run(aborting);
    const final = await cluster.run(running);
    await users.stop();
    expect(final.phase).toBe('aborted');
    expect(cluster.traffic.shareServed(entry, 'web')).toBe(1);
    expect(users.failed(deletedAt + POLL + 1_000)).toBe(0);
  });

  it('resume() while the deleted stable is still gone: users stay on the canary and the rollout holds again, until the stable is back and resumed', async () => {
    const { rollout, running, users, deletedAt } = await stableDeletedAtPause();
    // Beginning again routes everyone to the stable: not while there is none. It holds again, saying so.
    const heldAgain = when(rollout, (s) => s.cursor.section === 'prelude' && s.held !== undefined);
    await cluster.run(rollout.resume());
    expect((await cluster.run(heldAgain)).held?.reason).toMatch(/stable Deployment web does not exist/);
    await cluster.virtualClock!.advance(60_000);
    expect(cluster.traffic.shareServed(entry, 'web-canary')).toBe(1);
    expect(users.failed(deletedAt + POLL + 1_000)).toBe(0);
    cluster.apply(deployment('web', 'default', 'web:1', 4));
    await cluster.virtualClock!.advance(10_000);
    await cluster.run(rollout.resume());
    const final = await cluster.run(running);
    await users.stop();
    expect(final.phase).toBe('succeeded');
    expect(users.failed(deletedAt + POLL + 1_000)).toBe(0);
  });

  it('kubectl set image on the target mid-rollout: traffic goes back to the target as it now is and the release starts again on it', async () => {
    const rollout = await setup();
    const running = rollout.run();
    await cluster.run(when(rollout, atPause(1)));
    const users = watchUsers();
    const editedAt = cluster.clock.now();
    await person().update<{
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: Record<string, never>;
    }>(deploymentRef('web'), (d) => {
      const spec = d.spec as unknown as { template: { spec: { containers: Array<{ image: string }> } } };
      spec.template.spec.containers[0]!.image = 'web:3';
      return d;
    });
    const restarted = await cluster.run(
      when(rollout, (s) => s.history.some((h) => h.event === 'targetChanged')),
    );
    expect(restarted.cursor.section).toBe('prelude');
    expect(restarted.history.at(-1)?.detail).toMatch(/changed since the rollout began \(now running web:3\)/);
    // The person's template is the new baseline: an abort now keeps web:3.
    await cluster.run(when(rollout, atPause(1)));
    await cluster.run(rollout.abort('enough'));
    const final = await cluster.run(running);
    await users.stop();
    expect(final.phase).toBe('aborted');
    expect(imageOf('web')).toBe('web:3');
    expect(cluster.traffic.shareServed(entry, 'web')).toBe(1);
    // The person's own rolling update takes its pods away one by one; routing never points at none.
    expect(users.failed(editedAt + POLL + 1_000)).toBe(0);
  });

  it("a release started right after kubectl set image waits for the target's own rollout, then pins routing to all of the new revision", async () => {
    const rollout = await setup();
    const setImage = (image: string, paused = false) => editTarget(image, { paused });
    await setImage('web:1b');
    const warnings: string[] = [];
    rollout.on('warning', (w) => warnings.push(w.message));
    const users = watchUsers();
    // When the Deployment's own rollout is done, and when Kanary first pins the stable subset.
    let settledAt: number | undefined;
    let pinnedAt: number | undefined;
    const stop = new AbortController();
    const look = (async () => {
      while (!stop.signal.aborted) {
        const st = cluster.get('Deployment', 'default', 'web')?.status as
          | { updatedReplicas?: number; availableReplicas?: number; replicas?: number }
          | undefined;
        if (
          settledAt === undefined &&
          st?.updatedReplicas === 4 &&
          st.availableReplicas === 4 &&
          st.replicas === 4
        )
          settledAt = cluster.clock.now();
        const dr = cluster.get('DestinationRule', 'default', 'web', 'networking.istio.io')?.spec as
          | { subsets?: Array<{ name: string; labels?: Record<string, string> }> }
          | undefined;
        if (pinnedAt === undefined && dr?.subsets?.some((x) => x.labels?.['pod-template-hash']))
          pinnedAt = cluster.clock.now();
        await cluster.clock.sleep(100, stop.signal).catch(() => undefined);
      }
    })();
    const running = rollout.run();
    await cluster.run(when(rollout, atPause(1)));
    stop.abort();
    await look;
    expect(
      warnings.some((w) =>
        /waiting to start: Deployment web is rolling out on its own \(\d of 4 pods updated/.test(w),
      ),
    ).toBe(true);
    expect(settledAt).toBeDefined();
    expect(pinnedAt).toBeGreaterThanOrEqual(settledAt as number);
    await cluster.run(rollout.abort('enough'));
    expect((await cluster.run(running)).phase).toBe('aborted');
    await users.stop();
    expect(users.failed(0)).toBe(0);
    expect(imageOf('web')).toBe('web:1b');

    // Paused halfway through its own rollout: refused before anything is written.
    await setImage('web:1c', true);
    const again = createKubernetesRollout({
      spec: { ...SPEC, name: 'web-again' },
      client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
      clock: cluster.clock,
      pollInterval: POLL,
      router: createIstioRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        virtualService: 'web',
        destinationRule: { name: 'web' },
      }),
    });
    const vsBefore = JSON.stringify(cluster.get('VirtualService', 'default', 'web', 'networking.istio.io'));
    await expect(cluster.run(again.run())).rejects.toThrow(
      /paused halfway through its own rollout.*kubectl rollout resume deployment\/web/s,
    );
    expect(JSON.stringify(cluster.get('VirtualService', 'default', 'web', 'networking.istio.io'))).toBe(
      vsBefore,
    );
  });

  it('a release after kubectl rollout undo (the template written back with creationTimestamp: null) finds the stable in the earlier ReplicaSet', async () => {
    const rollout = await setup();
    const template = (image: string, withNull: boolean) => editTarget(image, { withNull });
    const first = cluster.list('ReplicaSet', 'default')[0]?.metadata.name;
    await template('web:1b', false);
    await cluster.virtualClock!.advance(10_000);
    await template('web:1', true);
    await cluster.virtualClock!.advance(10_000);
    // The controller took the template back to the first ReplicaSet, as upstream.
    const active = cluster
      .list('ReplicaSet', 'default')
      .filter((rs) => (rs.spec as { replicas: number }).replicas > 0);
    expect(active.map((rs) => rs.metadata.name)).toEqual([first]);
    const users = watchUsers();
    const running = rollout.run();
    const paused = await cluster.run(when(rollout, atPause(1)));
    expect(paused.targets.stable?.podTemplateHash).toBe(first?.replace('web-', ''));
    expect(cluster.traffic.shareServed(entry, 'web', {}, 2_000)).toBeGreaterThan(0.6);
    await cluster.run(rollout.abort('enough'));
    expect((await cluster.run(running)).phase).toBe('aborted');
    await users.stop();
    expect(users.failed(0)).toBe(0);
  });

  it('onTargetChange: hold waits for a person after routing back to the edited target', async () => {
    const rollout = await setup({ ...SPEC, onTargetChange: 'hold' });
    const running = rollout.run();
    await cluster.run(when(rollout, atPause(1)));
    await person().mergePatch(deploymentRef('web'), {
      spec: { template: { metadata: { annotations: { 'example.com/restartedAt': 'now' } } } },
    });
    // Its new pods are not ready at once: users stay where they are (held) until they are, then
    // every user goes back to the target as it now is, and the release waits for a person.
    const held = await cluster.run(when(rollout, (s) => s.held !== undefined && s.weights.canary === 0));
    expect(held.held).toMatchObject({ kind: 'targetChanged', restart: true });
    await cluster.run(rollout.abort('let me look'));
    expect((await cluster.run(running)).phase).toBe('aborted');
  });

  it("a person's emergency 0% on the VirtualService is kept: the next step holds (drift), resume() goes on from it", async () => {
    const rollout = await setup({
      ...SPEC,
      steps: [
        { setWeight: 30 },
        { pause: { duration: '1m' } },
        { setWeight: 60 },
        { pause: { duration: '1m' } },
      ],
    });
    const running = rollout.run();
    await cluster.run(when(rollout, atPause(1)));
    const vsRef = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      namespace: 'default',
      name: 'web',
    };
    await person().update<{
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: Record<string, never>;
    }>(vsRef, (vs) => {
      const spec = vs.spec as unknown as {
        http: Array<{ route: Array<{ destination: { subset: string }; weight?: number }> }>;
      };
      for (const d of spec.http[0]!.route) d.weight = d.destination.subset === 'stable' ? 100 : 0;
      return vs;
    });
    const held = await cluster.run(when(rollout, (s) => s.held !== undefined));
    expect(held.held).toMatchObject({ kind: 'drift', restart: false });
    expect(held.held?.reason).toMatch(/sends 0% to the canary where Kanary last wrote 30%/);
    expect(held.weights.canary).toBe(0);
    expect(held.cursor.step).toBe(2);
    await cluster.virtualClock!.advance(60_000);
    expect(cluster.traffic.shareServed(entry, 'web')).toBe(1);
    // Listening before resuming: the next pause may begin before resume()'s promise is seen.
    const paused = when(rollout, atPause(3));
    await cluster.run(rollout.resume());
    await cluster.run(paused);
    expect(cluster.traffic.shareServed(entry, 'web-canary')).toBeCloseTo(0.6, 1);
    await cluster.run(rollout.abort('done looking'));
    expect((await cluster.run(running)).phase).toBe('aborted');
  });

  it("onDrift: adopt takes the emergency 0% as the rollout's and goes on: the next step writes its own weight", async () => {
    const rollout = await setup({
      ...SPEC,
      onDrift: 'adopt',
      steps: [
        { setWeight: 30 },
        { pause: { duration: '1m' } },
        { setWeight: 60 },
        { pause: { duration: '1m' } },
      ],
    });
    const warnings: string[] = [];
    rollout.on('warning', (w) => warnings.push(w.message));
    const running = rollout.run();
    await cluster.run(when(rollout, atPause(1)));
    await zeroByHand();
    const last = await cluster.run(when(rollout, atPause(3)));
    expect(last.held).toBeUndefined();
    expect(last.history.map((h) => h.event)).toContain('adopted');
    expect(warnings.join('\n')).toMatch(/sends 0% to the canary where Kanary last wrote 30%.*adopted/);
    expect(cluster.traffic.shareServed(entry, 'web-canary')).toBeCloseTo(0.6, 1);
    await cluster.run(rollout.promote());
    expect((await cluster.run(running)).phase).toBe('succeeded');
  });

  it("Kanary's header route deleted by hand: the next step holds (drift) instead of going on as if matched users still reached the canary", async () => {
    const rollout = await setup({
      ...SPEC,
      strategy: {
        type: 'headerMatch',
        match: [{ headers: [{ name: 'x-canary', exact: 'yes' }] }],
        weight: 100,
      },
      steps: [
        { setWeight: 10 },
        { pause: { duration: '1m' } },
        { setWeight: 20 },
        { pause: { duration: '1m' } },
      ],
    });
    const running = rollout.run();
    // Steps: the header route, 10%, a pause, 20%, a pause.
    await cluster.run(when(rollout, atPause(2)));
    const matched = { headers: { 'x-canary': 'yes' } };
    expect(cluster.traffic.shareServed(entry, 'web-canary', matched)).toBe(1);
    await person().update<{
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: Record<string, never>;
    }>(VS_REF, (vs) => {
      const spec = vs.spec as unknown as { http: Array<{ name?: string }> };
      spec.http = spec.http.filter((r) => !(r.name ?? '').startsWith('kanary-'));
      return vs;
    });
    const held = await cluster.run(when(rollout, (s) => s.held !== undefined));
    expect(held.held).toMatchObject({ kind: 'drift', restart: false });
    expect(held.held?.reason).toMatch(/header route .* is gone from the routing/);
    expect(held.headerRoutes).toEqual({});
    // Their change is kept: matched users are split like everyone else.
    expect(cluster.traffic.shareServed(entry, 'web-canary', matched)).toBeCloseTo(0.1, 1);
    const pausedNext = when(rollout, atPause(4));
    await cluster.run(rollout.resume());
    const next = await cluster.run(pausedNext);
    expect(next.held).toBeUndefined();
    expect(cluster.traffic.shareServed(entry, 'web-canary')).toBeCloseTo(0.2, 1);
    await cluster.run(rollout.abort('done looking'));
    expect((await cluster.run(running)).phase).toBe('aborted');
  });

  it('the canary starts crash-looping during promotion: users are back on stable within a poll and the release rolls back', async () => {
    const rollout = await setup({ ...SPEC, steps: [{ setWeight: 50 }, { pause: { duration: '1m' } }] });
    const users = watchUsers();
    const running = rollout.run();
    const promoting = await cluster.run(
      when(rollout, (s) => s.cursor.section === 'promotion' && s.action?.message !== undefined),
    );
    expect(promoting.weights.canary).toBe(100);
    const crashedAt = cluster.clock.now();
    expect(cluster.crashPods({ image: 'web:2' })).toBeGreaterThan(0);
    const final = await cluster.run(running);
    await users.stop();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toMatch(/ready while it takes users during promotion/);
    // Requests fail only until the next look (one poll), not until the progress deadline.
    expect(users.failed(crashedAt + POLL + 1_000)).toBe(0);
    expect(cluster.traffic.shareServed(entry, 'web')).toBe(1);
    expect(imageOf('web')).toBe('web:1');
  });

  it('the stable scaled 4 → 8 mid-rollout: promotion sizes the canary from 8, and abort never scales the stable down', async () => {
    for (const end of ['promote', 'abort'] as const) {
      const rollout = await setup();
      const running = rollout.run();
      await cluster.run(when(rollout, atPause(1)));
      await person().mergePatch(deploymentRef('web'), { spec: { replicas: 8 } });
      let canaryAtFull = 0;
      rollout.on('weight', ({ canary }) => {
        if (canary === 100) canaryAtFull = replicasOf('web-canary') ?? 0;
      });
      if (end === 'promote') await cluster.run(rollout.promoteFull());
      else await cluster.run(rollout.abort('scaled'));
      const final = await cluster.run(running);
      expect(final.phase).toBe(end === 'promote' ? 'succeeded' : 'aborted');
      expect(replicasOf('web')).toBe(8);
      if (end === 'promote') expect(canaryAtFull).toBe(8);
      await cluster.close();
    }
  });
});
