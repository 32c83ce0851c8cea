import { createKubernetesRollout, type RolloutState } from '@kanary/core';
import { type Cluster, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, imagesBehind, service } from './fixtures.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

const spec = {
  name: 'nginx01',
  namespace: 'wyq',
  target: { name: 'nginx01', service: 'nginx01' },
  update: { image: 'nginx:1.20.1', container: 'app' },
  strategy: { type: 'rolling', canaryService: { name: 'nginx02' } },
  steps: [{ setWeight: 50 }, { pause: {} }],
};

async function seed000(strategy: Record<string, unknown> = spec.strategy) {
  cluster = await startCluster({ podReadyAfterMs: 3_000, namespaces: ['wyq'] });
  cluster.apply(
    deployment('nginx01', 'wyq', 'nginx:1.14', 4),
    service('nginx01', 'wyq', { app: 'nginx01' }, 32428),
  );
  await cluster.virtualClock!.advance(3_000);
  return createKubernetesRollout({
    spec: { ...spec, strategy },
    kubeConfig: cluster.kubeConfig,
    clock: cluster.clock,
    pollInterval: '1s',
  });
}

describe('seed 000: rolling update paused halfway, new pods isolated on their own Service', () => {
  it('pauses at 50% with old and new pods behind separate Services, then completes on promote()', async () => {
    const rollout = await seed000();
    let checkedWhilePaused = false;
    rollout.on('state', (s: RolloutState) => {
      if (s.phase !== 'paused' || checkedWhilePaused) return;
      checkedWhilePaused = true;
      const d = cluster.get('Deployment', 'wyq', 'nginx01')!;
      expect((d.spec as { paused: boolean }).paused).toBe(true);
      // The stable Service (same NodePort) reaches only old pods, nginx02 only new ones.
      expect(imagesBehind(cluster, 'wyq', 'nginx01').every((i) => i === 'nginx:1.14')).toBe(true);
      expect(imagesBehind(cluster, 'wyq', 'nginx02')).toEqual(['nginx:1.20.1', 'nginx:1.20.1']);
      const svc = cluster.get('Service', 'wyq', 'nginx01')!;
      expect((svc.spec as { ports: Array<{ nodePort: number }> }).ports[0]!.nodePort).toBe(32428);
      const toNew = cluster.traffic.sample({ kind: 'service', namespace: 'wyq', service: 'nginx02' }, 100);
      const toOld = cluster.traffic.sample({ kind: 'service', namespace: 'wyq', service: 'nginx01' }, 100);
      expect(toNew.get('nginx01')).toBe(100);
      expect(toOld.get('nginx01')).toBe(100);
      queueMicrotask(() => rollout.promote());
    });
    const final = await cluster.run(rollout.run());
    expect(checkedWhilePaused).toBe(true);
    expect(final.phase).toBe('succeeded');
    const d = cluster.get('Deployment', 'wyq', 'nginx01')!;
    expect((d.spec as { paused?: boolean }).paused ?? false).toBe(false);
    expect(imagesBehind(cluster, 'wyq', 'nginx01')).toEqual(Array(4).fill('nginx:1.20.1'));
    // The stable Service's selector is the user's again; nginx02 is gone.
    expect(
      (cluster.get('Service', 'wyq', 'nginx01')!.spec as { selector: Record<string, string> }).selector,
    ).toEqual({ app: 'nginx01' });
    expect(cluster.get('Service', 'wyq', 'nginx02')).toBeUndefined();
    expect(cluster.get('ConfigMap', 'wyq', 'kanary-nginx01')).toBeDefined();
  });

  it('the new pods on a NodePort of their own, as the article exposes them (31244), gone once the release ends', async () => {
    const rollout = await seed000({
      type: 'rolling',
      canaryService: { name: 'nginx02', type: 'NodePort', nodePort: 31244 },
    });
    let seen: Record<string, unknown> | undefined;
    rollout.on('phase', ({ to }) => {
      if (to !== 'paused') return;
      seen = structuredClone(cluster.get('Service', 'wyq', 'nginx02')?.spec) as
        | Record<string, unknown>
        | undefined;
      queueMicrotask(() => void rollout.promote());
    });
    expect((await cluster.run(rollout.run())).phase).toBe('succeeded');
    expect(seen).toMatchObject({ type: 'NodePort', ports: [{ port: 80, nodePort: 31244 }] });
    expect(cluster.get('Service', 'wyq', 'nginx02')).toBeUndefined();
  });

  it('abort restores the previous template, un-isolates and ends with every pod on the old image', async () => {
    const rollout = await seed000();
    const before = structuredClone(cluster.get('Deployment', 'wyq', 'nginx01')!);
    rollout.on('phase', ({ to }) => {
      if (to === 'paused') queueMicrotask(() => rollout.abort('smoke test failed on nginx02'));
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toBe('smoke test failed on nginx02');
    for (let i = 0; i < 5; i++) await cluster.virtualClock!.advance(3_000);
    expect(imagesBehind(cluster, 'wyq', 'nginx01')).toEqual(Array(4).fill('nginx:1.14'));
    expect(
      cluster
        .list('Pod', 'wyq')
        .every(
          (p) => (p.spec as { containers: Array<{ image: string }> }).containers[0]!.image === 'nginx:1.14',
        ),
    ).toBe(true);
    expect(
      (cluster.get('Service', 'wyq', 'nginx01')!.spec as { selector: Record<string, string> }).selector,
    ).toEqual({ app: 'nginx01' });
    expect(cluster.get('Service', 'wyq', 'nginx02')).toBeUndefined();
    // Left as it was: the user's rolling parameters and template, no note of Kanary's.
    const after = cluster.get('Deployment', 'wyq', 'nginx01')!;
    expect(after.spec).toMatchObject({
      strategy: (before.spec as { strategy: unknown }).strategy,
      template: (before.spec as { template: unknown }).template,
    });
    expect((after.spec as { paused?: boolean }).paused).toBeFalsy();
    expect(Object.keys(after.metadata.annotations ?? {}).filter((k) => k.startsWith('kanary.dev/'))).toEqual(
      [],
    );
  });

  it('a promoted release leaves the Deployment as the user’s manifest with the new image would: re-applying that manifest restarts nothing', async () => {
    const rollout = await seed000();
    const before = structuredClone(cluster.get('Deployment', 'wyq', 'nginx01')!);
    rollout.on('phase', ({ to }) => {
      if (to === 'paused') queueMicrotask(() => rollout.promote());
    });
    expect((await cluster.run(rollout.run())).phase).toBe('succeeded');
    for (let i = 0; i < 5; i++) await cluster.virtualClock!.advance(3_000);
    const after = cluster.get('Deployment', 'wyq', 'nginx01')!;
    const mine = structuredClone(before.spec) as {
      strategy: unknown;
      template: { spec: { containers: Array<{ image: string }> } };
    };
    (mine.template.spec.containers[0] as { image: string }).image = 'nginx:1.20.1';
    expect(after.spec).toMatchObject({ strategy: mine.strategy, template: mine.template });
    expect(Object.keys(after.metadata.annotations ?? {}).filter((k) => k.startsWith('kanary.dev/'))).toEqual(
      [],
    );
    // The user's manifest with the new image, applied again: no new ReplicaSet, no pod replaced.
    const pods = new Set(cluster.list('Pod', 'wyq').map((p) => p.metadata.name));
    const replicaSets = cluster.list('ReplicaSet', 'wyq').length;
    cluster.apply({ ...before, spec: mine } as typeof before);
    for (let i = 0; i < 3; i++) await cluster.virtualClock!.advance(3_000);
    expect(cluster.list('ReplicaSet', 'wyq').length).toBe(replicaSets);
    expect(new Set(cluster.list('Pod', 'wyq').map((p) => p.metadata.name))).toEqual(pods);
  });
});
