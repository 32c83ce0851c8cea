import { normalQuantile } from './normal.ts';
import { foldFactor } from './persistence.ts';

/**
 * How far a side's latency moves on its own from window to window, beyond what sampling its
 * requests explains — and the allowance the shape test makes for it.
 *
 * The shape test (shape-e-process.ts) is a permutation test per window: exact when, within a
 * window, the canary's requests and the baseline's are draws from one distribution. Real pods are
 * not: a pod on a busy node, a GC cycle, a cache refill makes one side 5–10% slower for a while.
 * Each window then leans one way by chance, and a test that weighs every request as its own
 * evidence adds those leans up like a regression's (good canaries rolled back 10–87% of the time
 * at 100 and 1,000 requests/s, a side's median moving by a CV of 5–10%; docs/decisions.md).
 *
 * The model: in window w, side s's mean score (for one shape's scores a) is the baseline's plus an
 * own shift u_{s,w}, independent between windows and sides, mean 0, variance τ². Given the pooled
 * requests, the canary's score sum then exceeds its permutation mean by n_eff·(u_C − u_B) on top of
 * the permutation noise, n_eff = n_C·n_B/(n_C + n_B). For u Gaussian,
 *   e = exp(λ·Σ_canary a) / (E_perm[exp(λ·Σ_draw a)] · exp(λ²·n_eff²·τ²))
 * has mean 1 under the null. λ = 1 is the likelihood ratio, the right bet without own shifts; with
 * them the window's evidence is worth less the more requests it holds, and the bet that grows
 * fastest under the alternative is λ = 1 / (1 + 2·n_eff·r), r = τ²/σ² (σ² a request's score
 * variance): a shift then counts as 1/r requests' worth of evidence, not n_eff.
 *
 * τ² is read from the baseline's windows (its history, then every look of the release): the
 * variance of the windows' mean scores beyond their sampling variance, bounded above at 99%
 * (a chi-square bound on the windows' variance, as the random-effects literature does; e.g.
 * Searle, Casella & McCulloch, "Variance Components", 1992, §3.5). The canary's own shifts are
 * assumed no larger than the baseline's until its own windows (the release's) show otherwise: a
 * canary on fewer pods averages fewer pods' wobbles, and one whose windows vary more than the
 * baseline's bound allows (a chi-square test at 1%, `pairRatios`) is allowed its own 99% bound.
 * The allowance is then for u_C − u_B of variance τ_B² + τ_C², so r is the mean of the sides'.
 * Shifts that last longer than a window (a pod slow for a minute, or its tail wider for one) lean
 * several windows the same way: where the history shows them in a location shape's window means or
 * a spread shape's, the judge folds that many windows into one (`shiftBlockFactor`, the error
 * judge's rule, stats/persistence.ts) and reads the moments over folds.
 *
 * Stalls: a Gaussian is a poor model of a pod's rare long pause (a side twice as slow in one window
 * of fifty). Its variance spreads the pause thinly over every window, and one stalled canary window
 * then reads as a regression of its size. Windows whose mean moves more than STALL_Z standard errors
 * of the Gaussian's (sampling plus its bound) are counted as stalls and kept out of the moments; the
 * baseline's rate of them bounds how much any one window may count (stats/stall-cap.ts).
 */

/** Moments of the baseline windows' mean scores, per shape. Plain numbers: the judge's JSON state. */
export interface OwnShiftState {
  /** The scores the windows are read with, fixed at the first look. */
  scores: number[][];
  /** Windows read. */
  windows: number;
  /** Per shape: Σ window mean, Σ window mean², Σ sampling variance of the mean. */
  sum: number[];
  sumSq: number[];
  sampling: number[];
  /** Per shape: Σ within-window squared deviations, and their degrees of freedom (pooled σ²). */
  within: number[];
  dof: number;
  /** The shape whose window means are screened for stalls (absent: none are). */
  stallShape?: number;
  /** Windows screened out as stalls: counted here, not read into the moments above. */
  stalls?: number;
  /**
   * Per shape, the window means in order (the last MAX_MEANS), where kept: the canary's, so its
   * screen and its own bound can tell a level that changed once (a regression starting
   * mid-release) from windows that scatter (`scatterOf`).
   */
  means?: number[][];
}

/**
 * Fewest windows whose bound is used; before, PRIOR_RATIO. A few windows of a shift held longer
 * than a window look alike and so bound it far too low: taking the smaller of the prior and their
 * bound from three windows on rolled back more good canaries without history under shifts held a
 * minute (docs/decisions.md).
 */
