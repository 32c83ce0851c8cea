// Gateway API: an HTTPRoute's backendRefs weighted 80/20 between the stable and a canary Service
// Kanary creates, with testers (`X-Canary: true`) always on the canary. The route is restored
// exactly when the release is promoted.
import { awaitingDecision, createKubeClient, createKubernetesRollout, type RolloutState } from '@kanary/core';
import { createGatewayApiRouter } from '@kanary/gateway-api';
import { deployment, gateway, service, startCluster } from '@kanary/testkit';

export async function main(log: (line: string) => void = console.log) {
  const cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 31 });
  try {
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2),
      service('shop', 'default', { app: 'shop' }),
      // The Gateway the route attaches to: without one, as on a cluster, the route routes nothing.
      ...gateway('public-gateway', 'default'),
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'shop', namespace: 'default' },
        spec: {
          parentRefs: [{ name: 'public-gateway' }],
          hostnames: ['shop.example.com'],
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              backendRefs: [{ name: 'shop', port: 80 }],
            },
          ],
        },
      },
    );
    await cluster.settle();
    const routeBefore = JSON.stringify(
      cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')?.spec,
    );
    const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
    const rollout = createKubernetesRollout({
      spec: {
        name: 'shop',
        target: { name: 'shop', service: 'shop' },
        update: { image: 'shop:2' },
        strategy: { type: 'weighted' },
        steps: [
          {
            setHeaderRoute: { name: 'testers', match: [{ headers: [{ name: 'X-Canary', exact: 'true' }] }] },
          },
          { setWeight: 20 },
          { pause: {} },
        ],
      },
      router: createGatewayApiRouter({ client, httpRoute: 'shop' }),
      client,
      clock: cluster.clock,
    });
    const entry = { kind: 'gateway' as const, host: 'shop.example.com', path: '/cart' };
    const share = (headers?: Record<string, string>) =>
      cluster.traffic.shareServed(entry, 'shop-canary', headers ? { headers } : {});
    const checks: Record<string, number> = {};
    rollout.on('state', (s: RolloutState) => {
      if (!awaitingDecision(s)) return;
      checks.everyone = share();
      checks.testers = share({ 'X-Canary': 'true' });
      log(`at 20%: everyone ${checks.everyone}, testers ${checks.testers}; promoting`);
      void rollout.promote();
    });
    const final = await cluster.run(rollout.run());
    const restored =
      JSON.stringify(cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')?.spec) ===
      routeBefore;
    log(`${final.phase}; route restored: ${restored}`);
    return { final, checks, restored };
  } finally {
    await cluster.close();
  }
}

if (import.meta.main) await main();
