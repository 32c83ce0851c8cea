import { awaitingDecision, createKubeClient, createKubernetesRollout, type RolloutState } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { createMetricGate } from '@kanary/metrics';
import { type Cluster, istioApp, startCluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';

let cluster: Cluster;
afterEach(() => cluster?.close());

/**
 * Finding 5 of the release-safety review: a canary that gets no traffic (here: nobody calls the app
 * during the release), so the sidecars' series never appear and the background analysis sees no data
 * on every look. The steps end and the rollout holds for a human instead of promoting on zero evidence.
 */
it('a canary with no traffic is not promoted on zero evidence: the rollout holds, inconclusive', async () => {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 4 });
  cluster.apply(...istioApp('web', 'default', 'web:1', 4));
  await cluster.virtualClock!.advance(1_000);
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  const rollout = createKubernetesRollout({
    spec: {
      name: 'web',
      target: { name: 'web', service: 'web' },
      update: { image: 'web:2' },
      strategy: { type: 'weighted' },
      steps: [
        { setWeight: 20 },
        { pause: { duration: '2m' } },
        { setWeight: 50 },
        { pause: { duration: '2m' } },
      ],
      analysis: {
        metrics: [
          {
            name: 'errors',
            interval: '30s',
            provider: { istio: { metric: 'errors' } },
            judge: { sequentialRate: {} },
          },
        ],
      },
    },
    client,
    clock: cluster.clock,
    router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
    gate: createMetricGate({ prometheus: { address: cluster.prometheusUrl }, clock: cluster.clock }),
  });
  const held = new Promise<RolloutState>((resolve) =>
    rollout.on('state', (s) => awaitingDecision(s) && resolve(s)),
  );
  const running = rollout.run();
  const state = await cluster.run(held);
  expect(state.inconclusive?.key).toBe('background');
  expect(state.background?.measurements.every((m) => m.phase === 'nodata')).toBe(true);
  const image = (
    cluster.get('Deployment', 'default', 'web')!.spec as {
      template: { spec: { containers: Array<{ image: string }> } };
    }
  ).template.spec.containers[0]?.image;
  expect(image).toBe('web:1');
  await cluster.run(rollout.abort('no evidence'));
  expect((await cluster.run(running)).phase).toBe('aborted');
});
