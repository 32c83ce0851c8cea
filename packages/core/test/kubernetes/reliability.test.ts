import {
  createKubeClient,
  createKubernetesRollout,
  isKanaryError,
  type RolloutSpecInput,
  type RolloutState,
} from '@kanary/core';
import { type Cluster, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, imagesBehind, service } from './fixtures.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

const SPECS: Record<string, RolloutSpecInput> = {
  rolling: {
    name: 'web',
    target: { name: 'web', service: 'web' },
    update: { image: 'web:2' },
    strategy: { type: 'rolling', canaryService: { name: 'web-canary' } },
    steps: [
      { setWeight: 25 },
      { pause: { duration: '30s' } },
      { setWeight: 75 },
      { pause: { duration: '30s' } },
    ],
  },
  blueGreen: {
    name: 'web',
    target: { name: 'web', service: 'web' },
    update: { image: 'web:2' },
    strategy: {
      type: 'blueGreen',
      activeService: 'web',
      autoPromotionSeconds: 30,
      scaleDownDelaySeconds: 10,
    },
  },
  replicaRatio: {
    name: 'web',
    target: { name: 'web', service: 'web' },
    update: { image: 'web:2' },
    strategy: { type: 'replicaRatio', maxSurge: '25%' },
    steps: [{ setWeight: 25 }, { pause: { duration: '30s' } }, { setWeight: 50 }],
  },
};

async function setup(seed = 1) {
  cluster = await startCluster({ podReadyAfterMs: 2_000, seed });
  cluster.apply(deployment('web', 'default', 'web:1', 4), service('web', 'default', { app: 'web' }));
  await cluster.virtualClock!.advance(2_000);
}

describe('two drivers on one rollout', () => {
  it('exactly one drives: the other is told who holds the Lease, or waits and finds the work done', async () => {
    await setup();
    const make = (holder: string, waitForLock = false) =>
      createKubernetesRollout({
        spec: SPECS.replicaRatio,
        kubeConfig: cluster.kubeConfig,
        clock: cluster.clock,
        holder,
        waitForLock,
        pollInterval: '1s',
        lockTtl: '15s',
      });
    const a = make('bot-a');
    const b = make('bot-b');
    const first = cluster.run(a.run());
    await new Promise((r) => setTimeout(r, 30));
    const refused = await b.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isKanaryError(refused, 'LOCKED')).toBe(true);
    expect(String((refused as Error).message)).toMatch(/driven by bot-a/);
    const lease = cluster.get('Lease', 'default', 'kanary-web');
    expect((lease!.spec as { holderIdentity: string }).holderIdentity).toBe('bot-a');
    const waiter = make('bot-c', true);
    const second = cluster.run(waiter.run());
    const [fa, fc] = await Promise.all([first, second]);
    expect(fa.phase).toBe('succeeded');
    expect(fc.phase).toBe('succeeded');
    // The release was driven by bot-a alone; its retirement (after the scale-down delay, when the
    // lease is free) by whichever of the two took the lease then.
    const cm = cluster.get('ConfigMap', 'default', 'kanary-web')!;
    const saved = JSON.parse((cm.data as Record<string, string>)['state.json']!) as RolloutState;
    expect(saved.cursor.section).toBe('done');
    const drivers = saved.history.filter((h) => h.event === 'driver').map((h) => h.detail);
    expect(drivers.every((d) => /^bot-[ac] drives/.test(d ?? ''))).toBe(true);
    const switched = saved.history.findIndex((h) => h.event === 'advance' && h.detail === 'to promotion');
    expect(switched).toBeGreaterThan(0);
    expect(saved.history.slice(0, switched).some((h) => /bot-c/.test(h.detail ?? ''))).toBe(false);
    expect(
      (cluster.get('Lease', 'default', 'kanary-web')!.spec as { holderIdentity: string | null })
        .holderIdentity,
    ).toBeNull();
  });
});

