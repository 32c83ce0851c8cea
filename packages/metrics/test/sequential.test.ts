import {
  createSequentialLatencyJudge,
  createSequentialRateJudge,
  type Judge,
  type SequentialRateOptions,
} from '@kanary/metrics';
import { describe, expect, it } from 'vitest';
import { runCanary, type Scenario, stepShare } from './support/simulate.ts';

/**
 * Statistical properties in virtual time. Every scenario is seeded, so each count below is
 * reproducible; the bounds are the properties the judges promise, not tuned numbers.
 */
const RUNS = 2_000;
const ALPHA = 0.01;

function falseRollbacks(make: () => Judge, scenario: Scenario): number {
  let n = 0;
  for (let seed = 1; seed <= RUNS; seed++) if (runCanary(make(), scenario, seed).rolledBack) n++;
  return n / RUNS;
}

/** The judge, handing each look's outcome (and the state it was given) to `seen` before returning it. */
function observed(inner: Judge, seen: (out: ReturnType<Judge['look']>, state: unknown) => void): Judge {
  return {
    ...inner,
    look: (st, data, ctx) => {
      const out = inner.look(st, data, ctx);
      seen(out, st);
      return out;
    },
  };
}

/** How often, how soon and after how much a judge rolls back `runs` seeded canaries of a scenario. */
function detection(make: () => Judge, scenario: Scenario, runs: number, seed0: number) {
  const all = Array.from({ length: runs }, (_, i) => runCanary(make(), scenario, seed0 + i));
  const caught = all.filter((r) => r.rolledBack);
  const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  return {
    power: caught.length / runs,
    medianTime: median(caught.map((r) => r.atS as number)),
    medianBad: median(caught.map((r) => r.canaryBad)),
    medianRequests: median(caught.map((r) => r.canaryRequests)),
  };
}

/**
 * A rate judge fed by hand: the baseline's history at a first look (the canary not serving yet),
 * then one 10 s window of counts per call, its state round-tripped through JSON as a resume would.
 */
function handFed(history: Array<{ total: number; bad: number }>, options: SequentialRateOptions = {}) {
  const v = (value: number) => [{ labels: {}, value }];
  const judge = createSequentialRateJudge(options);
  const cum = {
    ct: 0,
    cb: 0,
    bt: history.reduce((s, w) => s + w.total, 0),
    bb: history.reduce((s, w) => s + w.bad, 0),
  };
  let state = judge.look(
    undefined,
    {
      kind: 'counts',
      canary: { total: [], bad: [] },
      baseline: { total: v(cum.bt), bad: v(cum.bb), history },
    },
    { at: 0 },
  ).state;
  let at = 0;
  return (w: { canaryTotal: number; canaryBad: number; baselineTotal: number; baselineBad: number }) => {
    cum.ct += w.canaryTotal;
    cum.cb += w.canaryBad;
    cum.bt += w.baselineTotal;
    cum.bb += w.baselineBad;
    at += 10_000;
    const out = judge.look(
      state,
      {
        kind: 'counts',
        canary: { total: v(cum.ct), bad: v(cum.cb) },
        baseline: { total: v(cum.bt), bad: v(cum.bb) },
      },
      { at },
    );
    state = JSON.parse(JSON.stringify(out.state));
    return out.look;
  };
}

const good = { errorRate: 0.005, medianMs: 100, sigma: 0.6 };
const base = (over: Partial<Scenario>): Scenario => ({
  rps: 100,
  share: stepShare,
  baseline: good,
  canary: () => good,
  durationS: 600,
  lookEveryS: 15,
  ...over,
});

const goodScenarios: Array<[string, Scenario]> = [
  ['100 rps, weights 10→50%', base({})],
  ['10 rps (low traffic), 10% canary', base({ rps: 10, share: () => 0.1, durationS: 1_200 })],
  [
    'warm-up: weight ramps 1→5→10% over the first minute, then steps; a canary pod restarts',
    base({
      share: (t) => (t < 20 ? 0.01 : t < 40 ? 0.05 : t < 60 ? 0.1 : stepShare(t)),
      resetsAt: [95, 301],
    }),
  ],
  [
    '1000 rps, 5% canary, state persisted as JSON at every look',
    base({ rps: 1_000, share: () => 0.05, persist: true, durationS: 300 }),
  ],
];

describe('sequentialRate', () => {
  const make = () => createSequentialRateJudge({ alpha: ALPHA, tolerance: 0 });

  it.each(goodScenarios)(`rolls back at most alpha (1%%) of ${RUNS} good canaries: %s`, (_, scenario) => {
    expect(falseRollbacks(make, scenario)).toBeLessThanOrEqual(ALPHA);
  });

  it('with a tolerance of +10% a canary 10% worse is not a regression either', () => {
    const slightlyWorse = base({ canary: () => ({ ...good, errorRate: good.errorRate * 1.1 }) });
    expect(
      falseRollbacks(() => createSequentialRateJudge({ alpha: ALPHA, tolerance: 0.1 }), slightlyWorse),
    ).toBeLessThanOrEqual(ALPHA);
  });

  it('with the defaults a good canary is rolled back at most alpha of the time', () => {
    expect(falseRollbacks(() => createSequentialRateJudge(), base({}))).toBeLessThanOrEqual(ALPHA);
  });

  it('detects a doubled error rate, and a ×10 one sooner and after fewer bad requests', () => {
    const detect = (factor: number) =>
      detection(make, base({ canary: () => ({ ...good, errorRate: good.errorRate * factor }) }), 500, 10_000);
    const x2 = detect(2);
    const x10 = detect(10);
    expect(x2.power).toBeGreaterThanOrEqual(0.9);
    expect(x10.power).toBe(1);
    expect(x10.medianTime).toBeLessThan(x2.medianTime);
    expect(x10.medianBad).toBeLessThan(x2.medianBad);
  });
});

