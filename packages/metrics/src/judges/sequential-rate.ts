import type { MetricData } from '../providers/data.ts';
import { type CounterMemory, counterDelta } from '../stats/counters.ts';
import {
  carefulVariance,
  DISPERSION_PRIOR,
  type DispersionPrior,
  type DispersionState,
  extraVariance,
  initialDispersion,
  isOutageWindow,
  observeBaseline,
  observeDispersion,
  baselineRate as pooledBaselineRate,
  withHistory,
} from '../stats/dispersion.ts';
import { type FreshStartState, foldFresh, withFreshStarts } from '../stats/fresh-starts.ts';
import {
  initialPairedTest,
  type PairedTestState,
  pairedLogEValue,
  updatePairedTest,
} from '../stats/paired-e-process.ts';
import {
  initialRateTest,
  RATE_WEIGHTS,
  type RateTestState,
  rateLogEValue,
  temperings,
  updateRateTest,
  type WindowCounts,
} from '../stats/rate-e-process.ts';
import {
  initialSplitTest,
  SPLIT_NULL_GRID,
  type SplitTestState,
  updateSplitTest,
} from '../stats/split-e-process.ts';
import type { Judge } from './judge.ts';
import { type WarmUpClock, type WarmUpOption, warmUpMs, warmUpWindow, withSettled } from './warm-up.ts';
import { count, percent, towardsRollback } from './words.ts';

export interface SequentialRateOptions {
  alpha?: number;
  tolerance?: number;
  /**
   * How the test allows for error rates that vary from window to window beyond Poisson: the
   * prior belief about that variation, estimated from the windows as they come (the default), or
   * `false` to assume Poisson counts — exact then, but it rolls back good canaries whose error
   * rates burst independently of the baseline's.
   */
  dispersion?: DispersionPrior | false;
  /**
   * A canary allowed to be worse while it warms up (caches filling, connections opening): for its
   * first `duration` of traffic, counted from the first look that finds it serving, `tolerance`
   * stands in for the metric's where larger (2 lets a cold canary fail up to 3× as often as the
   * baseline). A warm-up within it is no regression, and a canary far worse than it is still caught
   * from its first look — where `initialDelay` looks at nothing until then. The allowance ends on
   * time.
   */
  warmUp?: WarmUpOption;
}

interface State extends WarmUpClock, Tests {
  memory?: { ct: CounterMemory; cb: CounterMemory; bt: CounterMemory; bb: CounterMemory };
  canary: { total: number; bad: number };
  baseline: { total: number; bad: number };
  windows: number;
  dispersion?: DispersionState;
  /** With `warmUp`: the same tests over the windows after the allowance only. */
  settled?: Tests;
  /** The baseline's bad-request rate over its lifetime at the first look (until windows have some). */
  priorRate?: number;
  /** Windows of the fold under way, where bursts outlast a window (`dispersion.block`). */
  pending?: Fold;
  /** The test started afresh where the canary's share steps up (stats/fresh-starts.ts). */
  fresh?: FreshStartState;
}

/** Windows summed until a fold is complete. */
interface Fold {
  counts: WindowCounts;
  windows: number;
  warming: boolean;
}

/** The rate tests a judge folds windows into: the tempered one, and with bursts allowed for, the pairing. */
interface Tests {
  logL: RateTestState;
  /** The test against every level of the canary's own bursts (stats/split-e-process.ts). */
  split?: SplitTestState;
  /** The tempered test once per own-variation level, paired with the split test (stats/paired-e-process.ts). */
  paired?: PairedTestState;
}

/** Folds one window into the tests, tempered at c for own bursts (0: Poisson) against the baseline's `rate`. */
function foldTests(
  t: Tests,
  w: WindowCounts,
  tol: number,
  c: number,
  rate: number | undefined,
  bursts: boolean,
  outage = false,
): Tests {
  // The pairing's top level is tempered at min(its level, c) = c in every window (c is a level of
  // the dispersion grid, whose top the split grid shares): it is the single tempered test, kept
  // as logL for `dispersion: false` and for a judge of an earlier version resuming this state.
  const paired = bursts
    ? updatePairedTest(t.paired ?? initialPairedTest(t.logL), w, tol, c, rate)
    : undefined;
  return {
    logL:
      paired && c <= (SPLIT_NULL_GRID.at(-1) as number)
        ? (paired.at(-1) as RateTestState)
        : updateRateTest(t.logL, w, tol, temperings(w, tol, c, rate), rate),
    ...(paired
      ? { split: updateSplitTest(t.split ?? initialSplitTest(), w, tol, outage ? rate : undefined), paired }
      : {}),
  };
}

