// Seed 001, blue-green: green (the new version) comes up beside blue and is reachable on the
// preview Service; after your checks, promote() switches the active Service's selector in one
// write; blue stays scaled up for scaleDownDelaySeconds so a rollback is instant.
import { createKubernetesRollout } from '@kanary/core';
import { deployment, service, startCluster } from '@kanary/testkit';

export async function main(log: (line: string) => void = console.log) {
  const cluster = await startCluster({ podReadyAfterMs: 2_000 });
  try {
    cluster.apply(
      deployment('py-hello-blue', 'default', 'localhost:5001/py-http:1', 2, { app: 'hello', color: 'blue' }),
      service('py-hello-service', 'default', { app: 'hello' }),
      service('py-hello-preview', 'default', { app: 'hello' }),
    );
    const rollout = createKubernetesRollout({
      spec: {
        name: 'py-hello',
        target: { name: 'py-hello-blue', service: 'py-hello-service' },
        update: { image: 'localhost:5001/py-http:2' },
        strategy: {
          type: 'blueGreen',
          activeService: 'py-hello-service',
          previewService: 'py-hello-preview',
          autoPromotionEnabled: false,
          scaleDownDelaySeconds: 60,
        },
      },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
    });
    const served = (svc: string) =>
      [...cluster.traffic.sample({ kind: 'service', namespace: 'default', service: svc }, 50).keys()].sort();
    const seen: Record<string, string[]> = {};
    rollout.on('state', (s) => {
      if (s.phase !== 'paused' || seen.preview) return;
      seen.preview = served('py-hello-preview');
      seen.activeBefore = served('py-hello-service');
      log(
        `preview served by ${seen.preview.join(', ')}; users still on ${seen.activeBefore.join(', ')}; promoting`,
      );
      void rollout.promote();
    });
    rollout.on('phase', ({ to }) => log(`phase: ${to}`));
    const final = await cluster.run(rollout.run());
    seen.activeAfter = served('py-hello-service');
    log(`${final.phase}: users reach ${seen.activeAfter.join(', ')}`);
    return { final, seen };
  } finally {
    await cluster.close();
  }
}

if (import.meta.main) await main();
