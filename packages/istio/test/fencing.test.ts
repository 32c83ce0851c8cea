import {
  type Clock,
  createKubeClient,
  createKubernetesRollout,
  type Rollout,
  type RolloutSpecInput,
} from '@kanary/core';
import { EPOCH_ANNOTATION_PREFIX, epochOn } from '@kanary/core/adapter';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, istioApp, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

let cluster: Cluster;
afterEach(() => cluster?.close());

const entry = { kind: 'istio' as const, host: 'web', namespace: 'default' };
const TTL = 15_000;

const SPEC: RolloutSpecInput = {
  name: 'web',
  target: { name: 'web', service: 'web' },
  update: { image: 'web:2' },
  strategy: { type: 'weighted' },
  steps: [{ setWeight: 10 }, { pause: { duration: '1m' } }, { setWeight: 30 }, { pause: { duration: '1m' } }],
  scaleDownDelay: '10s',
};

async function setup() {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 3 });
  cluster.apply(...istioApp('web', 'default', 'web:1', 4));
  await cluster.settle();
}

/** A driver process: its own identity, its own connection (so it can be frozen), optionally its own clock. */
function driver(user: string, options: { clock?: Clock; waitForLock?: boolean } = {}): Rollout {
  const clock = options.clock ?? cluster.clock;
  const client = createKubeClient({ kubeConfig: cluster.kubeConfigFor(user), clock });
  return createKubernetesRollout({
    spec: SPEC,
    client,
    clock,
    holder: user,
    lockTtl: TTL,
    pollInterval: '1s',
    waitForLock: options.waitForLock ?? false,
    router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
  });
}

/** Lets virtual time run (the cluster's controllers, the live drivers) until `done()` holds. */
async function until(done: () => boolean, maxMs = 30 * 60_000) {
  const clock = cluster.virtualClock!;
  const limit = clock.now() + maxMs;
  while (!done()) {
    if (clock.now() > limit) throw new Error('condition not reached in virtual time');
    await cluster.run(clock.sleep(250));
  }
}

const canaryShare = () => {
  const sample = cluster.traffic.sample(entry, 2_000);
  let canary = 0;
  let failed = 0;
  for (const [backend, n] of sample) {
    if (backend !== 'web' && !backend.startsWith('status-')) canary += n;
    if (backend.startsWith('status-')) failed += n;
  }
  return { canary: canary / 2_000, failed };
};