export const MIN_WINDOWS = 10;
/**
 * r assumed before MIN_WINDOWS windows: a shift worth 20 requests, about what a median moving by a
 * CV of 13% costs the location shapes at σ = 0.6.
 */
export const PRIOR_RATIO = 0.05;
/** Windows with fewer requests say too little about their mean to be read. */
const MIN_REQUESTS = 2;

/** Window means kept per shape, at most (20 minutes of 10 s looks; the moments keep every window). */
const MAX_MEANS = 120;

/**
 * `stallShape`: the shape whose window means are screened for stalls (a location shape's); with
 * `keepMeans`, every shape's window means are kept too (the canary's, for its screen and bound).
 */
export function initialOwnShift(
  scores: readonly (readonly number[])[],
  stallShape?: number,
  keepMeans = false,
): OwnShiftState {
  const zeros = scores.map(() => 0);
  return {
    scores: scores.map((a) => [...a]),
    windows: 0,
    sum: zeros,
    sumSq: [...zeros],
    sampling: [...zeros],
    within: [...zeros],
    dof: 0,
    ...(stallShape === undefined ? {} : { stallShape, stalls: 0 }),
    ...(keepMeans ? { means: scores.map(() => []) } : {}),
  };
}

/**
 * Standard errors (sampling plus the Gaussian's 99% bound) beyond which a window's mean is a
 * stall. A normal mean crosses it in 6 of 10⁵ windows, fewer under the bound's width; a side twice
 * as slow crosses it from 100 requests/s up.
 */
export const STALL_Z = 4;
/** Windows read before any is screened: the mean they are measured from needs a few. */
const STALL_WINDOWS = 3;

/** Folds one window's requests per bucket into the moments, or counts it as a stall. */
export function observeShiftWindow(state: OwnShiftState, counts: readonly number[]): OwnShiftState {
  const n = counts.reduce((s, c) => s + c, 0);
  if (n < MIN_REQUESTS) return state;
  const reads = state.scores.map((a) => {
    const mean = counts.reduce((s, c, k) => s + c * (a[k] as number), 0) / n;
    return { mean, ss: counts.reduce((s, c, k) => s + c * ((a[k] as number) - mean) ** 2, 0) };
  });
  const within = state.within.map((w, g) => w + (reads[g]?.ss as number));
  const dof = state.dof + n - 1;
  if (stalled(state, reads, n)) return { ...state, within, dof, stalls: (state.stalls ?? 0) + 1 };
  const means = state.means?.map((m, g) => [...m, reads[g]?.mean as number].slice(-MAX_MEANS));
  return {
    ...state,
    ...(means ? { means } : {}),
    windows: state.windows + 1,
    sum: state.sum.map((v, g) => v + (reads[g]?.mean as number)),
    sumSq: state.sumSq.map((v, g) => v + (reads[g]?.mean as number) ** 2),
    sampling: state.sampling.map((v, g) => v + (reads[g]?.ss as number) / (n - 1) / n),
    within,
    dof,
  };
}

/** Whether a window's mean for the screened shape is STALL_Z standard errors from the windows'. */
function stalled(state: OwnShiftState, reads: readonly { mean: number; ss: number }[], n: number): boolean {
  const g = state.stallShape;
  // A mean of a few requests is far from normal: its tail crosses STALL_Z by itself (at 1 request/s
  // such windows were counted as stalls and the cap cost a ×1.25 median 0.6 points of power).
  if (g === undefined || n < SCREEN_REQUESTS || state.windows < STALL_WINDOWS || !(state.dof > 0))
    return false;
  const read = reads[g] as { mean: number; ss: number };
  const sigma2 = withinVariance(state, g);
  const spread = read.ss / (n - 1) / n + shiftRatio(state, g) * sigma2;
  const mean = (state.sum[g] as number) / state.windows;
  return spread > 0 && Math.abs(read.mean - mean) > STALL_Z * Math.sqrt(spread);
}

/** Most a stall rate is taken to be: from a stall among few windows the estimate is wide, and this bounds its cost. */
export const MAX_STALL_RATE = 0.1;

