import { createKubeClient, createKubernetesRollout, type RolloutState } from '@kanary/core';
import type { Measurement } from '@kanary/core/adapter';
import { createIstioRouter } from '@kanary/istio';
import { createMetricGate } from '@kanary/metrics';
import {
  type Cluster,
  deployment,
  type PrometheusServer,
  prometheusAvailable,
  service,
  startCluster,
  startPrometheus,
} from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * A real Prometheus (Debian's `prometheus`, on loopback) scrapes the emulator's traffic simulator;
 * the gate reads it over HTTP with the built-in Istio queries. Everything runs on the wall clock,
 * so intervals are seconds here where production would use 15–30s.
 */
let cluster: Cluster | undefined;
let prometheus: PrometheusServer | undefined;
afterEach(async () => {
  await prometheus?.close();
  await cluster?.close();
  prometheus = undefined;
  cluster = undefined;
});

const good = { errorRate: 0.01, latency: { medianMs: 50, sigma: 0.5 } };

async function start(canary: { errorRate: number; latency: { medianMs: number; sigma: number } }) {
  cluster = await startCluster({ time: 'real', podReadyAfterMs: 50, seed: 5 });
  cluster.apply(
    deployment('shop', 'default', 'shop:1', 2, { app: 'shop' }),
    service('shop', 'default', { app: 'shop' }),
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        host: 'shop.default.svc.cluster.local',
        subsets: [{ name: 'stable', labels: { app: 'shop' } }],
      },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        hosts: ['shop.example.com'],
        http: [
          {
            name: 'primary',
            route: [{ destination: { host: 'shop.default.svc.cluster.local', subset: 'stable' } }],
          },
        ],
      },
    },
  );
  cluster.traffic.setBehavior({ image: 'shop:1', behavior: good });
  cluster.traffic.setBehavior({ image: 'shop:2', behavior: canary });
  cluster.traffic.addLoad({
    name: 'users',
    rps: 1_500,
    entry: { kind: 'istio', host: 'shop.example.com', namespace: 'default' },
  });
  prometheus = await startPrometheus({ targets: [cluster.metricsUrl], scrapeInterval: '1s' });
  await prometheus.waitForScrapes(2);
  return { cluster, prometheus };
}

function rollout(c: Cluster, p: PrometheusServer, analysis: unknown, steps?: unknown[]) {
  const r = createKubernetesRollout({
    spec: {
      name: 'shop',
      target: { name: 'shop', service: 'shop' },
      update: { image: 'shop:2' },
      strategy: { type: 'weighted', canary: { name: 'shop-canary' } },
      steps: steps ?? [
        { setWeight: 20 },
        { pause: { duration: '8s' } },
        { setWeight: 50 },
        { pause: { duration: '8s' } },
      ],
      analysis,
      scaleDownDelay: '0s',
      abortScaleDownDelay: '0s',
    },
    router: createIstioRouter({
      client: createKubeClient({ kubeConfig: c.kubeConfig }),
      virtualService: 'shop',
      routes: ['primary'],
      destinationRule: { name: 'shop' },
    }),
    gate: createMetricGate({ prometheus: { address: p.url, timeoutMs: 5_000 }, errorRetryMs: 1_000 }),
    kubeConfig: c.kubeConfig,
    pollInterval: '200ms',
  });
  const measurements: Measurement[] = [];
  r.on('measurement', (e) => measurements.push(e.measurement));
  return { r, measurements };
}

const sequential = {
  metrics: [
    {
      name: 'errors',
      interval: '2s',
      provider: { istio: { metric: 'errors' } },
      judge: { sequentialRate: { alpha: 0.01 } },
    },
    {
      name: 'latency',
      interval: '2s',
      provider: { istio: { metric: 'latency' } },
      judge: { sequentialLatency: { alpha: 0.01 } },
    },
  ],
};

