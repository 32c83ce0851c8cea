import type { JudgeSpec, MetricSource } from '../gate/metric-spec.ts';
import type { DataKind, MetricData } from '../providers/data.ts';
import { createMannWhitneyJudge } from './mann-whitney.ts';
import { createSequentialLatencyJudge } from './sequential-latency.ts';
import { createSequentialRateJudge } from './sequential-rate.ts';
import { createThresholdJudge } from './threshold.ts';

/** A look's result, before the gate counts it. `nodata` waits; it is never evidence of a regression. */
export interface Look {
  phase: 'successful' | 'failed' | 'inconclusive' | 'nodata' | 'error';
  value?: unknown;
  detail?: Record<string, unknown>;
  message?: string;
}

/**
 * Pure over a JSON state: `look` folds one measurement into the state and says what it shows.
 * A resumed rollout hands back the saved state and the test continues where it stopped.
 */
export interface Judge {
  readonly kind: string;
  readonly needs: DataKind;
  /**
   * Asks, at its first look, for the baseline's windows per look interval over the last hour
   * (`CountsData.baseline.history`, `HistogramData.baselineHistory`), to calibrate on before the
   * canary serves.
   */
  readonly history?: boolean;
  look(state: unknown, data: MetricData, ctx: { at: number }): { state: unknown; look: Look };
}

/** The judge a metric asks for: `judge` if set, else a threshold over conditions or a range. */
export function judgeFor(metric: MetricSource): Judge {
  const spec: JudgeSpec | undefined = metric.judge;
  if (spec && 'sequentialRate' in spec) return createSequentialRateJudge(spec.sequentialRate);
  if (spec && 'sequentialLatency' in spec) return createSequentialLatencyJudge(spec.sequentialLatency);
  if (spec && 'mannWhitney' in spec) return createMannWhitneyJudge(spec.mannWhitney);
  return createThresholdJudge({
    ...(metric.successCondition ? { successCondition: metric.successCondition } : {}),
    ...(metric.failureCondition ? { failureCondition: metric.failureCondition } : {}),
    ...(metric.thresholdRange ? { thresholdRange: metric.thresholdRange } : {}),
  });
}