/**
 * Half a stall and half a calm window added to those counted: the Jeffreys estimate of a rate,
 * (k + ½)/(n + 1), once the baseline has stalled at all (and the cap of stall-cap.ts allows for
 * stalls of any form). Until then one is assumed at k = 0 (`assumedStallRate`) and allowed for by
 * dividing away what a stall explains, which a window no stall explains does not pay; the cap, paid
 * by every window, cost too much there (docs/decisions.md).
 */
export const STALL_PRIOR = 0.5;

/**
 * The chance a window stalls, from the windows screened, at most MAX_STALL_RATE; 0 until one
 * stalled, and where none are screened.
 */
export function stallRate(state: OwnShiftState): number {
  if (state.stallShape === undefined) return 0;
  const k = state.stalls ?? 0;
  if (k === 0) return 0;
  return Math.min(MAX_STALL_RATE, (k + STALL_PRIOR) / (state.windows + k + 2 * STALL_PRIOR));
}

/**
 * The chance a window stalls where none has been seen among the windows screened: the same
 * Jeffreys estimate with no stall counted, ½/(n + 1), at most MAX_ASSUMED_STALL_RATE; 0 where none are
 * screened. Ten minutes of 10 s windows without one still leave a stall in 2% of them likely, and
 * one stalled canary window read as a regression rolled back 11–16% of such good canaries; this
 * allows for one while dividing away only the evidence a stall explains (shape-e-process.ts).
 */
export function assumedStallRate(state: OwnShiftState): number {
  if (state.stallShape === undefined) return 0;
  return Math.min(
    MAX_ASSUMED_STALL_RATE,
    STALL_PRIOR / (state.windows + (state.stalls ?? 0) + 2 * STALL_PRIOR),
  );
}

/**
 * Most a stall not yet seen is taken to be: one window in a hundred. From fewer than 49 windows
 * (no history) the estimate is wider, and at MAX_STALL_RATE a window of any large regression would
 * count at most log 10 (a regression far past any stall still decides in two looks at 1%).
 */
export const MAX_ASSUMED_STALL_RATE = 0.01;

/**
 * The p point of chi-square with k degrees of freedom (Wilson–Hilferty; below ~5 degrees of
 * freedom its lower points are too low, so bounds built on them err wide).
 */
export function chiSquareQuantile(k: number, p: number): number {
  const z = normalQuantile(p);
  const c = 2 / (9 * k);
  return k * Math.max(0, 1 - c + z * Math.sqrt(c)) ** 3;
}

/**
 * Per shape, r = τ²/σ²: a side's own shift variance (99% upper bound) over a request's score
 * variance; PRIOR_RATIO until MIN_WINDOWS windows are read.
 */
export function shiftRatios(state: OwnShiftState): number[] {
  return state.scores.map((_, g) => shiftRatio(state, g));
}

/** r for shape g: PRIOR_RATIO until MIN_WINDOWS windows are read, then their 99% bound. */
const shiftRatio = (state: OwnShiftState, g: number): number =>
  state.windows < MIN_WINDOWS || state.dof <= 0 ? PRIOR_RATIO : upperRatio(state, g);

/** The windows' mean-score variance, their mean sampling variance and σ², for shape g. */
function windowMoments(state: OwnShiftState, g: number) {
  const w = state.windows;
  const mean = (state.sum[g] as number) / w;
  return {
    variance: Math.max(0, ((state.sumSq[g] as number) - w * mean * mean) / (w - 1)),
    sampling: (state.sampling[g] as number) / w,
    sigma2: state.dof > 0 ? (state.within[g] as number) / state.dof : 0,
  };
}

/**
 * The windows' scatter for shape g and its degrees of freedom: about their mean (k − 1), or, where
 * the window means are kept, about two levels split where that scatter is least (`twoLevelDof`).
 * A regression that starts mid-release (a step up in weight bringing the load that breaks it)
 * moves every later window by the same amount, which about one level reads as scatter: the
 * canary's screen fired at the onset, gave up the evidence and allowed the regression for own
 * shifts (a 25% slower median starting 2 minutes in at 100 requests/s cost ~200 slow requests
 * instead of ~6; docs/decisions.md).
 */
function scatterOf(state: OwnShiftState, g: number, levels: 1 | 2): { scatter: number; dof: number } {
  const means = state.means?.[g];
  if (means && levels === 2) return { scatter: twoLevelScatter(means), dof: twoLevelDof(means.length) };
  const { variance } = windowMoments(state, g);
  return { scatter: (state.windows - 1) * variance, dof: state.windows - 1 };
}

