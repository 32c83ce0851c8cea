import { type KubeObject as ClientObject, createKubeClient, type RolloutState } from '@kanary/core';
import { initialState } from '@kanary/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Cluster,
  deployment,
  type InvariantTarget,
  istioApp,
  type KubeObject,
  startCluster,
  watchInvariants,
} from '../src/index.ts';

/**
 * Each invariant must be able to fail: here the world is broken by hand (no Kanary running) and the
 * watcher has to say which invariant broke. The chaos runner relies on these predicates.
 */
let cluster: Cluster;
afterEach(() => cluster?.close());

const TARGET: InvariantTarget = {
  entry: { kind: 'istio', host: 'web', namespace: 'default' },
  namespace: 'default',
  rollout: 'web',
  stable: 'web',
  canary: 'web-canary',
  pollMs: 2_000,
  routing: [{ kind: 'VirtualService', name: 'web', group: 'networking.istio.io' }],
};

const VS_REF = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  namespace: 'default',
  name: 'web',
};

/** Subsets by version label: the stable and the canary Deployment's pods. */
const SUBSETS = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    host: 'web',
    subsets: [
      { name: 'stable', labels: { app: 'web', version: 'v1' } },
      { name: 'canary', labels: { app: 'web', version: 'v2' } },
    ],
  },
};

async function setup(podReadyAfterMs = 500) {
  cluster = await startCluster({ podReadyAfterMs, seed: 5 });
  const [, s, , vs] = istioApp('web', 'default', 'web:1', 4);
  cluster.apply(
    deployment('web', 'default', 'web:1', 4, { app: 'web', version: 'v1' }),
    s,
    deployment('web-canary', 'default', 'web:2', 1, { app: 'web', version: 'v2' }),
    SUBSETS,
    vs,
  );
  await cluster.virtualClock!.advance(2_000);
}

const route = (stable: number, canary: number, canarySubset = 'canary') =>
  cluster.apply({
    ...(cluster.get('VirtualService', 'default', 'web', 'networking.istio.io') as KubeObject),
    spec: {
      hosts: ['web'],
      http: [
        {
          name: 'primary',
          route: [
            { destination: { host: 'web', subset: 'stable' }, weight: stable },
            { destination: { host: 'web', subset: canarySubset }, weight: canary },
          ],
        },
      ],
    },
  });

const saveState = (patch: Partial<RolloutState> | string) =>
  cluster.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kanary-web', namespace: 'default' },
    data: {
      'state.json':
        typeof patch === 'string'
          ? patch
          : JSON.stringify({
              ...initialState({ namespace: 'default', name: 'web' }, 'digest', cluster.clock.now()),
              startedAt: cluster.clock.now(),
              phase: 'paused',
              cursor: { section: 'steps', step: 1, action: 0 },
              ...patch,
            }),
    },
  });

/** The state an accepted abort leaves (a person's, from `from`), stamped now; returns when. */
const saveAbort = (canary: number, from: RolloutState['cursor']) => {
  const at = cluster.clock.now();
  saveState({
    weights: { canary, verified: true },
    phase: 'aborting',
    abort: { reason: 'test', cause: 'user', at, from },
  });
  return at;
};

const kinds = (w: ReturnType<typeof watchInvariants>) => [...new Set(w.violations.map((v) => v.invariant))];

/** 30% on the canary under watch, and a driver's own client (its writes are judged, a person's not). */
async function atWeightWithDriver() {
  await setup();
  saveState({ weights: { canary: 30, verified: true } });
  route(70, 30);
  const watch = watchInvariants(cluster, TARGET);
  const driver = createKubeClient({ kubeConfig: cluster.kubeConfigFor('driver-1'), clock: cluster.clock });
  return { watch, driver };
}

