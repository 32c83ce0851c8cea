import {
  createMetricGate,
  createSequentialLatencyJudge,
  createSequentialRateJudge,
  type Judge,
} from '@kanary/metrics';
import { describe, expect, it } from 'vitest';
import { runCanary, type Scenario, stepShare } from './support/simulate.ts';
import { analysisOf } from './support/specs.ts';

/**
 * The judges' warm-up allowance, in virtual time: a cold canary worse only in its first minute,
 * one far worse than the allowance, and one that stays as bad as the allowance after it. Seeded,
 * so every count is reproducible.
 */
const good = { errorRate: 0.005, medianMs: 100, sigma: 0.6 };
const times = (k: number) => ({ ...good, errorRate: good.errorRate * k });
const scenario = (canary: Scenario['canary'], over: Partial<Scenario> = {}): Scenario => ({
  rps: 1_000,
  share: stepShare,
  baseline: good,
  canary,
  durationS: 360,
  lookEveryS: 10,
  history: true,
  ...over,
});
const warmUp = { duration: '1m', tolerance: 2 };

function run(make: () => Judge, s: Scenario, runs: number, seed0: number) {
  const all = Array.from({ length: runs }, (_, i) => runCanary(make(), s, seed0 + i));
  const caught = all.filter((r) => r.rolledBack);
  return { rate: caught.length / runs, times: caught.map((r) => r.atS as number) };
}

/** Of the canaries rolled back, the share rolled back in the first minute (initialDelay's blind one). */
const inFirstMinute = (r: { times: number[] }) => r.times.filter((t) => t <= 60).length / r.times.length;

/** The gate's refusals, as `path: message`, of one metric judged as given. */
function refusals(judge: Record<string, unknown>): string[] {
  const gate = createMetricGate({ functions: { f: async () => ({ kind: 'scalar', result: 0 }) } });
  const analysis = analysisOf([{ name: 'm', interval: '10s', provider: { function: 'f' }, judge }]);
  return (gate.validate?.(analysis, 'analysis') ?? []).map((i) => `${i.path}: ${i.message}`);
}

describe('sequentialRate warmUp', () => {
  // A canary failing 3× as often as the baseline for its first minute, then as the baseline.
  const warming = scenario((t) => (t <= 60 ? times(3) : good), { persist: true });

  it('does not roll back a canary that is only worse while warming up, within its allowance', () => {
    const without = run(() => createSequentialRateJudge(), warming, 200, 1);
    const allowed = run(() => createSequentialRateJudge({ warmUp }), warming, 600, 1);
    // Without the allowance the warm-up reads as a regression (here nearly always).
    expect(without.rate).toBeGreaterThan(0.9);
    // At the allowance's edge the test holds α = 1%: on 600 canaries at most 12 (2%), room for chance.
    expect(allowed.rate).toBeLessThanOrEqual(0.02);
  }, 120_000);

  it('still catches a canary far worse than the allowance during its warm-up', () => {
    const broken = run(
      () => createSequentialRateJudge({ warmUp }),
      scenario(() => times(10)),
      200,
      10_001,
    );
    expect(broken.rate).toBe(1);
    // Caught inside the first minute, which initialDelay would have spent looking at nothing.
    expect(inFirstMinute(broken)).toBeGreaterThan(0.9);
  }, 60_000);

  it('ends on time: a canary as bad as the allowance after it is rolled back, also when resumed', () => {
    // The state goes through JSON at every look, as a resumed rollout's: the end is kept.
    const stays = run(
      () => createSequentialRateJudge({ warmUp }),
      scenario(() => times(3), { persist: true }),
      200,
      20_001,
    );
    expect(stays.rate).toBeGreaterThan(0.95);
    expect(Math.min(...stays.times)).toBeGreaterThan(60);
  }, 60_000);

  it('an allowance looser than the warm-up holds back a regression after it little', () => {
    // ×2 throughout, allowed 5× for the first minute: the minute's windows are evidence for the
    // null, which the test over every window must climb back from; the one started after the
    // allowance need not.
    const regressed = scenario(() => times(2));
    const loose = run(
      () => createSequentialRateJudge({ warmUp: { duration: '1m', tolerance: 4 } }),
      regressed,
      200,
      70_001,
    );
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    expect(loose.rate).toBe(1);
    // Caught within a minute of the allowance's end as a rule (the test over every window alone:
    // a median of 180 s, none by 90 s).
    expect(median(loose.times)).toBeLessThanOrEqual(120);
  }, 60_000);

  it('is refused with the field named when its duration is not one', () => {
    expect(refusals({ sequentialRate: { warmUp: { duration: 'soon', tolerance: 2 } } })).toContainEqual(
      expect.stringMatching(/^analysis\.metrics\[0\]\.judge\.sequentialRate\.warmUp\.duration: .*"1m"/),
    );
  });
});