/**
 * The windows' mean-score variance beyond sampling, its 99% upper bound, over σ²: where the window
 * means are kept, the lesser of the bounds about one level and about two. The second needs more
 * windows to say anything (fitting two levels to three windows leaves a third of a degree of
 * freedom), the first reads a level that changed once as scatter.
 */
function upperRatio(state: OwnShiftState, g: number): number {
  const { sampling, sigma2 } = windowMoments(state, g);
  if (!(sigma2 > 0)) return 0;
  const both = state.means ? scatterBound(state, g, 2, 0.01) : Number.POSITIVE_INFINITY;
  const upper = Math.min(scatterBound(state, g, 1, 0.01), both) - sampling;
  return Number.isFinite(upper) ? Math.max(0, upper) / sigma2 : 0;
}

/** The window means' variance bound from their scatter about `levels` at the χ² point p (0.01: upper). */
function scatterBound(state: OwnShiftState, g: number, levels: 1 | 2, p: number): number {
  const { scatter, dof } = scatterOf(state, g, levels);
  return dof > 0 ? scatter / chiSquareQuantile(dof, p) : Number.POSITIVE_INFINITY;
}

/**
 * The level of `lowerRatio`'s bound (`pairRatios`' tie). A canary whose tail alone moves twice as
 * much as the baseline's (log-σ by a CV of 20% a look against 10%; the detection bench's seeds,
 * 1,000 a row) was rolled back in 1.6% of releases at 1,000 requests/s with r_C at the baseline's
 * bound until the screen fired; 0.7% tied at this level (0.42% on 5,000 other seeds), 0.5% at the
 * baseline's point estimate, 0.3% at its upper bound. The tie costs where the baseline's windows
 * show shifts by chance: a tail-only regression at 10 requests/s (σ 0.7) cost 12.3 slow requests
 * untied, 12.4 at this level, 12.9 at the point estimate, 15.8 at the upper bound
 * (docs/decisions.md).
 */
export const SURE_SHIFT_LEVEL = 0.9;

/**
 * The windows' mean-score variance beyond sampling for shape g, its lower bound at
 * SURE_SHIFT_LEVEL, over σ²: the own shifts the baseline's windows surely show. Zero until
 * MIN_WINDOWS windows are read, and about one level (a level that changed once reads as more).
 */
export function lowerRatio(state: OwnShiftState, g: number): number {
  if (state.windows < MIN_WINDOWS) return 0;
  const { sampling, sigma2 } = windowMoments(state, g);
  const lower = scatterBound(state, g, 1, SURE_SHIFT_LEVEL) - sampling;
  return sigma2 > 0 && Number.isFinite(lower) ? Math.max(0, lower) / sigma2 : 0;
}

/**
 * Fewest canary windows the screen reads: with fewer, their spread says little a chi-square test
 * can use. About two levels (`twoLevelDof`) three windows leave a third of a degree of freedom, four
 * 0.8, five 1.5, where the χ² point is rough, and windows three to five fired the screen by chance
 * about as often as every later look together: on 1,000 good releases at 100 requests/s, 28 screened
 * from the third window, 13 from the sixth, 13 from the eighth. A chance firing gives up the evidence
 * built, and on a tail-only regression at 100 requests/s (σ 0.65) four of six promotions in 1,000
 * came from one: 8.1 slow requests from the third window, 7.1 from the sixth; a canary whose median
 * moves twice as much (1,000 requests/s, 5,000 canaries) 0.60% and 0.48% rolled back → 0.74% and
 * 0.72% (docs/decisions.md).
 */
export const SCREEN_WINDOWS = 6;
/**
 * Fewest canary requests in a window the screen reads. A mean of a few requests is far from
 * normal, so its windows scatter beyond what chi-square allows: reading every window, the screen
 * fired under regressions at 10 requests/s and gave up their evidence (×1.25 caught 97.5% at 3.5
 * slow requests instead of 100% at 1.2). Where a window holds few requests its sampling dwarfs any
 * shift a pod's wobble makes anyway; the screen matters where requests are many.
 */
export const SCREEN_REQUESTS = 50;

/**
 * Whether the canary's windows vary more than its sampling plus the baseline's bound (`ratio`, per
 * σ²) allows, at 1%: then the baseline's own shifts are no bound for the canary's. Where its window
 * means are kept, about two levels (`scatterOf`).
 */
