import { z } from 'zod';
import { Duration, hinted } from './primitives.ts';

/**
 * One metric of an analysis, with Argo Rollouts' counting semantics and defaults so that
 * AnalysisTemplates port directly. Provider and judge settings pass through untouched: the
 * MetricGate in use validates them (see `MetricGate.validate`).
 */
const countingFields = {
  name: z.string().min(1).max(63),
  interval: Duration.optional(),
  initialDelay: Duration.optional(),
  count: z.number().int().nonnegative().optional(),
  failureLimit: z.number().int().min(-1).default(0),
  inconclusiveLimit: z.number().int().nonnegative().default(0),
  consecutiveErrorLimit: z.number().int().nonnegative().default(4),
  consecutiveSuccessLimit: z.number().int().nonnegative().default(0),
  dryRun: z.boolean().default(false),
};

/**
 * The fields of a metric core owns (its counting). A MetricGate owns the rest and refuses what
 * neither knows, or a misspelt field (`sucessCondition`) would pass through unread.
 */
export const ANALYSIS_METRIC_FIELDS: readonly string[] = Object.keys(countingFields);

export const AnalysisMetricSchema = z.looseObject(countingFields).superRefine((m, ctx) => {
  if ((m.count ?? 0) > 1 && m.interval === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['interval'],
      ...hinted('is required when count is more than 1', 'set interval, e.g. "30s"'),
    });
  }
  if (m.failureLimit === -1 && m.consecutiveSuccessLimit === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['consecutiveSuccessLimit'],
      ...hinted(
        'must be set when failureLimit is -1, or the metric can never finish',
        'set consecutiveSuccessLimit to 1 or more, or failureLimit to 0 or more',
      ),
    });
  }
  if (m.count !== undefined && m.count > 0) {
    const need = Math.max(m.failureLimit, 0) + m.consecutiveSuccessLimit;
    if (m.count < need) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        ...hinted(
          `is smaller than failureLimit + consecutiveSuccessLimit (${need})`,
          `raise count to at least ${need}`,
        ),
      });
    }
  }
});

function uniqueMetricNames(a: { metrics: Array<{ name: string }> }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  a.metrics.forEach((m, i) => {
    if (seen.has(m.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', i, 'name'],
        ...hinted(`"${m.name}" is used by two metrics`, 'give every metric a unique name'),
      });
    }
    seen.add(m.name);
  });
}

export const AnalysisSchema = z
  .strictObject({
    name: z.string().min(1).max(63).optional(),
    metrics: z.array(AnalysisMetricSchema).min(1, { message: 'needs at least one metric' }),
    args: z.record(z.string(), z.string()).optional(),
  })
  .superRefine(uniqueMetricNames);

/**
 * Analysis that runs alongside the steps (Argo's background analysis): measured from
 * `startingStep` until the steps end, it aborts the rollout the moment it fails, whatever step
 * or pause the rollout is in.
 */
export const BackgroundAnalysisSchema = z
  .strictObject({
    name: z.string().min(1).max(63).optional(),
    metrics: z.array(AnalysisMetricSchema).min(1, { message: 'needs at least one metric' }),
    args: z.record(z.string(), z.string()).optional(),
    /** Index of the step where measuring begins (default 0: from the first step). */
    startingStep: z.number().int().nonnegative().default(0),
    /**
     * When the steps end and not one look had data (a canary with no traffic, a query that returns
     * nothing): `inconclusive` (default) pauses for a human, `fail` rolls back, `pass` promotes.
     * No evidence is not a pass unless the spec says so.
     */
    noData: z.enum(['inconclusive', 'fail', 'pass']).optional(),
  })
  .superRefine(uniqueMetricNames);

export type BackgroundAnalysisSpec = z.output<typeof BackgroundAnalysisSchema>;
export type AnalysisMetric = z.output<typeof AnalysisMetricSchema>;
export type AnalysisSpec = z.output<typeof AnalysisSchema>;
