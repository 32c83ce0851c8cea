import type { RolloutState } from '@kanary/core';
import { createMetricGate } from '@kanary/metrics';
import type { Cluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { istioRollout, startIstioWeb } from './support.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

/**
 * Argo-style threshold gates (PromQL with rate, ratios, `or vector(0)`, histogram_quantile) against
 * the emulator's Prometheus, in virtual time: they used to be refused ("plain selectors only") five
 * times and abort every release, so a reader could not try an article's gate without a Prometheus.
 */
const errorRatio =
  '(sum(rate(istio_requests_total{destination_workload="{{canary}}",response_code=~"5.."}[1m])) or vector(0))' +
  ' / sum(rate(istio_requests_total{destination_workload="{{canary}}"}[1m]))';

async function release(canaryErrorRate: number, condition = 'result[0] < 0.05'): Promise<RolloutState> {
  cluster = await startIstioWeb(7, 4);
  cluster.traffic.setBehavior({ image: 'web:2', behavior: { errorRate: canaryErrorRate } });
  cluster.traffic.addLoad({
    name: 'users',
    rps: 200,
    entry: { kind: 'istio', host: 'web', namespace: 'default' },
  });
  const rollout = istioRollout(
    cluster,
    {
      steps: [
        { setWeight: 20 },
        { pause: { duration: '1m' } },
        {
          analysis: {
            metrics: [
              {
                name: 'error-ratio',
                interval: '30s',
                count: 3,
                // A vector is a list, as in Argo: its first element.
                successCondition: condition,
                provider: { prometheus: { query: errorRatio } },
              },
              {
                name: 'p99-latency',
                interval: '30s',
                count: 3,
                successCondition: 'result < 1000',
                provider: { istio: { metric: 'latency' } },
              },
            ],
          },
        },
        { setWeight: 50 },
      ],
    },
    { gate: createMetricGate({ prometheus: { address: cluster.prometheusUrl }, clock: cluster.clock }) },
  );
  return cluster.run(rollout.run());
}

it('a good canary passes an Argo-style threshold gate on the emulator and is promoted', async () => {
  const state = await release(0);
  expect(state.phase).toBe('succeeded');
  expect(state.analyses['steps[2]']?.phase).toBe('successful');
});

it('a canary failing 30% of requests fails the same gate with the ratio it measured, and is rolled back', async () => {
  const state = await release(0.3);
  expect(state.phase).toBe('aborted');
  expect(state.abort?.cause).toBe('analysis');
  expect(state.abort?.reason).toMatch(
    /error-ratio failed \(1 failed look > failureLimit 0; last look: measured \[0\.\d+\]\)/,
  );
  const ratio = Number(/measured \[(0\.\d+)\]/.exec(state.abort?.reason ?? '')?.[1]);
  expect(ratio).toBeGreaterThan(0.2);
  expect(ratio).toBeLessThan(0.4);
});

it('a condition that compares the whole list fails with the reason in the abort, not just "5 errors in a row"', async () => {
  const state = await release(0, 'result < 0.05');
  expect(state.phase).toBe('aborted');
  expect(state.abort?.reason).toMatch(
    /error-ratio error \(5 errors in a row > consecutiveErrorLimit 4; last look: "<" needs numbers, got a list\)/,
  );
});