describe('sequentialRate on bursty traffic: error rates that vary beyond Poisson', () => {
  const busy = (over: Partial<Scenario>) =>
    base({ rps: 1_000, lookEveryS: 10, durationS: 360, history: true, ...over });
  const rate = (factor: number) => () => ({ ...good, errorRate: good.errorRate * factor });

  it('catches a doubled rate that starts 4 minutes in, which its screen once read as bursts', () => {
    // 1,000 rps, ten minutes of history; the canary errs as the baseline does until 240 s (50% of the
    // traffic), then twice as often. About one pooled ratio the splits read the step as the canary
    // bursting on its own, the screen fired and the windows after were tempered for it: 76.5% caught
    // by promotion at 6 minutes (the detection bench, "Regressions that start mid-release"); asked
    // again about a ratio that changed once, 96%.
    const late = busy({ canary: (t) => ({ ...good, errorRate: good.errorRate * (t > 240 ? 2 : 1) }) });
    const found = detection(() => createSequentialRateJudge(), late, 60, 80_000);
    expect(found.power).toBeGreaterThanOrEqual(0.95);
    // The product from the first window sank under the good canary for 4 minutes and climbed out
    // first: 58 of 60 caught, 80 s after the onset (median). A test started afresh where the share
    // stepped up to 50% (stats/fresh-starts.ts): 60 of 60, 40 s.
    expect(found.medianTime - 240).toBeLessThanOrEqual(50);
  });
  const bursty: Array<[string, Scenario]> = [
    ['1000 rps, CV 0.5 on each side alone', busy({ variation: { cv: 0.5, shared: false } })],
    ['1000 rps, CV 1 on each side alone', busy({ variation: { cv: 1, shared: false } })],
    ['100 rps, CV 1 on each side alone', busy({ rps: 100, variation: { cv: 1, shared: false } })],
  ];

  it.each(bursty)(`rolls back at most alpha of ${RUNS} good canaries: %s`, (_, scenario) => {
    const poissonOnly = falseRollbacks(() => createSequentialRateJudge({ dispersion: false }), scenario);
    const robust = falseRollbacks(() => createSequentialRateJudge(), scenario);
    expect(robust).toBeLessThanOrEqual(ALPHA);
    // The scenario is one that breaks a test assuming Poisson counts (except the quieter one).
    if (scenario.rps >= 1_000) expect(poissonOnly).toBeGreaterThan(5 * ALPHA);
  });

  it("allows for a canary whose errors burst more than the baseline's, once its splits show it", () => {
    // A canary on a few pods bursting by CV 0.5 every look beside a Poisson baseline (1,000 rps):
    // the history pins the own-burst bound near 0, and assuming the canary bursts no more than the
    // baseline the judge rolled back 26 of these 300 good canaries. The release's splits are now
    // screened on their own (a likelihood ratio test at 1%); once they show the canary bursting,
    // the splits' own bound tempers the windows after: 17 of 300 — fewer, not α: a window
    // bursting threefold at the first looks reads as a regression, and nothing inside one window
    // tells them apart (docs/decisions.md).
    const screened = (variation: Scenario['variation'], seeds: number) => {
      let said = 0;
      let raised = 0;
      let rolled = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        let saying = false;
        const bounds: number[] = [];
        let firedAt: number | undefined;
        const spy = observed(createSequentialRateJudge(), (out) => {
          const bound = out.look.detail?.extraVariation;
          if (typeof bound === 'number') bounds.push(bound);
          if (out.look.detail?.canaryBurstsMore && firedAt === undefined) firedAt = bounds.length - 1;
          if (/errors burst more on their own than the baseline's/.test(out.look.message ?? ''))
            saying = true;
        });
        if (runCanary(spy, busy({ variation }), seed).rolledBack) rolled++;
        if (saying) said++;
        // The look that finds it was tempered before it; the next one by the splits' own bound.
        if (firedAt !== undefined && firedAt + 1 < bounds.length) {
          if ((bounds[firedAt + 1] as number) > (bounds[firedAt] as number)) raised++;
        }
      }
      return { said, raised, rolled };
    };
    const more = screened({ cv: 0, shared: false, canaryCv: 0.5 }, 300);
    expect(more.rolled).toBeLessThanOrEqual(21);
    expect(more.said).toBeGreaterThanOrEqual(240);
    expect(more.raised).toBeGreaterThanOrEqual(240);
    // A canary bursting as the baseline does, or neither bursting: the screen stays quiet.
    expect(screened({ cv: 0.5, shared: false }, 300).said).toBeLessThanOrEqual(6);
    expect(screened(undefined, 300).said).toBeLessThanOrEqual(6);
  });

  it('keeps its power on Poisson traffic when the baseline history shows no bursts', () => {
    const scenario = busy({ canary: rate(2) });
    const seeds = Array.from({ length: 300 }, (_, i) => 30_000 + i);
    const bad = (make: () => Judge) =>
      seeds.map((seed) => runCanary(make(), scenario, seed)).filter((r) => r.rolledBack);
    const robust = bad(() => createSequentialRateJudge());
    const poissonOnly = bad(() => createSequentialRateJudge({ dispersion: false }));
    const mean = (runs: { canaryBad: number }[]) => runs.reduce((s, r) => s + r.canaryBad, 0) / runs.length;
    expect(robust.length).toBe(seeds.length);
    expect(mean(robust)).toBeLessThanOrEqual(1.25 * mean(poissonOnly));
  });

  it('still catches a doubled error rate when bursts hit both sides alike, at under 3× the bad requests of a test that knows they do', () => {
    // Shared bursts leave where bad events land binomial, so the Poisson test is exact here (a
    // two-sample bound); the bursty history alone cannot say the bursts are shared. Before the
    // test against every own-burst level (stats/split-e-process.ts) this was 5.9×.
    const scenario = busy({ canary: rate(2), variation: { cv: 1, shared: true } });
    const seeds = Array.from({ length: 300 }, (_, i) => 40_000 + i);
    const all = (make: () => Judge) => seeds.map((seed) => runCanary(make(), scenario, seed));
    const robust = all(() => createSequentialRateJudge());
    const poissonOnly = all(() => createSequentialRateJudge({ dispersion: false }));
    const caught = (runs: { rolledBack: boolean }[]) => runs.filter((r) => r.rolledBack).length / runs.length;
    const mean = (runs: { canaryBad: number }[]) => runs.reduce((s, r) => s + r.canaryBad, 0) / runs.length;
    expect(caught(robust)).toBeGreaterThanOrEqual(0.9);
    expect(caught(poissonOnly)).toBeGreaterThanOrEqual(0.9);
    expect(mean(robust)).toBeLessThanOrEqual(3 * mean(poissonOnly));
  });

  it('under shared bursts with a little own variation on each side (CV 1 and 0.3), holds alpha on good canaries and catches a doubled rate after fewer bad requests than without own-burst alternatives', () => {
    // What real services have: a downstream blip hits both, and each side varies a little on its
    // own. With the split test weighing only a regression without own variation (which fits its
    // splits badly) these canaries served 419 bad requests on average before rollback, 305 now
    // (in BENCHMARKS.md's cost, excess over stable: 324 against the floor's 69, now 146).
    const variation = { cv: 1, shared: true, own: 0.3 };
    expect(falseRollbacks(() => createSequentialRateJudge(), busy({ variation }))).toBeLessThanOrEqual(ALPHA);
    const scenario = busy({ canary: rate(2), variation });
    const runs = Array.from({ length: 300 }, (_, i) =>
      runCanary(createSequentialRateJudge(), scenario, 50_000 + i),
    );
    const caught = runs.filter((r) => r.rolledBack).length / runs.length;
    const mean = runs.reduce((s, r) => s + r.canaryBad, 0) / runs.length;
    expect(caught).toBeGreaterThanOrEqual(0.9);
    expect(mean).toBeLessThan(360);
  });

  it('at 100 requests/s under shared bursts, holds alpha on good canaries and catches more doubled ones with the two tests paired level by level', () => {
    // A few bad events a window cannot tell shared bursts from own ones for minutes, so the tempered
    // test stays tempered for the history's whole variation; paired with the split test level by
    // level (stats/paired-e-process.ts), it is tempered only for the levels the splits have not
    // ruled out. Averaged whole, as before, these canaries were caught in 80.1% of runs; 83.4% when
    // paired, 82.0% since later changes, and 81.9% since timed fresh starts took half a percent of
    // the product's weight (stats/fresh-starts.ts).
    const variation = { cv: 1, shared: true };
    const scenario = (factor: number) => busy({ rps: 100, canary: rate(factor), variation });
    expect(falseRollbacks(() => createSequentialRateJudge(), scenario(1))).toBeLessThanOrEqual(ALPHA);
    const runs = Array.from({ length: 1_000 }, (_, i) =>
      runCanary(createSequentialRateJudge(), scenario(2), 60_000 + i),
    );
    expect(runs.filter((r) => r.rolledBack).length / runs.length).toBeGreaterThanOrEqual(0.81);
  });

  it('an outage on both sides (errors added to both, not multiplied) neither rolls back a good canary nor hides a doubled error rate', () => {
    // +5% errors for 30 s every 5 minutes, one of them as the canary starts.
    const outage = { everyS: 300, lengthS: 30, extra: 0.05 };
    const good_ = busy({ outage });
    const bad = busy({ outage, canary: rate(2) });
    expect(falseRollbacks(() => createSequentialRateJudge(), good_)).toBeLessThanOrEqual(ALPHA);
    const runs = Array.from({ length: 300 }, (_, i) =>
      runCanary(createSequentialRateJudge(), bad, 50_000 + i),
    );
    // Before the allowance for bursts was fitted on the windows without an outage: ~0%.
    expect(runs.filter((r) => r.rolledBack).length / runs.length).toBeGreaterThanOrEqual(0.9);
  });

  it('at 100 requests/s, where the outages are most of the errors it sees, an outage window is read as one', () => {
    const outage = { everyS: 300, lengthS: 30, extra: 0.05 };
    const quiet = (over: Partial<Scenario>) => busy({ rps: 100, outage, ...over });
    expect(falseRollbacks(() => createSequentialRateJudge(), quiet({}))).toBeLessThanOrEqual(ALPHA);
    const runs = Array.from({ length: 300 }, (_, i) =>
      runCanary(createSequentialRateJudge(), quiet({ canary: rate(2) }), 60_000 + i),
    );
    // Read as the canary's own bursts (an outage's errors landing by the traffic split, where a
    // doubled rate would put twice the canary's share), outages hid it: 8.5% caught in the bench.
    // 81.7% while the outage at the canary's start fed the burst estimate (next test); 86% once it
    // did not; 90.7% with the split test reading outages as errors added to both sides too.
    expect(runs.filter((r) => r.rolledBack).length / runs.length).toBeGreaterThanOrEqual(0.89);
  });

  it("an outage in the canary's first windows does not widen the allowance for bursts", () => {
    // Ten minutes of history at 100 requests/s, 0.5% errors, with two 30 s outages of +5%; then
    // the canary (10% of requests) starts in a third: three outage windows, then ordinary ones.
    // Counted from the canary's own few windows, the outage cut lets them through (half of them
    // are outages), and their totals, far beyond Poisson, read as bursts: the allowance went
    // from CV 0.1 to 0.45 here and tempered the test for minutes.
    const outage = (i: number) => i % 30 < 3;
    const look = handFed(Array.from({ length: 60 }, (_, i) => ({ total: 1_000, bad: outage(i) ? 55 : 5 })));
    const allowances: number[] = [];
    for (let i = 0; i < 12; i++) {
      const hit = outage(i);
      const out = look({
        canaryTotal: 100,
        canaryBad: hit ? 6 : 1,
        baselineTotal: 900,
        baselineBad: hit ? 50 : 4 + (i % 2),
      });
      allowances.push((out.detail as { extraVariation: number }).extraVariation);
    }
    expect(Math.max(...allowances)).toBeLessThanOrEqual(allowances[0] as number);
  });

  it('holds alpha when bursts outlast a look: held a minute, looked at every 10 s, with the hour of history the gate asks for', () => {
    // Six windows in a row leaning the same way added up like a regression's evidence: before the
    // judge folded windows as long as the history's bursts last (stats/persistence.ts), 25–33% of
    // these canaries were rolled back (the detection bench, 1,000 requests/s).
    const scenario = busy({ historyS: 3_600, variation: { cv: 0.5, shared: false, holdLooks: 6 } });
    expect(falseRollbacks(() => createSequentialRateJudge(), scenario)).toBeLessThanOrEqual(ALPHA);
  });

  it('holds alpha when bursts outlast a look with ten minutes of history, at 100 requests/s: the release shows what the history did not', () => {
    // Five errors a window: ten minutes show a minute's bursts in four histories in five. The judge
    // before rolled back 1.9% of these canaries; folding only on what the history showed, 1.55%;
    // reading the release's windows with the rule before (the first lag alone, no step past a
    // test too weak), 1.2%; as built, 0.9%.
    const scenario = busy({ rps: 100, historyS: 600, variation: { cv: 0.5, shared: false, holdLooks: 6 } });
    expect(falseRollbacks(() => createSequentialRateJudge(), scenario)).toBeLessThanOrEqual(ALPHA);
  });

  it('folds windows where bursts outlast them: the test moves once a fold is complete, also across a resume', () => {
    // History: the baseline's errors move between levels that each hold for six 10 s windows.
    const levels = [20, 80, 35, 60, 15, 90, 45, 25, 70, 30];
    const look = handFed(
      Array.from({ length: 360 }, (_, i) => ({
        total: 10_000,
        bad: levels[Math.floor(i / 6) % levels.length] as number,
      })),
    );
    const looks: Array<{ eValue: number; fold?: { windows: number; done: number }; message: string }> = [];
    for (let i = 0; i < 12; i++) {
      // A canary erring 4× its baseline (10% of the requests).
      const out = look({ canaryTotal: 1_000, canaryBad: 20, baselineTotal: 9_000, baselineBad: 45 });
      const detail = out.detail as { eValue: number; fold?: { windows: number; done: number } };
      looks.push({ ...detail, message: out.message ?? '' });
    }
    const fold = looks[0]?.fold?.windows as number;
    expect(fold).toBeGreaterThanOrEqual(6);
    // The e-value stands still inside a fold and moves when it completes.
    for (let i = 0; i < fold - 1; i++) {
      expect(looks[i]?.eValue).toBe(1);
      expect(looks[i]?.message).toContain(`the test moves every ${fold} looks (${i + 1} of ${fold})`);
    }
    expect(looks[fold - 1]?.eValue).toBeGreaterThan(1);
  });

  it("folds from the release's baseline windows where the history showed no bursts; never with dispersion: false", () => {
    // Ten minutes of steady history, then a baseline whose errors move between levels held six looks.
    const steady = Array.from({ length: 60 }, () => ({ total: 10_000, bad: 50 }));
    const levels = [20, 80, 35, 60, 15, 90, 45, 25, 70, 30];
    const folds = (options: SequentialRateOptions) => {
      const look = handFed(steady, options);
      return Array.from({ length: 60 }, (_, i) => {
        const bad = levels[Math.floor(i / 6) % levels.length] as number;
        const out = look({
          canaryTotal: 1_000,
          canaryBad: Math.round(bad / 9),
          baselineTotal: 9_000,
          baselineBad: bad,
        });
        return (out.detail as { fold?: { windows: number } }).fold?.windows ?? 1;
      });
    };
    const bursty = folds({});
    expect(bursty[0]).toBe(1);
    expect(Math.max(...bursty)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...folds({ dispersion: false }))).toBe(1);
  });

  it('without the baseline history, one window is not evidence enough: it may be a burst', () => {
    const look = (judge: Judge) => {
      const v = (value: number) => [{ labels: {}, value }];
      const first = judge.look(
        undefined,
        { kind: 'counts', canary: { total: [], bad: [] }, baseline: { total: v(50_000), bad: v(250) } },
        { at: 0 },
      );
      return judge.look(
        first.state,
        {
          kind: 'counts',
          canary: { total: v(1_000), bad: v(50) },
          baseline: { total: v(59_000), bad: v(295) },
        },
        { at: 10_000 },
      ).look;
    };
    expect(look(createSequentialRateJudge()).phase).toBe('successful');
    expect(look(createSequentialRateJudge({ dispersion: false })).phase).toBe('failed');
  });
});

