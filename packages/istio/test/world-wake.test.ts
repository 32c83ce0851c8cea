// A held release looks at the world when its workload changes (told by the client's watches) and
// otherwise only as a safety net: a thousand rollouts in their pauses cost nothing between changes,
// and a change is still seen within a poll. Virtual time; looks counted by wrapping the driver.
import {
  createConfigMapStateStore,
  createDeploymentDriver,
  createKubeClient,
  createKubernetesRollout,
  type RolloutState,
  type StateStore,
  type WorkloadDriver,
} from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, deployment, istioApp, service, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

let cluster: Cluster;
afterEach(() => cluster?.close());

const POLL = 2_000;
const PAUSE_MS = 10 * 60_000;

async function paused(watch: boolean) {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 3 });
  cluster.apply(...istioApp('web', 'default', 'web:1', 2));
  await cluster.settle();
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock, watch });
  const driver = createDeploymentDriver({ client });
  const looks: number[] = [];
  const loads: number[] = [];
  const configMaps = createConfigMapStateStore({ client });
  // The state's re-reads while held, counted the same way.
  const store: StateStore = {
    ...configMaps,
    load: (key) => {
      loads.push(cluster.clock.now());
      return configMaps.load(key);
    },
  };
  // Every look at the world asks for each side's endpoints: counted as the rollout makes them.
  const workload: WorkloadDriver = {
    ...driver,
    ...(driver.watch ? { watch: driver.watch.bind(driver) } : {}),
    endpoints: async (ctx, side) => {
      if (side === 'stable') looks.push(cluster.clock.now());
      return (driver.endpoints as NonNullable<WorkloadDriver['endpoints']>)(ctx, side);
    },
  };
  const rollout = createKubernetesRollout({
    spec: {
      name: 'web',
      target: { name: 'web', service: 'web' },
      update: { image: 'web:2' },
      strategy: { type: 'weighted' },
      steps: [{ setWeight: 20 }, { pause: { duration: `${PAUSE_MS / 1000}s` } }],
      scaleDownDelay: '0s',
    },
    client,
    workload,
    store,
    clock: cluster.clock,
    pollInterval: POLL,
    router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
  });
  const inPause = new Promise<number>((resolve) =>
    rollout.on('state', (s: RolloutState) => {
      if (s.phase === 'paused') resolve(cluster.clock.now());
    }),
  );
  const running = rollout.run();
  const pausedAt = await cluster.run(inPause);
  return { rollout, running, looks, loads, pausedAt };
}

describe('a held rollout looks when its workload changes', () => {
  it('in a quiet pause, looks and state re-reads every 30 s rather than every poll; without watches, every poll', async () => {
    const counted: Record<string, number> = {};
    const synced: Record<string, number> = {};
    for (const watch of [true, false]) {
      const { running, looks, loads, pausedAt } = await paused(watch);
      // Five quiet minutes well inside the pause (its first seconds still see the pods settle).
      const from = pausedAt + 60_000;
      // A neighbour whose name starts like ours scales up and down all along: its pods and
      // Endpoints are not ours and wake nothing.
      cluster.apply(service('web-admin', 'default', { app: 'web-admin' }));
      for (let i = 0; i < 18; i++) {
        cluster.apply(deployment('web-admin', 'default', 'admin:1', 1 + (i % 3), { app: 'web-admin' }));
        await cluster.run(cluster.clock.sleep(20_000));
      }
      const inWindow = (t: number) => t >= from && t < from + 5 * 60_000;
      counted[String(watch)] = looks.filter(inWindow).length;
      synced[String(watch)] = loads.filter(inWindow).length;
      expect((await cluster.run(running)).phase).toBe('succeeded');
      await cluster.close();
    }
    // 300 s / 30 s = 10 safety-net looks (±1 for where the window falls); polling: 300 s / 2 s.
    expect(counted.true).toBeGreaterThanOrEqual(9);
    expect(counted.true).toBeLessThanOrEqual(11);
    expect(counted.false).toBeGreaterThanOrEqual(140);
    // The state: re-read every 30 s while its ConfigMap's watch tells of changes; every 2 s without.
    expect(synced.true).toBeGreaterThanOrEqual(9);
    expect(synced.true).toBeLessThanOrEqual(11);
    expect(synced.false).toBeGreaterThanOrEqual(140);
  }, 120_000);

  it('a change to its pods is looked at within a poll: a crash-looping canary loses its users at once', async () => {
    const { rollout, running, looks, pausedAt } = await paused(true);
    await cluster.run(cluster.clock.sleep(95_000));
    const crashedAt = cluster.clock.now();
    expect(crashedAt - pausedAt).toBeGreaterThan(90_000);
    expect(cluster.crashPods({ image: 'web:2' })).toBeGreaterThan(0);
    const rescued = new Promise<number>((resolve) =>
      rollout.on('state', (s: RolloutState) => {
        if (s.weights.canary === 0) resolve(cluster.clock.now());
      }),
    );
    const at = await cluster.run(rescued);
    // The pods fail their probes within a few seconds; the look follows the change, not the 30 s net.
    expect(looks.some((t) => t > crashedAt && t < crashedAt + 10_000)).toBe(true);
    expect(at - crashedAt).toBeLessThan(15_000);
    await cluster.run(rollout.abort('done'));
    expect((await cluster.run(running)).phase).toBe('aborted');
  }, 60_000);
});
