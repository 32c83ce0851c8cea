import { logWeightedSumExp } from './log-sum-exp.ts';
import {
  initialRateTest,
  type RateTestState,
  rateLogEValue,
  temperings,
  updateRateTest,
  type WindowCounts,
} from './rate-e-process.ts';
import { SPLIT_NULL_GRID, type SplitTestState, splitLogEValues } from './split-e-process.ts';

/**
 * The tempered test and the split test paired level by level of the canary's own variation, so
 * that each is held back only by the levels the other has not ruled out.
 *
 * Both tests weigh where bad events land, and each guards in its own way against a good canary
 * bursting on its own. The tempered test (rate-e-process.ts) shrinks every window's evidence by an
 * upper bound ĉ on the own variation estimated from the data (stats/dispersion.ts); the split test
 * (split-e-process.ts) divides by the likeliest null over every level. Averaged whole, each paid
 * for the levels the other needed: under bursts both sides share, ĉ stays near the history's whole
 * variation for minutes at 100 requests/s (a few bad events a window cannot tell shared from own),
 * so the tempered half was tempered against bursts the split test's data had already ruled out.
 *
 * Paired: for each level c_j of the split test's grid, T_j is the rate test tempered at
 * min(c_j, ĉ) in each window and S_j the split test against the null at c_j alone; the e-value is
 * the smallest over j of (T_j + S_j) / 2. If the canary's own variation is a level c₀ = c_j₀ and
 * ĉ ≥ c₀ in every window — the condition the tempered test already stands on — then T_j₀ is
 * tempered at c₀ exactly (a test supermartingale for gamma-mixed counts of known means) and S_j₀ is
 * the likelihood ratio against the true null (a test martingale): their average is a test
 * supermartingale, the smallest over j is at most it, and Ville's inequality bounds the chance of
 * ever reaching 1/α by α. Where ĉ falls below c₀, T_j₀ is tempered at ĉ there, as the single
 * tempered test was; the split half still holds. Bursts both sides share move each window's means,
 * which the tempering takes as known: there the tempered half holds only as far as ĉ has room above
 * c₀, as it did before the pairing (measured alike: test/split-e-process.test.ts).
 *
 * Against the average it replaces, each T_j is tempered no more than the tempered test and each S_j
 * is at least the split test's value; measured, it costs less under shared bursts and the same
 * elsewhere (docs/decisions.md, BENCHMARKS.md). Every level, not bands of them: with ten bands of
 * two levels the gain under shared CV 0.5 at 100 requests/s was gone.
 */

/** One tempered rate test per level of SPLIT_NULL_GRID. */
export type PairedTestState = RateTestState[];

/**
 * A fresh pairing, or one taking over a release whose judge ran the single tempered test: every
 * level starts from that test's value, whose windows were tempered at ĉ ≥ min(c_j, ĉ) — at least
 * as much as each level needs, which keeps each T_j a supermartingale under the same condition.
 */
export function initialPairedTest(from?: RateTestState): PairedTestState {
  return SPLIT_NULL_GRID.map(() => [...(from ?? initialRateTest())]);
}

/**
 * Folds one window in: level j tempered at min(c_j, `bound`), `bound` being the tempered test's
 * upper bound on own variation before this window. Levels at or above the bound share one
 * tempering.
 */
export function updatePairedTest(
  state: PairedTestState,
  w: WindowCounts,
  tolerance: number,
  bound: number,
  rate: number | undefined,
): PairedTestState {
  // A window with no bad events or no traffic on a side moves no level (as updateRateTest).
  if (w.canaryTotal <= 0 || w.baselineTotal <= 0 || w.canaryBad + w.baselineBad <= 0) return state;
  // Levels ascend, so each level's η bounds the next one's search from above.
  let last: { c: number; eta: number[] } | undefined;
  return SPLIT_NULL_GRID.map((level, j) => {
    const c = Math.min(level, bound);
    if (last?.c !== c) last = { c, eta: temperings(w, tolerance, c, rate, last?.eta) };
    return updateRateTest(state[j] ?? initialRateTest(), w, tolerance, last.eta, rate);
  });
}

/** log of the e-value: the smallest over levels of the average of the two tests at that level. */
export function pairedLogEValue(paired: PairedTestState, split: SplitTestState): number {
  const s = splitLogEValues(split);
  return Math.min(
    ...SPLIT_NULL_GRID.map((_, j) =>
      logWeightedSumExp([rateLogEValue(paired[j] ?? initialRateTest()), s[j] as number], [0.5, 0.5]),
    ),
  );
}
