import { logWeightedSumExp } from './log-sum-exp.ts';
import { normalCdf, normalQuantile } from './normal.ts';
import { type Lean, leanAllowance, shiftAllowance, spreadAllowance } from './own-shift.ts';
import { logSampleMoment } from './sampling.ts';
import { cappedWindow, stallCap } from './stall-cap.ts';

/**
 * An anytime-valid test of "the canary's latency has the baseline's distribution", over every
 * bucket of a histogram, against alternatives that are slower in shape: the baseline's
 * log-latency shifted by δ and/or stretched by s about its median.
 *
 * A permutation test, look by look. If both versions draw their latencies from one distribution
 * (whatever it is, and however it moves while both see it), then given a window's requests per
 * bucket, which n_C of them were the canary's is a uniformly random draw. For scores a_k fixed
 * before the window — here log p_alt(k)/p_base(k), the alternative's bucket probabilities over
 * the baseline's, both from the baseline's buckets before the window —
 *   e = exp(Σ_canary a_k) / E_draw[exp(Σ_draw a_k)]
 * has mean exactly 1 (the denominator is computed exactly or by the saddle point:
 * sampling.ts). Windows multiply, each with mean 1 given the past; the alternatives are averaged
 * with fixed weights after multiplying. The result is an e-process: by Ville's inequality it
 * reaches 1/α with probability at most α however often it is looked at. Nothing about Poisson
 * traffic or the traffic split is assumed; a wrong estimate of the baseline's shape, or a
 * regression outside the family, costs power, never the guarantee. A slowdown that hits both
 * versions alike is no evidence.
 */

/** One alternative: log-latency = median + shift + spread·(log-latency − median). */
export interface Shape {
  shift: number;
  spread: number;
}

/**
 * The alternatives, fixed before the canary starts: the median ~5%, 10%, 22%, 49% and 120% slower;
 * the tail stretched by 4%, 8%, 17% and 35% with the median kept. Their weights (sum 1) favour the
 * small effects, which cost the most to find. Chosen with the detection benchmark's tuning seeds
 * (docs/decisions.md, "sequentialLatency reads every bucket").
 */
export const SHAPES: readonly Shape[] = [
  { shift: 0.05, spread: 1 },
  { shift: 0.1, spread: 1 },
  { shift: 0.2, spread: 1 },
  { shift: 0.4, spread: 1 },
  { shift: 0.8, spread: 1 },
  { shift: 0, spread: 1.04 },
  { shift: 0, spread: 1.08 },
  { shift: 0, spread: 1.17 },
  { shift: 0, spread: 1.35 },
];

export const SHAPE_WEIGHTS: readonly number[] = [3, 3, 2, 1, 1, 3, 6, 3, 1].map((w) => w / 23);

/** One log e-value per shape. Starts at zeros. */
export type ShapeTestState = number[];

export const initialShapeTest = (): ShapeTestState => SHAPES.map(() => 0);

/** A bucket's log ratio is clipped this far from zero: a sparsely seen bucket cannot decide a window. */
const CLIP = Math.log(20);

/**
 * The scores per bucket for each shape, from a reference histogram (the baseline's counts before
 * the window). `bounds` are the finite upper bounds, ascending; the counts have one more entry
 * (the +Inf bucket). The reference's CDF is smoothed (half a request per bucket) and interpolated
 * linearly in probit against log-latency, which is exact for a log-normal.
 */
export function shapeScores(bounds: readonly number[], reference: readonly number[]): number[][] {
  const { median, probs, probit } = referenceModel(bounds, reference);
  const base = probs((l) => normalCdf(probit(l)));
  return SHAPES.map(({ shift, spread }) => {
    const alt = probs((l) => normalCdf(probit(median + (l - median - shift) / spread)));
    return alt.map((p, k) => {
      const q = base[k] as number;
      if (!(p > 0) || !(q > 0)) return p > q ? CLIP : -CLIP;
      return Math.max(-CLIP, Math.min(CLIP, Math.log(p / q)));
    });
  });
}

/**
 * The reference's shape as the scores read it: its CDF smoothed (half a request per bucket) and
 * interpolated linearly in probit against log-latency, its median, and the bucket probabilities of
 * any CDF over log-latency.
 */