function canaryExceeds(canary: OwnShiftState, g: number, ratio: number, level = 0.99): boolean {
  const { scatter, dof } = scatterOf(canary, g, 2);
  if (canary.windows < SCREEN_WINDOWS || !(dof > 0)) return false;
  const { sampling, sigma2 } = windowMoments(canary, g);
  const expected = sampling + ratio * sigma2;
  if (!(expected > 0)) return scatter > 0;
  return scatter / expected > chiSquareQuantile(dof, level);
}

/**
 * Degrees of freedom of the χ² whose 99% point (Wilson–Hilferty, as `chiSquareQuantile`) is that of
 * `twoLevelScatter` over k independent standard normals: k − 2, less what choosing the best split
 * buys, which grows as log log k (as change-point statistics do). Fitted to 200,000 draws per k
 * for k from 3 to 360 (within about a tenth of a degree, the draws' own noise at the 99% point;
 * docs/decisions.md). The lower bound uses it too, an approximation there.
 */
export const twoLevelDof = (k: number): number => (k < 3 ? 0 : k - 2 - (0.45 + 2.28 * Math.log(Math.log(k))));

/** Σ squared deviations of `x` about the means of its two parts, split where that sum is least. */
export function twoLevelScatter(x: readonly number[]): number {
  const k = x.length;
  const total = x.reduce((s, v) => s + v, 0);
  const totalSq = x.reduce((s, v) => s + v * v, 0);
  let best = Number.POSITIVE_INFINITY;
  let sum = 0;
  let sumSq = 0;
  for (let j = 1; j < k; j++) {
    const v = x[j - 1] as number;
    sum += v;
    sumSq += v * v;
    const left = sumSq - (sum * sum) / j;
    const right = totalSq - sumSq - (total - sum) ** 2 / (k - j);
    best = Math.min(best, Math.max(0, left) + Math.max(0, right));
  }
  return Number.isFinite(best) ? best : 0;
}

/**
 * Per shape, r for the pair of sides, (r_B + r_C)/2: r_B the baseline's bound (`shiftRatios`), r_C
 * r_B plus what the baseline's windows surely show times CANARY_SHIFT_PRIOR − 1 (`lowerRatio`: a
 * canary on fewer pods averages fewer pods' wobbles, and its screen is slow to tell), unless the
 * canary's windows exceed the baseline's bound for the shape `screened` (`canaryExceeds`) or, at
 * TAIL_SCREEN_LEVEL, for the spread shape `tail`; then each shape's r_C is the canary's own 99%
 * upper bound (at least r_B), from then on (`screenedBefore`: the release's earlier looks found it).
 * A location shape's scores are light-tailed; a spread shape's weigh the few requests in the tails
 * heavily, so its windows scatter beyond what chi-square allows and a canary whose tail grew (a
 * regression) screened as wobbling at 1%: 12% and 23% more slow requests before σ 0.7 and σ 0.65
 * regressions were caught at 10 and 100 requests/s (twice as many at 100/s in a later probe).
 */
export function pairRatios(
  baseline: OwnShiftState,
  canary: OwnShiftState | undefined,
  screened: number,
  screenedBefore = false,
  tail?: number,
): { ratios: number[]; canaryOwn: boolean } {
  const rBs = shiftRatios(baseline);
  const canaryOwn =
    canary !== undefined &&
    (screenedBefore ||
      canaryExceeds(canary, screened, rBs[screened] as number) ||
      (tail !== undefined && canaryExceeds(canary, tail, rBs[tail] as number, TAIL_SCREEN_LEVEL)));
  // Until the screen finds the canary moving more, its r_C is the baseline's bound plus
  // (CANARY_SHIFT_PRIOR − 1) times what the baseline's windows surely show (`lowerRatio`).
  const ratios = rBs.map((rB, g) =>
    canaryOwn
      ? (rB + Math.max(rB, upperRatio(canary as OwnShiftState, g))) / 2
      : rB + ((CANARY_SHIFT_PRIOR - 1) * lowerRatio(baseline, g)) / 2,
  );
  return { ratios, canaryOwn };
}

