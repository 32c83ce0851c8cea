import type { AnalysisMetric } from '@kanary/core/adapter';
import type { Look } from '../judges/judge.ts';

export type MetricPhase = 'running' | 'successful' | 'failed' | 'inconclusive' | 'error';

/** Argo's per-metric counters, plus the run of looks without data. JSON, kept in gate state. */
export interface Tally {
  count: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  consecutiveError: number;
  consecutiveSuccess: number;
  nodata: number;
  consecutiveNoData: number;
}

export const emptyTally = (): Tally => ({
  count: 0,
  successful: 0,
  failed: 0,
  inconclusive: 0,
  error: 0,
  consecutiveError: 0,
  consecutiveSuccess: 0,
  nodata: 0,
  consecutiveNoData: 0,
});

export function addLook(t: Tally, phase: Look['phase']): Tally {
  const next = { ...t };
  if (phase === 'error') {
    next.error += 1;
    next.consecutiveError += 1;
    return next;
  }
  next.consecutiveError = 0;
  if (phase === 'nodata') {
    next.nodata += 1;
    next.consecutiveNoData += 1;
    return next;
  }
  next.consecutiveNoData = 0;
  next.count += 1;
  next[phase] += 1;
  next.consecutiveSuccess = phase === 'successful' ? next.consecutiveSuccess + 1 : 0;
  return next;
}

/** Argo's effective count: unset or 0 means one look without an interval, forever with one. */
export function effectiveCount(m: AnalysisMetric): number {
  if (m.count !== undefined && m.count > 0) return m.count;
  return m.interval === undefined ? 1 : Number.POSITIVE_INFINITY;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * The metric's phase after a look, in Argo's order (a later match overwrites an earlier one:
 * failed, then inconclusive, then error), then early success, then what reaching `count`
 * means for the limits set. Looks without data are not counted; too many in a row is
 * inconclusive — no evidence either way, so a human decides.
 */
export function assess(
  m: AnalysisMetric,
  t: Tally,
  noDataLimit: number,
): { phase: MetricPhase; message?: string } {
  let verdict: { phase: MetricPhase; message?: string } | undefined;
  if (m.failureLimit >= 0 && t.failed > m.failureLimit) {
    verdict = {
      phase: 'failed',
      message: `${plural(t.failed, 'failed look')} > failureLimit ${m.failureLimit}`,
    };
  }
  if (t.inconclusive > m.inconclusiveLimit) {
    verdict = {
      phase: 'inconclusive',
      message: `${plural(t.inconclusive, 'inconclusive look')} > inconclusiveLimit ${m.inconclusiveLimit}`,
    };
  }
  if (t.consecutiveError > m.consecutiveErrorLimit) {
    verdict = {
      phase: 'error',
      message: `${plural(t.consecutiveError, 'error')} in a row > consecutiveErrorLimit ${m.consecutiveErrorLimit}`,
    };
  }
  if (verdict) return verdict;
  if (t.consecutiveNoData > noDataLimit) {
    return {
      phase: 'inconclusive',
      message: `no data for ${plural(t.consecutiveNoData, 'look')} in a row > noDataLimit ${noDataLimit}`,
    };
  }
  if (m.consecutiveSuccessLimit > 0 && t.consecutiveSuccess >= m.consecutiveSuccessLimit) {
    return { phase: 'successful', message: `${t.consecutiveSuccess} successful looks in a row` };
  }
  if (t.count >= effectiveCount(m)) {
    if (m.consecutiveSuccessLimit > 0) {
      // With failures still counted (failureLimit ≥ 0) that is undecided; without, a failure.
      return m.failureLimit >= 0
        ? {
            phase: 'inconclusive',
            message: `count ${t.count} reached without ${m.consecutiveSuccessLimit} successes in a row`,
          }
        : {
            phase: 'failed',
            message: `count ${t.count} reached without ${m.consecutiveSuccessLimit} successes in a row`,
          };
    }
    return { phase: 'successful' };
  }
  return { phase: 'running' };
}

const ORDER: Record<MetricPhase, number> = {
  successful: 0,
  running: 1,
  inconclusive: 3,
  error: 4,
  failed: 5,
};

/** The worst of the phases (Argo: Successful < Running < Pending < Inconclusive < Error < Failed). */
export function worst(phases: readonly MetricPhase[]): MetricPhase {
  return phases.reduce<MetricPhase>((w, p) => (ORDER[p] > ORDER[w] ? p : w), 'successful');
}