function referenceModel(bounds: readonly number[], reference: readonly number[]) {
  const total = reference.reduce((s, n) => s + n, 0) + 0.5 * reference.length;
  const logs = bounds.map((b) => Math.log(b));
  let acc = 0;
  const z = bounds.map((_, k) => {
    acc += (reference[k] ?? 0) + 0.5;
    return normalQuantile(acc / total);
  });
  const last = logs.length - 1;
  // Probit of the reference's CDF at any log-latency, extrapolated along the end segments.
  const probit = (l: number) => {
    if (last < 1) return (z[0] as number) + (l - (logs[0] as number));
    let i = logs.findIndex((x) => x >= l);
    if (i <= 0) i = i === -1 ? last : 1;
    const l0 = logs[i - 1] as number;
    const l1 = logs[i] as number;
    const z0 = z[i - 1] as number;
    const z1 = z[i] as number;
    return z0 + ((z1 - z0) * (l - l0)) / (l1 - l0);
  };
  // The median in log-latency: where the probit crosses zero (z rises strictly: every bucket is smoothed).
  const up = z.findIndex((v) => v >= 0);
  const seg = up <= 0 ? (up === -1 ? last : 1) : up;
  const median =
    last < 1
      ? (logs[0] as number) - (z[0] as number)
      : (logs[seg - 1] as number) +
        (((logs[seg] as number) - (logs[seg - 1] as number)) * -(z[seg - 1] as number)) /
          ((z[seg] as number) - (z[seg - 1] as number));
  const probs = (cdfAt: (l: number) => number) => {
    const cdf = logs.map(cdfAt);
    return [...cdf.map((c, k) => c - (k === 0 ? 0 : (cdf[k - 1] as number))), 1 - (cdf.at(-1) as number)];
  };
  return { median, probs, probit };
}

/** The shift a window's mean score is read over, in log-latency (±5%). */
const RESPONSE_STEP = 0.05;

/**
 * How each shape's mean score answers a side's own shift δ of its median (in log-latency): the
 * coefficients b and c of mean(δ) ≈ mean(0) + b·δ + c·δ², for the reference's shape shifted whole,
 * by central differences over ±RESPONSE_STEP. A location shape's scores are about linear in δ
 * (c ≈ 0); a stretch's about quadratic (b ≈ 0, c > 0): a window shifted either way reads wider.
 */
export function shiftResponse(
  bounds: readonly number[],
  reference: readonly number[],
  scores: readonly (readonly number[])[],
): { b: number; c: number }[] {
  const { probs, probit } = referenceModel(bounds, reference);
  const at = [-RESPONSE_STEP, 0, RESPONSE_STEP].map((d) => probs((l) => normalCdf(probit(l - d))));
  return scores.map((a) => {
    const [down, mid, up] = at.map((p) => p.reduce((s, q, k) => s + q * (a[k] as number), 0)) as [
      number,
      number,
      number,
    ];
    return {
      b: (up - down) / (2 * RESPONSE_STEP),
      c: (up + down - 2 * mid) / (2 * RESPONSE_STEP * RESPONSE_STEP),
    };
  });
}

/**
 * Per shape, the sides' own shifts as its scores read them (`Lean`), from the location shape's r per
 * side (own-shift.ts, `sideRatios`): r is a side's shift variance over a request's, so s² = r·σ²/b²
 * in the location shape's scores.
 */
export function leansOf(
  bounds: readonly number[],
  reference: readonly number[],
  scores: readonly (readonly number[])[],
  location: number,
  sides: { baseline: number; canary: number; tied: boolean },
): Lean[] {
  const response = shiftResponse(bounds, reference, scores);
  const { b } = response[location] as { b: number };
  const perRatio = b !== 0 ? scoreVariance(reference, scores[location] as readonly number[]) / (b * b) : 0;
  return response.map(({ b, c }) => ({
    b,
    c,
    canary: sides.canary * perRatio,
    baseline: sides.baseline * perRatio,
    tied: sides.tied,
  }));
}

