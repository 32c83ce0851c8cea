import { z } from 'zod';
import { Duration, hinted } from './primitives.ts';

/**
 * One metric of an analysis, with Argo Rollouts' counting semantics and defaults so that
 * AnalysisTemplates port directly. Provider and judge settings pass through untouched: the
 * MetricGate in use validates them (see `MetricGate.validate`).
 */
const countingFields = {
  name: z.string().min(1).max(63).describe("The metric's name, unique in its analysis."),
  interval: Duration.optional().describe(
    'Time between looks, e.g. "1m" (required when count is more than 1).',
  ),
  initialDelay: Duration.optional().describe(
    'Wait this long after the analysis starts before the first look.',
  ),
  count: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe(
      "How many looks; 0 or unset with an interval: until the analysis ends (background, a step's pause).",
    ),
  failureLimit: z
    .number()
    .int()
    .min(-1)
    .default(0)
    .describe('Failed looks tolerated; one more fails the metric (-1: never, with consecutiveSuccessLimit).'),
  inconclusiveLimit: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe('Inconclusive looks tolerated before the analysis is inconclusive and waits for a person.'),
  consecutiveErrorLimit: z
    .number()
    .int()
    .nonnegative()
    .default(4)
    .describe('Looks in a row that could not be measured (the provider failed) before the metric errors.'),
  consecutiveSuccessLimit: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe('Successful looks in a row that end the metric as successful (0: not used).'),
  dryRun: z
    .boolean()
    .default(false)
    .describe('Measure and report, but never fail the rollout on this metric.'),
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

const analysisFields = {
  name: z.string().min(1).max(63).optional().describe('A name for the analysis in status and events.'),
  metrics: z
    .array(AnalysisMetricSchema)
    .min(1, { message: 'needs at least one metric' })
    .describe(
      'What is measured, each with its provider (prometheus, istio, nginx, gatewayApi, web, …) and how it is judged (successCondition, or a judge); see @kanary/metrics.',
    ),
  args: z
    .record(z.string(), z.string())
    .optional()
    .describe("Values of `{{args.NAME}}` in the metrics' queries."),
};

export const AnalysisSchema = z.strictObject(analysisFields).superRefine(uniqueMetricNames);

/**
 * Analysis that runs alongside the steps (Argo's background analysis): measured from
 * `startingStep` until the steps end, it aborts the rollout the moment it fails, whatever step
 * or pause the rollout is in.
 */
export const BackgroundAnalysisSchema = z
  .strictObject({
    ...analysisFields,
    startingStep: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe('Index of the step where measuring begins (0: from the first step).'),
    noData: z
      .enum(['inconclusive', 'fail', 'pass'])
      .optional()
      .describe(
        'When the steps end and not one look had data (no traffic, an empty query): `inconclusive` (default) waits for a person, `fail` rolls back, `pass` promotes. No evidence is not a pass unless you say so.',
      ),
  })
  .superRefine(uniqueMetricNames);

/** The spec's `analysis` (background), parsed; every field in docs/spec-reference.md ("analysis: inline"). */
export type BackgroundAnalysisSpec = z.output<typeof BackgroundAnalysisSchema>;
/** One metric of an analysis, parsed: its counting fields (docs/spec-reference.md, "analysis.metrics[]"); provider and judge fields pass through to the metric gate. */
export type AnalysisMetric = z.output<typeof AnalysisMetricSchema>;
/** An analysis (a step's, blue-green's pre/post-promotion), parsed; fields in docs/spec-reference.md. */
export type AnalysisSpec = z.output<typeof AnalysisSchema>;
