import {
  type DispersionPrior,
  type DispersionState,
  extraVariance,
  initialDispersion,
  initialPairedTest,
  initialRateTest,
  initialSplitTest,
  observeDispersion,
  pairedLogEValue,
  rateLogEValue,
  SPLIT_SCREEN_WINDOWS,
  screenSplits,
  splitLogEValue,
  splitLogEValues,
  temperings,
  twoLevelSplit,
  updatePairedTest,
  updateRateTest,
  updateSplitTest,
  type WindowCounts,
  withHistory,
} from '@kanary/metrics';
import { gammaSampler, poissonSampler, seededRandom } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';

/**
 * The test against every level of the canary's own variation (universal inference): checked
 * directly on windows of counts, seeded, away from the judge around it.
 */
const ALPHA = 0.01;
const THRESHOLD = Math.log(1 / ALPHA);

/**
 * Windows of a 10% canary at `lambda` expected bad events per window in all, its rate `ratio`
 * times the baseline's; `own` is each side's own CV (a gamma multiplier per side and window),
 * `shared` one multiplier for both.
 */
function windows(seed: number, n: number, o: { lambda: number; ratio: number; own: number; shared: number }) {
  const random = seededRandom(seed);
  const poisson = poissonSampler(random);
  const gamma = gammaSampler(random);
  const draw = (cv: number) => (cv > 0 ? gamma(1 / (cv * cv)) * cv * cv : 1);
  const out: WindowCounts[] = [];
  for (let i = 0; i < n; i++) {
    const s = draw(o.shared);
    const perRequest = o.lambda / 10_000;
    out.push({
      canaryTotal: 1_000,
      canaryBad: poisson(1_000 * perRequest * o.ratio * s * draw(o.own)),
      baselineTotal: 9_000,
      baselineBad: poisson(9_000 * perRequest * s * draw(o.own)),
    });
  }
  return out;
}

/** Whether the split test's e-value ever reached 1/α over the windows, and after how many. */
function run(ws: WindowCounts[]) {
  let state = initialSplitTest();
  for (let i = 0; i < ws.length; i++) {
    state = updateSplitTest(state, ws[i] as WindowCounts, 0);
    if (splitLogEValue(state) >= THRESHOLD) return i + 1;
  }
  return undefined;
}

describe('the split test (stats/split-e-process.ts)', () => {
  it.each([
    ['no extra variation', 0, 0],
    ['each side bursting on its own, CV 0.5', 0.5, 0],
    ['each side bursting on its own, CV 1', 1, 0],
    ['own CV 0.5 and shared CV 1 together', 0.5, 1],
  ])(
    'crosses 1/α for at most α of 2,000 good canaries (60 windows, 50 bad events a window): %s',
    (_, own, shared) => {
      let crossed = 0;
      let poissonCrossed = 0;
      for (let seed = 1; seed <= 2_000; seed++) {
        const ws = windows(seed, 60, { lambda: 50, ratio: 1, own, shared });
        if (run(ws) !== undefined) crossed++;
        let poisson = initialRateTest();
        let reached = false;
        for (const w of ws) {
          poisson = updateRateTest(poisson, w, 0);
          reached ||= rateLogEValue(poisson) >= THRESHOLD;
        }
        if (reached) poissonCrossed++;
      }
      expect(crossed / 2_000).toBeLessThanOrEqual(ALPHA);
      // Where the canary bursts on its own, the binomial alone (the Poisson test) is far from α:
      // the scenario can tell a split test that left own variation out.
      if (own > 0) expect(poissonCrossed / 2_000).toBeGreaterThan(5 * ALPHA);
    },
  );

  it('catches a doubled rate under shared bursts within 2.1× the windows the Poisson test needs', () => {
    const needed = (make: 'split' | 'poisson', seed: number) => {
      const ws = windows(seed, 60, { lambda: 50, ratio: 2, own: 0, shared: 1 });
      if (make === 'split') return run(ws) ?? 61;
      let state = initialRateTest();
      for (let i = 0; i < ws.length; i++) {
        state = updateRateTest(state, ws[i] as WindowCounts, 0);
        if (rateLogEValue(state) >= THRESHOLD) return i + 1;
      }
      return 61;
    };
    const seeds = Array.from({ length: 300 }, (_, i) => 500 + i);
    const mean = (make: 'split' | 'poisson') =>
      seeds.reduce((s, seed) => s + needed(make, seed), 0) / seeds.length;
    const split = mean('split');
    expect(split).toBeLessThan(60);
    // 1.99× with binomial alternatives only; the quarter of the weight on own bursts costs ~1%
    // here (2.02×) and saves nearly half where own bursts join shared ones (the test below).
    expect(split).toBeLessThanOrEqual(2.1 * mean('poisson'));
  });

  it('catches a doubled rate that also bursts a little on its own (CV 0.3) under shared bursts (CV 1) within 20 windows on average', () => {
    // The regression's splits are overdispersed here: a binomial alternative alone fits them
    // badly (a mean of 27 windows, 52 of these 300 canaries not caught in 60).
    const seeds = Array.from({ length: 300 }, (_, i) => 900 + i);
    const needed = seeds.map(
      (seed) => run(windows(seed, 60, { lambda: 50, ratio: 2, own: 0.3, shared: 1 })) ?? 61,
    );
    const mean = needed.reduce((a, b) => a + b, 0) / needed.length;
    expect(mean).toBeLessThan(20);
  });

  it('resumes a state saved with the binomial alternatives only: each own-burst one starts from its binomial twin', () => {
    const w = { canaryTotal: 1_000, canaryBad: 9, baselineTotal: 9_000, baselineBad: 41 };
    const before = updateSplitTest(initialSplitTest(), { ...w, canaryBad: 14 }, 0);
    const binomial = before.alternative.slice(0, 6);
    const old = { alternative: binomial, nulls: before.nulls };
    const twins = { alternative: [...binomial, ...binomial], nulls: before.nulls };
    expect(updateSplitTest(old, w, 0)).toEqual(updateSplitTest(twins, w, 0));
    expect(splitLogEValue(old)).toBeCloseTo(splitLogEValue(twins), 12);
  });
});

