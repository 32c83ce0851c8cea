import { type Agent, createAgent } from '@kanary/cli';
import { createKubeClient, createKubernetesRollout, type Rollout, type RolloutSpecInput } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { createMetricGate } from '@kanary/metrics';
import { type Cluster, istioApp, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The agent as the safety net, in virtual time: a driver dies (it freezes for good: the cluster
 * never hears from it again) and an agent adopts its rollout, continuing the steps and the
 * analysis where they stopped.
 */
let cluster: Cluster;
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => cluster.run(a.close())));
  await cluster?.close();
});

const TTL = 15_000;
const POLL = 5_000;

const spec = (extra: Partial<RolloutSpecInput> = {}): RolloutSpecInput => ({
  name: 'web',
  target: { name: 'web', service: 'web' },
  update: { image: 'web:2' },
  strategy: { type: 'weighted' },
  steps: [
    { setWeight: 20 },
    { pause: { duration: '10m' } },
    { setWeight: 50 },
    { pause: { duration: '10m' } },
  ],
  analysis: {
    name: 'errors',
    metrics: [
      {
        name: 'errors',
        interval: '30s',
        provider: { istio: { metric: 'errors' } },
        judge: { sequentialRate: { alpha: 0.01, tolerance: 0.1 } },
      },
    ],
  },
  scaleDownDelay: '5s',
  abortScaleDownDelay: '5s',
  ...extra,
});

async function setup(canaryErrorRate: number) {
  cluster = await startCluster({ podReadyAfterMs: 2_000, seed: 21 });
  cluster.apply(...istioApp('web', 'default', 'web:1', 4));
  cluster.traffic.setBehavior({ image: 'web:1', behavior: { errorRate: 0.01 } });
  cluster.traffic.setBehavior({ image: 'web:2', behavior: { errorRate: canaryErrorRate } });
  cluster.traffic.addLoad({
    name: 'users',
    rps: 200,
    entry: { kind: 'istio', host: 'web', namespace: 'default' },
  });
  await cluster.virtualClock!.advance(2_000);
}

function driver(user: string, extra: Partial<RolloutSpecInput> = {}, hooks = false): Rollout {
  const client = createKubeClient({ kubeConfig: cluster.kubeConfigFor(user), clock: cluster.clock });
  return createKubernetesRollout({
    spec: spec(extra),
    client,
    clock: cluster.clock,
    holder: user,
    lockTtl: TTL,
    router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
    gate: createMetricGate({ prometheus: { address: cluster.prometheusUrl }, clock: cluster.clock }),
    ...(hooks ? { hooks: { 'confirm-promotion': async () => {} } } : {}),
  });
}

function agent(user: string): Agent {
  const a = createAgent({
    client: createKubeClient({ kubeConfig: cluster.kubeConfigFor(user), clock: cluster.clock }),
    clock: cluster.clock,
    holder: user,
    lockTtl: TTL,
    pollInterval: POLL,
  });
  agents.push(a);
  void a.run();
  return a;
}

/** Runs virtual time until `done()`; the driver "dies" by freezing: none of its requests arrive any more. */
async function until(done: () => boolean, maxMs = 60 * 60_000) {
  const limit = cluster.clock.now() + maxMs;
  while (!done()) {
    if (cluster.clock.now() > limit) throw new Error('not reached in virtual time');
    await cluster.run(cluster.virtualClock!.sleep(500));
  }
}

async function driverDiesAtTwentyPercent(extra: Partial<RolloutSpecInput> = {}, hooks = false) {
  const a = driver('driver-a', extra, hooks);
  void a.run().catch(() => undefined);
  await until(() => a.state?.weights.canary === 20 && a.state.weights.verified);
  cluster.faults.stall({ user: 'driver-a' });
  return { diedAt: cluster.clock.now(), a };
}

const lastState = () =>
  JSON.parse(
    (cluster.get('ConfigMap', 'default', 'kanary-web') as unknown as { data: Record<string, string> }).data[
      'state.json'
    ] as string,
  );
const canaryShare = () => {
  let canary = 0;
  for (const [backend, n] of cluster.traffic.sample(
    { kind: 'istio', host: 'web', namespace: 'default' },
    1_000,
  ))
    if (backend !== 'web') canary += n;
  return canary / 1_000;
};