describe('injected API faults', () => {
  for (const strategy of Object.keys(SPECS)) {
    it(`${strategy}: completes correctly with over 20% of writes failing (409/429/500/503) and added latency`, async () => {
      await setup(17);
      cluster.faults.set([
        { verbs: ['create', 'update', 'patch', 'delete'], rate: 0.08, status: 409 },
        { verbs: ['create', 'update', 'patch', 'delete'], rate: 0.08, status: 429 },
        { verbs: ['create', 'update', 'patch', 'delete'], rate: 0.08, status: 500 },
        { verbs: ['create', 'update', 'patch', 'delete'], rate: 0.08, status: 503 },
        { verbs: ['get', 'list'], rate: 0.05, status: 503 },
        { rate: 0.2, latencyMs: 3 },
      ]);
      const rollout = createKubernetesRollout({
        spec: SPECS[strategy],
        kubeConfig: cluster.kubeConfig,
        clock: cluster.clock,
        pollInterval: '1s',
      });
      const final = await cluster.run(rollout.run());
      const writes = cluster.requests.filter((r) => ['create', 'update', 'patch', 'delete'].includes(r.verb));
      const failed = writes.filter((r) => r.code >= 409);
      cluster.faults.clear();
      expect(final.abort?.reason).toBeUndefined();
      expect(final.phase).toBe('succeeded');
      expect(failed.length / writes.length).toBeGreaterThanOrEqual(0.2);
      for (let i = 0; i < 5; i++) await cluster.virtualClock!.advance(2_000);
      expect(imagesBehind(cluster, 'default', 'web')).toEqual(Array(4).fill('web:2'));
      expect(
        cluster
          .list('Pod', 'default')
          .every(
            (p) =>
              (p.spec as { containers: Array<{ image: string }> }).containers[0]!.image === 'web:2' ||
              (cluster.get('Deployment', 'default', 'web-green')?.spec as { replicas?: number })?.replicas !==
                0,
          ),
      ).toBe(true);
    });
  }
});

describe('liveness once per process', () => {
  it('three rollouts of one process: one heartbeat Lease renewed for all, their Leases written only when taken and released, the heartbeat removed after the last', async () => {
    cluster = await startCluster({ podReadyAfterMs: 2_000, seed: 3 });
    const names = ['web', 'api', 'cart'];
    for (const name of names) {
      cluster.apply(deployment(name, 'default', `${name}:1`, 2), service(name, 'default', { app: name }));
    }
    await cluster.virtualClock!.advance(2_000);
    const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
    const rollouts = names.map((name) =>
      createKubernetesRollout({
        spec: {
          ...SPECS.replicaRatio,
          name,
          target: { name, service: name },
          update: { image: `${name}:2` },
          steps: [{ setWeight: 50 }, { pause: { duration: '3m' } }],
        } as RolloutSpecInput,
        client,
        clock: cluster.clock,
        lockTtl: '30s',
      }),
    );
    const before = cluster.requests.length;
    const finals = await cluster.run(Promise.all(rollouts.map((r) => r.run())));
    expect(finals.map((f) => f.phase)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const writes = cluster.requests
      .slice(before)
      .filter((r) => r.resource === 'leases' && ['create', 'update', 'delete'].includes(r.verb));
    const byName = new Map<string, string[]>();
    for (const w of writes) byName.set(w.name ?? '?', [...(byName.get(w.name ?? '?') ?? []), w.verb]);
    const beats = [...byName.keys()].filter((n) => /^kanary-process\.[0-9a-f]{12}$/.test(n));
    expect(beats).toHaveLength(1);
    // The 3-minute pause alone holds them 180 s: a renewal each 10 s, for all three.
    const beat = byName.get(beats[0] as string) ?? [];
    expect(beat.filter((v) => v === 'update').length).toBeGreaterThanOrEqual(17);
    expect(beat.at(-1)).toBe('delete');
    // Creates carry no name in their path: one per rollout Lease, and one per heartbeat made.
    const creates = byName.get('?') ?? [];
    expect(creates.length).toBe(names.length + beat.filter((v) => v === 'delete').length);
    for (const name of names) {
      // Released; the retirement after the scale-down delay takes it and releases it again. Never renewed.
      expect((byName.get(`kanary-${name}`) ?? []).length).toBeLessThanOrEqual(3);
      const lease = cluster.get('Lease', 'default', `kanary-${name}`)!;
      expect((lease.spec as { holderIdentity: string | null }).holderIdentity).toBeNull();
      const pointer = JSON.parse(
        (lease.metadata.annotations as Record<string, string>)['kanary.dev/liveness'] ?? '{}',
      ) as { lease?: string };
      expect(`kanary-${pointer.lease}`).toBe(beats[0]);
    }
    expect(cluster.get('Lease', 'default', beats[0] as string)).toBeUndefined();
    await client.close();
  });
});
