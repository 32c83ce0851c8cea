import type { MetricData } from '../providers/data.ts';
import { type CounterMemory, counterDelta, type SeriesValue } from '../stats/counters.ts';
import { FRESH_AFTER, type FreshStartState, foldFresh, withFreshStarts } from '../stats/fresh-starts.ts';
import { logWeightedSumExp } from '../stats/log-sum-exp.ts';
import {
  assumedStallRate,
  carefulOwn,
  carefulRatios,
  initialOwnShift,
  type OwnShiftState,
  observeShiftWindow,
  pairRatios,
  SCREEN_REQUESTS,
  type ShiftWindow,
  shiftBlockFactor,
  shiftWindow,
  sideRatios,
  stallRate,
  sumBucketBlocks,
  withinVariance,
} from '../stats/own-shift.ts';
import {
  initialRateTest,
  type RateTestState,
  rateLogEValue,
  updateRateTest,
} from '../stats/rate-e-process.ts';
import {
  initialShapeTest,
  leansOf,
  SHAPE_WEIGHTS,
  SHAPES,
  type ShapeTestState,
  type StallAllowance,
  scoreVariance,
  shapeLogEValue,
  shapeScores,
  stallLike,
  updateShapeTest,
} from '../stats/shape-e-process.ts';
import { boundAtOrBelow, fasterBuckets, moveCounts, nonDecreasing } from '../stats/slower-by.ts';
import type { Judge } from './judge.ts';
import { type WarmUpClock, type WarmUpOption, warmUpMs, warmUpWindow, withSettled } from './warm-up.ts';
import { count, towardsRollback } from './words.ts';

export interface SequentialLatencyOptions {
  alpha?: number;
  /**
   * `shape` (the default): every bucket is evidence, against slower shapes of the baseline's own
   * distribution (median shifted, tail stretched). `thresholds`: "slower than τ" counted as a bad
   * event at a few bounds, with a tolerance. Setting `tolerance`, `quantiles`, `thresholds` or
   * `weights` chooses `thresholds`.
   */
  method?: 'shape' | 'thresholds';
  /**
   * `shape` only. How the test allows for a side's latency moving on its own from window to window
   * (a pod slower for a while): estimated from the baseline's windows — its history, then every
   * look — and allowed for in both sides (the default; the canary's own, read from its windows,
   * where they move more than the baseline's bound allows), or `false` to assume both sides' requests
   * are draws of one distribution in every window: exact then, but it rolls back good canaries
   * whose latency wobbles independently of the baseline's (stats/own-shift.ts).
   */
  ownShifts?: boolean;
  tolerance?: number;
  quantiles?: number[];
  thresholds?: number[];
  weights?: number[];
  /**
   * A canary allowed to be slower while it warms up (caches filling, connections opening): for its
   * first `duration` of traffic, counted from the first look that finds it serving, latency up to
   * (1 + `tolerance`)× the baseline's is no regression (1: up to twice as slow). Each canary
   * request is then weighed as if that much faster, rounded towards faster at the bucket bounds
   * (stats/slower-by.ts), so a canary far slower than the allowance is still caught from its first
   * look — where `initialDelay` looks at nothing until then. The allowance ends on time.
   */
  warmUp?: WarmUpOption;
}

interface State extends WarmUpClock {
  memory?: { c: CounterMemory; b: CounterMemory };
  /** Bucket bounds fixed from the baseline before any canary data is used. */
  thresholds?: number[];
  weights?: number[];
  logL?: RateTestState[];
  /** With `warmUp`: the same tests over the windows after the allowance only. */
  settledL?: RateTestState[];
  canary: { total: number; slow: number[] };
  baseline: { total: number; slow: number[] };
  windows: number;
}

/** The shape whose window means show how long own shifts last: the median 10% slower. */
const LOCATION = SHAPES.findIndex((s) => s.shift === 0.1 && s.spread === 1);
/**
 * The spread shape read the same way, for own shifts of the tail alone (a pod whose GC pauses
 * widen its latency for a minute), which a location shape's window means do not show; and
 * screened for a canary whose tail moves more than the baseline's (own-shift.ts, `pairRatios`).
 */
const TAIL = SHAPES.findIndex((s) => s.shift === 0 && s.spread === 1.17);
/**
 * The fold rule's first bar for each of the two series: a one-sided 0.5% normal point, so that a
 * fold found by chance in either stays about as rare (1 history in 100) as with one series at 1%.
 */