/**
 * Allowing for bursts, two tests paired level by level of the canary's own variation: the
 * tempered one (a canary bursting on its own) and the one against each own-burst level (bursts
 * both sides share).
 */
const testsLogE = (t: Tests) =>
  t.split && t.paired ? pairedLogEValue(t.paired, t.split) : rateLogEValue(t.logL);

/**
 * The judge's e-value as its tests stand, with the tests started afresh; with an allowance,
 * averaged with the settled tests.
 */
function stateLogE(state: State, allowance: boolean): number {
  const all = withFreshStarts(testsLogE(state), state.fresh, RATE_WEIGHTS);
  return allowance ? withSettled(all, testsLogE(state.settled ?? { logL: initialRateTest() })) : all;
}

/** Adds a look's window to the fold under way (none after a complete fold: the state drops it). */
function addToFold(from: Fold | undefined, w: WindowCounts, warming: boolean): Fold {
  return {
    counts: {
      canaryTotal: (from?.counts.canaryTotal ?? 0) + w.canaryTotal,
      canaryBad: (from?.counts.canaryBad ?? 0) + w.canaryBad,
      baselineTotal: (from?.counts.baselineTotal ?? 0) + w.baselineTotal,
      baselineBad: (from?.counts.baselineBad ?? 0) + w.baselineBad,
    },
    windows: (from?.windows ?? 0) + 1,
    warming: (from?.warming ?? false) || warming,
  };
}

const sum = (series: readonly { value: number }[]) =>
  series.reduce((s, x) => s + (Number.isFinite(x.value) && x.value > 0 ? x.value : 0), 0);

/**
 * Canary versus baseline error counts, looked at after every scrape: fails once the e-value
 * reaches 1/α, which happens for a canary no worse than (1 + tolerance)× the baseline with
 * probability at most α over the whole run. Each look that does not reject is a success.
 */
