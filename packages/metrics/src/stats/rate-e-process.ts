import { logWeightedSumExp } from './log-sum-exp.ts';

/**
 * The anytime-valid test of "the canary's bad-event rate is at most (1 + tolerance) times the
 * baseline's", for counts observed window by window under a changing traffic split.
 *
 * Condition on where bad events land: with a canary share ρ of requests in a window, a bad event
 * comes from the canary with probability θ = ρr / (ρr + 1 − ρ), r being the ratio of the two
 * rates. Under the null (r ≤ 1 + m) that probability is at most ρ₀ = θ(r = 1 + m). Each
 * alternative r_k on a fixed grid gets a likelihood ratio, multiplied across windows; the
 * e-value is their weighted average (products first, then the average — not the reverse),
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

/**
 * Bad events per request beyond what `expected` explains, read as an outage adding the same errors
 * to both sides: the excess over two Poisson deviations and 3 more, so chance at any count is not
 * an outage. Used by the test (`windowShares`) and by the dispersion fit alike.
 */
export function outageExcess(bad: number, expected: number, requests: number): number {
  return Math.max(0, bad - expected - 2 * Math.sqrt(expected) - 3) / requests;
}

/**
 * Where a window's bad events land under the null (ρ₀) and under each grid point (θ_k). Given
 * `rate`, the baseline's bad-event rate known before the window, a window whose bad events exceed
 * what the grid point expects is read as an outage adding the same errors to both sides (a failing
 * dependency): the excess a (per request, less two Poisson deviations) joins both rates, which
 * moves θ_k towards ρ₀ — such a window says little about the canary, where a multiplicative test
 * would read its errors landing by the traffic split as strong evidence against every regression.
 * a depends only on the window's total of bad events, and given that total the split is all the
 * test weighs: the guarantee is unchanged. Without `rate`, a is 0.
 */
export function windowShares(
  w: WindowCounts,
  tolerance: number,
  rate?: number,
): { rho0: number; theta: number[] } {
  const n = w.canaryTotal + w.baselineTotal;
  const rho = w.canaryTotal / n;
  const bad = Math.max(0, w.canaryBad) + Math.max(0, w.baselineBad);
  const share = (r: number) => {
    let extra = 0;
    if (rate !== undefined && rate > 0) {
      const expected = w.canaryTotal * Math.min(1, rate * r) + w.baselineTotal * Math.min(1, rate);
      extra = outageExcess(bad, expected, n);
    }
    const pc = (rate ?? 1) * r + extra;
    const pb = (rate ?? 1) + extra;
    return (rho * pc) / (rho * pc + (1 - rho) * pb);
  };
  return {
    rho0: share(1 + tolerance),
    theta: RATE_GRID.map((multiple) => share((1 + tolerance) * multiple)),
  };
}

/** A window's bad events per side, within [0, requests] (a counter glitch cannot exceed its requests). */
export function badEvents(w: WindowCounts): { ec: number; eb: number } {
  return {
    ec: Math.min(Math.max(w.canaryBad, 0), w.canaryTotal),
    eb: Math.min(Math.max(w.baselineBad, 0), w.baselineTotal),
  };
}

/**
 * Folds one window's counts into the test. Windows with no traffic on a side carry no evidence.
 * `temper` (one η in (0, 1] per grid point, from `temperings`) scales the window's log ratios;
 * `rate` (the baseline's bad-event rate before the window) reads outages on both sides as such
 * (`windowShares`).
 */
export function updateRateTest(
  state: RateTestState,
  w: WindowCounts,
  tolerance: number,
  temper?: readonly number[],
  rate?: number,
): RateTestState {
  const n = w.canaryTotal + w.baselineTotal;
  const bad = w.canaryBad + w.baselineBad;
  if (w.canaryTotal <= 0 || w.baselineTotal <= 0 || bad <= 0 || n <= 0) return state;
  const { rho0, theta } = windowShares(w, tolerance, rate);
  const { ec, eb } = badEvents(w);
  return state.map((logL, k) => {
    const t = theta[k] as number;
    const eta = temper?.[k] ?? 1;
    return logL + eta * (ec * Math.log(t / rho0) + eb * Math.log((1 - t) / (1 - rho0)));
  });
}