/**
 * The spread shape's screen level (`pairRatios`). A canary whose tail alone wobbles twice as much as
 * the baseline's (its log-σ moving by a CV of 20% a look where the baseline's moves by 10%; the
 * detection bench's seeds, 1,000 a row) was rolled back in 3.0% of releases at 1,000 requests/s
 * and 1.5% at 100/s with the location shape screened alone; 1.6% and 0.8% with this one too. The
 * price falls on tail-only regressions, whose windows scatter beyond chi-square and now and then
 * fire it: σ 0.65 at 100 requests/s 7.8 slow requests without it, 8.1 at 0.9999, 9.3 at 0.999
 * (1.3% and 0.7% rolled back), 14.7 at 0.99 (docs/decisions.md).
 */
export const TAIL_SCREEN_LEVEL = 0.9999;

/**
 * The level of the careful screen for windows of a test started afresh mid-release: about the
 * median of the screen's statistic where the canary moves no more than the baseline's bound. At
 * 0.8 a regression starting 2 minutes in at 100 requests/s cost 1.9× the oracle's slow requests
 * instead of 2.4×, and a canary moving twice as much as the baseline was rolled back a few more
 * times in 300 (docs/decisions.md).
 */
export const FRESH_SCREEN_LEVEL = 0.5;

/**
 * Per shape, r for the windows of a test started afresh mid-release (stats/fresh-starts.ts): as
 * `pairRatios` once the canary was found moving on its own, and before, wherever its windows
 * scatter more than the baseline's bound allows at FRESH_SCREEN_LEVEL — a fresh start has no
 * earlier windows to absorb a run of them, as the product from the first window has.
 */
export function carefulRatios(
  baseline: OwnShiftState,
  canary: OwnShiftState | undefined,
  screened: number,
  canaryOwn: boolean,
): number[] {
  const rBs = shiftRatios(baseline);
  const own = carefulOwn(baseline, canary, screened, canaryOwn);
  return rBs.map((rB, g) => (own ? (rB + Math.max(rB, upperRatio(canary as OwnShiftState, g))) / 2 : rB));
}

/** Whether `carefulRatios` allows for the canary's own bound. */
export function carefulOwn(
  baseline: OwnShiftState,
  canary: OwnShiftState | undefined,
  screened: number,
  canaryOwn: boolean,
): boolean {
  const rB = shiftRatios(baseline)[screened] as number;
  return canary !== undefined && (canaryOwn || canaryExceeds(canary, screened, rB, FRESH_SCREEN_LEVEL));
}

/** The bet and the allowance for one window: λ and the log of exp(λ²·n_eff²·τ²). */
export function shiftAllowance(
  ratio: number,
  sigma2: number,
  nC: number,
  nB: number,
): { lambda: number; logPenalty: number } {
  const nEff = (nC * nB) / (nC + nB);
  if (!(ratio > 0) || !(nEff > 0)) return { lambda: 1, logPenalty: 0 };
  const lambda = 1 / (1 + 2 * nEff * ratio);
  return { lambda, logPenalty: lambda * lambda * nEff * nEff * ratio * sigma2 };
}

/**
 * How far a spread shape's bet may go: t²·Var(D) ≤ SPREAD_BET_LIMIT (`spreadAllowance`), where the
 * penalty is at most log √2. Any limit under 1 keeps the window an e-value; at 0.5 a tail-only
 * regression at 100 requests/s costs half a slow request more (σ 0.65: 6.0 → 6.5 on the detection
 * bench), where 0.1 cost a third more slow requests at 1,000/s in a probe (docs/decisions.md).
 */
export const SPREAD_BET_LIMIT = 0.5;

/**
 * The bet and the allowance for one window of a spread shape (a stretch about the median).
 *
 * Its scores move with the square of a side's location shift δ as well as linearly, so the
 * allowance's part of the window, t·D with t = λ·n_eff and D the sides' difference of mean scores,
 * is not Gaussian: for D = b·(δ_C − δ_B) + c·(δ_C² − δ_B²), δ ~ N(0, s²) on each side,
 *   E[exp(t·D)] = (1 − 4t²c²s⁴)^(−½) · exp(t²b²s² / (1 − 4t²c²s⁴)) ≤ (1 − t²·Var(D))^(−½),
 * finite only for t²·Var(D) < 1, where the Gaussian penalty exp(t²·Var(D)/2) (`shiftAllowance`)
 * falls short without bound. A side whose median moves 10% a window at 1,000 requests/s gave one
 * window of a good canary 39 nats on the 1.35 stretch (traced; a test started afresh there, with no
 * good windows to absorb it, rolled the canary back). So the bet is the Gaussian one held to
 * t²·Var(D) ≤ SPREAD_BET_LIMIT, and the penalty is −½·log(1 − t²·Var(D)), which bounds the moment
 * of every such D (the bound above: −log(1 − z) ≥ z) and of a Gaussian D.
 */