const FOLD_BAR = 2.576;

const leOf = (s: SeriesValue) => (s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le));

/** Per-`le` deltas of a side's buckets since the last look (per series, so restarts are handled). */
function bucketDeltas(memory: CounterMemory | undefined, series: readonly SeriesValue[]) {
  const groups = new Map<number, SeriesValue[]>();
  for (const s of series) {
    const le = leOf(s);
    if (Number.isNaN(le)) continue;
    groups.set(le, [...(groups.get(le) ?? []), s]);
  }
  const deltas = new Map<number, number>();
  const cumulative = new Map<number, number>();
  // Thread one memory through the groups; on the first look each group starts its own.
  let next: CounterMemory | undefined = memory;
  let first: CounterMemory = {};
  for (const [le, list] of groups) {
    const r = counterDelta(memory === undefined ? undefined : next, list);
    deltas.set(le, r.delta);
    cumulative.set(
      le,
      list.reduce((sum, s) => sum + s.value, 0),
    );
    if (memory === undefined) first = { ...first, ...r.memory };
    else next = r.memory;
  }
  return { deltas, cumulative, memory: (memory === undefined ? first : next) as CounterMemory };
}

/**
 * Both sides' per-`le` deltas since the last look, or why there is nothing to judge yet. As
 * sequentialRate: a canary with no buckets yet at the first look is counted from zero.
 */
function readBuckets(
  memory: { c: CounterMemory; b: CounterMemory } | undefined,
  data: MetricData,
):
  | { nodata: string }
  | {
      c: ReturnType<typeof bucketDeltas>;
      b: ReturnType<typeof bucketDeltas>;
      memory: { c: CounterMemory; b: CounterMemory };
    } {
  if (data.kind !== 'histogram') throw new TypeError('sequentialLatency needs histogram buckets');
  const firstLookBeforeCanary = !memory && data.canary.length === 0 && data.baseline.length > 0;
  if (!firstLookBeforeCanary && (data.canary.length === 0 || data.baseline.length === 0))
    return { nodata: `no latency buckets for the ${data.canary.length === 0 ? 'canary' : 'baseline'} yet` };
  const c = bucketDeltas(memory?.c, data.canary);
  const b = bucketDeltas(memory?.b, data.baseline);
  return { c, b, memory: { c: c.memory, b: b.memory } };
}

/** The largest bucket bound at or below quantile q (so at least 1 − q of requests exceed it). */
function snapToBucket(cumulative: Map<number, number>, q: number): number | undefined {
  const total = cumulative.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return undefined;
  const bounds = [...cumulative.keys()].filter(Number.isFinite).sort((a, b) => a - b);
  let pick: number | undefined;
  for (const le of bounds) if ((cumulative.get(le) as number) / total <= q) pick = le;
  return pick ?? bounds.find((le) => (cumulative.get(le) as number) < total);
}

/**
 * Canary against baseline latency from histogram buckets, anytime-valid at `alpha`. By default
 * every bucket is evidence: a permutation e-process against slower shapes of the baseline's own
 * distribution (stats/shape-e-process.ts). With `method: 'thresholds'`, latency as exceedances:
 * for each threshold τ fixed before the canary starts (bucket bounds at the baseline's quantiles,
 * or given), "slower than τ" is a bad event and the rate test runs on it, the thresholds'
 * e-values averaged with fixed weights — still an e-process.
 */
export function createSequentialLatencyJudge(options: SequentialLatencyOptions = {}): Judge {
  const configured = ['tolerance', 'quantiles', 'thresholds', 'weights'].some(
    (k) => options[k as keyof SequentialLatencyOptions] !== undefined,
  );
  const method = options.method ?? (configured ? 'thresholds' : 'shape');
  return method === 'shape'
    ? shapeJudge(options.alpha ?? 0.01, options.warmUp, options.ownShifts !== false)
    : thresholdsJudge(options);
}

