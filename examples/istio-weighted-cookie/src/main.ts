// Seed 003 on Istio: 10% of all users by weight; then the general weight back to 0 and half of
// the company's own users (an `email` cookie at the company domain) on the new version. Kanary
// edits only its own rules in the VirtualService and restores it byte for byte at the end.
import { awaitingDecision, createKubeClient, createKubernetesRollout, type RolloutState } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { deployment, service, startCluster } from '@kanary/testkit';

const host = 'demo4.test1.svc.cluster.local';

export async function main(log: (line: string) => void = console.log) {
  const cluster = await startCluster({ namespaces: ['test1'], podReadyAfterMs: 2_000, seed: 9 });
  try {
    cluster.apply(
      deployment('demo4-v1', 'test1', 'mritd/demo:v1', 2, { app: 'demo4', version: 'v1' }),
      service('demo4', 'test1', { app: 'demo4' }),
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'demo4', namespace: 'test1' },
        spec: {
          host,
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
        },
      },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'demo4-vs', namespace: 'test1' },
        spec: {
          hosts: ['demo4.a.com'],
          http: [{ name: 'default', route: [{ destination: { host, subset: 'v1' } }] }],
        },
      },
    );
    const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
    const rollout = createKubernetesRollout({
      spec: {
        name: 'demo4',
        namespace: 'test1',
        target: { name: 'demo4-v1', service: 'demo4' },
        update: { image: 'mritd/demo:v2' },
        strategy: { type: 'weighted', canary: { name: 'demo4-canary' } },
        steps: [
          { setWeight: 10 },
          { pause: {} },
          { setWeight: 0 },
          {
            setHeaderRoute: {
              name: 'company',
              match: [{ cookie: { name: 'email', regex: '[^;]*@some-company-name\\.com' } }],
              weight: 50,
            },
          },
          { pause: {} },
        ],
      },
      router: createIstioRouter({
        client,
        virtualService: 'demo4-vs',
        destinationRule: { name: 'demo4', stableSubset: 'v1', canarySubset: 'v2' },
      }),
      client,
      clock: cluster.clock,
    });
    const entry = { kind: 'istio' as const, host: 'demo4.a.com', namespace: 'test1' };
    const share = (cookies?: Record<string, string>) =>
      cluster.traffic.shareServed(entry, 'demo4-canary', cookies ? { cookies } : {});
    const checks: Record<string, number> = {};
    rollout.on('state', (s: RolloutState) => {
      if (!awaitingDecision(s)) return;
      if (s.cursor.step === 1) checks.everyone = share();
      else {
        checks.company = share({ email: 'li@some-company-name.com' });
        checks.others = share({ email: 'li@example.org' });
      }
      log(`paused at step ${s.cursor.step + 1}: ${JSON.stringify(checks)}; promoting`);
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
