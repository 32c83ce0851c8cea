import { awaitingDecision, type RolloutState } from '@kanary/core';
import { createMetricGate } from '@kanary/metrics';
import type { Cluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { istioRollout, startIstioWeb } from './support.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

/**
 * Finding 5 of the release-safety review: a canary that gets no traffic (here: nobody calls the app
 * during the release), so the sidecars' series never appear and the background analysis sees no data
 * on every look. The steps end and the rollout holds for a human instead of promoting on zero evidence.
 */
it('a canary with no traffic is not promoted on zero evidence: the rollout holds, inconclusive', async () => {
  cluster = await startIstioWeb(4, 4);
  const rollout = istioRollout(
    cluster,
    {
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
    { gate: createMetricGate({ prometheus: { address: cluster.prometheusUrl }, clock: cluster.clock }) },
  );
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