interface ShapeState extends WarmUpClock {
  memory?: { c: CounterMemory; b: CounterMemory };
  /** The histogram's finite bounds, fixed at the first look. */
  bounds?: number[];
  /** The baseline's requests per bucket so far (its history, then every look): the reference shape. */
  reference?: number[];
  logE?: ShapeTestState;
  /** With `warmUp`: the same test over the windows after the allowance only. */
  settled?: ShapeTestState;
  /** How far the baseline's latency moves on its own between windows (unless `ownShifts: false`). */
  ownShift?: OwnShiftState;
  /** The same over the canary's windows of the release (warming ones left out). */
  canaryShift?: OwnShiftState;
  /** Once the canary's windows showed it moves more on its own than the baseline's bound allows. */
  canaryOwn?: boolean;
  /** The test started afresh where the canary's share steps up (stats/fresh-starts.ts). */
  fresh?: FreshStartState;
  /** The last fold read as a stall might (stats/shape-e-process.ts): the chance of one assumed. */
  stallLike?: number;
  /** Windows tested as one, where the history's own shifts outlast a window (1 if absent). */
  block?: number;
  /** The fold under way. */
  pending?: Fold;
  /** Until a fold is found (or SERIES_CAP windows show none): the baseline's windows, read for one. */
  series?: ShiftWindow[];
  /**
   * The same windows read with the TAIL shape's scores; absent in a state saved before tails were
   * read for folds, which then goes on with the location shape's alone.
   */
  tailSeries?: ShiftWindow[];
  canary: number[];
  baseline: number[];
}

/** A history window's per-`le` counts (the `le` label's text as key) as perBucket reads them. */
function historyWindow(w: Readonly<Record<string, number>>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, n] of Object.entries(w)) {
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    if (!Number.isNaN(bound) && Number.isFinite(n)) out.set(bound, Math.max(0, n));
  }
  return out;
}

/** Baseline windows read for shifts that outlast one, at most (an hour of 10 s looks). */
const SERIES_CAP = 360;

const seriesOf = (windows: readonly number[][], scores: readonly number[][], g = LOCATION): ShiftWindow[] =>
  windows.flatMap((w) => {
    const read = shiftWindow(w, scores[g] as number[]);
    return read ? [read] : [];
  });

/**
 * Windows per fold: the fold rule on the location shape's window means and on the tail shape's,
 * the larger (each at FOLD_BAR); the location shape's alone, at the rule's own bar, for a state
 * that kept no tail series.
 */
function foldOf(
  series: readonly ShiftWindow[],
  tail: readonly ShiftWindow[] | undefined,
  shifts: OwnShiftState,
): number {
  if (!tail) return shiftBlockFactor(series, withinVariance(shifts, LOCATION));
  return Math.max(
    shiftBlockFactor(series, withinVariance(shifts, LOCATION), FOLD_BAR),
    shiftBlockFactor(tail, withinVariance(shifts, TAIL), FOLD_BAR),
  );
}

/**
 * Where no fold was found yet, this look's baseline window joins the series; once the series shows
 * shifts that outlast a window, the tests fold from the next look. The allowance keeps its moments:
 * each window of a held shift carries the shift's whole variance, so they still estimate it (with
 * less confidence than their count claims); starting them again at the prior cost the chance folds
 * of ordinary releases most of their power (docs/decisions.md). Mutates the look's new state.
 */
function readForFolds(
  state: ShapeState,
  before: ShiftWindow[],
  beforeTail: ShiftWindow[] | undefined,
  baseline: readonly number[],
): void {
  const shifts = state.ownShift as OwnShiftState;
  const series = [...before, ...seriesOf([baseline as number[]], shifts.scores)];
  const tail = beforeTail && [...beforeTail, ...seriesOf([baseline as number[]], shifts.scores, TAIL)];
  const block = foldOf(series, tail, shifts);
  delete state.series;
  delete state.tailSeries;
  if (block > 1) {
    state.block = block;
  } else if (series.length < SERIES_CAP) {
    state.series = series;
    if (tail) state.tailSeries = tail;
  }
}

/**
 * The baseline's stalls so far (its windows far slower or faster than its own shifts explain), the
 * windows they are counted among and the chance of one a window the test allows for; undefined
 * before any is seen.
 */
function stallsSeen(state: ShapeState): { baseline: number; windows: number; rate: number } | undefined {
  const s = state.ownShift;
  if (!s?.stalls) return undefined;
  return { baseline: s.stalls, windows: s.windows + s.stalls, rate: stallRate(s) };
}

/** Where the baseline has not stalled: the chance a window might, allowed for by division. */
function assumeStalls(shifts: OwnShiftState | undefined): StallAllowance | undefined {
  const rate = shifts ? assumedStallRate(shifts) : 0;
  return rate > 0 ? { rate, assumed: true } : undefined;
}