/**
 * Where sides stall now and then. Seen (the baseline has stalled): the chance a window stalls, and
 * per shape a request's score variance in the reference the scores were made from (fixed before
 * the window); each window is capped so that a stall of any form cannot decide it
 * (stats/stall-cap.ts). Assumed (none seen yet): the chance one might, and each window is divided
 * by what a stall — the window's latency 1.5× or more — would make of it (`stallDivisor`).
 */
export type StallAllowance = { rate: number; variances: readonly number[] } | { rate: number; assumed: true };

/**
 * The alternatives a stall is, to the assumed allowance: the median 1.5× slower or more (a pod's
 * pause), and the smaller shifts it is told from. A stall between or beyond the 1.5× and 2.2×
 * shapes lies closer to one of them than to any smaller shift, so no shape's plain ratio exceeds
 * the likelier of these. (The 2.2× one alone allowed for the bench's stalls as well, cost 25%
 * regressions at 100 requests/s nothing, and rolled back twice as many canaries whose median
 * varies twice as much as the baseline's; docs/decisions.md.)
 */
const STALL_SHAPES = SHAPES.flatMap((s, g) => (s.spread === 1 && s.shift >= 0.4 ? [g] : []));
const SMALLER_SHAPES = SHAPES.flatMap((s, g) => (s.spread === 1 && s.shift < 0.4 ? [g] : []));

/**
 * The assumed allowance's divisor, in logs: log(1 − p + p·s), s (in logs, `stall`) what a stall
 * makes of the window. A window's law is (1 − p)·P₀ + p·P_s where it stalls with chance p; an
 * e-value divided by 1 − p + p·P_s/P₀ keeps mean 1 under either.
 */
function stallDivisor(stall: number, rate: number): number {
  const x = Math.log(rate) + stall;
  const y = Math.log1p(-rate);
  return Math.max(x, y) + Math.log1p(Math.exp(-Math.abs(x - y)));
}

/**
 * What a stall makes of shape g's window, in logs, for the assumed allowance. A window is
 * stall-like where a stall shape's plain likelihood ratio (λ = 1, no allowance) r_max is at least
 * every smaller shift's: the window is then 1.5× slower or more, as far as its requests tell.
 * There it is r_max·min(1, e_g/r_g), the stall's ratio weighed as the test weighs g's (never
 * above its plain value), so g keeps at most (r_g/r_max)/p ≤ 1/p: a window far slower than the
 * regression g bets on gives up most of its evidence, and a stall shape's own counts at most 1/p.
 * Elsewhere nothing: a window a smaller shift explains better is not read as a stall, or a 10%
 * regression whose windows own shifts scatter towards 20% would be divided where they do (an
 * approximation: a stall among few requests can look smaller, but then it carries little).
 */
function stallOf(windows: readonly { window: number; raw: number }[]): (g: number) => number {
  const raw = (g: number) => windows[g]?.raw as number;
  if (!stallLikeOf(raw)) return () => Number.NEGATIVE_INFINITY;
  const rawMax = Math.max(...STALL_SHAPES.map(raw));
  return (g) => {
    const { window, raw } = windows[g] as { window: number; raw: number };
    return rawMax + Math.min(0, window - raw);
  };
}

/** Whether a stall shape's plain ratio (`raw`, per shape) is at least every smaller shift's. */
const stallLikeOf = (raw: (g: number) => number): boolean =>
  Math.max(...STALL_SHAPES.map(raw)) >= Math.max(...SMALLER_SHAPES.map(raw));

/**
 * Whether a window reads as a stall to the assumed allowance: 1.5× slower or more, as far as its
 * requests tell (`stallOf`). For the judge's words; the test decides it again as it folds.
 */
export function stallLike(
  scores: readonly (readonly number[])[],
  canary: readonly number[],
  baseline: readonly number[],
): boolean {
  const nC = canary.reduce((s, x) => s + x, 0);
  if (!(nC > 0) || !(baseline.reduce((s, x) => s + x, 0) > 0)) return false;
  const pooled = canary.map((c, k) => c + (baseline[k] ?? 0));
  return stallLikeOf((g) => plainRatio(scores[g] as readonly number[], canary, pooled, nC));
}

