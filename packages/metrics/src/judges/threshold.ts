import { compileCondition } from '../conditions/expression.ts';
import type { MetricData } from '../providers/data.ts';
import type { Judge, Look } from './judge.ts';

export interface ThresholdOptions {
  successCondition?: string;
  failureCondition?: string;
  /** Flagger's `thresholdRange`: fails below `min` or above `max`. */
  thresholdRange?: { min?: number; max?: number };
}

const isEmpty = (v: number | number[]) =>
  Array.isArray(v) ? v.length === 0 || v.every(Number.isNaN) : Number.isNaN(v);
const first = (v: number | number[]) => (Array.isArray(v) ? v[0] : v);

/**
 * Argo's rules: no condition means success; one condition's opposite is the other; with both,
 * neither true is inconclusive and a true failure wins. A condition that cannot be evaluated
 * is an error. An empty answer or NaN (0/0 when nothing was served) is no data, not a failure.
 */
export function createThresholdJudge(options: ThresholdOptions): Judge {
  const success = options.successCondition ? compileCondition(options.successCondition) : undefined;
  const failure = options.failureCondition ? compileCondition(options.failureCondition) : undefined;
  const range = options.thresholdRange;
  return {
    kind: 'threshold',
    needs: 'scalar',
    look(state, data: MetricData) {
      if (data.kind !== 'scalar') throw new TypeError('threshold judge needs scalar data');
      const value = data.result;
      const detail = data.baseline !== undefined ? { baseline: data.baseline } : undefined;
      const done = (look: Look) => ({ state, look: { value, ...(detail ? { detail } : {}), ...look } });
      // A JSON value that is not a number (a string, an object) is data too: conditions compare it as it came.
      const raw = data.raw;
      const rawData = raw !== undefined && raw !== null && !(Array.isArray(raw) && raw.length === 0);
      if (isEmpty(value) && !rawData)
        return done({ phase: 'nodata', message: 'the query returned no value' });
      const env = { result: rawData ? raw : value, baseline: data.baseline ?? null };
      let failed = false;
      let succeeded: boolean | undefined;
      try {
        if (range) {
          const v = first(value) as number;
          failed ||= (range.min !== undefined && v < range.min) || (range.max !== undefined && v > range.max);
          succeeded = !failed;
        }
        if (failure) failed ||= failure.test(env);
        if (success) succeeded = (succeeded ?? true) && success.test(env);
      } catch (error) {
        return done({ phase: 'error', message: (error as Error).message });
      }
      if (failed) return done({ phase: 'failed', message: describe('failed', options) });
      if (succeeded === undefined) {
        // Only a failure condition (false here), or nothing at all.
        return done({ phase: 'successful' });
      }
      if (succeeded) return done({ phase: 'successful' });
      // Success condition false: failure when it is the only condition, inconclusive with both.
      return failure
        ? done({ phase: 'inconclusive', message: 'neither condition held' })
        : done({ phase: 'failed', message: describe('failed', options) });
    },
  };
}

function describe(what: string, o: ThresholdOptions): string {
  const parts = [
    o.thresholdRange ? `range [${o.thresholdRange.min ?? '-∞'}, ${o.thresholdRange.max ?? '∞'}]` : undefined,
    o.successCondition ? `success "${o.successCondition}"` : undefined,
    o.failureCondition ? `failure "${o.failureCondition}"` : undefined,
  ].filter(Boolean);
  return `${what}: ${parts.join(', ')}`;
}
