import { describe, expect, it } from 'vitest';
import { evaluate, instantQuery, type QueryValue } from '../src/promql/evaluate.ts';
import { parsePromql } from '../src/promql/parse.ts';
import { MetricsRegistry } from '../src/traffic/metrics.ts';

// The emulator's PromQL against values worked out by hand from Prometheus' documented semantics.

function registry() {
  let now = 0;
  const r = new MetricsRegistry(() => now);
  r.counter('requests_total', '');
  r.histogram('latency_ms', '', [10, 20, 40]);
  return {
    r,
    at: (ms: number) => {
      now = ms;
    },
    q: (promql: string): QueryValue => evaluate(parsePromql(promql), r, now),
  };
}
const values = (v: QueryValue) => {
  if (v.kind !== 'vector') throw new Error(`a ${v.kind}`);
  return Object.fromEntries(
    v.samples.map((s) => [JSON.stringify(s.labels), Number(s.value.toFixed(9))] as const),
  );
};

describe("the emulator's PromQL", () => {
  it('rate, increase and irate of a counter growing 10 a second, with Prometheus extrapolation', () => {
    const { r, at, q } = registry();
    for (let s = 1; s <= 120; s++) {
      at(s * 1_000);
      r.inc('requests_total', { app: 'web', code: '200' }, 10);
    }
    expect(values(q('rate(requests_total[1m])'))).toEqual({ '{"app":"web","code":"200"}': 10 });
    expect(values(q('increase(requests_total{app="web"}[1m])'))).toEqual({
      '{"app":"web","code":"200"}': 600,
    });
    expect(values(q('irate(requests_total[30s])'))).toEqual({ '{"app":"web","code":"200"}': 10 });
    // An instant selector answers the value now, as if scraped at the query.
    expect(values(q('requests_total'))).toEqual({
      '{"__name__":"requests_total","app":"web","code":"200"}': 1200,
    });
    // A series with one sample in the range has no rate (Prometheus needs two).
    at(120_000);
    r.inc('requests_total', { app: 'new', code: '200' }, 5);
    at(125_000);
    r.inc('requests_total', { app: 'web', code: '200' }, 10);
    expect(Object.keys(values(q('rate(requests_total[1m])')))).toEqual(['{"app":"web","code":"200"}']);
  });

  it('a counter that goes down was reset: what it counted before still counts', () => {
    const { r, at, q } = registry();
    for (let s = 1; s <= 60; s++) {
      at(s * 1_000);
      // The process restarted at 30 s: its counter starts again from 0.
      r.inc('requests_total', { app: 'web' }, s === 30 ? -290 : 10);
    }
    const rate = values(q('rate(requests_total[1m])'))['{"app":"web"}'] as number;
    expect(rate).toBeGreaterThan(9);
    expect(rate).toBeLessThan(11);
  });

  it('sums by and without labels, ratios with one-to-one matching, or vector(0), bool and filtering comparisons', () => {
    const { r, at, q } = registry();
    for (let s = 1; s <= 60; s++) {
      at(s * 1_000);
      r.inc('requests_total', { app: 'web', code: '200', pod: 'a' }, 6);
      r.inc('requests_total', { app: 'web', code: '200', pod: 'b' }, 3);
      r.inc('requests_total', { app: 'web', code: '500', pod: 'a' }, 1);
    }
    expect(values(q('sum by (code) (requests_total)'))).toEqual({
      '{"code":"200"}': 540,
      '{"code":"500"}': 60,
    });
    expect(values(q('sum without (pod, code) (requests_total)'))).toEqual({ '{"app":"web"}': 600 });
    expect(values(q('sum(requests_total{code=~"5.."}) / sum(requests_total)'))).toEqual({ '{}': 0.1 });
    expect(
      values(
        q('sum by (app) (requests_total{code="500"}) / on (app) sum by (app, pod) (requests_total{pod="a"})'),
      ),
    ).toEqual({ '{"app":"web"}': Number((60 / 420).toFixed(9)) });
    expect(values(q('sum(requests_total{code="404"}) or vector(0)'))).toEqual({ '{}': 0 });
    expect(values(q('sum(requests_total{code="500"}) / sum(requests_total) > bool 0.05'))).toEqual({
      '{}': 1,
    });
    expect(values(q('sum by (pod) (requests_total) > 200'))).toEqual({ '{"pod":"a"}': 420 });
    expect(values(q('requests_total{pod="a"} and requests_total{code="500"}'))).toEqual({
      '{"__name__":"requests_total","app":"web","code":"500","pod":"a"}': 60,
    });
    expect(q('1 + 2 * 3')).toEqual({ kind: 'scalar', value: 7 });
    expect(values(q('-sum(requests_total{code="500"}) + 1'))).toEqual({ '{}': -59 });
    expect(() => q('requests_total / on (app) requests_total')).toThrow(/many-to-many matching/);
  });

  it('histogram_quantile interpolates inside the bucket the rank falls in', () => {
    const { r, at, q } = registry();
    for (let s = 1; s <= 60; s++) {
      at(s * 1_000);
      r.observe('latency_ms', { app: 'web' }, 5);
      r.observe('latency_ms', { app: 'web' }, 15);
    }
    // Buckets: le=10 holds half, le=20 all of them.
    expect(values(q('histogram_quantile(0.5, latency_ms_bucket)'))).toEqual({ '{"app":"web"}': 10 });
    expect(values(q('histogram_quantile(0.75, sum by (le) (rate(latency_ms_bucket[1m])))'))).toEqual({
      '{}': 15,
    });
    expect(values(q('histogram_quantile(1, sum by (le) (latency_ms_bucket))'))).toEqual({ '{}': 20 });
    expect(values(q('sum(rate(latency_ms_sum[1m])) / sum(rate(latency_ms_count[1m]))'))).toEqual({
      '{}': 10,
    });
  });

  it('answers as the HTTP API does, and refuses what it cannot evaluate, naming it', () => {
    const { r, at } = registry();
    at(10_000);
    r.inc('requests_total', { app: 'web' }, 1);
    expect(instantQuery('sum(requests_total) / 0', r, 10_000)).toEqual({
      resultType: 'vector',
      result: [{ metric: {}, value: [10, '+Inf'] }],
    });
    expect(instantQuery('scalar(sum(requests_total))', r, 10_000)).toEqual({
      resultType: 'scalar',
      result: [10, '1'],
    });
    for (const [promql, why] of [
      ['requests_total offset 5m', /does not evaluate offset/],
      ['max_over_time(requests_total[5m:1m])', /does not evaluate subqueries/],
      ['a / on (x) group_left b', /group_left/],
      ['predict_linear(requests_total[5m], 60)', /does not evaluate predict_linear\(\)/],
      ['sum(rate(requests_total[5m])', /not valid PromQL: unexpected input at position 28 \(it ends early\)/],
      ['requests_total{app=web}', /not valid PromQL: unexpected input at position 19/],
    ] as const)
      expect(() => instantQuery(promql, r, 10_000), promql).toThrow(why);
  });
});

