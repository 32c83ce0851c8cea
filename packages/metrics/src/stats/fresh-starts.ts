import { logWeightedSumExp } from './log-sum-exp.ts';

/**
 * Regressions that start mid-release: fresh starts of a test where the canary's share steps up.
 *
 * A test that multiplies window e-values from the canary's first request bets that any regression
 * began then. Under a good canary its log falls window by window, and a regression that begins
 * later — a step up in weight bringing the load that breaks it — first climbs back from there
 * (detection bench, "Regressions that start mid-release": 3–11× the bad requests of an oracle told
 * when it starts).
 *
 * So beside the product from the first window, the judge keeps products started afresh at the
 * windows where the canary's share of requests steps up: at most FRESH_STARTS of them, each with
 * the weight FRESH_WEIGHT / FRESH_STARTS, the product from the start keeping 1 − FRESH_WEIGHT. The
 * share is a request count, which every window e-value conditions on, so whether a window starts
 * one is settled before its outcomes; each started product is a nonnegative supermartingale under
 * the null from its start, and the weighted sum of all of them (with the weight of starts not yet
 * made) one from 1: by Ville's inequality it reaches 1/α with probability at most α however often
 * it is looked at. The started products are kept summed, one number per alternative:
 *   R_t = (R_{t−1} + v·[a start at t])·e'_t.
 *
 * Where the window e-values rest on estimated allowances (a side's own shifts or bursts), a product
 * dragged down by the good windows before it absorbs a run of inflated windows that a fresh start
 * would not: a mixture over every window as onset (the Shiryaev–Roberts average) rolled back more
 * good canaries there (docs/decisions.md). So a fresh start of full weight is taken only at a step
 * up (a handful a release; timed starts, below, weigh little), and its windows are weighed with a
 * careful allowance: the canary's own variation
 * wherever its windows hint at more than the baseline's (latency: `carefulRatios`, a screen at
 * half its usual level; errors: `carefulVariance`, the 90% bound of its own bursts read from its
 * splits), not only once the judge's 1% screen has confirmed it. Measured on the detection bench
 * (1,000 canaries a row): late regressions at 1,000 requests/s cost 1.1–4.0× an oracle told the
 * onset instead of 2.3–10.7×; good canaries rolled back within a few in 1,000 of before in every
 * row but stalls from ten minutes of history at 100 requests/s (9.8 → 11.5%).
 *
 * A release without steps (a canary held at one weight) has no step to start at, and a regression
 * arriving late in it climbed back from where the good windows left every product (at 1,000
 * requests/s a 25% slower median from 6 minutes into a 10-minute hold at 20%: 5.3× the slow
 * requests of an oracle told the onset). So every window after FRESH_AFTER that starts no product
 * at a step starts a timed one, drawing on a budget of its own, TIMED_WEIGHT: the j-th weighs
 * TIMED_WEIGHT / (j·(j + 1)), so all of them together never weigh more than TIMED_WEIGHT however
 * long the release, and a start an hour in costs about 17 nats instead of a step start's 3.7 —
 * at 1,000 requests/s less than a window (that onset: 1.1× the oracle). Together they are a
 * Shiryaev–Roberts mixture over onsets whose weights fall with time; tried in session 61 without
 * the careful allowance it amplified inflated windows, which the careful allowance and the spread
 * shapes' own-shift bound (own-shift.ts, `spreadAllowance`) now keep out (docs/decisions.md).
 */

/** Fresh starts a release at most; each weighs FRESH_WEIGHT / FRESH_STARTS. */
export const FRESH_STARTS = 4;
/**
 * The weight of all fresh starts together; the product from the first window keeps the rest. At
 * 0.2 a doubled error rate from the first request under shared bursts at 100 requests/s was caught
 * in 80.5% of runs instead of 83.4% (the fresh starts, tempered for those bursts, add little
 * there); late regressions cost about as much at 0.1.
 */
export const FRESH_WEIGHT = 0.1;
/**
 * The weight of all timed starts together (a release without steps); the j-th weighs
 * TIMED_WEIGHT / (j·(j + 1)). 0.005 against 0.02 cost a 25% slower median arriving late in a held
 * release at 100 requests/s under half a slow request (a probe of 200), and leaves the product from
 * the first window nearly all it had.
 */
export const TIMED_WEIGHT = 0.005;
/**
 * Windows tested before the first fresh start: the careful allowance reads the canary's own windows,
 * and from fewer it can say little.
 */
export const FRESH_AFTER = 10;
/** A step up: the window's canary share this many times its share since the last start. */
export const STEP_UP = 1.15;