describe('split brain: a stalled driver that lost its lease cannot write', () => {
  const STALLS = {
    'a weight write': { verbs: ['update' as const], resources: ['virtualservices'] },
    'a state save': { verbs: ['update' as const], resources: ['configmaps'] },
    'a Deployment write': { verbs: ['patch' as const, 'update' as const], resources: ['deployments'] },
  };
  for (const [what, from] of Object.entries(STALLS)) {
    it(`stalled before ${what}: after takeover and abort, its late writes are refused and stable keeps 100%`, async () => {
      await setup();
      const a = driver('driver-a');
      const aEpochs: number[] = [];
      a.on('leadership', (e) => e.status === 'acquired' && aEpochs.push(e.epoch ?? -1));
      const aRun = a.run();
      aRun.catch(() => undefined);
      // A reaches the first pause at 10%; then it freezes at its next matching request.
      await until(() => a.state?.phase === 'paused' && a.state.weights.canary === 10);
      const stall = cluster.faults.stall({ user: 'driver-a', from });
      // For the Deployment case the next Deployment write is the promotion's: skip the steps.
      if (what === 'a Deployment write') await cluster.run(a.promoteFull());
      await until(() => stall.started);
      const frozenAt = cluster.clock.now();

      // B waits for the lease: it may take it only after a full TTL of silence it observed itself.
      const b = driver('driver-b', { waitForLock: true });
      let bAcquiredAt = 0;
      let bEpoch = 0;
      b.on('leadership', (e) => {
        if (e.status === 'acquired') {
          bAcquiredAt = cluster.clock.now();
          bEpoch = e.epoch ?? 0;
        }
      });
      const bRun = b.run();
      bRun.catch(() => undefined);
      await until(() => bAcquiredAt > 0 && b.state?.driver?.epoch === bEpoch);
      expect(bAcquiredAt - frozenAt).toBeGreaterThanOrEqual(TTL);
      expect(bEpoch).toBeGreaterThan(aEpochs[0] ?? 0);

      // The operator aborts; B brings everyone back to stable and removes the canary.
      const aborted = b.abort('operator: bad release');
      // While it runs, every object B writes carries B's epoch (the fencing stamp)...
      let stampedWith = 0;
      await until(() => {
        const vs = cluster.get('VirtualService', 'default', 'web', 'networking.istio.io');
        stampedWith = Math.max(stampedWith, epochOn(vs, 'web'));
        return b.state?.phase === 'aborted';
      });
      expect(stampedWith).toBe(bEpoch);
      await cluster.run(aborted);
      const bFinal = await cluster.run(bRun);
      expect(bFinal.phase).toBe('aborted');
      const vsBefore = cluster.get('VirtualService', 'default', 'web', 'networking.istio.io');
      const drBefore = cluster.get('DestinationRule', 'default', 'web', 'networking.istio.io');
      const writesBefore = cluster.requests.length;
      expect(canaryShare().canary).toBe(0);

      // A wakes up: whatever it had in flight reaches the API server now.
      stall.release();
      const aFinal = await cluster.run(aRun);
      const late = cluster.requests
        .slice(writesBefore)
        .filter(
          (r) =>
            r.user === 'driver-a' &&
            ['update', 'patch', 'create', 'delete'].includes(r.verb) &&
            r.resource !== 'leases' &&
            r.code < 300,
        );
      expect(late.filter((r) => r.resource !== 'configmaps')).toEqual([]);
      expect(aFinal.phase).toBe('aborted');
      // Routing is exactly what B left: 100% stable, nothing points at the deleted canary.
      const vs = cluster.get('VirtualService', 'default', 'web', 'networking.istio.io');
      const dr = cluster.get('DestinationRule', 'default', 'web', 'networking.istio.io');
      expect(vs?.metadata.resourceVersion).toBe(vsBefore?.metadata.resourceVersion);
      expect(dr?.metadata.resourceVersion).toBe(drBefore?.metadata.resourceVersion);
      // ...and once the release has ended the stamps are gone: the objects are left as they were.
      for (const obj of [vs, dr, cluster.get('Deployment', 'default', 'web')]) {
        expect(
          Object.keys(obj?.metadata.annotations ?? {}).filter((k) => k.startsWith(EPOCH_ANNOTATION_PREFIX)),
        ).toEqual([]);
      }
      await cluster.run(cluster.virtualClock!.sleep(30_000));
      const after = canaryShare();
      expect(after.canary).toBe(0);
      expect(after.failed).toBe(0);
      expect(cluster.list('Deployment', 'default').map((d) => d.metadata.name)).toEqual(['web']);
    });
  }
});

describe('clock skew between drivers', () => {
  for (const skewMs of [5 * 60_000, -5 * 60_000]) {
    it(`a successor whose clock is ${skewMs > 0 ? 'ahead' : 'behind'} by 5 minutes waits a full TTL and keeps the pause's length`, async () => {
      await setup();
      const a = driver('driver-a');
      const aRun = a.run();
      aRun.catch(() => undefined);
      await until(() => a.state?.phase === 'paused' && a.state.weights.canary === 10);
      const pauseStartedAt = a.state?.action?.startedAt as number;
      // A dies (frozen for good) ten seconds into its one-minute pause.
      await cluster.run(cluster.virtualClock!.sleep(10_000));
      cluster.faults.stall({ user: 'driver-a' });
      const frozenAt = cluster.clock.now();
      const vc = cluster.virtualClock!;
      const skewed: Clock = {
        now: () => vc.now() + skewMs,
        monotonic: () => vc.now(),
        sleep: (ms, signal) => vc.sleep(ms, signal),
      };
      const b = driver('driver-b', { clock: skewed, waitForLock: true });
      let acquiredAt = 0;
      let weight30At = 0;
      b.on('leadership', (e) => {
        if (e.status === 'acquired') acquiredAt = vc.now();
      });
      b.on('weight', ({ canary }) => {
        if (canary === 30 && weight30At === 0) weight30At = vc.now();
      });
      const bRun = b.run();
      bRun.catch(() => undefined);
      await until(() => weight30At > 0);
      expect(acquiredAt - frozenAt).toBeGreaterThanOrEqual(TTL);
      // The pause ends one minute after A began it (to the emulator's clock), within the estimate's precision.
      const waited = weight30At - pauseStartedAt;
      expect(waited).toBeGreaterThanOrEqual(60_000);
      expect(waited).toBeLessThanOrEqual(60_000 + 3_000);
      await b.close();
    });
  }
});