describe('the tempered and split tests paired level by level (stats/paired-e-process.ts)', () => {
  /** The paired e-value over the windows, the tempered half bounded by `bound` in every window. */
  const paired = (ws: WindowCounts[], bound: number, rate: number) => {
    let split = initialSplitTest();
    let pairs = initialPairedTest();
    let max = Number.NEGATIVE_INFINITY;
    for (const w of ws) {
      pairs = updatePairedTest(pairs, w, 0, bound, rate);
      split = updateSplitTest(split, w, 0);
      max = Math.max(max, pairedLogEValue(pairs, split));
    }
    return max;
  };
  const logAverage = (a: number, b: number) =>
    Math.max(a, b) + Math.log((1 + Math.exp(-Math.abs(a - b))) / 2);

  // The bound at the true own level where each side bursts alone (where the tempering is exact);
  // a step above it where shared bursts join, which move each window's expected counts that the
  // tempering takes as known (at the true level both the pairing and the average it replaced
  // crossed for 1.4–1.5% of these canaries, the tempered test alone 2.2%: the judge's bound is an
  // upper quantile for that room).
  it.each([
    ['each side bursting on its own, CV 0.5; bound CV 0.5', 0.5, 0, 0.5],
    ['own CV 0.5 and shared CV 1 together; bound CV 0.6', 0.5, 1, 0.6],
  ])(
    'crosses 1/α for at most α of 1,000 good canaries (40 windows, 50 bad events a window): %s',
    (_, own, shared, boundCv) => {
      let crossed = 0;
      let unbounded = 0;
      for (let seed = 1; seed <= 1_000; seed++) {
        const ws = windows(10_000 + seed, 40, { lambda: 50, ratio: 1, own, shared });
        if (paired(ws, boundCv * boundCv, 50 / 10_000) >= THRESHOLD) crossed++;
        if (paired(ws, 0, 50 / 10_000) >= THRESHOLD) unbounded++;
      }
      expect(crossed / 1_000).toBeLessThanOrEqual(ALPHA);
      // Told there is no own variation, the tempered half is the Poisson test and the pairing
      // crosses far more often: the scenario can tell a pairing that left the bound out.
      expect(unbounded / 1_000).toBeGreaterThan(5 * ALPHA);
    },
  );

  it('with no own variation allowed, it is the average of the Poisson test and the split test', () => {
    const ws = windows(77, 20, { lambda: 50, ratio: 1.5, own: 0, shared: 1 });
    let pairs = initialPairedTest();
    let split = initialSplitTest();
    let poisson = initialRateTest();
    for (const w of ws) {
      pairs = updatePairedTest(pairs, w, 0, 0, 50 / 10_000);
      split = updateSplitTest(split, w, 0);
      poisson = updateRateTest(poisson, w, 0, undefined, 50 / 10_000);
    }
    expect(pairedLogEValue(pairs, split)).toBeCloseTo(
      logAverage(rateLogEValue(poisson), splitLogEValue(split)),
      10,
    );
  });

  it('a release resumed from a judge without the pairing starts from the average it had', () => {
    const ws = windows(78, 20, { lambda: 50, ratio: 1.5, own: 0.5, shared: 0 });
    let tempered = initialRateTest();
    let split = initialSplitTest();
    for (const w of ws) {
      tempered = updateRateTest(tempered, w, 0, temperings(w, 0, 0.25, 50 / 10_000), 50 / 10_000);
      split = updateSplitTest(split, w, 0);
    }
    expect(pairedLogEValue(initialPairedTest(tempered), split)).toBeCloseTo(
      logAverage(rateLogEValue(tempered), splitLogEValue(split)),
      10,
    );
  });

  describe('outages read as errors added to both sides', () => {
    const RATE = 0.005;
    /** A 10% canary's window at 100 requests/s: 1,000 requests, `extra` errors per request added to both. */
    const window = (random: () => number, ratio: number, extra: number): WindowCounts => {
      const poisson = poissonSampler(random);
      return {
        canaryTotal: 100,
        canaryBad: poisson(100 * (RATE * ratio + extra)),
        baselineTotal: 900,
        baselineBad: poisson(900 * (RATE + extra)),
      };
    };
    /** Three outage windows (+5%) then `ordinary` quiet ones, read both ways or as shared bursts only. */
    const release = (seed: number, ratio: number, ordinary: number, bothWays: boolean) => {
      const random = seededRandom(seed);
      let state = initialSplitTest();
      for (let i = 0; i < 3 + ordinary; i++) {
        const outage = i < 3;
        state = updateSplitTest(
          state,
          window(random, ratio, outage ? 0.05 : 0),
          0,
          outage && bothWays ? RATE : undefined,
        );
      }
      return state;
    };

    it('on a good canary the e-value against the binomial null keeps a mean of 1, read both ways', () => {
      // Each reading is a likelihood ratio of laws fixed by the window's total, so their average is too.
      const runs = 20_000;
      let sum = 0;
      for (let seed = 0; seed < runs; seed++)
        sum += Math.exp(splitLogEValues(release(seed, 1, 6, true))[0] as number);
      expect(sum / runs).toBeGreaterThan(0.8);
      expect(sum / runs).toBeLessThan(1.1);
    });

    it('keeps the evidence of a doubled rate that outage windows, read as shared bursts, take away', () => {
      // Read as a shared burst, an outage's ~55 errors landing by the traffic split are strong
      // evidence against every regression; read as added errors they weigh little either way.
      let both = 0;
      let shared = 0;
      for (let seed = 0; seed < 200; seed++) {
        if (splitLogEValue(release(seed, 2, 30, true)) >= THRESHOLD) both++;
        if (splitLogEValue(release(seed, 2, 30, false)) >= THRESHOLD) shared++;
      }
      expect(both).toBeGreaterThan(shared + 20);
    });

    it('the history tells outages over quiet traffic from bursts both sides share', () => {
      const random = seededRandom(5);
      const poisson = poissonSampler(random);
      const gamma = gammaSampler(random);
      const history = (bursts: (i: number) => number, extra: (i: number) => number) =>
        Array.from({ length: 60 }, (_, i) => ({
          total: 1_000,
          bad: poisson(1_000 * (RATE * bursts(i) + extra(i))),
        }));
      const outages = history(
        () => 1,
        (i) => (i % 30 < 3 ? 0.05 : 0),
      );
      const sharedBursts = history(
        () => gamma(4) / 4,
        () => 0,
      );
      expect(withHistory(initialDispersion(), outages).historyOutages).toBe(true);
      expect(withHistory(initialDispersion(), sharedBursts).historyOutages).toBeUndefined();
      expect(
        withHistory(
          initialDispersion(),
          history(
            () => 1,
            () => 0,
          ),
        ).historyOutages,
      ).toBeUndefined();
    });
  });
});