describe('sequentialLatency warmUp', () => {
  const slower = (k: number) => ({ ...good, medianMs: good.medianMs * k });
  const latencyWarmUp = { duration: '1m', tolerance: 1 };
  const shape = () => createSequentialLatencyJudge({ warmUp: latencyWarmUp });
  const thresholds = () => createSequentialLatencyJudge({ method: 'thresholds', warmUp: latencyWarmUp });
  // Twice as slow for its first minute, then as fast as the baseline.
  const warming = scenario((t) => (t <= 60 ? slower(2) : good), { persist: true });

  it('does not roll back a canary only slower while warming up, within its allowance', () => {
    const without = run(() => createSequentialLatencyJudge(), warming, 200, 30_001);
    expect(without.rate).toBeGreaterThan(0.9);
    expect(run(shape, warming, 600, 30_001).rate).toBeLessThanOrEqual(0.02);
    const thresholdsWithout = run(
      () => createSequentialLatencyJudge({ method: 'thresholds' }),
      warming,
      200,
      30_001,
    );
    expect(thresholdsWithout.rate).toBeGreaterThan(0.9);
    expect(run(thresholds, warming, 600, 30_001).rate).toBeLessThanOrEqual(0.02);
  }, 120_000);

  it('holds alpha for a canary at the edge of its allowance for the whole release', () => {
    // Twice as slow throughout, allowed throughout: Istio's bounds mostly double, so requests move
    // one bucket down exactly and nothing is given away — the hardest case for the guarantee.
    const edge = scenario(() => slower(2));
    const allowance = { duration: '10m', tolerance: 1 };
    const rate = (make: () => Judge) => run(make, edge, 600, 40_001).rate;
    expect(rate(() => createSequentialLatencyJudge({ warmUp: allowance }))).toBeLessThanOrEqual(0.02);
    expect(
      rate(() => createSequentialLatencyJudge({ method: 'thresholds', warmUp: allowance })),
    ).toBeLessThanOrEqual(0.02);
  }, 120_000);

  it('does not read a canary faster than its allowance as a regression', () => {
    // A canary as fast as the baseline, allowed 2× for the whole release: its requests move a
    // bucket down, into the baseline's faster tail, which a shape with a fatter tail on both sides
    // would read as a regression unless slower never scores less.
    const fast = scenario(() => good);
    const allowance = { duration: '10m', tolerance: 1 };
    expect(
      run(() => createSequentialLatencyJudge({ warmUp: allowance }), fast, 600, 45_001).rate,
    ).toBeLessThanOrEqual(0.02);
  }, 60_000);

  it('still catches a canary far slower than the allowance during its warm-up', () => {
    for (const make of [shape, thresholds]) {
      const broken = run(
        make,
        scenario(() => slower(5)),
        200,
        50_001,
      );
      expect(broken.rate).toBe(1);
      expect(inFirstMinute(broken)).toBeGreaterThan(0.9);
    }
  }, 60_000);

  it('ends on time: a canary as slow as the allowance after it is rolled back, also when resumed', () => {
    const stays = run(
      shape,
      scenario(() => slower(2), { persist: true }),
      200,
      60_001,
    );
    expect(stays.rate).toBeGreaterThan(0.95);
    expect(Math.min(...stays.times)).toBeGreaterThan(60);
  }, 60_000);

  it('is refused with the field named when its tolerance is negative', () => {
    expect(refusals({ sequentialLatency: { warmUp: { duration: '1m', tolerance: -1 } } })).toContainEqual(
      expect.stringMatching(/^analysis\.metrics\[0\]\.judge\.sequentialLatency\.warmUp\.tolerance: /),
    );
  });
});