/**
 * How much of a window's evidence counts when rates vary beyond Poisson with variance `c` (see
 * stats/dispersion.ts): per grid point, the largest η ≤ 1 for which the window's likelihood ratio
 * raised to η has mean at most 1 when the canary sits at the null's boundary and each side's bad
 * events are gamma-mixed Poisson (negative binomial) with mean λ̂ = requests × `rate` (× (1 + m)
 * for the canary). With c = 0 every η is 1 and the test is the Poisson one. η depends only on the
 * window's request counts, its total of bad events (given as `w`'s bad counts, to read an outage
 * as `windowShares` does) and earlier windows — never on where the bad events landed — so under
 * Poisson any η ≤ 1 keeps the guarantee (given the total, E[LR^η] ≤ E[LR]^η = 1); under extra
 * variation it restores it as far as c and the rate are estimated well.
 */
export function temperings(
  w: Pick<WindowCounts, 'canaryTotal' | 'baselineTotal'> | WindowCounts,
  tolerance: number,
  c: number,
  rate: number | undefined,
  /**
   * The η per grid point for a smaller c, if known: η only falls as c grows (the gamma mixture's
   * cumulant generating function grows with c), so the root is searched for below it.
   */
  atMost?: readonly number[],
): number[] {
  if (!(c > 0) || rate === undefined || !(rate > 0) || w.canaryTotal <= 0 || w.baselineTotal <= 0) {
    return RATE_GRID.map(() => 1);
  }
  // Given the window's bad events, the shares the test will weigh (an outage read as such).
  const counted = 'canaryBad' in w && 'baselineBad' in w;
  const { rho0, theta } = windowShares(
    counted ? (w as WindowCounts) : { ...w, canaryBad: 0, baselineBad: 0 },
    tolerance,
    counted ? rate : undefined,
  );
  const lambdaC = w.canaryTotal * Math.min(1, rate * (1 + tolerance));
  const lambdaB = w.baselineTotal * Math.min(1, rate);
  // Cumulant generating function of a gamma-mixed Poisson count of mean λ at u, and its slope in u.
  const cgf = (lambda: number, u: number) => {
    const inner = 1 - c * lambda * Math.expm1(u);
    return inner <= 0 ? Number.POSITIVE_INFINITY : -Math.log(inner) / c;
  };
  const cgfSlope = (lambda: number, u: number) => (lambda * Math.exp(u)) / (1 - c * lambda * Math.expm1(u));
  return RATE_GRID.map((_, k) => {
    const t = theta[k] as number;
    const up = Math.log(t / rho0);
    const down = Math.log((1 - t) / (1 - rho0));
    const excess = (eta: number) => cgf(lambdaC, eta * up) + cgf(lambdaB, eta * down);
    const top = Math.min(1, atMost?.[k] ?? 1);
    if (excess(top) <= 0) return top;
    return largestRoot(
      excess,
      (eta) => up * cgfSlope(lambdaC, eta * up) + down * cgfSlope(lambdaB, eta * down),
      top,
    );
  });
}

/**
 * The largest η in (0, `top`) with f(η) ≤ 0, for f convex, zero at 0, falling there and above 0 at
 * `top` (possibly infinite): Newton's method from above, whose steps stay at or above the root of
 * a convex function, bisecting while f is infinite; the answer is a point checked to have f ≤ 0,
 * within 1e-9 of the root. Bisection takes 30 evaluations for that; this about 6.
 */
function largestRoot(f: (eta: number) => number, slope: (eta: number) => number, top: number): number {
  let lo = 0;
  let hi = top;
  let fHi = f(hi);
  for (let i = 0; i < 100 && hi - lo > 1e-9; i++) {
    let next = (lo + hi) / 2;
    let converged = false;
    if (Number.isFinite(fHi)) {
      const d = slope(hi);
      const newton = hi - fHi / d;
      // Converged from above: try just below the root.
      converged = d > 0 && hi - newton < 1e-10;
      if (converged) next = Math.max(lo, hi - 1e-9);
      else if (d > 0 && newton > lo && newton < hi) next = newton;
    }
    const fNext = f(next);
    if (fNext <= 0) {
      lo = next;
      if (converged) break;
    } else {
      hi = next;
      fHi = fNext;
    }
  }
  return lo;
}

/**
 * The grid's weights in the mixture: most on the small ratios, whose evidence comes slowly and
 * costs the most bad requests; a large ratio's evidence piles up within a look or two, so a
 * small weight delays it little. Chosen with the detection benchmark's tuning seeds
 * (docs/decisions.md, "Defaults from the benchmark"): against equal weights the worst cost
 * relative to the two-sample oracle fell from 1.81× to 1.50×.
 */
export const RATE_WEIGHTS: readonly number[] = [4, 4, 4, 2, 1, 1].map((w) => w / 16);

/** log of the e-value: the weighted average of the grid's likelihood ratios. */
export function rateLogEValue(state: RateTestState): number {
  return logWeightedSumExp(state, RATE_WEIGHTS as number[]);
}
