import {
  assumedStallRate,
  CANARY_SHIFT_PRIOR,
  chiSquareQuantile,
  initialOwnShift,
  initialShapeTest,
  leanAllowance,
  leansOf,
  logSampleMoment,
  lowerRatio,
  normalCdf,
  observeShiftWindow,
  pairRatios,
  SCREEN_WINDOWS,
  SHAPES,
  type ShiftWindow,
  SPREAD_BET_LIMIT,
  type StallAllowance,
  scoreVariance,
  shapeLogEValue,
  shapeScores,
  shiftAllowance,
  shiftBlockFactor,
  shiftRatios,
  shiftResponse,
  shiftWindow,
  sideRatios,
  spreadAllowance,
  stallRate,
  twoLevelDof,
  twoLevelScatter,
  updateShapeTest,
  withinVariance,
} from '@kanary/metrics';
import { poissonSampler, seededRandom } from '@kanary/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const BOUNDS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const probabilities = (medianMs: number, sigma = 0.6) => {
  const cdf = BOUNDS.map((le) => normalCdf(Math.log(le / medianMs) / sigma));
  return [...cdf.map((c, i) => c - (i === 0 ? 0 : (cdf[i - 1] as number))), 1 - (cdf.at(-1) as number)];
};
/** The baseline's shape, known well: the scores every test here reads windows with. */
const REFERENCE = probabilities(100).map((p) => Math.round(p * 1e6));
const SCORES = shapeScores(BOUNDS, REFERENCE);

/**
 * Windows of `requests` each, a side's median multiplied by its own draw each window: log-normal
 * with this spread in log (0: none), held for `hold` windows from a random phase.
 */
function windows(seed: number, n: number, requests: number, spread: number, hold = 1, level = 100) {
  const u = seededRandom(seed);
  const poisson = poissonSampler(u);
  const normal = () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
  const phase = Math.floor(u() * hold);
  let median = level;
  return Array.from({ length: n }, (_, i) => {
    if (i === 0 || (i + phase) % hold === 0) median = level * Math.exp(spread * normal());
    return probabilities(median).map((p) => poisson(requests * p));
  });
}

/** Windows of `requests` each, a side `factor` times slower in a window with chance `p` (a stall). */
function stalling(seed: number, n: number, requests: number, p: number, factor = 2) {
  const u = seededRandom(seed);
  const poisson = poissonSampler(u);
  return Array.from({ length: n }, () =>
    probabilities(u() < p ? 100 * factor : 100).map((q) => poisson(requests * q)),
  );
}

const ratiosOf = (ws: number[][]) => shiftRatios(ws.reduce(observeShiftWindow, initialOwnShift(SCORES)));

