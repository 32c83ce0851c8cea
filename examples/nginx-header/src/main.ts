// Seed 002 on ingress-nginx: QA reaches the new version with `X-QA: always` while nobody else
// does (weight 0); then 10% of everyone. Kanary writes a canary Ingress with the annotations
// and refuses combinations ingress-nginx would silently get wrong.
import { awaitingDecision, createKubeClient, createKubernetesRollout, type RolloutState } from '@kanary/core';
import { createNginxRouter } from '@kanary/nginx';
import { deployment, service, startCluster } from '@kanary/testkit';

export async function main(log: (line: string) => void = console.log) {
  const cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 21 });
  try {
    cluster.apply(deployment('shop', 'default', 'shop:1', 2), service('shop', 'default', { app: 'shop' }), {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'shop.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'shop', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
    const rollout = createKubernetesRollout({
      spec: {
        name: 'shop',
        target: { name: 'shop', service: 'shop' },
        update: { image: 'shop:2' },
        strategy: { type: 'weighted' },
        steps: [
          { setHeaderRoute: { name: 'qa', match: [{ headers: [{ name: 'X-QA', exact: 'always' }] }] } },
          { setWeight: 0 },
          { pause: {} },
          { setWeight: 10 },
          { pause: {} },
        ],
      },
      router: createNginxRouter({ client, stableIngress: 'shop' }),
      client,
      clock: cluster.clock,
    });
    const entry = { kind: 'ingress' as const, host: 'shop.example.com' };
    const share = (headers?: Record<string, string>) =>
      cluster.traffic.shareServed(entry, 'shop-canary', headers ? { headers } : {});
    const checks: Array<{ weight: number; qa: number; everyone: number }> = [];
    rollout.on('state', (s: RolloutState) => {
      if (!awaitingDecision(s)) return;
      checks.push({ weight: s.weights.canary, qa: share({ 'X-QA': 'always' }), everyone: share() });
      log(
        `weight ${s.weights.canary}%: QA ${checks.at(-1)?.qa}, everyone ${checks.at(-1)?.everyone}; promoting`,
      );
      void rollout.promote();
    });
    const final = await cluster.run(rollout.run());
    log(final.phase);
    return { final, checks };
  } finally {
    await cluster.close();
  }
}

if (import.meta.main) await main();