export function spreadAllowance(
  ratio: number,
  sigma2: number,
  nC: number,
  nB: number,
): { lambda: number; logPenalty: number } {
  const gaussian = shiftAllowance(ratio, sigma2, nC, nB);
  if (!(gaussian.logPenalty > 0)) return gaussian;
  const nEff = (nC * nB) / (nC + nB);
  // Var(D) of the sides' own shifts: twice a side's τ² = ratio·σ².
  const varD = 2 * ratio * sigma2;
  const lambda = Math.min(gaussian.lambda, Math.sqrt(SPREAD_BET_LIMIT / (nEff * nEff * varD)));
  const x = lambda * lambda * nEff * nEff * varD;
  return { lambda, logPenalty: -0.5 * Math.log1p(-x) };
}

/**
 * A side's own shifts of its median as a spread shape's window reads them: the coefficients of the
 * shape's mean score against a shift δ in log-latency, mean(δ) ≈ mean(0) + b·δ + c·δ²
 * (shape-e-process.ts, `shiftResponse`), and bounds on each side's variance of δ (log-latency²).
 * `tied`: the canary's is CANARY_SHIFT_PRIOR times the baseline's, whatever the baseline's is (no
 * bound of its own yet), so the baseline's moment may be taken at its bound too.
 */
export interface Lean {
  b: number;
  c: number;
  canary: number;
  baseline: number;
  tied: boolean;
}

/**
 * A spread shape's bet and allowance where the sides' own shifts may differ (`Lean`). For
 * D = b·(δ_C − δ_B) + c·(δ_C² − δ_B²), δ_s ~ N(0, s_s²), D's mean is c·(s_C² − s_B²): a canary
 * whose median moves more than the baseline's reads wider in every window, whichever way it moves,
 * which the symmetric bound (`spreadAllowance`) leaves out. Each side's moment is exact,
 *   E[exp(±t·(b·δ + c·δ²))] = (1 ∓ 2t·c·s²)^(−½) · exp(t²b²s² / (2(1 ∓ 2t·c·s²))).
 * The side whose squared shift raises D (the canary's for c > 0) is taken at its bound. The other's
 * falls as its s² grows, so it is taken at its bound only where the canary's is tied to it (the
 * product then grows with the baseline's s², for CANARY_SHIFT_PRIOR ≥ 1); otherwise at its linear
 * part alone (−t·c·δ² ≤ 0). The bet is held to 2t·|c|·s² ≤ SPREAD_BET_LIMIT, and the penalty is the
 * larger of this bound and the symmetric one for the shape's own ratio at that bet: each holds
 * under its model.
 */
export function leanAllowance(
  lean: Lean,
  ratio: number,
  sigma2: number,
  nC: number,
  nB: number,
): { lambda: number; logPenalty: number } {
  const spread = spreadAllowance(ratio, sigma2, nC, nB);
  const nEff = (nC * nB) / (nC + nB);
  const [up, down] = lean.c >= 0 ? [lean.canary, lean.baseline] : [lean.baseline, lean.canary];
  const q = Math.abs(lean.c) * up;
  if (!(nEff > 0) || !(q > 0 || lean.b !== 0)) return spread;
  const lambda = q > 0 ? Math.min(spread.lambda, SPREAD_BET_LIMIT / (2 * nEff * q)) : spread.lambda;
  const t = lambda * nEff;
  const x = 2 * t * q;
  // The falling side's help: only where the canary's bound is tied to the baseline's (c > 0).
  const y = lean.tied && lean.c > 0 ? 2 * t * lean.c * down : 0;
  const b2 = lean.b * lean.b;
  const leaning =
    -0.5 * Math.log1p(-x) -
    0.5 * Math.log1p(y) +
    (t * t * b2 * up) / (2 * (1 - x)) +
    (t * t * b2 * down) / (2 * (1 + y));
  const varD = 2 * ratio * sigma2;
  const symmetric = varD > 0 ? -0.5 * Math.log1p(-(t * t * varD)) : 0;
  return { lambda, logPenalty: Math.max(leaning, Number.isFinite(symmetric) ? symmetric : 0) };
}