describe("the canary's own bursts, screened from its splits alone (stats/dispersion.ts)", () => {
  const RATE = 0.005;
  /**
   * A release at 1,000 requests/s with a 10% canary, after ten minutes of the baseline's history:
   * each 10 s window's canary errors burst by `canaryCv` (a gamma multiplier), the baseline's (its
   * history's too) by `baselineCv`. Returns the dispersion state after each window.
   */
  const release = (
    seed: number,
    windows: number,
    canaryCv: number,
    baselineCv = 0,
    prior?: DispersionPrior,
    /** The canary's rate multiplied by `factor` from window `at` on (a regression starting mid-release). */
    onset?: { at: number; factor: number },
  ) => {
    const random = seededRandom(seed);
    const poisson = poissonSampler(random);
    const gamma = gammaSampler(random);
    const draw = (cv: number) => (cv > 0 ? gamma(1 / (cv * cv)) * cv * cv : 1);
    const history = Array.from({ length: 60 }, () => ({
      total: 10_000,
      bad: poisson(10_000 * RATE * draw(baselineCv)),
    }));
    let d = withHistory(initialDispersion(), history);
    const states: DispersionState[] = [];
    for (let i = 0; i < windows; i++) {
      d = observeDispersion(
        d,
        {
          canaryTotal: 1_000,
          canaryBad: poisson(1_000 * RATE * draw(canaryCv) * (onset && i >= onset.at ? onset.factor : 1)),
          baselineTotal: 9_000,
          baselineBad: poisson(9_000 * RATE * draw(baselineCv)),
        },
        prior,
      );
      states.push(d);
    }
    return states;
  };
  const screenedBy = (states: DispersionState[]) => states.findIndex((d) => d.canaryOwn === true);

  it('finds a canary bursting by CV 0.5 beside a Poisson baseline in most releases within 36 windows, and keeps the finding', () => {
    let found = 0;
    for (let seed = 0; seed < 100; seed++) {
      const states = release(seed, 36, 0.5);
      const at = screenedBy(states);
      if (at < 0) continue;
      found++;
      // Never before three windows with canary errors; once found, kept; the bound then the splits'.
      const withErrors = states.slice(0, at + 1).map((d) => d.recent.filter(([, xc]) => xc > 0).length);
      expect(withErrors.at(-1)).toBeGreaterThanOrEqual(SPLIT_SCREEN_WINDOWS);
      expect(states.slice(at).every((d) => d.canaryOwn === true)).toBe(true);
      const before = states[at - 1] as DispersionState;
      expect(extraVariance(states[at] as DispersionState)).toBeGreaterThanOrEqual(extraVariance(before));
    }
    // Measured: 73 of 100 (76 before the finding was asked again about a ratio that changed once).
    expect(found).toBeGreaterThanOrEqual(65);
  });

  it('reads a rate that changed once (a regression starting mid-release) as such, not as bursts', () => {
    // A Poisson canary whose error rate doubles from window 18 of 36. About one pooled ratio its
    // splits are likeliest with own bursts in 97 of 100 releases, and the screen asking only that
    // fired in 46; about two ratios split where they fit best, in 24, and the screen fires in none.
    let burstsOne = 0;
    let burstsTwo = 0;
    let screened = 0;
    const argmax = (v: readonly number[]) => v.indexOf(Math.max(...v));
    for (let seed = 0; seed < 100; seed++) {
      const states = release(500 + seed, 36, 0, 0, undefined, { at: 18, factor: 2 });
      const last = states.at(-1) as DispersionState;
      if (argmax(last.fit?.split ?? [0]) > 0) burstsOne++;
      if (argmax(twoLevelSplit(last)) > 0) burstsTwo++;
      if (screenedBy(states) >= 0) screened++;
    }
    expect(burstsOne).toBeGreaterThanOrEqual(85);
    expect(burstsTwo).toBeLessThanOrEqual(35);
    expect(screened).toBeLessThanOrEqual(3);
  });

  it('stays quiet where the canary bursts no more than the baseline', () => {
    let poisson = 0;
    let alike = 0;
    for (let seed = 0; seed < 100; seed++) {
      if (screenedBy(release(seed, 36, 0)) >= 0) poisson++;
      if (screenedBy(release(seed, 36, 0.25, 0.25)) >= 0) alike++;
    }
    // Measured: 1 and 0 of 100 (the screen is asked at every window, each at 1%).
    expect(poisson).toBeLessThanOrEqual(3);
    expect(alike).toBeLessThanOrEqual(3);
    // The bound it screens against is the judge's: a laxer confidence, a lower bound, more found.
    let lax = 0;
    for (let seed = 0; seed < 100; seed++)
      if (screenedBy(release(seed, 36, 0.25, 0.25, { confidence: 0.5 })) >= 0) lax++;
    // Measured: 4 of 100 (1 at the default).
    expect(lax).toBeGreaterThan(alike);
  });

  it('a state saved before the splits were kept apart refits them, and screens as the state kept whole', () => {
    // A release the screen finds at its fifth window.
    const states = release(15, 20, 0.5);
    const at = screenedBy(states);
    expect(at).toBeGreaterThan(0);
    const before = states[at - 1] as DispersionState;
    const { split: _dropped, ...fit } = before.fit as NonNullable<DispersionState['fit']>;
    const saved: DispersionState = JSON.parse(JSON.stringify({ ...before, fit }));
    expect(screenSplits(saved)).toBe(false);
    const window = (states[at] as DispersionState).recent.at(-1) as [number, number, number, number];
    const w = {
      canaryTotal: window[0],
      canaryBad: window[1],
      baselineTotal: window[2],
      baselineBad: window[3],
    };
    const resumed = observeDispersion(saved, w);
    expect(resumed.canaryOwn).toBe(true);
    expect(resumed.fit?.split?.length).toBe((states[at] as DispersionState).fit?.split?.length);
  });
});
