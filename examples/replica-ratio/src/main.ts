// Seed 001, gray release without a mesh: both versions sit behind the one Service and the
// weight becomes pod counts (1 of 5 pods = 20%). What users see follows the replica ratio.
import { createKubernetesRollout } from '@kanary/core';
import { deployment, service, startCluster } from '@kanary/testkit';

export async function main(log: (line: string) => void = console.log) {
  const cluster = await startCluster({ podReadyAfterMs: 2_000, seed: 7 });
  try {
    cluster.apply(
      deployment('py-hello', 'default', 'localhost:5001/py-http:1', 5, { app: 'hello' }),
      service('py-hello-service', 'default', { app: 'hello' }),
    );
    const rollout = createKubernetesRollout({
      spec: {
        name: 'py-hello',
        target: { name: 'py-hello', service: 'py-hello-service' },
        update: { image: 'localhost:5001/py-http:2' },
        strategy: { type: 'replicaRatio', totalReplicas: 5 },
        steps: [
          { setWeight: 20 },
          { pause: { duration: '5m' } },
          { setWeight: 60 },
          { pause: { duration: '5m' } },
        ],
      },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
    });
    const observed: Array<{ weight: number; canaryShare: number }> = [];
    rollout.on('state', (s) => {
      if (s.phase !== 'paused' || observed.some((o) => o.weight === s.weights.canary)) return;
      const canaryShare = cluster.traffic.shareServed(
        { kind: 'service', namespace: 'default', service: 'py-hello-service' },
        s.targets.canary?.name ?? '',
        {},
        5_000,
      );
      observed.push({ weight: s.weights.canary, canaryShare });
      log(`weight ${s.weights.canary}%: ${(canaryShare * 100).toFixed(1)}% of requests reached the new pods`);
    });
    const final = await cluster.run(rollout.run());
    log(`${final.phase}`);
    return { final, observed };
  } finally {
    await cluster.close();
  }
}

if (import.meta.main) await main();
