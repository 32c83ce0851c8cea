import { startCluster } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';
import { parseSelector } from '../src/traffic/selector.ts';

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
const sum = (rs: Sample[]) => rs.reduce((s, r) => s + Number(r.value[1]), 0);

describe("the emulator's Prometheus query API (plain selectors)", () => {
  it('parses matchers with escapes and refuses anything that is not a plain selector', () => {
    expect(parseSelector('up')).toEqual({ name: 'up', matchers: [] });
    expect(parseSelector(' m{a="x\\"y", b!="", c=~"5..",d!~"a|b"} ')).toEqual({
      name: 'm',
      matchers: [
        { label: 'a', op: '=', value: 'x"y' },
        { label: 'b', op: '!=', value: '' },
        { label: 'c', op: '=~', value: '5..' },
        { label: 'd', op: '!~', value: 'a|b' },
      ],
    });
    for (const bad of ['sum(m)', 'm[1m]', 'm{a="x"', 'm{a=x}', 'm{a~"x"}', 'm or vector(1)'])
      expect(() => parseSelector(bad), bad).toThrow(/plain selectors like name\{label="value"\} only/);
  });

  it('answers counters and histogram series from the simulated traffic, at the cluster clock', async () => {
    const cluster = await startCluster({ seed: 3, podReadyAfterMs: 10 });
    try {
      cluster.apply(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web', namespace: 'default' },
          spec: {
            replicas: 2,
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

      const refused = await query(cluster.prometheusUrl, 'sum(rate(istio_requests_total[1m]))');
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ status: 'error', errorType: 'bad_data' });
      expect(refused.body.error).toMatch(/run a real Prometheus/);
    } finally {
      await cluster.close();
    }
  });
});
