import { classifyMetric, scoreCanary } from '@kanary/metrics';
import { describe, expect, it } from 'vitest';

// Worked by hand from Kayenta's rules (analysis.md §3), not from running our code.
describe("Kayenta's classifier", () => {
  const control = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

  it('no data is Nodata, or NodataFailMetric when the metric must have data', () => {
    expect(classifyMetric(control, []).classification).toBe('Nodata');
    expect(classifyMetric(control, [], { mustHaveData: true }).classification).toBe('NodataFailMetric');
    expect(classifyMetric(control, [Number.NaN]).classification).toBe('Nodata');
    expect(classifyMetric(control, [Number.NaN], { nanStrategy: 'replace' }).classification).not.toBe(
      'Nodata',
    );
  });

  it('identical samples pass without a test', () => {
    expect(classifyMetric(control, [...control].reverse()).classification).toBe('Pass');
    expect(classifyMetric([5, 5], [5, 5, 5]).classification).toBe('Pass');
  });

  it('a shift of +20 on every point is High (interval far above 0.25·|shift|); the reverse is Low', () => {
    const high = classifyMetric(
      control,
      control.map((v) => v + 20),
    );
    expect(high.classification).toBe('High');
    // Every pairwise difference is 20 ± 9, so the estimate is 20 and the interval sits above 5.
    expect(high.estimate).toBeCloseTo(20, 6);
    expect(high.ci?.[0]).toBeGreaterThan(5);
    expect(high.effectSize).toBeCloseTo(34.5 / 14.5, 10);
    expect(
      classifyMetric(
        control,
        control.map((v) => v - 9),
      ).classification,
    ).toBe('Low');
  });

  it('direction limits what counts: an increase is Pass when only decreases matter', () => {
    const shifted = control.map((v) => v + 20);
    expect(classifyMetric(control, shifted, { direction: 'decrease' }).classification).toBe('Pass');
    expect(classifyMetric(control, shifted, { direction: 'increase' }).classification).toBe('High');
  });

  it('a shift within noise passes: +1 on overlapping samples leaves 0 inside the interval', () => {
    const r = classifyMetric(
      control,
      control.map((v) => v + 1),
    );
    expect(r.classification).toBe('Pass');
    expect(r.ci?.[0]).toBeLessThan(0);
  });

  it('effect size gates the verdict: a High below allowedIncrease passes', () => {
    const shifted = control.map((v) => v + 20); // mean ratio 34.5/14.5 ≈ 2.38
    expect(classifyMetric(control, shifted, { effectSize: { allowedIncrease: 3 } }).classification).toBe(
      'Pass',
    );
    expect(classifyMetric(control, shifted, { effectSize: { allowedIncrease: 2 } }).classification).toBe(
      'High',
    );
  });

  it('both arms constant but different: tiny noise lets the test run, and it finds the shift', () => {
    expect(classifyMetric([100, 100, 100, 100, 100], [130, 130, 130, 130, 130]).classification).toBe('High');
  });
});

describe("Kayenta's scorer", () => {
  const pass = { classification: 'Pass' as const, critical: false, effectSize: 1, reason: '' };
  const high = { classification: 'High' as const, critical: false, effectSize: 2, reason: 'up' };
  const nodata = { classification: 'Nodata' as const, critical: false, effectSize: Number.NaN, reason: '' };

  it('scores a group by the share of passing metrics, excluding no-data ones', () => {
    // Group "errors": 3 pass of 4 → 75. Group "latency": 1 pass, 1 no data → 100. Equal weights → 87.5.
    const s = scoreCanary([
      { name: 'e1', group: 'errors', result: pass },
      { name: 'e2', group: 'errors', result: pass },
      { name: 'e3', group: 'errors', result: pass },
      { name: 'e4', group: 'errors', result: high },
      { name: 'l1', group: 'latency', result: pass },
      { name: 'l2', group: 'latency', result: nodata },
    ]);
    expect(s.groups).toEqual({ errors: 75, latency: 100 });
    expect(s.score).toBe(87.5);
    expect(s.verdict).toBe('marginal');
  });

  it('weights groups, splitting what is left among unweighted ones', () => {
    // errors 75 × 70% + latency 100 × 30% = 82.5
    const s = scoreCanary(
      [
        { name: 'e1', group: 'errors', result: pass },
        { name: 'e2', group: 'errors', result: pass },
        { name: 'e3', group: 'errors', result: pass },
        { name: 'e4', group: 'errors', result: high },
        { name: 'l1', group: 'latency', result: pass },
      ],
      { groupWeights: { errors: 70 } },
    );
    expect(s.score).toBe(82.5);
  });

  it('a failing critical metric, or half the metrics without data, scores 0', () => {
    expect(
      scoreCanary([
        { name: 'a', result: pass },
        { name: 'b', result: { ...high, critical: true } },
      ]).score,
    ).toBe(0);
    expect(
      scoreCanary([
        { name: 'a', result: pass },
        { name: 'b', result: nodata },
      ]).score,
    ).toBe(0);
    expect(
      scoreCanary([
        { name: 'a', result: pass },
        { name: 'b', result: nodata },
        { name: 'c', result: pass },
      ]).score,
    ).toBe(100);
  });

  it('muted metrics do not count', () => {
    const s = scoreCanary([
      { name: 'a', result: pass },
      { name: 'b', result: high, muted: true },
    ]);
    expect(s.score).toBe(100);
    expect(s.verdict).toBe('pass');
  });
});