/** A window's plain log likelihood ratio for scores `a` (λ = 1, no allowance): the canary's draw tilted by them. */
const plainRatio = (a: readonly number[], canary: readonly number[], pooled: readonly number[], nC: number) =>
  canary.reduce((sum, c, k) => sum + c * (a[k] as number), 0) - logSampleMoment(pooled, a, nC);

/**
 * Folds one look's requests per bucket into the test. A window without requests on either side
 * carries no evidence. With `ratios` (per shape, own-shift.ts), each shape bets λ ≤ 1 on the
 * window and pays for the sides' own shifts: exact for requests exchangeable within the window
 * when every ratio is 0, as without them. With `leans`, the spread shapes also pay for sides whose
 * medians move by different amounts (own-shift.ts, `leanAllowance`). With `stalls`, a stall at the
 * rate given cannot decide a window: seen, each shape's window is capped (stall-cap.ts); assumed,
 * divided (`stallDivisor`).
 */
export function updateShapeTest(
  state: ShapeTestState,
  scores: readonly (readonly number[])[],
  canary: readonly number[],
  baseline: readonly number[],
  ratios?: readonly number[],
  stalls?: StallAllowance,
  leans?: readonly Lean[],
): ShapeTestState {
  const nC = canary.reduce((s, x) => s + x, 0);
  const nB = baseline.reduce((s, x) => s + x, 0);
  if (!(nC > 0) || !(nB > 0)) return state;
  const pooled = canary.map((c, k) => c + (baseline[k] ?? 0));
  const nEff = (nC * nB) / (nC + nB);
  const assumed = stalls !== undefined && 'assumed' in stalls && stalls.rate > 0;
  const windows = scores.map((a, g) => {
    // A spread shape's scores move with the square of a side's own shift as well (own-shift.ts).
    const lean = leans?.[g];
    const allowance =
      SHAPES[g]?.spread === 1
        ? shiftAllowance
        : lean
          ? (r: number, s2: number, c: number, b: number) => leanAllowance(lean, r, s2, c, b)
          : spreadAllowance;
    const { lambda, logPenalty } = allowance(ratios?.[g] ?? 0, scoreVariance(pooled, a), nC, nB);
    const bet = lambda === 1 ? a : a.map((x) => lambda * x);
    const observed = canary.reduce((sum, c, k) => sum + c * (bet[k] as number), 0);
    // Normalized by its mean when the canary's requests are a random draw of the window's.
    const window = observed - logSampleMoment(pooled, bet, nC) - logPenalty;
    const raw = !assumed || (lambda === 1 && logPenalty === 0) ? window : plainRatio(a, canary, pooled, nC);
    return { lambda, window, raw };
  });
  if (!stalls || !(stalls.rate > 0)) return state.map((logE, g) => logE + (windows[g]?.window as number));
  if ('assumed' in stalls) {
    const stall = stallOf(windows);
    // Floored at min(e_g, 1): a window that spoke for g is not turned against it by the division
    // (the stall explaining it better than g took tens of nats from the small shapes, which a
    // canary slower than a recovered baseline then never climbed back; docs/decisions.md).
    return state.map((logE, g) => {
      const window = windows[g]?.window as number;
      return logE + Math.max(window - stallDivisor(stall(g), stalls.rate), Math.min(window, 0));
    });
  }
  return state.map((logE, g) => {
    const { lambda, window } = windows[g] as { lambda: number; window: number };
    const growth = (lambda * nEff * (stalls.variances[g] ?? 0)) / 2;
    return logE + cappedWindow(window, stallCap(growth, stalls.rate), stalls.rate);
  });
}

/** A request's score variance over `counts` (per bucket), for scores `a`. */
export function scoreVariance(counts: readonly number[], a: readonly number[]): number {
  const n = counts.reduce((s, c) => s + c, 0);
  if (!(n > 0)) return 0;
  const mean = counts.reduce((s, c, k) => s + c * (a[k] as number), 0) / n;
  return counts.reduce((s, c, k) => s + c * ((a[k] as number) - mean) ** 2, 0) / n;
}

/** log of the e-value: the weighted average over the shapes. */
export const shapeLogEValue = (state: ShapeTestState): number =>
  logWeightedSumExp(state, SHAPE_WEIGHTS as number[]);