export function createSequentialRateJudge(options: SequentialRateOptions = {}): Judge {
  const alpha = options.alpha ?? 0.01;
  const tolerance = options.tolerance ?? 0;
  const threshold = Math.log(1 / alpha);
  const prior = options.dispersion ?? DISPERSION_PRIOR;
  const warmUp = options.warmUp && {
    ms: warmUpMs(options.warmUp) as number,
    tolerance: Math.max(tolerance, options.warmUp.tolerance),
  };
  return {
    kind: 'sequentialRate',
    needs: 'counts',
    history: prior !== false,
    look(raw, data: MetricData, ctx) {
      if (data.kind !== 'counts') throw new TypeError('sequentialRate needs counts');
      const prev = (raw as State | undefined) ?? {
        logL: initialRateTest(),
        canary: { total: 0, bad: 0 },
        baseline: { total: 0, bad: 0 },
        windows: 0,
      };
      // A canary with no series yet at the first look (it has served nothing): the counters are
      // remembered all the same, so every request it serves later is counted from zero and its
      // first window is tested, not spent on remembering.
      const firstLookBeforeCanary =
        !prev.memory && data.canary.total.length === 0 && data.baseline.total.length > 0;
      if (!firstLookBeforeCanary && (data.canary.total.length === 0 || data.baseline.total.length === 0)) {
        const side = data.canary.total.length === 0 ? 'canary' : 'baseline';
        return {
          state: prev,
          look: { phase: 'nodata', message: `no requests recorded for the ${side} yet` },
        };
      }
      const ct = counterDelta(prev.memory?.ct, data.canary.total);
      const cb = counterDelta(prev.memory?.cb, data.canary.bad);
      const bt = counterDelta(prev.memory?.bt, data.baseline.total);
      const bb = counterDelta(prev.memory?.bb, data.baseline.bad);
      const memory = { ct: ct.memory, cb: cb.memory, bt: bt.memory, bb: bb.memory };
      if (!prev.memory) {
        // The baseline's rate before the canary: over the history the provider gave, else its
        // counters' lifetime. The history also calibrates the extra variation (stats/dispersion.ts).
        const history = data.baseline.history ?? [];
        const hTotal = history.reduce((s, w) => s + Math.max(0, w.total), 0);
        const hBad = history.reduce((s, w) => s + Math.max(0, w.bad), 0);
        const total = hTotal > 0 ? hTotal : sum(data.baseline.total);
        const bad = hTotal > 0 ? hBad : sum(data.baseline.bad);
        const priorRate = total > 0 && bad > 0 ? bad / total : undefined;
        const dispersion = prior && history.length ? withHistory(initialDispersion(), history) : undefined;
        return {
          state: {
            ...prev,
            memory,
            lastAt: ctx.at,
            ...(priorRate !== undefined ? { priorRate } : {}),
            ...(dispersion ? { dispersion } : {}),
          },
          look: {
            phase: 'nodata',
            detail: { historyWindows: dispersion?.historyWindows ?? 0 },
            message: `${
              firstLookBeforeCanary
                ? 'no requests recorded for the canary yet; counting them from now'
                : 'counters recorded; the test starts with the next look'
            }${
              !prior
                ? ''
                : dispersion?.historyWindows
                  ? `; bursts calibrated on ${dispersion.historyWindows} windows of the baseline's history`
                  : '; no baseline history, so the first looks allow for bursts'
            }`,
          },
        };
      }
      const w = {
        canaryTotal: ct.delta,
        canaryBad: cb.delta,
        baselineTotal: bt.delta,
        baselineBad: bb.delta,
      };
      // A warming canary's windows test against the warm-up's allowance, and are kept out of the
      // estimate of bursts (a cold start is not variation the rest of the release will have).
      const { warming, warmUntil } = warmUpWindow(prev, ctx.at, w.canaryTotal > 0, warmUp?.ms);
      const canary = { total: prev.canary.total + w.canaryTotal, bad: prev.canary.bad + w.canaryBad };
      const baseline = {
        total: prev.baseline.total + w.baselineTotal,
        bad: prev.baseline.bad + w.baselineBad,
      };
      // Where the history's bursts outlast a window, the tests fold `block` windows as one
      // (stats/persistence.ts) and move when a fold is complete; a fold is warming if any of its
      // windows is (the null it is tested against is then the wider one).
      const block = prev.dispersion?.block ?? 1;
      const pending = block > 1 ? addToFold(prev.pending, w, warming) : undefined;
      const complete = !pending || pending.windows >= block;
      const f: WindowCounts = pending ? pending.counts : w;
      const foldWarming = pending ? pending.warming : warming;
      const tol = foldWarming && warmUp ? warmUp.tolerance : tolerance;
      const dispersion = prev.dispersion ?? initialDispersion();
      const c = prior ? extraVariance(dispersion, prior) : 0;
      // The baseline's rate outside outages; the larger of the pooled and the history's (a wider
      // allowance), or its counters' lifetime rate when no history was given.
      const rate =
        Math.max(
          pooledBaselineRate(dispersion) ?? 0,
          dispersion.historyRate ?? (dispersion.historyWindows ? 0 : (prev.priorRate ?? 0)),
        ) || undefined;
      // The baseline's window also tells how long its bursts last: where the windows read so far
      // showed none that outlast a window, they may now (folded from the next look on). Not with
      // `dispersion: false`, which assumes Poisson counts and so never folds.
      const observeBaselineWhereBursty = (d: DispersionState) =>
        prior === false ? d : observeBaseline(d, { total: w.baselineTotal, bad: w.baselineBad });
      const foldTestsOf = (): State => {
        // Where the history showed outages over quiet traffic, a window over the outage cut may be
        // one: the split test weighs that reading too (stats/split-e-process.ts).
        const outage = prior !== false && dispersion.historyOutages === true && isOutageWindow(dispersion, f);
        const tests = foldTests(prev, f, tol, c, rate, prior !== false, outage);
        // With an allowance, the same tests over the windows after it too, so an allowance looser
        // than the warm-up was (its windows pulling the first tests down) costs little more than
        // initialDelay would have (judges/warm-up.ts).
        const settled =
          warmUp === undefined
            ? undefined
            : foldWarming
              ? (prev.settled ?? { logL: initialRateTest() })
              : foldTests(
                  prev.settled ?? { logL: initialRateTest() },
                  f,
                  tolerance,
                  c,
                  rate,
                  prior !== false,
                  outage,
                );
        // The tests started afresh where the canary's share steps up, tempered with care.
        const fresh = foldFresh(
          prev.fresh,
          {
            canary: f.canaryTotal,
            total: f.canaryTotal + f.baselineTotal,
            windows: prev.windows,
            warming: foldWarming,
          },
          () => {
            const careful = prior ? carefulVariance(dispersion, prior) : 0;
            return updateRateTest(initialRateTest(), f, tol, temperings(f, tol, careful, rate), rate);
          },
        );
        // Once the canary's splits show it bursting beyond the joint bound (`screenSplits`), the
        // bound from its splits tempers the windows after. The evidence built before is kept:
        // giving it up bought little (most such rollbacks come before the screen can tell) and cost
        // much where the screen fires by chance (docs/decisions.md).
        const { pending: _folded, ...rest } = prev;
        return {
          ...rest,
          ...tests,
          fresh,
          ...(settled ? { settled } : {}),
          dispersion: observeBaselineWhereBursty(
            foldWarming ? dispersion : observeDispersion(dispersion, f, prior || undefined),
          ),
          windows: prev.windows + 1,
        };
      };
      const state: State = {
        ...(complete ? foldTestsOf() : { ...prev, pending }),
        memory,
        lastAt: ctx.at,
        ...(warmUntil !== undefined ? { warmUntil } : {}),
        canary,
        baseline,
      };
      const logE = stateLogE(state, warmUp !== undefined);
      const burstsMore = prior !== false && state.dispersion?.canaryOwn === true;
      const canaryRate = canary.total ? canary.bad / canary.total : 0;
      const baselineRate = baseline.total ? baseline.bad / baseline.total : 0;
      const detail = {
        eValue: Math.exp(logE),
        threshold: 1 / alpha,
        canary: { ...canary, rate: canaryRate },
        baseline: { ...baseline, rate: baselineRate },
        window: w,
        resets: ct.resets + cb.resets + bt.resets + bb.resets,
        extraVariation: Math.sqrt(c),
        ...(burstsMore ? { canaryBurstsMore: true } : {}),
        ...(block > 1 ? { fold: { windows: block, done: complete ? block : (pending?.windows ?? 0) } } : {}),
        ...(warming
          ? { warmingUp: { allowed: 1 + (warmUp?.tolerance ?? tolerance), until: warmUntil } }
          : {}),
      };
      if (w.canaryTotal + w.baselineTotal === 0) {
        return { state, look: { phase: 'nodata', detail, message: 'no requests since the last look' } };
      }
      const rates = `canary ${percent(canaryRate)} errors over ${count(canary.total)} requests, baseline ${percent(baselineRate)} over ${count(baseline.total)}${
        warming
          ? `; warming up, up to ${1 + (warmUp?.tolerance ?? tolerance)}× the baseline's rate allowed`
          : ''
      }${
        burstsMore
          ? "; the canary's errors burst more on their own than the baseline's, and are allowed for"
          : ''
      }${complete ? '' : `; bursts here last longer than a look, so the test moves every ${block} looks (${pending?.windows} of ${block})`}`;
      return {
        state,
        look: {
          phase: logE >= threshold ? 'failed' : 'successful',
          value: canaryRate,
          detail,
          message:
            logE >= threshold
              ? `error rate regression: ${rates}`
              : `no sign of regression: ${rates} (${towardsRollback(detail.eValue, alpha)})`,
        },
      };
    },
  };
}