describe('release-safety invariants fail when the world is broken', () => {
  it('no-blackhole: users sent to a subset with no pods for longer than a poll', async () => {
    await setup();
    saveState({ weights: { canary: 30, verified: true } });
    const watch = watchInvariants(cluster, TARGET);
    route(70, 30, 'missing');
    await cluster.virtualClock!.advance(3_000);
    expect(watch.violations).toEqual([]);
    await cluster.virtualClock!.advance(5_000);
    await watch.stop();
    expect(kinds(watch)).toContain('no-blackhole');
  });

  it('no-blackhole: a window Kanary is blind in (an outage) extends the time it has', async () => {
    await setup();
    saveState({ weights: { canary: 30, verified: true } });
    const watch = watchInvariants(cluster, TARGET);
    const now = cluster.clock.now();
    watch.blind(now, now + 10_000);
    route(70, 30, 'missing');
    await cluster.virtualClock!.advance(12_000);
    expect(kinds(watch)).toEqual([]);
    await cluster.virtualClock!.advance(5_000);
    await watch.stop();
    expect(kinds(watch)).toContain('no-blackhole');
  });

  it('no-blackhole at a write: a driver that routes users to nothing is caught at once, not a poll later', async () => {
    const { watch, driver } = await atWeightWithDriver();
    const vs = (await cluster.run(driver.get(VS_REF))) as ClientObject & {
      spec: { http: Array<{ route: Array<{ destination: { subset: string } }> }> };
    };
    const canary = vs.spec.http[0]?.route[1];
    if (!canary) throw new Error('the VirtualService has no canary destination');
    canary.destination.subset = 'missing';
    await cluster.run(driver.replace(vs));
    await driver.close();
    await watch.stop();
    expect(watch.violations.map((v) => v.detail)).toEqual([
      expect.stringMatching(
        /driver-1's update of virtualservices\/web left \d+ of 100 requests without a backend/,
      ),
    ]);
  });

  it('no-blackhole at a write: users the world left unserved before it (no request in between) are not its doing', async () => {
    const { watch, driver } = await atWeightWithDriver();
    const vs = (await cluster.run(driver.get(VS_REF))) as ClientObject;
    // The canary's pods leave the Service's Endpoints by a controller's hand: no API request records
    // the moment, and no tick comes between it and the driver's next request.
    const endpoints = cluster.get('Endpoints', 'default', 'web') as KubeObject & {
      subsets: Array<{ addresses?: Array<{ targetRef?: { name?: string } }> }>;
    };
    for (const subset of endpoints.subsets)
      subset.addresses = (subset.addresses ?? []).filter((a) => !a.targetRef?.name?.startsWith('web-canary'));
    cluster.apply(endpoints);
    // A driver's write right then that leaves the routing as it was: the failures are not its doing.
    vs.metadata.labels = { looked: 'yes' };
    await cluster.run(driver.replace(vs));
    await driver.close();
    const atWrite = watch.violations.filter((v) => /update of virtualservices/.test(v.detail));
    await watch.stop();
    expect(atWrite).toEqual([]);
  });

  it('bounded-exposure: more users on the canary than any weight Kanary wrote', async () => {
    await setup();
    saveState({ weights: { canary: 10, verified: true } });
    route(90, 10);
    const watch = watchInvariants(cluster, TARGET);
    await cluster.virtualClock!.advance(10_000);
    expect(kinds(watch)).toEqual([]);
    route(40, 60);
    await cluster.virtualClock!.advance(8_000);
    await watch.stop();
    expect(kinds(watch)).toEqual(['bounded-exposure']);
  });

  it('abort-restores: users still on the canary a poll after the abort, and a routing object left changed', async () => {
    await setup();
    saveState({ weights: { canary: 30, verified: true } });
    const watch = watchInvariants(cluster, TARGET);
    route(70, 30);
    await cluster.virtualClock!.advance(3_000);
    saveAbort(30, { section: 'steps', step: 1, action: 0 });
    await cluster.virtualClock!.advance(10_000);
    const data = cluster.get('ConfigMap', 'default', 'kanary-web')?.data as Record<string, string>;
    const final = JSON.parse(data['state.json'] as string) as RolloutState;
    await watch.stop({ ...final, phase: 'aborted' });
    expect(watch.violations.filter((v) => v.invariant === 'abort-restores').map((v) => v.detail)).toEqual([
      expect.stringMatching(/canary still served/),
      expect.stringMatching(/VirtualService\/web is not as it was/),
    ]);
  });

  it('abort-restores: the stable serves once the revision it now runs has ready pods, not its promoted ones', async () => {
    // An abort during a promotion: the stable Deployment ran the canary's template, and the abort
    // writes its old one back. Its promoted pods are ready but serve the new version; the restored
    // ones take 5 s. Users kept on the canary meanwhile are where they should be (chaos seed 15088).
    await setup(5_000);
    await cluster.virtualClock!.advance(4_000);
    const stable = (image: string) => deployment('web', 'default', image, 4, { app: 'web', version: 'v1' });
    cluster.apply(stable('web:2'));
    await cluster.virtualClock!.advance(40_000);
    route(0, 100);
    saveState({ weights: { canary: 100, verified: true }, phase: 'promoting' });
    const watch = watchInvariants(cluster, TARGET);
    await cluster.virtualClock!.advance(1_000);
    const at = saveAbort(100, { section: 'promotion', step: 0, action: 0 });
    cluster.apply(stable('web:1'));
    const stillServed = () => watch.violations.filter((v) => /canary still served/.test(v.detail));
    // The promoted pods are ready the whole time; the restored ones only 5 s after they start
    // (counting the promoted pods as the stable, a poll and the grace after the abort was a violation).
    await cluster.virtualClock!.advance(6_000);
    expect(stillServed()).toEqual([]);
    // Ready, and a poll (and the watcher's grace) later users are still on the canary: that is
    // Kanary's to fix.
    await cluster.virtualClock!.advance(8_000);
    await watch.stop();
    expect(stillServed().length).toBeGreaterThan(0);
    expect(stillServed()[0]?.at).toBeGreaterThan(at + 5_000 + TARGET.pollMs);
  });

  it('single-writer: a write stamped with an older epoch after a newer one', async () => {
    await setup();
    const watch = watchInvariants(cluster, TARGET);
    const stamp = (user: string, epoch: number) =>
      createKubeClient({ kubeConfig: cluster.kubeConfigFor(user), clock: cluster.clock }).mergePatch(
        { apiVersion: 'v1', kind: 'Service', namespace: 'default', name: 'web' },
        { metadata: { annotations: { 'kanary.dev/epoch.web': String(epoch) } } },
      );
    await cluster.run(stamp('driver-a', 1));
    await cluster.run(stamp('driver-b', 2));
    await cluster.virtualClock!.advance(2_000);
    expect(kinds(watch)).toEqual([]);
    await cluster.run(stamp('driver-a', 1));
    await cluster.virtualClock!.advance(2_000);
    await watch.stop();
    expect(watch.violations.map((v) => v.detail)).toEqual([
      expect.stringMatching(/driver-a wrote services\/web with epoch 1 after epoch 2/),
    ]);
  });

  it('state-sane: a state that does not parse, and a release that ends paused with no cause', async () => {
    await setup();
    const watch = watchInvariants(cluster, TARGET);
    saveState('{ not json');
    await cluster.virtualClock!.advance(2_000);
    const state = initialState({ namespace: 'default', name: 'web' }, 'digest', cluster.clock.now());
    await watch.stop({ ...state, phase: 'paused', cursor: { section: 'steps', step: 0, action: 0 } });
    expect(watch.violations.map((v) => v.detail)).toEqual([
      expect.stringMatching(/saved state does not parse/),
      'paused with no cause',
    ]);
  });

  it('capacity: a canary with fewer ready pods than the stable taking 100% while promoting', async () => {
    await setup();
    saveState({
      phase: 'promoting',
      cursor: { section: 'promotion', step: 0, action: 3 },
      weights: { canary: 100, verified: true },
      targets: { stable: { name: 'web', podLabels: {} } },
    });
    route(0, 100);
    const watch = watchInvariants(cluster, TARGET);
    await cluster.virtualClock!.advance(8_000);
    await watch.stop();
    expect(watch.violations.map((v) => v.detail)).toEqual([
      'canary has 1 ready pods taking 100%; stable runs 4',
    ]);
  });
});