describe('kanary agent: orphans are adopted', () => {
  it('adopts a dead driver’s rollout within TTL + one poll and rolls a bad canary back on the analysis verdict', async () => {
    await setup(0.1);
    const watcher = agent('agent-1');
    const adopted: number[] = [];
    watcher.on('adopted', (e) => {
      adopted.push(cluster.clock.now());
      expect(e.policy).toBe('continue');
      expect(e.code).toEqual([]);
    });
    const { diedAt } = await driverDiesAtTwentyPercent();
    await until(() => lastState().phase === 'aborted');
    expect(adopted).toHaveLength(1);
    expect((adopted[0] as number) - diedAt).toBeLessThanOrEqual(TTL + POLL + 1_000);
    const final = lastState();
    expect(final.abort.cause).toBe('analysis');
    expect(final.driver.holder).toBe('agent-1');
    expect(canaryShare()).toBe(0);
  });

  it('continues a good canary to promotion where it stopped', async () => {
    await setup(0.01);
    const watcher = agent('agent-1');
    await driverDiesAtTwentyPercent();
    // Succeeded, and its old version scaled down after the delay.
    await until(
      () => lastState().phase === 'succeeded' && lastState().cursor.section === 'done',
      3 * 3_600_000,
    );
    const final = lastState();
    expect(final.driver.holder).toBe('agent-1');
    // The first pause was not started over: it ended 10 minutes after the dead driver began it.
    const at = (detail: string) =>
      final.history.find(
        (h: { event: string; detail?: string }) => h.event === 'advance' && h.detail === detail,
      )?.at;
    expect(at('to step 3') - at('to step 2')).toBeGreaterThanOrEqual(10 * 60_000);
    expect(at('to step 3') - at('to step 2')).toBeLessThanOrEqual(10 * 60_000 + 2_000);
    await until(() => watcher.driving.size === 0, 60_000);
    expect(watcher.driving.size).toBe(0);
    // Over half an hour of virtual time at 200 requests/s: the wall time is the traffic simulation's
    // (22–28 s on this machine beside other work), not something the test waits for.
  }, 90_000);

  it('finishes a succeeded release whose driver died during the scale-down delay: the old version goes when due, nothing is rolled back', async () => {
    await setup(0.01);
    const watcher = agent('agent-1');
    const adopted: string[] = [];
    watcher.on('adopted', (e) => adopted.push(e.policy));
    // Hook functions exist only in the driver's code: an orphan in flight would be rolled back.
    const a = driver(
      'driver-a',
      { steps: [{ setWeight: 20 }, { pause: { duration: '1m' } }], scaleDownDelay: '2m' },
      true,
    );
    void a.run().catch(() => undefined);
    await until(() => a.state?.phase === 'succeeded');
    const canary = a.state?.targets.canary?.name as string;
    expect(cluster.get('Deployment', 'default', canary)).toBeDefined();
    cluster.faults.stall({ user: 'driver-a' });
    await until(() => lastState().cursor.section === 'done', 3_600_000);
    const final = lastState();
    expect(final.phase).toBe('succeeded');
    expect(final.abort).toBeUndefined();
    expect(adopted).toEqual(['continue']);
    expect(final.driver.holder).toBe('agent-1');
    // Not before the delay was up.
    expect(final.updatedAt - final.finishedAt).toBeGreaterThanOrEqual(2 * 60_000);
    expect(cluster.get('Deployment', 'default', canary)).toBeUndefined();
    expect(canaryShare()).toBe(0);
  });

  it('orphanPolicy: a rollout with hook functions is rolled back by default, and held when the spec says hold', async () => {
    await setup(0.01);
    const watcher = agent('agent-1');
    const seen: string[] = [];
    watcher.on('adopted', (e) => seen.push(`adopted ${e.policy} ${e.code.join(',')}`));
    watcher.on('skipped', (e) => seen.push(`skipped ${e.reason}`));
    await driverDiesAtTwentyPercent({}, true);
    await until(() => lastState().phase === 'aborted');
    expect(seen).toEqual(['adopted abort hook confirm-promotion']);
    expect(lastState().abort.reason).toMatch(/orphaned: .*hook confirm-promotion/);
    expect(canaryShare()).toBe(0);
  });

  it('orphanPolicy hold: the agent leaves it as it is and says why, once', async () => {
    await setup(0.01);
    const watcher = agent('agent-1');
    const seen: string[] = [];
    watcher.on('adopted', () => seen.push('adopted'));
    watcher.on('skipped', (e) => seen.push(e.reason));
    await driverDiesAtTwentyPercent({ orphanPolicy: 'hold' }, true);
    await cluster.run(cluster.virtualClock!.sleep(TTL + 5 * POLL));
    expect(seen).toEqual(["orphanPolicy hold: hook confirm-promotion exist only in its host's code"]);
    expect(lastState().phase).toBe('paused');
    expect(canaryShare()).toBeGreaterThan(0.1);
  });

  it('two agents and a driver that dies: exactly one agent drives the rollout, the other writes nothing', async () => {
    await setup(0.01);
    const one = agent('agent-1');
    const two = agent('agent-2');
    let adoptions = 0;
    for (const a of [one, two]) a.on('adopted', () => adoptions++);
    const { diedAt } = await driverDiesAtTwentyPercent();
    await until(() => lastState().phase === 'succeeded', 3 * 3_600_000);
    expect(adoptions).toBe(1);
    const winner = lastState().driver.holder as string;
    const loser = winner === 'agent-1' ? 'agent-2' : 'agent-1';
    const writes = (user: string) =>
      cluster.requests.filter(
        (r) =>
          r.user === user &&
          ['create', 'update', 'patch', 'delete'].includes(r.verb) &&
          r.resource !== 'leases',
      );
    expect(writes(loser)).toEqual([]);
    expect(writes(winner).length).toBeGreaterThan(0);
    // Nothing of driver-a's reached the cluster after it died.
    const frozen = cluster.requests.filter((r) => r.user === 'driver-a');
    expect(frozen.every((r) => r.code > 0)).toBe(true);
    // The state's record of drivers: the dead driver, then exactly one agent.
    const drivers = lastState()
      .history.filter((h: { event: string }) => h.event === 'driver')
      .map((h: { detail: string }) => h.detail.split(' ')[0]);
    expect(drivers).toEqual([winner]);
    expect(diedAt).toBeGreaterThan(0);
  }, 90_000);
});
