import { splitCorrelation, splitLogLikelihood } from './dispersion.ts';
import { logWeightedSumExp } from './log-sum-exp.ts';
import { badEvents, RATE_GRID, RATE_WEIGHTS, type WindowCounts, windowShares } from './rate-e-process.ts';

/**
 * The rate test against every level of the canary's own variation at once, for bursts the two
 * sides share.
 *
 * The tempered test (rate-e-process.ts) weighs a window's evidence by how much the canary's own
 * bursts could account for, with a bound on them estimated from the baseline; where the baseline's
 * history is bursty it cannot tell its own bursts from ones both sides share, and the bound stays
 * high for minutes. This test needs no bound: given a window's bad events B, the canary's part is,
 * under the null, beta-binomial around its share ρ₀ with an intra-window correlation set by the
 * canary's own variation c (2·c·ρ₀(1 − ρ₀), as stats/dispersion.ts models it; c = 0 is binomial,
 * and a burst both sides share leaves it binomial). The e-value is the grid's binomial likelihood
 * (no own variation: the regression the test looks for) over the *largest* null likelihood over c,
 * every window at one c — universal inference (Wasserman, Ramdas and Balakrishnan, "Universal
 * inference", PNAS 2020): under any null in the family the denominator is at least the true
 * likelihood, so the ratio is at most a test martingale's and Ville's inequality holds. Shared
 * bursts keep the splits binomial, which the largest-over-c soon prefers, and the test runs near
 * the Poisson one; a canary bursting on its own is mostly left to the tempered test (the judge
 * pairs the two level by level of own variation: paired-e-process.ts).
 *
 * The regression may burst on its own a little too: a quarter of the alternative's weight is on
 * splits with own variation of CV 0.3 (OWN_ALTERNATIVES). Where shared bursts and a little own
 * variation come together the binomial alternative fits the regression's splits badly and the
 * tempered test is held back by the shared bursts in the baseline's history: at 1,000 requests/s
 * the judge paid 4.7× the floor there (BENCHMARKS.md), 2.1× with it. Own variation up to CV 0.3
 * only: the beta-binomial is the true law's approximation, and the closer the numerator fits what
 * the null family misdescribes, the more the ratio can grow under the null (an alternative up to
 * CV 1 rolled back 5% of good canaries at 1,000 requests/s).
 */

/**
 * The alternative's own variation (CV) and its share of the weight: mostly none, as regressions are.
 * Exported so the detection benchmark prices exactly these alternatives.
 */
export const OWN_ALTERNATIVES: ReadonlyArray<{ readonly cv: number; readonly weight: number }> = [
  { cv: 0, weight: 0.75 },
  { cv: 0.3, weight: 0.25 },
];
const ALTERNATIVES = OWN_ALTERNATIVES.flatMap(({ cv, weight }) =>
  RATE_GRID.map((_, k) => ({ k, c: cv * cv, weight: weight * (RATE_WEIGHTS[k] as number) })),
);
const ALTERNATIVE_WEIGHTS = ALTERNATIVES.map((a) => a.weight);

/** CVs of the canary's own variation the null ranges over (c = CV²), 0 to 1.6 as the dispersion grid. */
const OWN_CVS = [
  0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.15, 1.3, 1.45, 1.6,
];
export const SPLIT_NULL_GRID: readonly number[] = OWN_CVS.map((cv) => cv * cv);

export interface SplitTestState {
  /** Per alternative (RATE_GRID × OWN_ALTERNATIVES): log likelihood of the splits over the binomial null at ρ₀. */
  alternative: number[];
  /**
   * The same alternatives with each outage window (`updateSplitTest`'s `outageRate`) read as errors
   * added to both sides; absent until the first such window (until then equal to `alternative`).
   */
  outage?: number[];
  /** Per c (SPLIT_NULL_GRID): log likelihood of the splits under the null at c over the binomial null. */
  nulls: number[];
}