export interface FreshStartState {
  /** Per alternative, log R; absent before the first start. */
  logR?: number[];
  /** Starts made at steps up. */
  starts: number;
  /** Timed starts made (windows after FRESH_AFTER that started no product at a step). */
  timed?: number;
  /** The canary's requests and all requests since the last start (or the first window). */
  canary: number;
  total: number;
}

export const initialFreshStarts = (): FreshStartState => ({ starts: 0, canary: 0, total: 0 });

/** Binomial standard deviations a step up must also clear, so a window's chance share is no step. */
const STEP_Z = 3;

/**
 * Whether the window (`canary` of `total` requests) starts a fresh product: the canary's share steps
 * up over its share since the last start — by STEP_UP and by STEP_Z standard deviations of the
 * window's draw — and starts are left.
 */
export function startsHere(state: FreshStartState, canary: number, total: number): boolean {
  if (state.starts >= FRESH_STARTS || !(state.total > 0) || !(total > 0)) return false;
  const share = state.canary / state.total;
  const sd = Math.sqrt(total * share * (1 - share));
  return canary >= STEP_UP * share * total && canary >= share * total + STEP_Z * sd;
}

/** The weight of the j-th timed start (j from 1). */
export const timedWeight = (j: number): number => TIMED_WEIGHT / (j * (j + 1));

/**
 * One window folded in: `window` its log e-value per alternative under the careful allowance,
 * `start` whether it starts a fresh product at a step up (`startsHere`, asked before the window is
 * tested) or, `'timed'`, a timed one (weighed `timedWeight`; the share since the last step start
 * runs on).
 */
export function observeFresh(
  state: FreshStartState,
  window: readonly number[],
  canary: number,
  total: number,
  start: boolean | 'timed',
): FreshStartState {
  const step = start === true;
  const made = (state.timed ?? 0) + (start === 'timed' ? 1 : 0);
  const v = start === 'timed' ? Math.log(timedWeight(made)) : Math.log(FRESH_WEIGHT / FRESH_STARTS);
  const base = start
    ? window.map((_, g) => logAdd(state.logR?.[g] ?? Number.NEGATIVE_INFINITY, v))
    : state.logR;
  return {
    ...(base ? { logR: base.map((r, g) => r + (window[g] as number)) } : {}),
    starts: state.starts + (step ? 1 : 0),
    ...(made > 0 ? { timed: made } : {}),
    canary: (step ? 0 : state.canary) + canary,
    total: (step ? 0 : state.total) + total,
  };
}

/** What a judge knows of a window before its outcomes, for the fresh starts. */
export interface FreshWindow {
  /** The canary's requests and all requests in the window. */
  canary: number;
  total: number;
  /** Windows the judge had read before this one (the careful allowance reads the canary's own). */
  windows: number;
  /** A warming canary is allowed to be worse: no start there. */
  warming: boolean;
}

/**
 * One window folded into the fresh starts: whether it starts one (not while the canary warms up,
 * not before FRESH_AFTER windows read: at a step up, or else a timed one) and, where a started
 * product weighs it, its log e-values under the careful allowance (`windowOf`, only called then).
 */
export function foldFresh(
  state: FreshStartState | undefined,
  w: FreshWindow,
  windowOf: () => readonly number[],
): FreshStartState {
  const from = state ?? initialFreshStarts();
  const open = !w.warming && w.windows >= FRESH_AFTER;
  const start = open && (startsHere(from, w.canary, w.total) || 'timed');
  return observeFresh(from, start || from.logR ? windowOf() : [], w.canary, w.total, start);
}

/**
 * log of the judge's e-value: the product from the start (its log e-value `fromStart`, already
 * averaged over alternatives) at 1 − FRESH_WEIGHT − TIMED_WEIGHT, the fresh starts' sum averaged
 * with the alternatives' `weights`, and the weight of the starts not yet made (each a product of no
 * windows yet, 1; the timed ones after the j-th weigh TIMED_WEIGHT / (j + 1) together): so a judge
 * that has seen nothing reads 1. Without a `state` (a judge that keeps no fresh starts, or has
 * tested no window yet) the product alone.
 */
export function withFreshStarts(
  fromStart: number,
  state: FreshStartState | undefined,
  weights: readonly number[],
): number {
  if (!state) return fromStart;
  const kept = fromStart + Math.log1p(-FRESH_WEIGHT - TIMED_WEIGHT);
  const left = FRESH_STARTS - state.starts;
  const waiting = left > 0 ? Math.log((FRESH_WEIGHT * left) / FRESH_STARTS) : Number.NEGATIVE_INFINITY;
  const timed = Math.log(TIMED_WEIGHT / ((state.timed ?? 0) + 1));
  const started = state.logR ? logWeightedSumExp(state.logR, weights) : Number.NEGATIVE_INFINITY;
  return logAdd(logAdd(logAdd(kept, waiting), timed), started);
}

function logAdd(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  return Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
}