describe('own shifts: how far a side moves on its own between windows', () => {
  it('bounds the variation beyond sampling near zero where there is none, and above it where there is', () => {
    // 60 windows of 1,000 requests (ten minutes at 100 requests/s). Without own shifts the 99% bound
    // is about 0.6 of one window's sampling variance (1/1,000 here), never many times it.
    const none = Array.from({ length: 200 }, (_, s) => ratiosOf(windows(s + 1, 60, 1_000, 0))[1] as number);
    const mean = none.reduce((a, b) => a + b, 0) / none.length;
    expect(mean).toBeGreaterThan(0.2 / 1_000);
    expect(mean).toBeLessThan(1.2 / 1_000);
    // Medians moving by 5% per window: the bound is far above that.
    const shifted = ratiosOf(windows(7, 60, 1_000, 0.05))[1] as number;
    expect(shifted).toBeGreaterThan(5 * mean);
  });

  it('assumes its prior until ten windows are read, then the bound alone', () => {
    const read = (ws: number[][]) => shiftRatios(ws.reduce(observeShiftWindow, initialOwnShift(SCORES)));
    // Nine windows, quiet or moving by 20%: the prior either way (a few windows of a held shift
    // look alike, so their bound is not trusted).
    expect(read(windows(3, 9, 1_000, 0)).every((r) => r === 0.05)).toBe(true);
    expect(read(windows(3, 9, 1_000, 0.2)).every((r) => r === 0.05)).toBe(true);
    // From ten windows on, the data alone: quiet, far under the prior; moving by 20%, far over it.
    expect(read(windows(3, 10, 1_000, 0)).every((r) => r < 0.01)).toBe(true);
    expect(read(windows(3, 10, 1_000, 0.2))[1]).toBeGreaterThan(0.05);
  });

  it('bets all of a window without own shifts, and less of it the more requests a shift moves', () => {
    expect(shiftAllowance(0, 1, 500, 500)).toEqual({ lambda: 1, logPenalty: 0 });
    const small = shiftAllowance(0.001, 1, 50, 50);
    const large = shiftAllowance(0.001, 1, 5_000, 5_000);
    expect(small.lambda).toBeGreaterThan(large.lambda);
    expect(large.lambda).toBeCloseTo(1 / (1 + 2 * 2_500 * 0.001), 10);
  });

  it("keeps a good canary's window e-value at mean 1 under own shifts, which the permutation test alone does not", () => {
    // 1,000 requests a side a window, each side's median moved by its own 5% draw: the window
    // leans one way by chance. The allowance is read from 2,000 of the baseline's windows.
    const spread = 0.05;
    const ratios = ratiosOf(windows(11, 2_000, 1_000, spread));
    const canary = windows(12, 4_000, 1_000, spread);
    const baseline = windows(13, 4_000, 1_000, spread);
    const meanE = (r?: number[]) =>
      canary.reduce((sum, c, i) => {
        const logE = updateShapeTest(initialShapeTest(), SCORES, c, baseline[i] as number[], r);
        return sum + logE.reduce((s, l) => s + Math.exp(l), 0) / logE.length;
      }, 0) / canary.length;
    expect(meanE(ratios)).toBeLessThanOrEqual(1.1);
    expect(meanE()).toBeGreaterThan(3);
  });

  it("keeps a spread shape's window an e-value where medians move, which the Gaussian penalty does not", () => {
    // A canary held at 20% of 1,000 requests/s: 2,000 and 8,000 requests a window, each side's
    // median moved by its own 10% draw. A stretch about the median reads a moved median as a wider
    // window (its scores move with the square of the shift): the Gaussian penalty under-pays it.
    const spread = 0.1;
    const ratios = ratiosOf(windows(1, 2_000, 8_000, spread));
    const canary = windows(2, 4_000, 2_000, spread);
    const baseline = windows(3, 4_000, 8_000, spread);
    const stretches = SHAPES.flatMap((s, g) => (s.spread === 1 ? [] : [g]));
    const kept = SCORES.map(() => 0);
    const gaussian = SCORES.map(() => 0);
    canary.forEach((c, i) => {
      const b = baseline[i] as number[];
      updateShapeTest(initialShapeTest(), SCORES, c, b, ratios).forEach((l, g) => {
        kept[g] = (kept[g] as number) + Math.exp(l) / canary.length;
      });
      // The same window under the Gaussian penalty every location shape pays.
      const pooled = c.map((x, k) => x + (b[k] ?? 0));
      const [nC, nB] = [c, b].map((w) => w.reduce((t, x) => t + x, 0)) as [number, number];
      SCORES.forEach((a, g) => {
        const { lambda, logPenalty } = shiftAllowance(ratios[g] as number, scoreVariance(pooled, a), nC, nB);
        const bet = a.map((x) => lambda * x);
        const observed = c.reduce((t, x, k) => t + x * (bet[k] as number), 0);
        const logE = observed - logSampleMoment(pooled, bet, nC) - logPenalty;
        gaussian[g] = (gaussian[g] as number) + Math.exp(logE) / canary.length;
      });
    });
    // Measured: 0.97 on each stretch; under the Gaussian penalty 1.4, 62, 4.6·10⁴ and 2.3·10⁵.
    for (const g of stretches) expect(kept[g]).toBeLessThanOrEqual(1.1);
    expect(Math.max(...stretches.map((g) => gaussian[g] as number))).toBeGreaterThan(1_000);
    // The location shapes are paid as before.
    for (const g of SHAPES.keys())
      if (!stretches.includes(g)) expect(kept[g]).toBeCloseTo(gaussian[g] as number, 10);
    // The bet is the Gaussian one held to t²·Var(D) ≤ SPREAD_BET_LIMIT, its penalty −½·log(1 − t²·Var(D)).
    const held = spreadAllowance(0.001, 1, 5_000, 5_000);
    const varD = 2 * 0.001;
    expect(held.lambda ** 2 * 2_500 ** 2 * varD).toBeCloseTo(SPREAD_BET_LIMIT, 10);
    expect(held.logPenalty).toBeCloseTo(-0.5 * Math.log(1 - SPREAD_BET_LIMIT), 10);
    // Below the limit the bet is the Gaussian one, paying a little more; no own shifts, nothing.
    const small = spreadAllowance(0.001, 1, 20, 20);
    expect(small.lambda).toBe(shiftAllowance(0.001, 1, 20, 20).lambda);
    expect(small.logPenalty).toBeGreaterThan(shiftAllowance(0.001, 1, 20, 20).logPenalty);
    expect(spreadAllowance(0, 1, 500, 500)).toEqual({ lambda: 1, logPenalty: 0 });
  });

  it("reads how each shape's mean score answers a moved median: linearly for a shift, squared for a stretch", () => {
    // A log-normal of σ 0.6: a shift δ₀'s scores are linear in log-latency, b = δ₀/σ²; a stretch s's
    // are quadratic, c = (1 − 1/s²)/(2σ²). The buckets and the clip make them approximate.
    const response = shiftResponse(BOUNDS, REFERENCE, SCORES);
    SHAPES.forEach(({ shift, spread }, g) => {
      const { b, c } = response[g] as { b: number; c: number };
      if (spread === 1) {
        expect(b).toBeGreaterThan((0.7 * shift) / 0.36);
        expect(b).toBeLessThan((1.3 * shift) / 0.36);
        expect(Math.abs(c)).toBeLessThan(0.2 * b);
      } else {
        const expected = (1 - 1 / spread ** 2) / (2 * 0.36);
        expect(c).toBeGreaterThan(0.7 * expected);
        expect(c).toBeLessThan(1.3 * expected);
        expect(Math.abs(b)).toBeLessThan(0.2 * c);
      }
    });
  });

  it("keeps a spread shape's window an e-value where the canary's median moves more than the baseline's", () => {
    // 2,000 and 8,000 requests a window, the baseline's median moving by its own 10% draw. A stretch
    // reads a window moved either way as wider, so a canary moving more leans it the canary's way in
    // every window, which the symmetric bound leaves out. Tied: the canary moves by √K·10% (K the
    // prior, its variance K times the baseline's), its own windows not read. Own: it moves by 20%,
    // and its bound comes from 60 windows of its own.
    const LOCATION = 1;
    const history = windows(21, 2_000, 8_000, 0.1);
    const baseline = history.reduce(observeShiftWindow, initialOwnShift(SCORES));
    const ratios = shiftRatios(baseline);
    const stretches = SHAPES.flatMap((s, g) => (s.spread === 1 ? [] : [g]));
    const meanE = (canarySpread: number, sides?: ReturnType<typeof sideRatios>) => {
      const canary = windows(22, 4_000, 2_000, canarySpread);
      const base = windows(23, 4_000, 8_000, 0.1);
      const leans = sides && leansOf(BOUNDS, REFERENCE, SCORES, LOCATION, sides);
      const sum = SCORES.map(() => 0);
      canary.forEach((c, i) => {
        updateShapeTest(initialShapeTest(), SCORES, c, base[i] as number[], ratios, undefined, leans).forEach(
          (l, g) => {
            sum[g] = (sum[g] as number) + Math.exp(l) / canary.length;
          },
        );
      });
      return Math.max(...stretches.map((g) => sum[g] as number));
    };
    const tiedSpread = 0.1 * Math.sqrt(CANARY_SHIFT_PRIOR);
    const tied = sideRatios(baseline, undefined, LOCATION, false);
    expect(tied).toEqual({
      baseline: ratios[LOCATION],
      canary: CANARY_SHIFT_PRIOR * (ratios[LOCATION] as number),
      tied: true,
    });
    const own = windows(24, 60, 2_000, 0.2).reduce(
      observeShiftWindow,
      initialOwnShift(SCORES, LOCATION, true),
    );
    const ownSides = sideRatios(baseline, own, LOCATION, true);
    expect(ownSides.tied).toBe(false);
    // Measured: 0.98 tied and 0.77 own; under the symmetric bound alone 6.2 and 622.
    expect(meanE(tiedSpread, tied)).toBeLessThanOrEqual(1.1);
    expect(meanE(tiedSpread)).toBeGreaterThan(3);
    expect(meanE(0.2, ownSides)).toBeLessThanOrEqual(1.1);
    expect(meanE(0.2)).toBeGreaterThan(100);
  });

  it('bounds the moment of every Gaussian shift of the sides its model allows (generated)', () => {
    // log E[exp(±t·(b·δ + c·δ²))] for δ ~ N(0, s²), exact: the canary's side +, the baseline's −.
    const side = (t: number, b: number, c: number, s2: number, sign: 1 | -1) => {
      const x = 1 - 2 * sign * t * c * s2;
      return x <= 0 ? Number.POSITIVE_INFINITY : -0.5 * Math.log(x) + (t * t * b * b * s2) / (2 * x);
    };
    const unit = fc.double({ min: 0, max: 1, noNaN: true });
    fc.assert(
      fc.property(
        fc.record({
          b: fc.double({ min: -2, max: 2, noNaN: true }),
          c: fc.double({ min: -2, max: 2, noNaN: true }),
          baseline: fc.double({ min: 1e-6, max: 0.05, noNaN: true }),
          canary: fc.double({ min: 1e-6, max: 0.2, noNaN: true }),
          tied: fc.boolean(),
          ratio: fc.double({ min: 0, max: 0.1, noNaN: true }),
          nC: fc.integer({ min: 1, max: 20_000 }),
          nB: fc.integer({ min: 1, max: 20_000 }),
          u: unit,
          v: unit,
        }),
        ({ b, c, baseline, canary, tied, ratio, nC, nB, u, v }) => {
          const lean = tied
            ? { b, c, baseline, canary: CANARY_SHIFT_PRIOR * baseline, tied }
            : { b, c, baseline, canary, tied };
          const { lambda, logPenalty } = leanAllowance(lean, ratio, 1, nC, nB);
          const t = (lambda * nC * nB) / (nC + nB);
          // The truth, anywhere the model allows: each side at most its bound; tied, the canary's at
          // most CANARY_SHIFT_PRIOR times the baseline's true variance.
          const sB = u * baseline;
          const sC = tied ? v * CANARY_SHIFT_PRIOR * sB : v * canary;
          expect(side(t, b, c, sC, 1) + side(t, b, c, sB, -1)).toBeLessThanOrEqual(logPenalty + 1e-9);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('reads the own shifts the baseline surely shows: none in most still histories, some in most moving ones', () => {
    // 60 windows of 1,000 requests. The lower bound at SURE_SHIFT_LEVEL (90%) is above zero in 31 of
    // 200 histories without own shifts (more than a tenth: the sampling variance it subtracts is
    // itself estimated), in all 200 where the median moves 5% a window (the location shapes); it
    // never exceeds the 99% upper bound.
    const lowerOf = (spread: number) =>
      Array.from({ length: 200 }, (_, s) => {
        const state = windows(7_000 + s, 60, 1_000, spread).reduce(
          observeShiftWindow,
          initialOwnShift(SCORES),
        );
        const upper = shiftRatios(state);
        return SHAPES.map((_, g) => {
          const lower = lowerRatio(state, g);
          expect(lower).toBeLessThanOrEqual((upper[g] as number) + 1e-15);
          return lower;
        });
      });
    const positive = (rows: number[][], g: number) => rows.filter((r) => (r[g] as number) > 0).length;
    const still = lowerOf(0);
    const moving = lowerOf(0.05);
    for (const g of [1, 2]) {
      expect(positive(still, g)).toBeLessThanOrEqual(40);
      expect(positive(moving, g)).toBeGreaterThanOrEqual(190);
    }
    // Fewer windows than MIN_WINDOWS: nothing is sure.
    const few = windows(9, 5, 1_000, 0.2).reduce(observeShiftWindow, initialOwnShift(SCORES));
    expect(SHAPES.map((_, g) => lowerRatio(few, g))).toEqual(SHAPES.map(() => 0));
  });

  it("takes the canary's own bound where its windows move more than the baseline's bound allows", () => {
    // The baseline's median moves by 5% a window (1,000 requests a window). A canary moving three times
    // as much is found within twelve windows in 90 of 100 releases; twice as much (a quarter of the
    // pods), within thirty in 72 (twelve: 38) — the screen is weak at 2×. One moving as the baseline
    // does was screened in none of 100 (the test is at 1% against the baseline's upper bound).
    const LOCATION = 1;
    const screened = (canarySpread: number, n = 30) => {
      let count = 0;
      for (let s = 0; s < 100; s++) {
        const baseline = windows(1_000 + s, 60, 1_000, 0.05).reduce(
          observeShiftWindow,
          initialOwnShift(SCORES),
        );
        const canary = windows(2_000 + s, n, 1_000, canarySpread).reduce(
          observeShiftWindow,
          initialOwnShift(SCORES, LOCATION, true),
        );
        const pair = pairRatios(baseline, canary, LOCATION);
        if (pair.canaryOwn) {
          count++;
          // Its bound raises every shape's r above the baseline's alone.
          shiftRatios(baseline).forEach((rB, g) => {
            expect(pair.ratios[g]).toBeGreaterThanOrEqual(rB);
          });
        }
        // Unscreened: the baseline's bound, raised by what its windows surely show.
        else
          shiftRatios(baseline).forEach((rB, g) => {
            const tie = ((CANARY_SHIFT_PRIOR - 1) * lowerRatio(baseline, g)) / 2;
            expect(pair.ratios[g]).toBeCloseTo(rB + tie, 12);
          });
      }
      return count;
    };
    expect(screened(0.15, 12)).toBeGreaterThanOrEqual(85);
    expect(screened(0.1)).toBeGreaterThanOrEqual(60);
    expect(screened(0.05)).toBeLessThanOrEqual(3);
    // Fewer windows than the screen reads: the baseline's bound stands.
    expect(screened(0.3, SCREEN_WINDOWS - 1)).toBe(0);
    // Once found, kept: the release's earlier looks said so.
    const baseline = windows(5, 60, 1_000, 0.05).reduce(observeShiftWindow, initialOwnShift(SCORES));
    const calm = windows(6, 30, 1_000, 0.05).reduce(observeShiftWindow, initialOwnShift(SCORES));
    expect(pairRatios(baseline, calm, LOCATION, true).canaryOwn).toBe(true);
  });

  it('tells a canary whose level changed once (a regression starting mid-release) from one that scatters', () => {
    // Fifteen windows of 1,000 requests as the baseline moves (5% a window), then fifteen with the
    // median 25% slower: screened at any look of the thirty in 2 of 200 releases reading the
    // canary's windows about two levels, in 199 about one (its scatter is mostly the step). A
    // canary scattering twice as much, 162 and 169; one like the baseline, 2 and 0.
    const LOCATION = 1;
    const screenedAt = (spread: number, step: number, keepMeans: boolean) => {
      let count = 0;
      for (let s = 0; s < 200; s++) {
        const baseline = windows(1_000 + s, 60, 1_000, 0.05).reduce(
          observeShiftWindow,
          initialOwnShift(SCORES),
        );
        const ws = [
          ...windows(2_000 + s, 15, 1_000, spread),
          ...windows(3_000 + s, 15, 1_000, spread, 1, 100 * step),
        ];
        let canary = initialOwnShift(SCORES, LOCATION, keepMeans);
        for (const w of ws) {
          canary = observeShiftWindow(canary, w);
          if (pairRatios(baseline, canary, LOCATION).canaryOwn) {
            count++;
            break;
          }
        }
      }
      return count;
    };
    expect(screenedAt(0.05, 1.25, true)).toBeLessThanOrEqual(6);
    expect(screenedAt(0.05, 1.25, false)).toBeGreaterThanOrEqual(190);
    expect(screenedAt(0.1, 1, true)).toBeGreaterThanOrEqual(140);
    expect(screenedAt(0.05, 1, true)).toBeLessThanOrEqual(6);
  });

  it("holds the two-level screen's 99% point where the windows are independent normals", () => {
    // The best split's scatter over k standard normals exceeds χ²'s 99% point at twoLevelDof(k) in
    // about 1 draw in 100 for every k the screen reads (40–54 of 5,000 each); at the plain k − 2
    // degrees of freedom the screen would fire about a quarter as often (64 of 25,000 in all).
    const u = seededRandom(77);
    const normal = () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
    let plain = 0;
    let fitted = 0;
    for (const k of [3, 5, 10, 30, 120]) {
      let over = 0;
      for (let d = 0; d < 5_000; d++) {
        const scatter = twoLevelScatter(Array.from({ length: k }, normal));
        if (scatter > chiSquareQuantile(twoLevelDof(k), 0.99)) over++;
        if (scatter > chiSquareQuantile(Math.max(k - 2, 1), 0.99)) plain++;
      }
      expect(over).toBeGreaterThanOrEqual(30);
      expect(over).toBeLessThanOrEqual(75);
      fitted += over;
    }
    expect(plain).toBeLessThan(fitted / 2);
  });

  it('folds windows where shifts outlast them, and almost never where they do not', () => {
    const fold = (seed: number, hold: number, spread: number) => {
      const ws = windows(seed, 60, 1_000, spread, hold);
      const series = ws.map((w) => shiftWindow(w, SCORES[1] as number[]) as ShiftWindow);
      return shiftBlockFactor(
        series,
        withinVariance(ws.reduce(observeShiftWindow, initialOwnShift(SCORES)), 1),
      );
    };
    const held = Array.from({ length: 100 }, (_, s) => fold(100 + s, 6, 0.1));
    expect(held.filter((f) => f >= 6).length).toBeGreaterThanOrEqual(85);
    const fresh = Array.from({ length: 200 }, (_, s) => fold(300 + s, 1, 0.1));
    expect(fresh.filter((f) => f > 1).length).toBeLessThanOrEqual(8);
    const none = Array.from({ length: 200 }, (_, s) => fold(600 + s, 1, 0));
    expect(none.filter((f) => f > 1).length).toBeLessThanOrEqual(8);
    // Windows alike to the last request (hand-fed, or a replayed series): rounding is no persistence.
    const same = Array.from({ length: 30 }, (): ShiftWindow => [7, 0.3]);
    expect(shiftBlockFactor(same, 0.5)).toBe(1);
  });
  describe('stalls: a side far slower in a window now and then', () => {
    const LOCATION = 1;
    const screen = (ws: number[][]) => ws.reduce(observeShiftWindow, initialOwnShift(SCORES, LOCATION));
    /** The mean over windows of one window's e-value, `of` reading it from the shapes' log e-values. */
    const meanWindowE = (
      canary: number[][],
      baseline: number[][],
      ratios: number[],
      stalls: StallAllowance | undefined,
      of: (logE: number[]) => number,
    ) =>
      canary.reduce(
        (sum, c, i) =>
          sum + of(updateShapeTest(initialShapeTest(), SCORES, c, baseline[i] as number[], ratios, stalls)),
        0,
      ) / canary.length;

    it('counts them apart from the moments, so the Gaussian bound stays where the calm windows put it', () => {
      // Sixty windows of 1,000 requests, four of them twice as slow.
      const ws = stalling(21, 60, 1_000, 0).map((w, i) =>
        [10, 25, 40, 55].includes(i) ? (stalling(22 + i, 1, 1_000, 1)[0] as number[]) : w,
      );
      const screened = screen(ws);
      expect(screened.stalls).toBe(4);
      expect(screened.windows).toBe(56);
      expect(stallRate(screened)).toBeCloseTo(4.5 / 61, 10);
      const calm = shiftRatios(screen(stalling(21, 56, 1_000, 0)))[LOCATION] as number;
      expect(shiftRatios(screened)[LOCATION]).toBeLessThan(3 * calm + 1e-4);
      // Read into the moments (no screen), the stalls raise the bound many times over.
      expect(ratiosOf(ws)[LOCATION]).toBeGreaterThan(20 * (shiftRatios(screened)[LOCATION] as number));
    });

    it('finds none in calm windows or ones moving by a Gaussian 5%, and assumes none until one is seen', () => {
      let flagged = 0;
      for (let s = 0; s < 100; s++) {
        flagged += screen(stalling(300 + s, 60, 1_000, 0)).stalls ?? 0;
        flagged += screen(windows(500 + s, 60, 1_000, 0.05)).stalls ?? 0;
      }
      expect(flagged).toBeLessThanOrEqual(2);
      const calm = stalling(7, 60, 1_000, 0);
      expect(stallRate(screen(calm))).toBe(0);
      // One stall among them: the Jeffreys estimate, (1 + ½)/(60 + 1).
      const once = calm.map((w, i) => (i === 30 ? (stalling(8, 1, 1_000, 1)[0] as number[]) : w));
      expect(stallRate(screen(once))).toBeCloseTo(1.5 / 61, 10);
      // Not screening (the state has no stall shape): no rate, no cap.
      expect(stallRate(once.reduce(observeShiftWindow, initialOwnShift(SCORES)))).toBe(0);
    });

    it("keeps a good canary's window e-value at mean 1 where both sides stall, which the Gaussian allowance alone does not", () => {
      // 100 canary and 900 baseline requests a window (100 requests/s, a 10% canary), each side
      // twice as slow in 2% of windows; the allowance and the stall rate read from 2,000 of the
      // baseline's windows.
      const history = screen(stalling(31, 2_000, 900, 0.02));
      const ratios = shiftRatios(history);
      const rate = stallRate(history);
      expect(rate).toBeGreaterThan(0.01);
      expect(rate).toBeLessThan(0.03);
      const canary = stalling(32, 4_000, 100, 0.02);
      const baseline = stalling(33, 4_000, 900, 0.02);
      const variances = SCORES.map((a) => scoreVariance(REFERENCE, a));
      const meanE = (capped: boolean) =>
        meanWindowE(
          canary,
          baseline,
          ratios,
          capped ? { rate, variances } : undefined,
          (logE) => logE.reduce((t, l) => t + Math.exp(l), 0) / logE.length,
        );
      expect(meanE(true)).toBeLessThanOrEqual(1.1);
      expect(meanE(false)).toBeGreaterThan(10);
    });

    it('assumes a stall before one is seen, and divides away only the evidence a stall explains', () => {
      // Ten minutes of calm history (60 windows): no stall seen, one assumed at ½/61.
      const history = screen(stalling(41, 60, 1_000, 0));
      expect(stallRate(history)).toBe(0);
      const p = assumedStallRate(history);
      expect(p).toBeCloseTo(0.5 / 61, 10);
      const ratios = shiftRatios(history);
      const assumed = { rate: p, assumed: true } as const;
      const best = (c: number[], b: number[], stalls?: typeof assumed) =>
        shapeLogEValue(updateShapeTest(initialShapeTest(), SCORES, c, b, ratios, stalls));
      // One window of a 30% canary at 1,000 requests/s twice as slow: decisive as it was (the
      // mixture over shapes far past log 100), now under log(1/p) — no window of a stall decides.
      const baseline = stalling(42, 1, 7_000, 0)[0] as number[];
      const stalled = stalling(43, 1, 3_000, 1)[0] as number[];
      expect(best(stalled, baseline)).toBeGreaterThan(50);
      expect(best(stalled, baseline, assumed)).toBeLessThan(Math.log(1 / p));
      // A 25% slower window, which no stall 1.5× or slower explains, keeps nearly all of it.
      const slower = probabilities(125).map((q) => Math.round(3_000 * q));
      const plain = best(slower, baseline);
      expect(plain).toBeGreaterThan(2 * Math.log(100));
      expect(best(slower, baseline, assumed)).toBeGreaterThan(0.9 * plain);
      // Calm windows lose nothing: the divisor is 1 − p where no stall explains them.
      const calm = stalling(44, 1, 3_000, 0)[0] as number[];
      expect(best(calm, baseline, assumed)).toBeGreaterThanOrEqual(best(calm, baseline));
    });

    it("keeps a good canary's window e-value at mean 1 where its stalls come at the rate assumed", () => {
      // 300 canary and 700 baseline requests a window, the canary alone twice as slow in 1% of
      // them, the rate assumed 1%; without the division the stalls' payoff is unbounded.
      const history = screen(stalling(51, 60, 1_000, 0));
      const ratios = shiftRatios(history);
      const canary = stalling(52, 4_000, 300, 0.01);
      const baseline = stalling(53, 4_000, 700, 0);
      const meanE = (stalls?: StallAllowance) =>
        meanWindowE(canary, baseline, ratios, stalls, (logE) => Math.exp(shapeLogEValue(logE)));
      expect(meanE({ rate: 0.01, assumed: true })).toBeLessThanOrEqual(1.1);
      expect(meanE()).toBeGreaterThan(10);
    });
  });
});
