import type { MetricData } from '../providers/data.ts';
import { type CounterMemory, counterDelta } from '../stats/counters.ts';
import {
  initialRateTest,
  type RateTestState,
  rateLogEValue,
  updateRateTest,
} from '../stats/rate-e-process.ts';
import type { Judge } from './judge.ts';

export interface SequentialRateOptions {
  alpha?: number;
  tolerance?: number;
}

interface State {
  memory?: { ct: CounterMemory; cb: CounterMemory; bt: CounterMemory; bb: CounterMemory };
  logL: RateTestState;
  canary: { total: number; bad: number };
  baseline: { total: number; bad: number };
  windows: number;
}

/**
 * Canary versus baseline error counts, looked at after every scrape: fails once the e-value
 * reaches 1/α, which happens for a canary no worse than (1 + tolerance)× the baseline with
 * probability at most α over the whole run. Each look that does not reject is a success.
 */
export function createSequentialRateJudge(options: SequentialRateOptions = {}): Judge {
  const alpha = options.alpha ?? 0.01;
  const tolerance = options.tolerance ?? 0.1;
  const threshold = Math.log(1 / alpha);
  return {
    kind: 'sequentialRate',
    needs: 'counts',
    look(raw, data: MetricData) {
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
        return {
          state: { ...prev, memory },
          look: {
            phase: 'nodata',
            message: firstLookBeforeCanary
              ? 'no requests recorded for the canary yet; counting them from now'
              : 'counters recorded; the test starts with the next look',
          },
        };
      }
      const w = {
        canaryTotal: ct.delta,
        canaryBad: cb.delta,
        baselineTotal: bt.delta,
        baselineBad: bb.delta,
      };
      const state: State = {
        memory,
        logL: updateRateTest(prev.logL, w, tolerance),
        canary: { total: prev.canary.total + w.canaryTotal, bad: prev.canary.bad + w.canaryBad },
        baseline: { total: prev.baseline.total + w.baselineTotal, bad: prev.baseline.bad + w.baselineBad },
        windows: prev.windows + 1,
      };
      const logE = rateLogEValue(state.logL);
      const canaryRate = state.canary.total ? state.canary.bad / state.canary.total : 0;
      const baselineRate = state.baseline.total ? state.baseline.bad / state.baseline.total : 0;
      const detail = {
        eValue: Math.exp(logE),
        threshold: 1 / alpha,
        canary: { ...state.canary, rate: canaryRate },
        baseline: { ...state.baseline, rate: baselineRate },
        window: w,
        resets: ct.resets + cb.resets + bt.resets + bb.resets,
      };
      if (w.canaryTotal + w.baselineTotal === 0) {
        return { state, look: { phase: 'nodata', detail, message: 'no requests since the last look' } };
      }
      const summary = `canary ${(canaryRate * 100).toFixed(3)}% of ${state.canary.total}, baseline ${(baselineRate * 100).toFixed(3)}% of ${state.baseline.total}, e-value ${detail.eValue.toPrecision(3)}`;
      return {
        state,
        look: {
          phase: logE >= threshold ? 'failed' : 'successful',
          value: canaryRate,
          detail,
          message: logE >= threshold ? `error rate regression: ${summary} ≥ ${1 / alpha}` : summary,
        },
      };
    },
  };
}
