// Seed 000: `kubectl set image` + `kubectl rollout pause`, done safely. The Deployment rolls half
// its pods to the new image and holds; the new pods are isolated behind their own Service
// (nginx02) for checking; then promote() finishes the rolling update (or abort() undoes it).
import { awaitingDecision, createKubernetesRollout, type RolloutState } from '@kanary/core';
import { deployment, service, startCluster } from '@kanary/testkit';

export async function main(log: (line: string) => void = console.log) {
  // Stand-in for your cluster: the emulator. With a real one, pass your KubeConfig instead.
  const cluster = await startCluster({ namespaces: ['wyq'], podReadyAfterMs: 3_000 });
  try {
    cluster.apply(
      deployment('nginx01', 'wyq', 'nginx:1.14', 4),
      service('nginx01', 'wyq', { app: 'nginx01' }),
    );
    const rollout = createKubernetesRollout({
      spec: {
        name: 'nginx01',
        namespace: 'wyq',
        target: { name: 'nginx01', service: 'nginx01' },
        update: { image: 'nginx:1.20.1', container: 'app' },
        strategy: { type: 'rolling', canaryService: { name: 'nginx02' } },
        steps: [{ setWeight: 50 }, { pause: {} }],
      },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
    });
    const checks: Record<string, number> = {};
    rollout.on('step', ({ step }) => log(`step: ${step.title}`));
    rollout.on('state', (s: RolloutState) => {
      if (!awaitingDecision(s) || checks.newPods !== undefined) return;
      // Your checks go here: the new pods answer on nginx02, users still reach nginx01.
      const sample = cluster.traffic.sample({ kind: 'service', namespace: 'wyq', service: 'nginx02' }, 100);
      checks.newPods = [...sample.values()].reduce((a, b) => a + b, 0);
      checks.deploymentPaused = (cluster.get('Deployment', 'wyq', 'nginx01')?.spec as { paused?: boolean })
        ?.paused
        ? 1
        : 0;
      log(`paused: ${checks.newPods} requests to nginx02 answered by the new pods; promoting`);
      void rollout.promote();
    });
    const final = await cluster.run(rollout.run());
    const images = cluster
      .list('Pod', 'wyq')
      // Pods still in their preStop hook are on their way out (kubectl shows them Terminating).
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => (p.spec as { containers: Array<{ image: string }> }).containers[0]?.image);
    log(`${final.phase}: pods run ${[...new Set(images)].join(', ')}`);
    return { final, checks, images };
  } finally {
    await cluster.close();
  }
}

if (import.meta.main) await main();
