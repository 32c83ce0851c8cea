import {
  type Cluster,
  type ClusterOptions,
  type KubeObject,
  REALISTIC_LATENCY,
  startCluster,
  deployment as withPreStop,
} from '@kanary/testkit';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, service } from './fixtures.ts';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function setup(
  replicas: number,
  strategy?: Record<string, unknown>,
  options: Pick<ClusterOptions, 'controllerLatency'> = {},
) {
  cluster = await startCluster({ podReadyAfterMs: 5_000, namespaces: ['wyq'], ...options });
  const clock = cluster.virtualClock!;
  const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
  const body = deployment('nginx01', 'wyq', 'nginx:1.14', replicas, strategy ? { strategy } : {});
  await apps.createNamespacedDeployment({ namespace: 'wyq', body: body as never });
  await clock.advance(5_000);
  return { cluster, clock, apps };
}

/** Records (old, new) ReplicaSet replicas after every change, through a real watch. */
async function recordRollout(c: Cluster, apps: AppsV1Api, image: string, options: { pause?: boolean } = {}) {
  const clock = c.virtualClock!;
  const replicas = new Map<string, number>();
  let newName = '';
  const sequence: Array<[number, number]> = [];
  const list = await apps.listNamespacedReplicaSet({ namespace: 'wyq' });
  for (const rs of list.items) replicas.set(rs.metadata!.name!, rs.spec!.replicas!);
  const watch = new Watch(c.kubeConfig);
  const req = await watch.watch(
    '/apis/apps/v1/namespaces/wyq/replicasets',
    { resourceVersion: list.metadata!.resourceVersion },
    (_type, rs: KubeObject) => {
      const name = rs.metadata.name as string;
      const r = (rs.spec as { replicas: number }).replicas;
      if (rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2') newName = name;
      if (replicas.get(name) === r) return;
      replicas.set(name, r);
      const fresh = replicas.get(newName) ?? 0;
      const old = [...replicas].filter(([n]) => n !== newName).reduce((s, [, v]) => s + v, 0);
      const last = sequence.at(-1);
      if (!last || last[0] !== old || last[1] !== fresh) sequence.push([old, fresh]);
    },
    () => {},
  );
  const body = {
    spec: {
      ...(options.pause ? { paused: true } : {}),
      template: { spec: { containers: [{ name: 'nginx01', image }] } },
    },
  };
  await apps.patchNamespacedDeployment({ name: 'nginx01', namespace: 'wyq', body }, strategic);
  const settle = async () => {
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 2));
      const d = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
      // As kubectl rollout status: a status the controller wrote before it saw this generation says nothing.
      const done =
        (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        d.status?.conditions?.find((x) => x.type === 'Progressing')?.reason === 'NewReplicaSetAvailable';
      if (done || options.pause) return d;
      await clock.advance(5_000);
    }
    throw new Error('rollout did not finish');
  };
  const final = await settle();
  await new Promise((r) => setTimeout(r, 20));
  req.abort();
  return { sequence, final };
}