describe("the emulator's metrics registry", () => {
  it('keeps histogram buckets cumulative (le), scrapes them as a step function, and follows reset()', () => {
    let now = 0;
    const r = new MetricsRegistry(() => now, { scrapeMs: 5_000 });
    r.histogram('d', 'duration', [0.1, 0.5, 1]);
    const h = r.handle('d', { app: 'web' });
    // On a bound counts in that bucket; above the last bound only in +Inf and the count.
    for (const v of [0.05, 0.1, 0.3, 1, 7]) h.observe(v);
    const text = r.exposition();
    expect(text).toContain('d_bucket{app="web",le="0.1"} 2');
    expect(text).toContain('d_bucket{app="web",le="0.5"} 3');
    expect(text).toContain('d_bucket{app="web",le="1"} 4');
    expect(text).toContain('d_bucket{app="web",le="+Inf"} 5');
    expect(text).toContain('d_sum{app="web"} 8.45');
    now = 5_000;
    h.observe(0.2); // the scrape at 5 s takes the values before this change
    now = 10_000;
    const le05 = r.series('d_bucket', []).find((s) => s.labels.le === '0.5');
    expect(le05?.current).toBe(4);
    expect(le05?.samples(0, 10_000)).toEqual([
      [5_000, 3],
      [10_000, 4],
    ]);
    r.reset();
    h.observe(0.2); // a handle taken before reset() writes the new series
    expect(r.select('d_count', [])).toEqual([{ labels: { __name__: 'd_count', app: 'web' }, value: 1 }]);
  });
});