/** Windows summed until a fold is complete; warming if any of them was. */
interface Fold {
  canary: number[];
  baseline: number[];
  windows: number;
  warming: boolean;
}

/** Requests per bucket (bounds ascending, then +Inf) from per-`le` cumulative counts. */
function perBucket(bounds: readonly number[], cumulative: Map<number, number>): number[] {
  const at = (le: number, fallback: number) => cumulative.get(le) ?? fallback;
  const out: number[] = [];
  let below = 0;
  for (const le of bounds) {
    const upTo = Math.max(below, at(le, below));
    out.push(upTo - below);
    below = upTo;
  }
  out.push(Math.max(0, at(Number.POSITIVE_INFINITY, below) - below));
  return out;
}

/** The q-quantile of per-bucket counts, interpolated inside its bucket as Prometheus does. */
function quantileOf(bounds: readonly number[], counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((s, n) => s + n, 0);
  if (total <= 0) return undefined;
  let acc = 0;
  for (let k = 0; k < counts.length; k++) {
    const n = counts[k] as number;
    if (acc + n >= q * total && n > 0) {
      const lo = k === 0 ? 0 : (bounds[k - 1] as number);
      const hi = bounds[k];
      if (hi === undefined) return lo;
      return lo + ((hi - lo) * (q * total - acc)) / n;
    }
    acc += n;
  }
  return bounds.at(-1);
}