/**
 * How many times the baseline's own shift variance a canary's is taken to be until its windows are
 * found moving more (`pairRatios`' screen), where its own bound takes over: by the spread shapes'
 * lean (`sideRatios`, at the baseline's upper bound) and by every shape's pair ratio (`pairRatios`,
 * at its lower bound, `lowerRatio`). The lean's charge grows with it on every window of every
 * release, first-order in the bet (t·c·(K − 1)·s_B²); at low traffic the baseline's bound is
 * mostly sampling, so it falls on regressions there. Measured on the detection bench's cells
 * (300–1,000 canaries), the lean alone: a canary moving twice as much as the baseline (CV 0.2
 * against 0.1, a variance four times) rolled back 29.3% at 1,000 requests/s without it, 0.6% at 2,
 * 0.1% at 3 and 4; a tail-only regression at 10 requests/s (σ 0.7) cost 11.4 slow requests without
 * it, 11.7 at 2, 13.2 at 3, 14.5 at 4 (docs/decisions.md). The pair ratio's tie, at 2 and 3: a
 * canary whose tail alone moves twice as much 0.42% and 0.20% (5,000 canaries, 1,000 requests/s),
 * that regression 12.4 slow requests either way (SURE_SHIFT_LEVEL).
 */
export const CANARY_SHIFT_PRIOR = 2;

/**
 * The location shape's r per side, for `Lean`: the baseline's bound, and the canary's own bound
 * (at least the baseline's) once its windows were found moving more (`canaryOwn`); before that
 * CANARY_SHIFT_PRIOR times the baseline's (`tied`).
 */
export function sideRatios(
  baseline: OwnShiftState,
  canary: OwnShiftState | undefined,
  screened: number,
  canaryOwn: boolean,
): { baseline: number; canary: number; tied: boolean } {
  const rB = shiftRatios(baseline)[screened] as number;
  if (canaryOwn && canary)
    return { baseline: rB, canary: Math.max(rB, upperRatio(canary, screened)), tied: false };
  return { baseline: rB, canary: CANARY_SHIFT_PRIOR * rB, tied: true };
}

/** Per-bucket counts summed `f` windows at a time, the newest batch complete (older leftovers dropped). */
export function sumBucketBlocks(windows: readonly (readonly number[])[], f: number): number[][] {
  const n = Math.floor(windows.length / Math.max(1, f));
  const from = windows.length - n * f;
  return Array.from({ length: n }, (_, b) =>
    windows
      .slice(from + b * f, from + (b + 1) * f)
      .reduce<number[]>((sum, w) => w.map((c, k) => c + (sum[k] ?? 0)), []),
  );
}

/** One baseline window as the fold rule reads it: its requests and their mean score. */
export type ShiftWindow = [requests: number, mean: number];

/** A window's requests and mean score for `scores`, or undefined if too few to read. */
export function shiftWindow(counts: readonly number[], scores: readonly number[]): ShiftWindow | undefined {
  const n = counts.reduce((s, c) => s + c, 0);
  if (n < MIN_REQUESTS) return undefined;
  return [n, counts.reduce((s, c, k) => s + c * (scores[k] as number), 0) / n];
}

/**
 * How many windows the test folds as one, read from the baseline's windows: the error judge's rule
 * (stats/persistence.ts) on each window's mean score for one shape, standardised by its sampling
 * error (`sigma2`, a request's score variance within a window); `bar` the rule's first bar, where
 * the judge asks more than one shape's series (`foldFactor`).
 */
export function shiftBlockFactor(series: readonly ShiftWindow[], sigma2: number, bar?: number): number {
  const requests = series.reduce((s, [n]) => s + n, 0);
  if (!(requests > 0) || !(sigma2 > 0)) return 1;
  const mean = series.reduce((s, [n, m]) => s + n * m, 0) / requests;
  return foldFactor(
    series.length,
    (f) => {
      const count = Math.floor(series.length / f);
      const from = series.length - count * f;
      return Array.from({ length: count }, (_, b) => {
        const batch = series.slice(from + b * f, from + (b + 1) * f);
        const n = batch.reduce((s, [k]) => s + k, 0);
        const m = batch.reduce((s, [k, x]) => s + k * x, 0) / n;
        return (m - mean) / Math.sqrt(sigma2 / n);
      });
    },
    bar,
  );
}

/** A request's score variance within the windows read so far, for shape `g`. */
export const withinVariance = (state: OwnShiftState, g: number): number =>
  state.dof > 0 ? (state.within[g] as number) / state.dof : 0;