describe('Deployment controller (kube-controller-manager arithmetic)', () => {
  // Sequences of (old pods, new pods) as kube-controller-manager produces them, worked from
  // NewRSNewReplicas and reconcileOldReplicaSets with pods ready one interval after creation.
  const CASES: Array<{
    name: string;
    replicas: number;
    strategy?: Record<string, unknown>;
    expected: Array<[number, number]>;
  }> = [
    {
      name: '4 replicas, 25%/25% (defaults)',
      replicas: 4,
      expected: [
        [4, 1],
        [3, 1],
        [3, 2],
        [1, 2],
        [1, 4],
        [0, 4],
      ],
    },
    {
      name: '10 replicas, surge 3, unavailable 0',
      replicas: 10,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 0 } },
      expected: [
        [10, 3],
        [7, 3],
        [7, 6],
        [4, 6],
        [4, 9],
        [1, 9],
        [1, 10],
        [0, 10],
      ],
    },
    {
      name: '3 replicas, surge 0, unavailable 1',
      replicas: 3,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      expected: [
        [3, 0],
        [2, 0],
        [2, 1],
        [1, 1],
        [1, 2],
        [0, 2],
        [0, 3],
      ],
    },
    {
      name: '5 replicas, 30%/30% (surge rounds up to 2, unavailable down to 1)',
      replicas: 5,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '30%', maxUnavailable: '30%' } },
      expected: [
        [5, 2],
        [4, 2],
        [4, 3],
        [1, 3],
        [1, 5],
        [0, 5],
      ],
    },
  ];

  for (const c of CASES) {
    // Without controller latency every pod of a batch gets ready at once, so the steps are upstream's exactly.
    it(`rolls ${c.name} with the upstream numbers, never above surge nor below availability`, async () => {
      const { apps } = await setup(c.replicas, c.strategy, { controllerLatency: 0 });
      const { sequence, final } = await recordRollout(cluster!, apps, 'nginx:1.20.1');
      expect(sequence).toEqual(c.expected);
      expect(final.status).toMatchObject({
        replicas: c.replicas,
        updatedReplicas: c.replicas,
        availableReplicas: c.replicas,
        observedGeneration: 2,
      });
      expect(final.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    });
  }

  it('Recreate scales the old ReplicaSet to zero before the new one starts', async () => {
    const { apps } = await setup(3, { type: 'Recreate' });
    const { sequence } = await recordRollout(cluster!, apps, 'nginx:1.20.1');
    expect(sequence).toEqual([
      [3, 0],
      [0, 0],
      [0, 3],
    ]);
  });

  it('seed 000: set image + pause holds the rollout; pods are isolated by pod-template-hash; resume completes', async () => {
    const { apps, clock } = await setup(4, undefined, { controllerLatency: REALISTIC_LATENCY });
    const core = cluster!.kubeConfig.makeApiClient(CoreV1Api);
    // kubectl set image … && kubectl rollout pause …: the controller acts on the image before the
    // second kubectl lands (a new process, hundreds of milliseconds later).
    await apps.patchNamespacedDeployment(
      {
        name: 'nginx01',
        namespace: 'wyq',
        body: { spec: { template: { spec: { containers: [{ name: 'nginx01', image: 'nginx:1.20.1' }] } } } },
      },
      strategic,
    );
    await clock.advance(1_000);
    await apps.patchNamespacedDeployment(
      { name: 'nginx01', namespace: 'wyq', body: { spec: { paused: true } } },
      merge,
    );
    await clock.advance(60_000);
    const held = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
    expect(held.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('DeploymentPaused');
    const rss = (await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items;
    expect(rss).toHaveLength(2);
    const byRevision = Object.fromEntries(
      rss.map((rs) => [rs.metadata!.annotations!['deployment.kubernetes.io/revision']!, rs]),
    );
    const oldHash = byRevision['1']!.metadata!.labels!['pod-template-hash']!;
    const newHash = byRevision['2']!.metadata!.labels!['pod-template-hash']!;
    expect(oldHash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    expect(byRevision['1']!.spec!.replicas! + byRevision['2']!.spec!.replicas!).toBe(5);
    const pods = (await core.listNamespacedPod({ namespace: 'wyq' })).items;
    expect(new Set(pods.map((p) => p.metadata!.labels!['pod-template-hash']))).toEqual(
      new Set([oldHash, newHash]),
    );
    // Time passes and pods get ready, but a paused Deployment makes no progress.
    await clock.advance(120_000);
    const still = (await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items
      .map((rs) => rs.spec!.replicas)
      .sort();
    expect(still).toEqual([2, 3]);
    // Isolation: one Service per pod-template-hash; traffic to each reaches only its version.
    await core.createNamespacedService({
      namespace: 'wyq',
      body: service('nginx01', 'wyq', { 'pod-template-hash': oldHash }) as never,
    });
    await core.createNamespacedService({
      namespace: 'wyq',
      body: service('nginx02', 'wyq', { 'pod-template-hash': newHash }) as never,
    });
    // The endpoints controller fills them a moment later.
    expect(cluster!.get('Endpoints', 'wyq', 'nginx02')).toBeUndefined();
    await clock.advance(1_000);
    const traffic = cluster!.traffic;
    const toOld = traffic.sample({ kind: 'service', namespace: 'wyq', service: 'nginx01' }, 200);
    const toNew = traffic.sample({ kind: 'service', namespace: 'wyq', service: 'nginx02' }, 200);
    const images = (svc: string) => {
      const ep = cluster!.get('Endpoints', 'wyq', svc) as {
        subsets?: Array<{ addresses?: Array<{ targetRef: { name: string } }> }>;
      };
      return new Set(
        ep.subsets?.[0]?.addresses?.map(
          (a) =>
            (cluster!.get('Pod', 'wyq', a.targetRef.name)!.spec as { containers: Array<{ image: string }> })
              .containers[0]!.image,
        ),
      );
    };
    expect(images('nginx01')).toEqual(new Set(['nginx:1.14']));
    expect(images('nginx02')).toEqual(new Set(['nginx:1.20.1']));
    expect([...toOld.keys()]).toEqual(['nginx01']);
    expect(toNew.get('nginx01')).toBe(200);
    // kubectl rollout resume: the rollout completes.
    await apps.patchNamespacedDeployment(
      { name: 'nginx01', namespace: 'wyq', body: { spec: { paused: false } } },
      merge,
    );
    for (let i = 0; i < 10; i++) await clock.advance(5_000);
    const done = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
    // `paused` is omitempty in the API types: a real server returns no `paused: false`.
    expect(done.spec && 'paused' in done.spec ? done.spec.paused : 'absent').toBe('absent');
    expect(done.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe(
      'NewReplicaSetAvailable',
    );
    expect(images('nginx02').size).toBe(1);
    expect(
      (cluster!.get('Endpoints', 'wyq', 'nginx02') as unknown as { subsets: Array<{ addresses: unknown[] }> })
        .subsets[0]!.addresses,
    ).toHaveLength(4);
    expect(cluster!.get('Endpoints', 'wyq', 'nginx01')?.subsets).toBeUndefined();
  });

  it('a Deployment paused before the template changes creates no new ReplicaSet', async () => {
    const { apps, clock } = await setup(4);
    await apps.patchNamespacedDeployment(
      { name: 'nginx01', namespace: 'wyq', body: { spec: { paused: true } } },
      merge,
    );
    await apps.patchNamespacedDeployment(
      {
        name: 'nginx01',
        namespace: 'wyq',
        body: { spec: { template: { spec: { containers: [{ name: 'nginx01', image: 'nginx:2' }] } } } },
      },
      strategic,
    );
    await clock.advance(30_000);
    expect((await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items).toHaveLength(1);
  });

  it('rollback to an earlier template reuses its ReplicaSet under a new revision', async () => {
    const { apps } = await setup(2);
    await recordRollout(cluster!, apps, 'nginx:1.20.1');
    const back = await recordRollout(cluster!, apps, 'nginx:1.14');
    const rss = (await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items;
    expect(rss).toHaveLength(2);
    const active = rss.find((rs) => rs.spec!.replicas! > 0)!;
    expect(active.spec!.template!.spec!.containers[0]!.image).toBe('nginx:1.14');
    expect(active.metadata!.annotations!['deployment.kubernetes.io/revision']).toBe('3');
    expect(back.final.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
  });

  it('pods that never get ready stall the rollout until the progress deadline is exceeded', async () => {
    const { apps, clock } = await setup(2, {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    cluster!.setPodBehavior({ image: 'nginx:broken', behavior: { neverReady: true } });
    await apps.patchNamespacedDeployment(
      {
        name: 'nginx01',
        namespace: 'wyq',
        body: {
          spec: {
            progressDeadlineSeconds: 60,
            template: { spec: { containers: [{ name: 'nginx01', image: 'nginx:broken' }] } },
          },
        },
      },
      strategic,
    );
    for (let i = 0; i < 20; i++) await clock.advance(5_000);
    const d = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
    expect(d.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(d.status?.availableReplicas).toBe(2);
    expect(d.status?.updatedReplicas).toBe(1);
  });

  it('minReadySeconds: a ready pod counts as available only after it, so a rollout with maxUnavailable 0 waits for it at every batch', async () => {
    const { apps, clock } = await setup(2, {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    await apps.patchNamespacedDeployment(
      {
        name: 'nginx01',
        namespace: 'wyq',
        body: {
          spec: {
            minReadySeconds: 20,
            template: { spec: { containers: [{ name: 'nginx01', image: 'nginx:1.15' }] } },
          },
        },
      },
      strategic,
    );
    const status = async () =>
      (await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' })).status ?? {};
    // 5 s to ready, then 20 s more before the first new pod is available and an old one may go.
    await clock.advance(10_000);
    expect(await status()).toMatchObject({ readyReplicas: 3, availableReplicas: 2, updatedReplicas: 1 });
    const newRs = (await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items.find(
      (rs) => rs.spec?.template?.spec?.containers[0]?.image === 'nginx:1.15',
    );
    expect(newRs?.spec?.minReadySeconds).toBe(20);
    expect(newRs?.status?.readyReplicas).toBe(1);
    expect(newRs?.status?.availableReplicas ?? 0).toBe(0);
    await clock.advance(17_000);
    expect((await status()).updatedReplicas).toBe(2);
    // Two batches of 5 + 20 s: done only after about 50 s, not 10 s.
    await clock.advance(10_000);
    expect((await status()).availableReplicas).toBe(2);
    expect((await status()).replicas).toBe(3);
    await clock.advance(20_000);
    expect(await status()).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    const [pod] = cluster!.list('Pod', 'wyq');
    const conditions = (pod?.status as { conditions?: Array<{ type: string; lastTransitionTime?: string }> })
      ?.conditions;
    const ready = conditions?.find((c) => c.type === 'Ready');
    expect(ready?.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("an annotation change bumps a Deployment's generation and reaches its new ReplicaSet (kubectl's last-applied does not)", async () => {
    const { apps, clock } = await setup(1);
    const before = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
    await apps.patchNamespacedDeployment(
      {
        name: 'nginx01',
        namespace: 'wyq',
        body: {
          metadata: {
            annotations: { team: 'shop', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
          },
        },
      },
      merge,
    );
    await clock.advance(2_000);
    const after = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
    expect(after.metadata?.generation).toBe((before.metadata?.generation ?? 0) + 1);
    expect(after.status?.observedGeneration).toBe(after.metadata?.generation);
    const [rs] = (await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items;
    expect(rs?.metadata?.annotations?.team).toBe('shop');
    expect(rs?.metadata?.annotations).not.toHaveProperty('kubectl.kubernetes.io/last-applied-configuration');
    // A label is not an annotation: no new generation.
    await apps.patchNamespacedDeployment(
      { name: 'nginx01', namespace: 'wyq', body: { metadata: { labels: { tier: 'web' } } } },
      merge,
    );
    expect(
      (await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' })).metadata?.generation,
    ).toBe(after.metadata?.generation);
  });

  it('crash-looping pods restart with back-off and never become ready', async () => {
    const { clock } = await setup(1);
    cluster!.setPodBehavior({ labels: { app: 'crash' }, behavior: { crashLoop: true } });
    cluster!.apply(deployment('crash', 'wyq', 'crash:1', 1));
    for (let i = 0; i < 12; i++) await clock.advance(10_000);
    const pod = cluster!.list('Pod', 'wyq').find((p) => p.metadata.labels?.app === 'crash')!;
    const status = pod.status as {
      containerStatuses: Array<{ restartCount: number; ready: boolean; state: Record<string, unknown> }>;
    };
    expect(status.containerStatuses[0]!.ready).toBe(false);
    expect(status.containerStatuses[0]!.restartCount).toBeGreaterThanOrEqual(2);
    expect(status.containerStatuses[0]!.state).toEqual({ waiting: { reason: 'CrashLoopBackOff' } });
  });
});

describe('scaling in the middle of a rollout (chaos seed 128)', () => {
  it('kubectl set image then kubectl scale: every active ReplicaSet takes the new size annotations and the controller settles', async () => {
    const { cluster: c, clock, apps } = await setup(2);
    const uncaught: string[] = [];
    const onError = (e: Error) => uncaught.push(e.message);
    process.on('uncaughtException', onError);
    try {
      await apps.patchNamespacedDeployment(
        {
          name: 'nginx01',
          namespace: 'wyq',
          body: { spec: { template: { spec: { containers: [{ name: 'nginx01', image: 'nginx:1.16' }] } } } },
        },
        strategic,
      );
      await apps.patchNamespacedDeployment(
        { name: 'nginx01', namespace: 'wyq', body: { spec: { replicas: 3 } } },
        merge,
      );
      await clock.advance(60_000);
    } finally {
      process.off('uncaughtException', onError);
    }
    // Before: a proportional scale and the rollout's growth undid each other forever.
    expect(uncaught).toEqual([]);
    const active = (await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items.filter(
      (rs) => (rs.spec?.replicas ?? 0) > 0,
    );
    expect(active.map((rs) => rs.spec?.template?.spec?.containers[0]?.image)).toEqual(['nginx:1.16']);
    expect(active[0]?.spec?.replicas).toBe(3);
    expect(active[0]?.metadata?.annotations?.['deployment.kubernetes.io/desired-replicas']).toBe('3');
    expect(c.list('Pod', 'wyq').length).toBe(3);
  });

  it('kubectl scale on a paused Deployment mid-rollout scales each ReplicaSet in proportion: the old one is not retired (chaos seed 3324)', async () => {
    const { clock, apps } = await setup(5, {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    await apps.patchNamespacedDeployment(
      {
        name: 'nginx01',
        namespace: 'wyq',
        body: { spec: { template: { spec: { containers: [{ name: 'nginx01', image: 'nginx:1.16' }] } } } },
      },
      strategic,
    );
    const sizes = async () => {
      const items = (await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items;
      const of = (image: string) =>
        items.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === image);
      return { old: of('nginx:1.14'), fresh: of('nginx:1.16') };
    };
    // Paused once three new pods are available, as a rolling step at 60% holds it.
    for (let i = 0; i < 2_000; i++) {
      const { fresh } = await sizes();
      if ((fresh?.status?.availableReplicas ?? 0) >= 3) break;
      await clock.advance(10);
    }
    await apps.patchNamespacedDeployment(
      { name: 'nginx01', namespace: 'wyq', body: { spec: { paused: true } } },
      merge,
    );
    await clock.advance(10_000);
    const before = await sizes();
    expect([before.old?.spec?.replicas, before.fresh?.spec?.replicas]).toEqual([3, 3]);
    await apps.patchNamespacedDeployment(
      { name: 'nginx01', namespace: 'wyq', body: { spec: { replicas: 3 } } },
      merge,
    );
    await clock.advance(60_000);
    const after = await sizes();
    // allowed = 3 + maxSurge 1 = 4: each set loses round(3 × 4 / 6) − 3 = −1; paused, nothing
    // rolls on. (Before: the new set, at 3 = the new size, counted as saturated and the old went.)
    expect([after.old?.spec?.replicas, after.fresh?.spec?.replicas]).toEqual([2, 2]);
    expect(after.fresh?.metadata?.annotations?.['deployment.kubernetes.io/desired-replicas']).toBe('3');
  });
});

describe('controllers react after the write, as on a cluster (issue 16)', () => {
  it('a read right after a change is stale: same generation observed, no new ReplicaSet, old Endpoints; caught up within a second', async () => {
    const { apps, clock } = await setup(2, undefined, { controllerLatency: REALISTIC_LATENCY });
    const core = cluster!.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedService({
      namespace: 'wyq',
      body: service('web', 'wyq', { app: 'nginx01' }) as never,
    });
    await clock.advance(1_000);
    const listed = () =>
      (
        (cluster!.get('Endpoints', 'wyq', 'web')?.subsets as Array<{ addresses?: unknown[] }> | undefined) ??
        []
      ).flatMap((s) => s.addresses ?? []).length;
    expect(listed()).toBe(2);

    await apps.patchNamespacedDeployment(
      {
        name: 'nginx01',
        namespace: 'wyq',
        body: { spec: { template: { spec: { containers: [{ name: 'nginx01', image: 'nginx:1.15' }] } } } },
      },
      strategic,
    );
    await core.patchNamespacedService(
      { name: 'web', namespace: 'wyq', body: { spec: { selector: { app: 'nobody' } } } },
      merge,
    );
    const stale = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
    expect(stale.metadata?.generation).toBe(2);
    expect(stale.status?.observedGeneration).toBe(1);
    expect((await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items).toHaveLength(1);
    expect(listed()).toBe(2);

    await clock.advance(1_000);
    const fresh = await apps.readNamespacedDeployment({ name: 'nginx01', namespace: 'wyq' });
    expect(fresh.status?.observedGeneration).toBe(2);
    expect((await apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items).toHaveLength(2);
    expect(listed()).toBe(0);
  });

  it('the delay is seeded: the same seed gives the same reconcile times, another seed others', async () => {
    const timeline = async (seed: number) => {
      const c = await startCluster({ seed, namespaces: ['wyq'], controllerLatency: REALISTIC_LATENCY });
      const clock = c.virtualClock!;
      const t0 = clock.now();
      c.apply(deployment('web', 'wyq', 'web:1', 1) as KubeObject);
      const seen: number[] = [];
      for (let i = 0; i < 40; i++) {
        await clock.advance(10);
        const n = c.list('ReplicaSet', 'wyq').length + c.list('Pod', 'wyq').length;
        if (n > seen.length) seen.push(clock.now() - t0);
      }
      await c.close();
      return seen;
    };
    const a = await timeline(7);
    expect(a).toHaveLength(2);
    // ReplicaSet then pod, each one 20–250 ms reconcile later.
    expect(a[0]).toBeGreaterThanOrEqual(20);
    expect((a[1] as number) - (a[0] as number)).toBeGreaterThanOrEqual(20);
    expect(await timeline(7)).toEqual(a);
    const others = await Promise.all([timeline(8), timeline(9), timeline(10)]);
    expect(others.some((b) => b[0] !== a[0] || b[1] !== a[1])).toBe(true);
  });

  it('latency 0 (for arithmetic tests only) reconciles before the next read', async () => {
    const c = await startCluster({ controllerLatency: 0, namespaces: ['wyq'] });
    c.apply(deployment('web', 'wyq', 'web:1', 1) as KubeObject);
    await c.virtualClock!.advance(0);
    expect(c.list('ReplicaSet', 'wyq')).toHaveLength(1);
    await c.close();
  });
});

describe('cluster.until', () => {
  it('moves virtual time until the condition holds, and names what never happened', async () => {
    cluster = await startCluster({ controllerLatency: REALISTIC_LATENCY, namespaces: ['wyq'] });
    const c = cluster;
    const t0 = c.clock.now();
    c.apply(deployment('web', 'wyq', 'web:1', 2) as KubeObject);
    await c.until(() => c.list('Pod', 'wyq').length === 2, 'two pods');
    expect(c.clock.now()).toBeGreaterThan(t0);
    await expect(c.until(() => false, 'a third pod', { timeoutMs: 1_000 })).rejects.toThrow(
      /a third pod did not happen within 1000 ms/,
    );
  });
});

describe('graceful pod termination (issue 16)', () => {
  const pods = (c: Cluster) => c.list('Pod', 'wyq');
  const listed = (c: Cluster) =>
    (
      (c.get('Endpoints', 'wyq', 'web')?.subsets as Array<{
        addresses?: Array<{ targetRef: { name: string } }>;
      }>) ?? []
    )
      .flatMap((s) => s.addresses ?? [])
      .map((a) => a.targetRef.name);

  it('a deleted pod is Terminating and out of the Endpoints at once, serves through its preStop hook, then goes; its ReplicaSet replaces it meanwhile', async () => {
    cluster = await startCluster({ controllerLatency: REALISTIC_LATENCY, namespaces: ['wyq'] });
    const c = cluster;
    // The fixture's containers sleep 5 s in preStop, with a 30 s grace period.
    c.apply(withPreStop('web', 'wyq', 'web:1', 2), service('web', 'wyq', { app: 'web' }) as KubeObject);
    await c.until(() => listed(c).length === 2, 'two pods in the Endpoints');
    const core = c.kubeConfig.makeApiClient(CoreV1Api);
    const victim = listed(c)[0] as string;
    const answer = await core.deleteNamespacedPod({ name: victim, namespace: 'wyq' });
    expect(answer.metadata?.deletionTimestamp).toBeDefined();
    expect(answer.metadata?.deletionGracePeriodSeconds).toBe(30);
    const t0 = c.clock.now();
    await c.virtualClock!.advance(1_000);
    expect(pods(c).map((p) => p.metadata.name)).toContain(victim);
    expect(listed(c)).not.toContain(victim);
    // Replaced already: two pods not terminating, one terminating.
    expect(pods(c).filter((p) => !p.metadata.deletionTimestamp)).toHaveLength(2);
    await c.until(() => !pods(c).some((p) => p.metadata.name === victim), 'the pod to go');
    const gone = c.clock.now() - t0;
    expect(gone).toBeGreaterThanOrEqual(4_000);
    expect(gone).toBeLessThan(7_000);
  });

  it('gracePeriodSeconds 0 removes a pod at once; without a preStop hook it goes as soon as the kubelet acts, and users still routed to it fail', async () => {
    cluster = await startCluster({ controllerLatency: { minMs: 200, maxMs: 200 }, namespaces: ['wyq'] });
    const c = cluster;
    // This fixture's container has no preStop hook.
    c.apply(
      deployment('bare', 'wyq', 'bare:1', 1) as KubeObject,
      service('web', 'wyq', { app: 'bare' }) as KubeObject,
    );
    await c.until(() => listed(c).length === 1, 'the pod in the Endpoints');
    const core = c.kubeConfig.makeApiClient(CoreV1Api);
    const [pod] = listed(c);
    await core.deleteNamespacedPod({ name: pod as string, namespace: 'wyq' });
    // SIGTERM at once and nothing to drain: the Endpoints still list it for one reconcile, and the
    // requests sent there fail.
    const entry = { kind: 'service' as const, namespace: 'wyq', service: 'web' };
    expect(listed(c)).toEqual([pod]);
    expect(c.traffic.sample(entry, 50).get('status-503')).toBe(50);
    await c.virtualClock!.advance(300);
    expect(pods(c).some((p) => p.metadata.name === pod)).toBe(false);

    await c.until(() => listed(c).length === 1, 'the replacement in the Endpoints');
    const [next] = listed(c);
    await core.deleteNamespacedPod({ name: next as string, namespace: 'wyq', gracePeriodSeconds: 0 });
    expect(pods(c).some((p) => p.metadata.name === next)).toBe(false);
  });
});

describe('Endpoints follow labels and selectors (from the store’s indexes)', () => {
  const listed = (c: Cluster, name: string) =>
    (
      (
        c.get('Endpoints', 'wyq', name) as {
          subsets?: Array<{ addresses?: Array<{ targetRef?: { name?: string } }> }>;
        }
      )?.subsets ?? []
    ).flatMap((s) => (s.addresses ?? []).map((a) => a.targetRef?.name));
  const pod = (name: string, labels: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'wyq', labels },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  });

  it('a pod relabelled moves between Services, a selector changed follows, and many neighbours change nothing', async () => {
    cluster = await startCluster({ podReadyAfterMs: 500, namespaces: ['wyq'] });
    const c = cluster;
    // Neighbours: 200 Services and pods that share a label key with the ones under test.
    for (let i = 0; i < 200; i++)
      c.apply(service(`n${i}`, 'wyq', { app: `n${i}` }), pod(`n${i}-pod`, { app: `n${i}`, tier: 'web' }));
    c.apply(
      service('a', 'wyq', { app: 'a', tier: 'web' }),
      service('b', 'wyq', { app: 'b' }),
      pod('p', { app: 'a', tier: 'web' }),
    );
    await c.until(() => listed(c, 'a').includes('p'), 'a lists p');
    expect(listed(c, 'b')).toEqual([]);
    expect(listed(c, 'n7')).toEqual(['n7-pod']);

    c.apply({ ...pod('p', { app: 'b', tier: 'web' }), status: c.get('Pod', 'wyq', 'p')?.status });
    await c.until(() => listed(c, 'b').includes('p') && !listed(c, 'a').includes('p'), 'p moves from a to b');

    c.apply(service('a', 'wyq', { tier: 'web', app: 'b' }));
    await c.until(() => listed(c, 'a').includes('p'), 'a follows its new selector to p');
    // A selector that no longer matches any label of p's: p leaves.
    c.apply(service('a', 'wyq', { app: 'nobody' }));
    await c.until(() => listed(c, 'a').length === 0, 'a lists nothing');
    expect(listed(c, 'b')).toEqual(['p']);
    expect(listed(c, 'n199')).toEqual(['n199-pod']);
  });
});