function shapeJudge(alpha: number, warmUp: WarmUpOption | undefined, ownShifts: boolean): Judge {
  const bound = Math.log(1 / alpha);
  const warmMs = warmUpMs(warmUp);
  const slower = 1 + (warmUp?.tolerance ?? 0);
  /** A complete fold into the tests, the reference and the allowance's moments. */
  const testFold = (prev: ShapeState, f: Fold): Partial<ShapeState> => {
    const bounds = prev.bounds as number[];
    const reference = prev.reference as number[];
    // Scores from the baseline before this fold only, so they are fixed before its requests. A
    // warming canary's requests are weighed as if (1 + tolerance)× faster, rounded towards
    // faster, against scores that never fall towards slower buckets (stats/slower-by.ts).
    const scores = shapeScores(bounds, reference);
    // The allowance for own shifts, from both sides' windows before this fold.
    const pair = prev.ownShift
      ? pairRatios(prev.ownShift, prev.canaryShift, LOCATION, prev.canaryOwn, TAIL)
      : undefined;
    const ratios = pair?.ratios;
    // The baseline's stalls bound what one window may count (stats/stall-cap.ts).
    const rate = prev.ownShift ? stallRate(prev.ownShift) : 0;
    const stalls: StallAllowance | undefined =
      rate > 0
        ? { rate, variances: scores.map((a) => scoreVariance(reference, a)) }
        : assumeStalls(prev.ownShift);
    // The evidence so far was weighed assuming the canary moves no more than the baseline; once its
    // windows show otherwise, what it built is given up (lowering an e-process keeps it one).
    const doubted = (pair?.canaryOwn ?? false) && !prev.canaryOwn;
    const distrust = (t: ShapeTestState | undefined) => (doubted && t ? t.map((v) => Math.min(v, 0)) : t);
    // The spread shapes' allowance for sides whose medians may move by different amounts.
    const sides = prev.ownShift
      ? sideRatios(prev.ownShift, prev.canaryShift, LOCATION, pair?.canaryOwn ?? false)
      : undefined;
    const leans = (a: number[][]) => sides && leansOf(bounds, reference, a, LOCATION, sides);
    const warmScores = f.warming ? scores.map((a) => nonDecreasing(a, reference)) : undefined;
    // A fold weighed as its requests were served (not warming): the product's and the settled test's.
    const foldAsServed = (t: ShapeTestState) =>
      updateShapeTest(t, scores, f.canary, f.baseline, ratios, stalls, leans(scores));
    const logE = warmScores
      ? updateShapeTest(
          distrust(prev.logE) as ShapeTestState,
          warmScores,
          moveCounts(f.canary, fasterBuckets(bounds, slower)),
          f.baseline,
          ratios,
          stalls,
          leans(warmScores),
        )
      : foldAsServed(distrust(prev.logE) as ShapeTestState);
    const fresh = freshWindow(prev, f, scores, stalls, () =>
      (logE as number[]).map((v, g) => v - ((prev.logE as number[])[g] as number)),
    );
    const settled =
      warmMs === undefined
        ? undefined
        : f.warming
          ? (distrust(prev.settled) ?? initialShapeTest())
          : foldAsServed(distrust(prev.settled) ?? initialShapeTest());
    // For the words: a fold a stall could explain counts no more than one could make of it.
    const stallish =
      stalls && 'assumed' in stalls && !f.warming && stallLike(scores, f.canary, f.baseline)
        ? stalls.rate
        : 0;
    const ownShift = prev.ownShift && observeShiftWindow(prev.ownShift, f.baseline);
    // A warming canary is slower by design, not by its own shifts; a window of few requests says
    // little about them (SCREEN_REQUESTS).
    const screenable = !f.warming && f.canary.reduce((s, n) => s + n, 0) >= SCREEN_REQUESTS;
    const canaryShift =
      prev.canaryShift && (screenable ? observeShiftWindow(prev.canaryShift, f.canary) : prev.canaryShift);
    return {
      reference: reference.map((v, k) => v + (f.baseline[k] ?? 0)),
      logE,
      ...(settled ? { settled } : {}),
      ...(ownShift ? { ownShift } : {}),
      ...(canaryShift ? { canaryShift } : {}),
      ...(pair?.canaryOwn ? { canaryOwn: true } : {}),
      ...(fresh ? { fresh } : {}),
      stallLike: stallish,
    };
  };
  /**
   * The fold into the tests started afresh: a start where the canary's share steps up, its windows
   * weighed with the careful allowance (the canary's own shifts and stalls wherever its windows
   * hint at them). Warming folds start none and are weighed as the product's are. Without the
   * allowance for own shifts (`ownShifts: false`) a window's e-value is exact, so a fresh start
   * weighs it as the product does (`product`, the product's own window) and may start at the first
   * step up.
   */
  const freshWindow = (
    prev: ShapeState,
    f: Fold,
    scores: number[][],
    stalls: StallAllowance | undefined,
    product: () => number[],
  ): FreshStartState | undefined => {
    const canary = f.canary.reduce((s, n) => s + n, 0);
    const total = canary + f.baseline.reduce((s, x) => s + x, 0);
    const shifts = prev.ownShift;
    if (!shifts)
      return foldFresh(prev.fresh, { canary, total, windows: FRESH_AFTER, warming: f.warming }, product);
    const windows = prev.canaryShift?.windows ?? 0;
    return foldFresh(prev.fresh, { canary, total, windows, warming: f.warming }, () => {
      const ratios = carefulRatios(shifts, prev.canaryShift, LOCATION, prev.canaryOwn ?? false);
      const own = carefulOwn(shifts, prev.canaryShift, LOCATION, prev.canaryOwn ?? false);
      const sides = sideRatios(shifts, prev.canaryShift, LOCATION, own);
      const reference = prev.reference as number[];
      const bounds = prev.bounds as number[];
      const seen = stalls && 'variances' in stalls ? stalls : undefined;
      const rate = Math.max(seen?.rate ?? 0, prev.canaryShift ? stallRate(prev.canaryShift) : 0);
      const careful: StallAllowance | undefined =
        rate > 0
          ? {
              rate,
              variances: seen?.variances ?? scores.map((a) => scoreVariance(reference, a)),
            }
          : stalls;
      const weighed = f.warming ? scores.map((a) => nonDecreasing(a, reference)) : scores;
      return updateShapeTest(
        initialShapeTest(),
        weighed,
        f.warming ? moveCounts(f.canary, fasterBuckets(bounds, slower)) : f.canary,
        f.baseline,
        ratios,
        careful,
        leansOf(bounds, reference, weighed, LOCATION, sides),
      );
    });
  };
  return {
    kind: 'sequentialLatency',
    needs: 'histogram',
    history: ownShifts,
    look(raw, data: MetricData, ctx) {
      const prev = (raw as ShapeState | undefined) ?? { canary: [], baseline: [] };
      const read = readBuckets(prev.memory, data);
      if ('nodata' in read) return { state: prev, look: { phase: 'nodata', message: read.nodata } };
      const { c, b, memory } = read;
      if (!prev.bounds || !prev.reference || !prev.logE) {
        // The first look: the bounds, and the baseline's history as the reference shape.
        const bounds = [...b.cumulative.keys()].filter(Number.isFinite).sort((x, y) => x - y);
        if (bounds.length < 2) {
          return {
            state: { ...prev, memory },
            look: { phase: 'nodata', message: 'the baseline histogram needs at least two finite buckets' },
          };
        }
        const zeros = [...bounds, 0].map(() => 0);
        const reference = perBucket(bounds, b.cumulative);
        // The baseline's windows before the canary, read with the first look's scores.
        const history = (ownShifts && data.kind === 'histogram' ? (data.baselineHistory ?? []) : []).map(
          (w) => perBucket(bounds, historyWindow(w)),
        );
        const scores = shapeScores(bounds, reference);
        const single = history.reduce(observeShiftWindow, initialOwnShift(scores, LOCATION));
        const series = seriesOf(history, scores);
        const tailSeries = seriesOf(history, scores, TAIL);
        const block = ownShifts ? foldOf(series, tailSeries, single) : 1;
        const ownShift = !ownShifts
          ? undefined
          : block > 1
            ? sumBucketBlocks(history, block).reduce(observeShiftWindow, initialOwnShift(scores, LOCATION))
            : single;
        return {
          state: {
            memory,
            lastAt: ctx.at,
            bounds,
            reference,
            logE: initialShapeTest(),
            ...(ownShift ? { ownShift, canaryShift: initialOwnShift(scores, LOCATION, true) } : {}),
            ...(block > 1 ? { block } : {}),
            // No fold yet: the release's baseline windows are read for one at every look.
            ...(ownShifts && block === 1 ? { series, tailSeries } : {}),
            canary: zeros,
            baseline: zeros,
          },
          look: {
            phase: 'nodata',
            detail: { historyWindows: history.length, ...(block > 1 ? { foldedWindows: block } : {}) },
            message: `baseline latency recorded; counting the canary from now${
              !ownShift
                ? ''
                : history.length
                  ? `; own shifts calibrated on ${history.length} windows of the baseline's history${
                      block > 1 ? `, which last ${block} windows (tested as one)` : ''
                    }`
                  : '; no baseline history, so the first looks allow for own shifts'
            }`,
          },
        };
      }
      const { bounds } = prev;
      const cNow = perBucket(bounds, c.deltas);
      const bNow = perBucket(bounds, b.deltas);
      const total = (x: readonly number[]) => x.reduce((s, v) => s + v, 0);
      const warm = warmUpWindow(prev, ctx.at, total(cNow) > 0, warmMs);
      // Scores from the baseline before this look only, so they are fixed before its requests. A
      // warming canary's requests are weighed as if (1 + tolerance)× faster, rounded towards
      // faster, against scores that never fall towards slower buckets (stats/slower-by.ts).
      const add = (x: readonly number[], y: readonly number[]) => x.map((v, k) => v + (y[k] ?? 0));
      // Where the baseline's own shifts outlast a window, `block` windows are tested as one, and
      // the reference moves only when a fold is complete (its scores fixed before its requests).
      const block = prev.block ?? 1;
      const fold: Fold = {
        canary: add(prev.pending?.canary ?? cNow.map(() => 0), cNow),
        baseline: add(prev.pending?.baseline ?? bNow.map(() => 0), bNow),
        windows: (prev.pending?.windows ?? 0) + 1,
        warming: (prev.pending?.warming ?? false) || warm.warming,
      };
      const tested = fold.windows >= block ? testFold(prev, fold) : undefined;
      const state: ShapeState = {
        ...prev,
        ...tested,
        memory,
        lastAt: ctx.at,
        ...(warm.warmUntil !== undefined ? { warmUntil: warm.warmUntil } : {}),
        ...(tested ? {} : { pending: fold }),
        canary: add(prev.canary, cNow),
        baseline: add(prev.baseline, bNow),
      };
      if (tested) delete state.pending;
      if (prev.series && state.ownShift) readForFolds(state, prev.series, prev.tailSeries, bNow);
      const logE = state.logE as ShapeTestState;
      const settled = state.settled;
      if (total(cNow) + total(bNow) === 0)
        return { state, look: { phase: 'nodata', message: 'no requests since the last look' } };
      const all = withFreshStarts(shapeLogEValue(logE), state.fresh, SHAPE_WEIGHTS);
      const log = settled ? withSettled(all, shapeLogEValue(settled)) : all;
      const eValue = Math.exp(log);
      const stalls = stallsSeen(state);
      const side = (x: number[]) => ({
        total: total(x),
        p50: quantileOf(bounds, x, 0.5),
        p99: quantileOf(bounds, x, 0.99),
      });
      const detail = {
        eValue,
        threshold: 1 / alpha,
        canary: side(state.canary),
        baseline: side(state.baseline),
        ...(block > 1 ? { fold: { windows: block, done: tested ? block : fold.windows } } : {}),
        ...(state.canaryShift ? { canaryWindows: state.canaryShift.windows } : {}),
        ...(stalls ? { stalls } : {}),
        ...(warm.warming ? { warmingUp: { allowed: slower, until: warm.warmUntil } } : {}),
      };
      const canaryOwn = state.ownShift
        ? pairRatios(state.ownShift, state.canaryShift, LOCATION, state.canaryOwn, TAIL).canaryOwn
        : false;
      const ms = (v: number | undefined) => (v === undefined ? '?' : `${Number(v.toPrecision(3))}`);
      const words = `canary p50 ${ms(detail.canary.p50)}, p99 ${ms(detail.canary.p99)} over ${count(detail.canary.total)} requests; baseline p50 ${ms(detail.baseline.p50)}, p99 ${ms(detail.baseline.p99)} over ${count(detail.baseline.total)}${
        warm.warming ? `; warming up, up to ${slower}× the baseline's latency allowed` : ''
      }${canaryOwn ? "; the canary's latency moves more on its own than the baseline's, and is allowed for" : ''}${
        stalls
          ? `; the baseline's latency stalled in ${stalls.baseline} of ${stalls.windows} windows (a stall's chance taken as ${Number((stalls.rate * 100).toPrecision(2))}%), allowed for`
          : ''
      }${
        tested && state.stallLike
          ? `; a look this slow could be a stall (one window in ${Math.round(1 / state.stallLike)} allowed for), so it counts no more than a stall could`
          : ''
      }${tested ? '' : `; latency here shifts for longer than a look, so the test moves every ${block} looks (${fold.windows} of ${block})`}`;
      const failed = log >= bound;
      return {
        state,
        look: {
          phase: failed ? 'failed' : 'successful',
          value: { p50: detail.canary.p50, p99: detail.canary.p99 },
          detail,
          message: failed
            ? `latency regression: ${words}`
            : `no sign of regression: ${words} (${towardsRollback(eValue, alpha)})`,
        },
      };
    },
  };
}

function thresholdsJudge(options: SequentialLatencyOptions): Judge {
  const alpha = options.alpha ?? 0.01;
  // Defaults chosen with the detection benchmark (docs/decisions.md, "Defaults from the benchmark"):
  // any slower counts, and the tail has as many thresholds as the median.
  const tolerance = options.tolerance ?? 0;
  const quantiles = options.quantiles ?? [0.5, 0.9, 0.95, 0.99, 0.999];
  const bound = Math.log(1 / alpha);
  const warmMs = warmUpMs(options.warmUp);
  const slower = 1 + (options.warmUp?.tolerance ?? 0);
  return {
    kind: 'sequentialLatency',
    needs: 'histogram',
    look(raw, data: MetricData, ctx) {
      const prev = (raw as State | undefined) ?? {
        canary: { total: 0, slow: [] },
        baseline: { total: 0, slow: [] },
        windows: 0,
      };
      const read = readBuckets(prev.memory, data);
      if ('nodata' in read) return { state: prev, look: { phase: 'nodata', message: read.nodata } };
      const { c, b, memory } = read;
      if (!prev.thresholds) {
        // Fix the thresholds from baseline data that the test will never use: its history up to
        // now on the first look, or this window's baseline when there was no history.
        const source = prev.memory ? b.deltas : b.cumulative;
        const picked = options.thresholds ?? quantiles.map((q) => snapToBucket(source, q));
        const weights = options.weights ?? picked.map(() => 1);
        const merged = new Map<number, number>();
        picked.forEach((t, i) => {
          if (t !== undefined) merged.set(t, (merged.get(t) ?? 0) + (weights[i] ?? 1));
        });
        if (merged.size === 0) {
          return {
            state: { ...prev, memory },
            look: { phase: 'nodata', message: 'waiting for baseline latency to fix thresholds' },
          };
        }
        const thresholds = [...merged.keys()];
        const sum = [...merged.values()].reduce((s, w) => s + w, 0);
        return {
          state: {
            ...prev,
            memory,
            lastAt: ctx.at,
            thresholds,
            weights: thresholds.map((t) => (merged.get(t) as number) / sum),
            logL: thresholds.map(() => initialRateTest()),
            canary: { total: 0, slow: thresholds.map(() => 0) },
            baseline: { total: 0, slow: thresholds.map(() => 0) },
          },
          look: {
            phase: 'nodata',
            detail: { thresholds },
            message: `thresholds fixed at ${thresholds.join(', ')}`,
          },
        };
      }
      const inf = Number.POSITIVE_INFINITY;
      const cTotal = c.deltas.get(inf) ?? 0;
      const bTotal = b.deltas.get(inf) ?? 0;
      const slow = (deltas: Map<number, number>, total: number, t: number) =>
        Math.max(0, total - (deltas.get(t) ?? total));
      const warm = warmUpWindow(prev, ctx.at, cTotal > 0, warmMs);
      // A warming canary slower than τ is held against the baseline slower than the largest bound
      // at or below τ / (1 + tolerance): no more likely under the allowance (stats/slower-by.ts).
      const finite = [...b.deltas.keys()].filter(Number.isFinite);
      const baselineSlow = (t: number) => {
        if (!warm.warming) return slow(b.deltas, bTotal, t);
        const below = boundAtOrBelow(finite, t, slower);
        return below === undefined ? bTotal : slow(b.deltas, bTotal, below);
      };
      const fold = (tests: RateTestState[], baselineBad: (t: number) => number) =>
        tests.map((s, j) => {
          const t = (prev.thresholds as number[])[j] as number;
          return updateRateTest(
            s,
            {
              canaryTotal: cTotal,
              canaryBad: slow(c.deltas, cTotal, t),
              baselineTotal: bTotal,
              baselineBad: baselineBad(t),
            },
            tolerance,
          );
        });
      const logL = fold(prev.logL as RateTestState[], baselineSlow);
      const fresh = () => (prev.thresholds as number[]).map(() => initialRateTest());
      const settledL =
        warmMs === undefined
          ? undefined
          : warm.warming
            ? (prev.settledL ?? fresh())
            : fold(prev.settledL ?? fresh(), (t) => slow(b.deltas, bTotal, t));
      const thresholds = prev.thresholds;
      const state: State = {
        ...prev,
        memory,
        lastAt: ctx.at,
        ...(warm.warmUntil !== undefined ? { warmUntil: warm.warmUntil } : {}),
        logL,
        ...(settledL ? { settledL } : {}),
        canary: {
          total: prev.canary.total + cTotal,
          slow: thresholds.map((t, j) => (prev.canary.slow[j] ?? 0) + slow(c.deltas, cTotal, t)),
        },
        baseline: {
          total: prev.baseline.total + bTotal,
          slow: thresholds.map((t, j) => (prev.baseline.slow[j] ?? 0) + slow(b.deltas, bTotal, t)),
        },
        windows: prev.windows + 1,
      };
      const average = (tests: RateTestState[]) =>
        logWeightedSumExp(tests.map(rateLogEValue), state.weights as number[]);
      const logE = settledL ? withSettled(average(logL), average(settledL)) : average(logL);
      const share = (side: State['canary']) => side.slow.map((s) => (side.total ? s / side.total : 0));
      const detail = {
        eValue: Math.exp(logE),
        threshold: 1 / alpha,
        thresholds,
        canary: { total: state.canary.total, slowShare: share(state.canary) },
        baseline: { total: state.baseline.total, slowShare: share(state.baseline) },
        ...(warm.warming ? { warmingUp: { allowed: slower, until: warm.warmUntil } } : {}),
      };
      if (cTotal + bTotal === 0)
        return { state, look: { phase: 'nodata', detail, message: 'no requests since the last look' } };
      const pct = (v: number[]) => v.map((x) => `${(x * 100).toFixed(1)}%`).join('/');
      const shares = `slower than ${thresholds.join('/')}: canary ${pct(detail.canary.slowShare)} of ${count(detail.canary.total)} requests, baseline ${pct(detail.baseline.slowShare)} of ${count(detail.baseline.total)}${
        warm.warming ? `; warming up, up to ${slower}× the baseline's latency allowed` : ''
      }`;
      return {
        state,
        look: {
          phase: logE >= bound ? 'failed' : 'successful',
          value: detail.canary.slowShare,
          detail,
          message:
            logE >= bound
              ? `latency regression: ${shares}`
              : `no sign of regression: ${shares} (${towardsRollback(detail.eValue, alpha)})`,
        },
      };
    },
  };
}