export function initialSplitTest(): SplitTestState {
  return { alternative: ALTERNATIVES.map(() => 0), nulls: SPLIT_NULL_GRID.map(() => 0) };
}

/**
 * Folds one window in. The shares are the multiplicative model's: a burst both sides share
 * multiplies both rates, and reading its excess as errors added to both would pull every θ_k back
 * towards ρ₀. Where the baseline's history shows outages over quiet traffic, the caller passes
 * `outageRate` (the baseline's rate) for a window over the outage cut, and the window is read both
 * ways, each reading kept over the whole run: as errors added to both sides (`windowShares`, which
 * puts the canary's share of them nearer its share of requests) and as a shared burst. The two are
 * averaged at the end with OUTAGE_READING on the first, so a wrong reading costs a bounded factor
 * once instead of evidence window after window. The outage reading's shares are never below ρ₀, so
 * each reading's likelihood ratio grows with the canary's part and the null's boundary stays the
 * worst case; both depend only on the window's total of bad events, so the null is unchanged.
 */
export function updateSplitTest(
  state: SplitTestState,
  w: WindowCounts,
  tolerance: number,
  outageRate?: number,
): SplitTestState {
  const bad = w.canaryBad + w.baselineBad;
  if (w.canaryTotal <= 0 || w.baselineTotal <= 0 || bad <= 0) return state;
  const { rho0, theta } = windowShares(w, tolerance);
  const { ec, eb } = badEvents(w);
  const binomial = splitLogLikelihood(ec, ec + eb, rho0, 0);
  const fold = (shares: readonly number[], prior: readonly number[]) =>
    prior.map((l, i) => {
      const { k, c } = ALTERNATIVES[i] as { k: number; c: number };
      const t = shares[k] as number;
      return l + splitLogLikelihood(ec, ec + eb, t, splitCorrelation(c, t)) - binomial;
    });
  const before = alternativesOf(state);
  const added =
    outageRate === undefined
      ? undefined
      : windowShares(w, tolerance, outageRate).theta.map((t) => Math.max(t, rho0));
  const outage = added || state.outage ? fold(added ?? theta, state.outage ?? before) : undefined;
  return {
    alternative: fold(theta, before),
    ...(outage ? { outage } : {}),
    nulls: state.nulls.map(
      (l, i) =>
        l +
        splitLogLikelihood(ec, ec + eb, rho0, splitCorrelation(SPLIT_NULL_GRID[i] as number, rho0)) -
        binomial,
    ),
  };
}

/** The weight of the outage reading, once a window has been read both ways. */
const OUTAGE_READING = 0.9;

/**
 * The alternatives' log likelihoods, from a state saved before the own-variation alternatives
 * existed too (a release resumed across an upgrade): a missing one takes its binomial twin's value,
 * i.e. its law is binomial for the windows before and beta-binomial after — still a law fixed
 * before the data, so the e-value stays one.
 */
function alternativesOf(state: SplitTestState): number[] {
  if (state.alternative.length === ALTERNATIVES.length) return state.alternative;
  return ALTERNATIVES.map(({ k }, i) => state.alternative[i] ?? state.alternative[k] ?? 0);
}

/**
 * Per level of own variation (SPLIT_NULL_GRID), log of the likelihood ratio against the null at
 * that level alone: the alternatives' weighted average over that null. Each is a test martingale
 * when the canary's own variation is that level.
 */
export function splitLogEValues(state: SplitTestState): number[] {
  const multiplied = logWeightedSumExp(alternativesOf(state), ALTERNATIVE_WEIGHTS);
  const alternative = state.outage
    ? logWeightedSumExp(
        [multiplied, logWeightedSumExp(state.outage, ALTERNATIVE_WEIGHTS)],
        [1 - OUTAGE_READING, OUTAGE_READING],
      )
    : multiplied;
  return state.nulls.map((l) => alternative - l);
}

/** log of the e-value: the alternatives' weighted average over the likeliest null. */
export function splitLogEValue(state: SplitTestState): number {
  return Math.min(...splitLogEValues(state));
}
