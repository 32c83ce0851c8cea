import { logWeightedSumExp } from './log-sum-exp.ts';

/**
 * The anytime-valid test of "the canary's bad-event rate is at most (1 + tolerance) times the
 * baseline's", for counts observed window by window under a changing traffic split.
 *
 * Condition on where bad events land: with a canary share ρ of requests in a window, a bad event
 * comes from the canary with probability θ = ρr / (ρr + 1 − ρ), r being the ratio of the two
 * rates. Under the null (r ≤ 1 + m) that probability is at most ρ₀ = θ(r = 1 + m). Each
 * alternative r_k on a fixed grid gets a likelihood ratio, multiplied across windows; the
 * e-value is their equal-weight average (products first, then the average — not the reverse),
 * which is an e-process under the null, so by Ville's inequality the chance it ever reaches
 * 1/α is at most α however often it is looked at.
 */

/** Multiples of (1 + tolerance) the test has power against; fixed before the canary starts. */
export const RATE_GRID: readonly number[] = [1.25, 1.5, 2, 3, 5, 10];

export interface WindowCounts {
  canaryTotal: number;
  canaryBad: number;
  baselineTotal: number;
  baselineBad: number;
}

/** One log likelihood ratio per grid point. Starts at zeros (e-value 1). */
export type RateTestState = number[];

export function initialRateTest(): RateTestState {
  return RATE_GRID.map(() => 0);
}

/** Folds one window's counts into the test. Windows with no traffic on a side carry no evidence. */
export function updateRateTest(state: RateTestState, w: WindowCounts, tolerance: number): RateTestState {
  const n = w.canaryTotal + w.baselineTotal;
  const bad = w.canaryBad + w.baselineBad;
  if (w.canaryTotal <= 0 || w.baselineTotal <= 0 || bad <= 0 || n <= 0) return state;
  const rho = w.canaryTotal / n;
  const oddsAt = (r: number) => (rho * r) / (rho * r + 1 - rho);
  const rho0 = oddsAt(1 + tolerance);
  const ec = Math.min(Math.max(w.canaryBad, 0), w.canaryTotal);
  const eb = Math.min(Math.max(w.baselineBad, 0), w.baselineTotal);
  return state.map((logL, k) => {
    const theta = oddsAt((1 + tolerance) * (RATE_GRID[k] as number));
    return logL + ec * Math.log(theta / rho0) + eb * Math.log((1 - theta) / (1 - rho0));
  });
}

/** log of the e-value: the average of the grid's likelihood ratios. */
export function rateLogEValue(state: RateTestState): number {
  const w = 1 / state.length;
  return logWeightedSumExp(
    state,
    state.map(() => w),
  );
}