describe('sequentialLatency over every bucket (the default)', () => {
  const make = () => createSequentialLatencyJudge({ alpha: ALPHA });
  const thresholds = () => createSequentialLatencyJudge({ alpha: ALPHA, method: 'thresholds' });

  // Each look computes its permutation normalizer for nine shapes: 2,000 canaries take ~10 s at 10 rps.
  it.each(goodScenarios)(
    `rolls back at most alpha (1%%) of ${RUNS} good canaries: %s`,
    (_, scenario) => {
      expect(falseRollbacks(make, scenario)).toBeLessThanOrEqual(ALPHA);
    },
    120_000,
  );

  it('catches a regression of the tail alone sooner than the thresholds, after fewer slow requests', () => {
    // Median unchanged, σ 0.6 → 0.65: 0.66% of requests slower than 500 ms instead of 0.37%.
    // With the history the gate asks for: without it the first ten looks assume own shifts of the
    // prior's size, and it takes a median of 255 s against the thresholds' 195 (105 s with it).
    const tail = base({ canary: () => ({ ...good, sigma: 0.65 }), history: true });
    const every = detection(make, tail, 300, 30_000);
    const few = detection(thresholds, tail, 300, 30_000);
    expect(every.power).toBeGreaterThanOrEqual(0.95);
    expect(every.power).toBeGreaterThanOrEqual(few.power);
    expect(every.medianTime).toBeLessThan(few.medianTime);
    expect(every.medianRequests).toBeLessThan(few.medianRequests);
  });

  describe("when a side's latency moves on its own (a pod slower for a while)", () => {
    // Each side's median multiplied by its own gamma draw (CV 10%) every 10 s look, ten minutes of
    // the baseline's history given as the gate's range query gives it. Assuming one distribution
    // per window, the judge rolled back 46% (100 rps) and 78% (1,000 rps) of these canaries, 67–87%
    // with the draws held a minute (the detection bench, "Latency that varies beyond sampling").
    const moving = (over: Partial<Scenario>) =>
      base({ rps: 1_000, lookEveryS: 10, durationS: 360, history: true, ...over });
    const cases: Array<[string, Scenario]> = [
      ['1000 rps, CV 0.1 a look', moving({ variation: { cv: 0.1, shared: false } })],
      [
        '100 rps, CV 0.1 held six looks',
        moving({ rps: 100, variation: { cv: 0.1, shared: false, holdLooks: 6 } }),
      ],
      [
        '1000 rps, CV 0.1 held six looks, state persisted',
        moving({ persist: true, variation: { cv: 0.1, shared: false, holdLooks: 6 } }),
      ],
      // The tail alone: each side's log-σ moved by CV 10%, held a minute (a pod whose GC pauses
      // widen its latency for a while). The location shape's window means do not show it, so the
      // judge folded nothing and rolled back 6.7% and 10.3% of such canaries on the detection bench
      // (100 and 1,000 rps) before it read a spread shape's window means for folds too.
      [
        '100 rps, the tail alone CV 0.1 held six looks',
        moving({ rps: 100, variation: { cv: 0.1, shared: false, holdLooks: 6, tail: true } }),
      ],
      [
        '1000 rps, the tail alone CV 0.1 held six looks',
        moving({ variation: { cv: 0.1, shared: false, holdLooks: 6, tail: true } }),
      ],
    ];

    it.each(cases)(
      `rolls back at most alpha of ${RUNS} good canaries: %s`,
      (_, scenario) => {
        expect(falseRollbacks(make, scenario)).toBeLessThanOrEqual(ALPHA);
      },
      120_000,
    );

    it('where the test assuming one distribution per window rolls back many', () => {
      const scenario = (cases[0] as [string, Scenario])[1];
      const exchangeable = () => createSequentialLatencyJudge({ alpha: ALPHA, ownShifts: false });
      const rolled = Array.from({ length: 200 }, (_, i) => runCanary(exchangeable(), scenario, 1 + i));
      expect(rolled.filter((r) => r.rolledBack).length).toBeGreaterThan(60);
    });

    it('still catches a 10% slower median at 1,000 rps under CV 0.05 own shifts', () => {
      const scenario = moving({
        variation: { cv: 0.05, shared: false },
        canary: () => ({ ...good, medianMs: 110 }),
      });
      expect(detection(make, scenario, 200, 50_000).power).toBeGreaterThanOrEqual(0.95);
    });

    it('catches a regression that starts mid-release, which the screen once allowed for as own shifts', () => {
      // 100 rps, ten minutes of history, the median 25% slower from 2 minutes in (a step up in weight
      // bringing the load that breaks it). Reading the canary's windows about one level, the screen
      // took the step for own shifts, gave up the evidence and discounted every later window: 79.5%
      // caught by promotion at 6 minutes (the detection bench, "Regressions that start mid-release").
      const late = base({
        rps: 100,
        lookEveryS: 10,
        durationS: 360,
        history: true,
        canary: (t) => ({ ...good, medianMs: t > 120 ? 125 : 100 }),
      });
      const found = detection(make, late, 60, 70_000);
      expect(found.power).toBe(1);
      expect(found.medianTime - 120).toBeLessThanOrEqual(60);
    });

    it('starts afresh where the canary share steps up, so a regression from 4 minutes in need not climb out first', () => {
      // 1,000 rps, the median 25% slower from 4 minutes in: the product from the first window caught
      // it 30 s after the onset (median), climbing out of what the good windows before had sunk it
      // to; started afresh where the share stepped up to 50% (stats/fresh-starts.ts), 10 s.
      const late = moving({ canary: (t) => ({ ...good, medianMs: t > 240 ? 125 : 100 }) });
      const found = detection(make, late, 60, 71_000);
      expect(found.power).toBe(1);
      expect(found.medianTime - 240).toBeLessThanOrEqual(20);
    });

    it('starts afresh without the allowance for own shifts too, its windows as exact as the product', () => {
      // The same late regression, the judge told the sides do not move on its own (`ownShifts:
      // false`): its windows need no allowance, so a fresh start weighs them as the product does.
      // Without fresh starts this judge caught it 30 s after the onset (median of 60); now 10 s.
      const late = moving({ canary: (t) => ({ ...good, medianMs: t > 240 ? 125 : 100 }) });
      const exact = () => createSequentialLatencyJudge({ alpha: ALPHA, ownShifts: false });
      const found = detection(exact, late, 60, 72_000);
      expect(found.power).toBe(1);
      expect(found.medianTime - 240).toBeLessThanOrEqual(20);
    });

    it('starts afresh at every look of a release without steps, so a regression late in a long hold is caught soon', () => {
      // 1,000 rps, the canary held at 20% for 10 minutes, its median 25% slower from 6 minutes in: no
      // step to start afresh at, the product from the first window climbed out of 36 good windows
      // first (50 s after the onset, median of 60). Timed starts (stats/fresh-starts.ts): 10 s.
      const held = moving({
        share: () => 0.2,
        durationS: 600,
        canary: (t) => ({ ...good, medianMs: t > 360 ? 125 : 100 }),
      });
      const found = detection(make, held, 60, 73_000);
      expect(found.power).toBe(1);
      expect(found.medianTime - 360).toBeLessThanOrEqual(20);
    });

    it('without history, finds shifts that outlast a look in the release and folds from then on', () => {
      // No history: the first ten windows assume the prior, and the release's baseline windows are
      // read for persistence at every look. Still not α: 6.1% and 20% of good canaries rolled back
      // under CV 0.1 held a minute (100 and 1,000 rps; 8.6% and 24% without reading the release,
      // 0.0–0.4% with ten minutes of history) — docs/decisions.md.
      const folded = (variation?: Scenario['variation']) => {
        let n = 0;
        for (let seed = 1; seed <= 100; seed++) {
          let seen = false;
          const spy = observed(make(), (out) => {
            if (out.look.detail?.fold) seen = true;
          });
          runCanary(spy, moving({ history: false, ...(variation ? { variation } : {}) }), seed);
          if (seen) n++;
        }
        return n;
      };
      expect(folded({ cv: 0.1, shared: false, holdLooks: 6 })).toBeGreaterThanOrEqual(65);
      expect(folded()).toBeLessThanOrEqual(5);
    });

    it('rolls back few canaries that move more on their own than the baseline, and says so once its windows show it', () => {
      // The canary on fewer pods: its median moves by a CV of 20% a look where the baseline's moves
      // by 10% (100 rps). Assuming the canary moves no more than the baseline, the judge rolled back
      // 111 of these 200 good canaries; its windows now show the canary's own shifts (a chi-square
      // screen of its location scores), the evidence built before is given up, and each look then
      // allows for the canary's own 99% bound: 36 of 200, still not α. The spread shapes read a
      // window whose median moved either way as wider, so a canary moving more leaned them its way in
      // every window, before the screen and after; they now pay for the sides moving by different
      // amounts (own-shift.ts, `leanAllowance`): 1 of 200. The screen finds these in 184 of 200
      // (162 before: the evidence it would give up is no longer there to roll them back first).
      const scenario = moving({ rps: 100, variation: { cv: 0.1, shared: false, canaryCv: 0.2 } });
      let said = 0;
      let resetOk = 0;
      let rolled = 0;
      for (let seed = 1; seed <= 200; seed++) {
        let saying = false;
        let after: number | undefined;
        const spy = observed(make(), (out) => {
          const s = out.state as { canaryOwn?: boolean };
          if (s.canaryOwn && after === undefined) after = out.look.detail?.eValue as number;
          if (/moves more on its own than the baseline's/.test(out.look.message ?? '')) saying = true;
        });
        if (runCanary(spy, scenario, seed).rolledBack) rolled++;
        if (saying) said++;
        if (after !== undefined && after <= 1.5) resetOk++;
      }
      expect(said).toBeGreaterThanOrEqual(150);
      expect(resetOk).toBeGreaterThanOrEqual(140);
      expect(rolled).toBeLessThanOrEqual(4);
    });

    it('rolls back few canaries whose tail moves more on its own than the baseline, and says so once its windows show it', () => {
      // The tail alone: the canary's log-σ moves by a CV of 20% a look where the baseline's moves by
      // 10% (100 rps). The screen read the location shape's windows only, which a moving tail leaves
      // still: it found 40 of these 1,000 canaries, and 16 were rolled back. The spread shape's
      // windows are now screened too, at TAIL_SCREEN_LEVEL: 530 found, 14 rolled back — not α
      // (at 0.999, 680 and 11, for a price on tail-only regressions; docs/decisions.md). Until the
      // screen fires, the canary's own shifts are now taken as the baseline's bound plus what its
      // windows surely show (own-shift.ts, `lowerRatio`): 535 found, 8 rolled back (526 and 8 since
      // the screen reads from the sixth window, SCREEN_WINDOWS).
      const scenario = moving({ rps: 100, variation: { cv: 0.1, shared: false, canaryCv: 0.2, tail: true } });
      let said = 0;
      let rolled = 0;
      for (let seed = 1; seed <= 1_000; seed++) {
        let saying = false;
        const spy = observed(make(), (out) => {
          if (/moves more on its own than the baseline's/.test(out.look.message ?? '')) saying = true;
        });
        if (runCanary(spy, scenario, seed).rolledBack) rolled++;
        if (saying) said++;
      }
      expect(said).toBeGreaterThanOrEqual(400);
      expect(rolled).toBeLessThanOrEqual(ALPHA * 1_000);
    });

    it('screens few canaries that move no more than the baseline, reading from the sixth window', () => {
      // Poisson traffic, 100 rps, ten minutes of history. The screen asks at 1% each look, so over a
      // release it fires now and then by chance, and each firing gives up the evidence built (on a
      // tail-only regression at 100 rps, four of six promotions in 1,000 on the detection bench).
      // About two levels, windows three to five leave under 1.5 degrees of freedom and fired it
      // about as often as every later look together. Here 29 of these 1,000 were screened reading
      // from the third window, 21 from the sixth (SCREEN_WINDOWS).
      let screened = 0;
      for (let seed = 1; seed <= 1_000; seed++) {
        let own = false;
        const spy = observed(make(), (out) => {
          if ((out.state as { canaryOwn?: boolean }).canaryOwn) own = true;
        });
        runCanary(spy, moving({ rps: 100 }), seed);
        if (own) screened++;
      }
      expect(screened).toBeLessThanOrEqual(25);
    });

    it('holds alpha where each side alone stalls now and then, and says what it saw', () => {
      // Each look each side alone is twice as slow with chance 2% (a pod's rare pause), its history
      // too. A Gaussian allowance spreads the history's stalls thinly over every window, and a
      // stalled canary window then reads as a regression of its size. With an hour of history
      // (what the gate asks for): 24 of 2,000 good canaries rolled back (100 rps) before the judge
      // counted stalls apart and capped what one window may count by the baseline's rate of them
      // (stats/stall-cap.ts), 2 since. Ten minutes, as here, hold no stall in 30% of releases, and
      // none was assumed until one was seen: 191 of these 2,000 rolled back; since one is assumed
      // from the start (stats/own-shift.ts) and a window divided by what a stall makes of it
      // (stats/shape-e-process.ts), 1.
      const stalls = { cv: 0, shared: false, stall: { probability: 0.02, factor: 2 } };
      expect(falseRollbacks(make, moving({ rps: 100, variation: stalls }))).toBeLessThanOrEqual(ALPHA);
      let said = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const spy = observed(make(), (out) => {
          const seen = out.look.detail?.stalls as { baseline: number; windows: number } | undefined;
          if (seen && /stalled in \d+ of \d+ windows/.test(out.look.message ?? '')) said++;
        });
        runCanary(spy, moving({ rps: 100, historyS: 3_600, variation: stalls }), seed);
      }
      // 36 looks a release and 360 windows of history: most releases see the baseline stall.
      expect(said).toBeGreaterThan(100);
    });

    it("reads the baseline's history at its first look, and says how long its shifts last", () => {
      const judge = make();
      expect(judge.history).toBe(true);
      expect(createSequentialLatencyJudge({ ownShifts: false }).history).toBeFalsy();
      const firsts: Array<{ message?: string; detail?: Record<string, unknown> }> = [];
      const spy = (inner: Judge) =>
        observed(inner, (out, st) => {
          if (st === undefined) firsts.push(out.look);
        });
      runCanary(spy(make()), moving({}), 1);
      runCanary(spy(make()), moving({ variation: { cv: 0.1, shared: false, holdLooks: 6 } }), 2);
      runCanary(spy(make()), moving({ history: false }), 3);
      expect(firsts[0]?.detail).toEqual({ historyWindows: 60 });
      expect(firsts[0]?.message).toMatch(/own shifts calibrated on 60 windows of the baseline's history$/);
      expect(firsts[1]?.detail?.foldedWindows).toBeGreaterThanOrEqual(6);
      expect(firsts[1]?.message).toMatch(/which last \d+ windows \(tested as one\)$/);
      expect(firsts[2]?.message).toMatch(/no baseline history, so the first looks allow for own shifts$/);
    });
  });

  it('detects a 10% slower median at 100 rps', () => {
    const slower = base({ canary: () => ({ ...good, medianMs: 110 }) });
    const runs = Array.from({ length: 300 }, (_, i) => runCanary(make(), slower, 40_000 + i));
    expect(runs.filter((r) => r.rolledBack).length / runs.length).toBeGreaterThanOrEqual(0.9);
  });

  it('reads a slowdown of both versions alike as no evidence, and says the quantiles it saw', () => {
    const judge = make();
    const buckets = (counts: number[], pod: string) => {
      let acc = 0;
      return ['50', '100', '250', '500', '+Inf'].map((le, i) => {
        acc += counts[i] as number;
        return { labels: { le, pod }, value: acc };
      });
    };
    // History: 60,000 requests of the baseline; then both versions twice as slow, in equal shape.
    let state = judge.look(
      undefined,
      { kind: 'histogram', canary: [], baseline: buckets([24_000, 18_000, 12_000, 5_400, 600], 'b') },
      { at: 0 },
    ).state;
    const canary = [0, 0, 0, 0, 0];
    const baseline = [24_000, 18_000, 12_000, 5_400, 600];
    let last: ReturnType<Judge['look']>['look'] | undefined;
    for (let look = 1; look <= 30; look++) {
      const slow = [300, 1_200, 3_000, 3_000, 2_500];
      slow.forEach((n, i) => {
        canary[i] = (canary[i] as number) + n / 10;
        baseline[i] = (baseline[i] as number) + n;
      });
      const out = judge.look(
        state,
        { kind: 'histogram', canary: buckets(canary, 'c'), baseline: buckets(baseline, 'b') },
        { at: look * 10_000 },
      );
      state = out.state;
      last = out.look;
    }
    expect(last?.phase).toBe('successful');
    expect((last?.detail as { eValue: number } | undefined)?.eValue).toBeLessThanOrEqual(1);
    expect(last?.message).toMatch(/^no sign of regression: canary p50 \d+(\.\d+)?, p99 \d+/);
    expect(last?.message).not.toMatch(/could be a stall/);
    // The baseline back to its old speed, the canary not: a regression, but not at once. One look
    // alone could be a stall (stats/shape-e-process.ts), and the baseline's return reads as its
    // own stalls from then on, so each look counts at most what its stall rate allows: caught at
    // the 18th look after, by a test started afresh at a look after the slowdown (timed starts,
    // stats/fresh-starts.ts; the 28th before them, the first before stalls were assumed; never,
    // while the division took from the shapes the stall explains better what they had built). Since
    // a spread shape's window means are read for folds too, the baseline's return — a level that
    // changed, which the fold rule reads as a shift that lasts — folds three looks into one from
    // the third look after: caught at the 24th (a fold decides every third look; 26 leaves one more).
    const bad = [300, 1_200, 3_000, 3_000, 2_500];
    const fast = [2_400, 1_800, 1_200, 540, 60];
    let after = 0;
    let worse: ReturnType<Judge['look']> | undefined;
    while (after < 30 && worse?.look.phase !== 'failed') {
      after++;
      bad.forEach((n, i) => {
        canary[i] = (canary[i] as number) + n / 10;
        baseline[i] = (baseline[i] as number) + (fast[i] as number) * 1.67;
      });
      worse = judge.look(
        worse?.state ?? state,
        { kind: 'histogram', canary: buckets(canary, 'c'), baseline: buckets(baseline, 'b') },
        { at: (30 + after) * 10_000 },
      );
      // The first slow look says why it does not decide yet.
      if (after === 1) expect(worse.look.message).toMatch(/a look this slow could be a stall/);
    }
    expect(worse?.look.phase).toBe('failed');
    expect(after).toBeGreaterThan(1);
    expect(after).toBeLessThanOrEqual(26);
    expect(worse?.look.message).toMatch(/^latency regression: canary p50/);
  });
});

describe('sequentialLatency with thresholds', () => {
  const make = () => createSequentialLatencyJudge({ alpha: ALPHA, tolerance: 0 });

  it.each(goodScenarios)(`rolls back at most alpha (1%%) of ${RUNS} good canaries: %s`, (_, scenario) => {
    expect(falseRollbacks(make, scenario)).toBeLessThanOrEqual(ALPHA);
  });

  it('detects a 25% slower canary at 100 rps', () => {
    const slower = base({ canary: () => ({ ...good, medianMs: 125 }) });
    const runs = Array.from({ length: 300 }, (_, i) => runCanary(make(), slower, 20_000 + i));
    expect(runs.filter((r) => r.rolledBack).length / runs.length).toBeGreaterThanOrEqual(0.9);
  });
});

describe('a canary that has served nothing at the first look', () => {
  const series = (value: number, labels: Record<string, string> = { pod: 'web-1' }) => [{ labels, value }];
  const at = { at: 0 };

  it('sequentialRate counts its requests from zero: the first window after the look is tested', () => {
    const judge = createSequentialRateJudge();
    // The baseline's last ten minutes per 10 s, as the gate's range query gives them: Poisson-like.
    const history = Array.from({ length: 60 }, (_, i) => ({ total: 8_000, bad: 40 + ((i * 7) % 13) - 6 }));
    const first = judge.look(
      undefined,
      {
        kind: 'counts',
        canary: { total: [], bad: [] },
        baseline: { total: series(50_000), bad: series(250), history },
      },
      at,
    );
    expect(first.look.phase).toBe('nodata');
    expect(first.look.message).toMatch(/counting them from now/);
    // 10 s later: 1,000 canary requests, 100 of them errors (20× the baseline's 0.5%).
    const second = judge.look(
      first.state,
      {
        kind: 'counts',
        canary: { total: series(1_000, { pod: 'web-2' }), bad: series(100, { pod: 'web-2' }) },
        baseline: { total: series(59_000), bad: series(295) },
      },
      { at: 10_000 },
    );
    expect(second.look.phase).toBe('failed');
    expect((second.look.detail as { canary: { total: number } }).canary.total).toBe(1_000);
    // Said in words and rates; the e-value stays in the detail.
    expect(second.look.message).toBe(
      'error rate regression: canary 10.00% errors over 1,000 requests, baseline 0.50% over 9,000',
    );
    // A canary as good as the baseline: no sign, and how far the evidence has come.
    const good = judge.look(
      first.state,
      {
        kind: 'counts',
        canary: { total: series(1_000, { pod: 'web-2' }), bad: series(5, { pod: 'web-2' }) },
        baseline: { total: series(59_000), bad: series(295) },
      },
      { at: 10_000 },
    );
    expect(good.look.phase).toBe('successful');
    expect(good.look.message).toMatch(
      /^no sign of regression: canary 0\.50% errors over 1,000 requests, baseline 0\.50% over 9,000 \(evidence (under 0\.1|\d+(\.\d+)?)% of the way to rollback\)$/,
    );
    expect(good.look.message).not.toMatch(/e-value/);
  });

  it('sequentialLatency does the same with its buckets', () => {
    const judge = createSequentialLatencyJudge();
    const buckets = (counts: Record<string, number>, pod: string) =>
      Object.entries(counts).map(([le, value]) => ({ labels: { le, pod }, value }));
    const first = judge.look(
      undefined,
      {
        kind: 'histogram',
        canary: [],
        baseline: buckets({ '50': 20_000, '100': 30_000, '250': 45_000, '500': 49_500, '+Inf': 50_000 }, 'b'),
      },
      at,
    );
    expect(first.look.phase).toBe('nodata');
    // Every canary request slower than 500 ms. One window of it could be a stall, assumed at one
    // window in a hundred before the baseline has shown any (stats/own-shift.ts), so it decides
    // on the second.
    const slow = (k: number) => ({
      kind: 'histogram' as const,
      canary: buckets({ '50': 0, '100': 0, '250': 0, '500': 0, '+Inf': 1_000 * k }, 'c'),
      baseline: buckets(
        {
          '50': 20_000 + 4_000 * k,
          '100': 30_000 + 6_000 * k,
          '250': 45_000 + 9_000 * k,
          '500': 49_500 + 9_900 * k,
          '+Inf': 50_000 + 10_000 * k,
        },
        'b',
      ),
    });
    const second = judge.look(first.state, slow(1), { at: 10_000 });
    expect(second.look.phase).not.toBe('failed');
    expect(second.look.message).toMatch(
      /a look this slow could be a stall \(one window in 100 allowed for\)/,
    );
    expect(judge.look(second.state, slow(2), { at: 20_000 }).look.phase).toBe('failed');
  });
});
