import { createKubeClient } from '@kanary/core';
import { ensureHashService, pinService } from '@kanary/core/adapter';
import { type Cluster, REALISTIC_LATENCY, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, imagesBehind, service } from './fixtures.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

const svc = (name: string) => ({ apiVersion: 'v1', kind: 'Service', namespace: 'default', name });
const hashOf = (name: string) =>
  cluster.list('ReplicaSet', 'default').find((rs) => rs.metadata.name?.startsWith(`${name}-`))?.metadata
    .labels?.['pod-template-hash'] as string;

// The endpoints controller follows a selector tens to hundreds of milliseconds after the write; a
// router that moved on at once would route users to the other side's pods, or to none (the router
// conformance suite sent 977 of 2,000 requests to the canary at weight 0 before this wait).
describe('Service pins wait for the Endpoints to follow', () => {
  const setup = async () => {
    cluster = await startCluster({ podReadyAfterMs: 1_000, controllerLatency: REALISTIC_LATENCY });
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2),
      deployment('shop-canary', 'default', 'shop:2', 1, { app: 'shop', track: 'canary' }),
      service('shop', 'default', { app: 'shop' }),
    );
    await cluster.virtualClock!.advance(2_000);
    return createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  };

  it('pinService returns once the Service reaches only the pinned pods', async () => {
    const client = await setup();
    expect(imagesBehind(cluster, 'default', 'shop')).toEqual(['shop:1', 'shop:1', 'shop:2']);
    const t0 = cluster.clock.now();
    await cluster.run(pinService(client, svc('shop'), hashOf('shop')));
    expect(cluster.clock.now()).toBeGreaterThan(t0);
    expect(imagesBehind(cluster, 'default', 'shop')).toEqual(['shop:1', 'shop:1']);
  });

  it('ensureHashService returns once the new Service lists a ready pod', async () => {
    const client = await setup();
    const stable = cluster.get('Service', 'default', 'shop') as never;
    await cluster.run(
      ensureHashService(client, svc('shop-canary'), stable, hashOf('shop-canary'), {
        'kanary.dev/rollout': 'shop',
      }),
    );
    expect(imagesBehind(cluster, 'default', 'shop-canary')).toEqual(['shop:2']);
  });

  it('pinning to a revision with no ready pod does not wait for an address that cannot come', async () => {
    const client = await setup();
    cluster.setPodBehavior({ image: 'shop:3', behavior: { neverReady: true } });
    cluster.apply(deployment('shop-broken', 'default', 'shop:3', 1, { app: 'shop', track: 'broken' }));
    await cluster.virtualClock!.advance(2_000);
    const t0 = cluster.clock.now();
    await cluster.run(pinService(client, svc('shop'), hashOf('shop-broken')));
    // One reconcile to drop the old pods from the Endpoints, not the 10 s a missing address would take.
    expect(cluster.clock.now() - t0).toBeLessThan(2_000);
    expect(imagesBehind(cluster, 'default', 'shop')).toEqual([]);
  });
});