describe.skipIf(!prometheusAvailable())('gates against a real Prometheus', () => {
  it('promotes a good canary: every look compared canary with baseline and found no regression', async () => {
    const { cluster: c, prometheus: p } = await start(good);
    // Some stable history first: the judges read it per look interval with range queries.
    await p.waitForScrapes(8);
    const { r, measurements } = rollout(c, p, sequential);
    const final = await r.run();
    expect(final.phase).toBe('succeeded');
    const firstErrors = measurements.find((m) => m.metric === 'errors');
    expect(firstErrors?.detail?.historyWindows).toBeGreaterThanOrEqual(2);
    expect(firstErrors?.message).toMatch(/calibrated on \d+ windows of the baseline's history/);
    // The latency judge reads the baseline's buckets per look interval too (a range query per `le`).
    const firstLatency = measurements.find((m) => m.metric === 'latency');
    expect(firstLatency?.detail?.historyWindows).toBeGreaterThanOrEqual(2);
    expect(firstLatency?.message).toMatch(/own shifts calibrated on \d+ windows of the baseline's history/);
    const looks = measurements.filter((m) => m.phase === 'successful');
    expect(looks.filter((m) => m.metric === 'errors').length).toBeGreaterThanOrEqual(4);
    expect(looks.filter((m) => m.metric === 'latency').length).toBeGreaterThanOrEqual(4);
    const last = looks.filter((m) => m.metric === 'errors').at(-1)?.detail as {
      canary: { total: number };
      baseline: { total: number };
    };
    expect(last.canary.total).toBeGreaterThan(1_000);
    expect(last.baseline.total).toBeGreaterThan(1_000);
  }, 90_000);

  it('rolls back an error-rate regression (5% against 1%) during the first pause', async () => {
    const { cluster: c, prometheus: p } = await start({ ...good, errorRate: 0.05 });
    const { r, measurements } = rollout(c, p, sequential);
    const final: RolloutState = await r.run();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.cause).toBe('analysis');
    expect(final.abort?.reason).toMatch(/errors failed/);
    expect(final.abort?.from.step).toBeLessThanOrEqual(1);
    const failed = measurements.find((m) => m.phase === 'failed');
    expect(failed?.metric).toBe('errors');
    expect((failed?.detail as { eValue?: number } | undefined)?.eValue).toBeGreaterThanOrEqual(100);
  }, 90_000);

  it('rolls back a latency regression (median 80ms against 50ms) with the error rate unchanged', async () => {
    const { cluster: c, prometheus: p } = await start({
      errorRate: 0.01,
      latency: { medianMs: 80, sigma: 0.5 },
    });
    const { r, measurements } = rollout(c, p, sequential);
    const final = await r.run();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toMatch(/latency failed/);
    expect(measurements.filter((m) => m.metric === 'errors').every((m) => m.phase !== 'failed')).toBe(true);
  }, 90_000);

  it('missing data waits (never a failure) and, past noDataLimit, pauses for a human instead of guessing', async () => {
    const { cluster: c, prometheus: p } = await start(good);
    // ingress-nginx series do not exist in this mesh-only cluster: every look has no data.
    const { r, measurements } = rollout(c, p, {
      metrics: [
        {
          name: 'nginx-errors',
          interval: '1s',
          noDataLimit: 3,
          provider: { nginx: { metric: 'errors', ingress: 'shop' } },
          judge: { sequentialRate: {} },
        },
      ],
    });
    const paused = new Promise<RolloutState>((resolve) => r.on('state', (s) => s.inconclusive && resolve(s)));
    const running = r.run();
    const s = await paused;
    expect(s.phase).toBe('paused');
    expect(measurements.map((m) => m.phase)).toEqual(['nodata', 'nodata', 'nodata', 'nodata']);
    const final = await r.abort('no metrics for this mesh');
    expect(final.abort?.cause).toBe('user');
    await running;
  }, 90_000);

  it('a failing query counts toward consecutiveErrorLimit, then the analysis errors and the rollout rolls back', async () => {
    const { cluster: c, prometheus: p } = await start(good);
    const { r, measurements } = rollout(c, p, {
      metrics: [
        {
          name: 'broken',
          interval: '1s',
          consecutiveErrorLimit: 2,
          provider: {
            // Well-formed PromQL (so it passes validation) that Prometheus refuses: rate() of an instant vector.
            prometheus: { query: 'sum(rate(istio_requests_total{destination_workload="{{canary}}"}))' },
          },
          successCondition: 'result[0] > 0',
        },
      ],
    });
    const final = await r.run();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toMatch(
      /broken error \(3 errors in a row > consecutiveErrorLimit 2; last look: prometheus: bad_data: [^)]*parse error/,
    );
    expect(measurements.map((m) => m.phase)).toEqual(['error', 'error', 'error']);
    expect(measurements[0]?.message).toMatch(/bad_data/);
  }, 90_000);
});
