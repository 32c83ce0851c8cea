import { type Cluster, startCluster } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';

const query = async (base: string, q: string, method: 'GET' | 'POST' = 'POST') => {
  const res =
    method === 'POST'
      ? await fetch(`${base}/api/v1/query`, {
          method,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ query: q }).toString(),
        })
      : await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: q })}`);
  return { status: res.status, body: (await res.json()) as Answer };
};

interface Answer {
  status: string;
  errorType?: string;
  error?: string;
  data: { resultType: string; result: Sample[] };
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
/** A Deployment `web` (image web:1) behind a Service of the same name. */
function applyWeb(cluster: Cluster, replicas: number) {
  cluster.apply(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'web:1' }] },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    },
  );
}

const sum = (rs: Sample[]) => rs.reduce((s, r) => s + Number(r.value[1]), 0);

describe("the emulator's Prometheus query API", () => {
  it('answers counters and histogram series from the simulated traffic, at the cluster clock', async () => {
    const cluster = await startCluster({ seed: 3, podReadyAfterMs: 10 });
    try {
      applyWeb(cluster, 2);
      cluster.traffic.setBehavior({ image: 'web:1', behavior: { errorRate: 0.2 } });
      await cluster.virtualClock?.advance(1_000);
      const entry = { kind: 'service' as const, namespace: 'default', service: 'web' };
      cluster.traffic.sample(entry, 500);

      const all = await query(cluster.prometheusUrl, 'istio_requests_total{destination_workload="web"}');
      expect(all.status).toBe(200);
      expect(all.body.data.resultType).toBe('vector');
      const total = sum(all.body.data.result);
      expect(total).toBe(500);
      expect(all.body.data.result[0]?.value[0]).toBe(cluster.clock.now() / 1000);
      expect(all.body.data.result[0]?.metric.__name__).toBe('istio_requests_total');

      const bad = await query(
        cluster.prometheusUrl,
        'istio_requests_total{destination_workload="web",response_code=~"5.."}',
        'GET',
      );
      const errors = sum(bad.body.data.result);
      expect(errors).toBe(cluster.traffic.served.get('web')?.errors);
      expect(errors).toBeGreaterThan(50);
      expect(errors).toBeLessThan(150);

      const buckets = await query(
        cluster.prometheusUrl,
        'istio_request_duration_milliseconds_bucket{destination_workload="web"}',
      );
      const inf = buckets.body.data.result.filter((r) => r.metric.le === '+Inf');
      expect(sum(inf)).toBe(500);
      const les = new Set(buckets.body.data.result.map((r) => r.metric.le));
      expect(les.has('100')).toBe(true);

      // PromQL as gates write it, in virtual time: a minute more of traffic, then a rate and a ratio.
      for (let i = 0; i < 60; i++) {
        await cluster.virtualClock?.advance(1_000);
        cluster.traffic.sample(entry, 100);
      }
      const rate = await query(
        cluster.prometheusUrl,
        'sum(rate(istio_requests_total{destination_workload="web"}[1m]))',
      );
      expect(rate.body.data.result).toHaveLength(1);
      expect(Number(rate.body.data.result[0]?.value[1])).toBeCloseTo(100, 6);
      const ratio = await query(
        cluster.prometheusUrl,
        'sum(rate(istio_requests_total{destination_workload="web",response_code=~"5.."}[1m])) / sum(rate(istio_requests_total{destination_workload="web"}[1m]))',
      );
      expect(Number(ratio.body.data.result[0]?.value[1])).toBeGreaterThan(0.1);
      expect(Number(ratio.body.data.result[0]?.value[1])).toBeLessThan(0.3);

      const refused = await query(cluster.prometheusUrl, 'sum(rate(istio_requests_total[1m] offset 5m))');
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ status: 'error', errorType: 'bad_data' });
      expect(refused.body.error).toMatch(/run a real Prometheus/);
    } finally {
      await cluster.close();
    }
  });

  it('answers range queries step by step over its hour of history, and refuses more than 11,000 points', async () => {
    const cluster = await startCluster({ seed: 4, podReadyAfterMs: 10 });
    try {
      applyWeb(cluster, 1);
      await cluster.virtualClock?.advance(1_000);
      const entry = { kind: 'service' as const, namespace: 'default', service: 'web' };
      // 100 requests at the start of each of three 10 s steps.
      const start = cluster.clock.now();
      for (let i = 0; i < 3; i++) {
        cluster.traffic.sample(entry, 100);
        await cluster.virtualClock?.advance(10_000);
      }
      const range = async (params: Record<string, string>) => {
        const res = await fetch(`${cluster.prometheusUrl}/api/v1/query_range?${new URLSearchParams(params)}`);
        return {
          status: res.status,
          body: (await res.json()) as {
            data: { resultType: string; result: Array<{ values: Array<[number, string]> }> };
            error?: string;
          },
        };
      };
      const r = await range({
        query: 'sum(istio_requests_total{destination_workload="web"})',
        start: String(start / 1000),
        end: String(cluster.clock.now() / 1000),
        step: '10s',
      });
      expect(r.status).toBe(200);
      expect(r.body.data.resultType).toBe('matrix');
      const values = r.body.data.result[0]?.values ?? [];
      // The series did not exist before the first requests were scraped: no point at the start, as
      // Prometheus; then what was scraped by each step, not the value now.
      expect(values.map(([t]) => t)).toEqual([1, 2, 3].map((k) => start / 1000 + 10 * k));
      expect(values.map(([, v]) => Number(v))).toEqual([100, 200, 300]);
      const tooMany = await range({
        query: 'up',
        start: '0',
        end: String(cluster.clock.now() / 1000),
        step: '0.001',
      });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.error).toMatch(/exceeded maximum resolution of 11,000 points/);
    } finally {
      await cluster.close();
    }
  });
});
