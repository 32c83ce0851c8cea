import { tryParseDuration } from '@kanary/core/adapter';
import { z } from 'zod';

/**
 * What `@kanary/metrics` reads from a metric in a rollout spec, on top of the counting fields
 * core validates (count, interval, failureLimit, ...): where the data comes from (`provider`)
 * and who judges it (`successCondition`/`failureCondition`/`thresholdRange` or `judge`).
 */

const SideCounts = z.strictObject({ total: z.string().min(1), bad: z.string().min(1) });

export const PrometheusSourceSchema = z.strictObject({
  /** A server the host configured, by name (`createMetricGate({ prometheus: { servers } })`). */
  server: z.string().min(1).optional(),
  /** Another server's address: one the host configured or allow-listed (see SECURITY.md). */
  address: z.url().optional(),
  /** For threshold judges: a scalar or instant-vector query; `result` in conditions. */
  query: z.string().min(1).optional(),
  /**
   * Per side: counters `{ total, bad }` (sequentialRate), a `_bucket` selector (sequentialLatency),
   * a range query (mannWhitney) or, for thresholds, a query whose value is `baseline`.
   */
  canary: z.union([z.string().min(1), SideCounts]).optional(),
  baseline: z.union([z.string().min(1), SideCounts]).optional(),
  /** Range-query resolution for mannWhitney (default: the metric's interval, or 60s). */
  step: z.union([z.string(), z.number()]).optional(),
});

const BuiltinSchema = z.strictObject({
  /** `errors`: 5xx share (success rate % for thresholds); `latency`: request duration. */
  metric: z.enum(['errors', 'latency']),
  /** For threshold judges on latency: the quantile in ms (default 0.99) or the mean. */
  statistic: z.union([z.literal('mean'), z.number().gt(0).lt(1)]).optional(),
  server: z.string().min(1).optional(),
  address: z.url().optional(),
  step: z.union([z.string(), z.number()]).optional(),
});

export const ProviderSchema = z.union(
  [
    z.strictObject({ prometheus: PrometheusSourceSchema }),
    z.strictObject({
      web: z.strictObject({
        /** A web server the host configured, by name; `url` is then relative to it. */
        server: z.string().min(1).optional(),
        url: z.string().min(1),
        method: z.enum(['GET', 'POST']).optional(),
        headers: z.record(z.string(), z.string()).optional(),
        body: z.string().optional(),
        /** Where the number is in the JSON answer, e.g. `$.data.ok_ratio` or `$.series[0].value`. */
        jsonPath: z.string().min(1),
        timeout: z.union([z.string(), z.number()]).optional(),
      }),
    }),
    z.strictObject({ function: z.string().min(1) }),
    z.strictObject({ istio: BuiltinSchema }),
    z.strictObject({ nginx: BuiltinSchema.extend({ ingress: z.string().min(1).optional() }) }),
    z.strictObject({ gatewayApi: BuiltinSchema.extend({ route: z.string().min(1).optional() }) }),
  ],
  { message: 'must have exactly one of prometheus, web, function, istio, nginx or gatewayApi' },
);

const Probability = z.number().gt(0).lt(1);

/** A judge's warm-up allowance: how long from the canary's first traffic, and how much worse meanwhile. */
const WarmUp = z.strictObject({
  duration: z.union([z.string(), z.number()]).refine((d) => (tryParseDuration(d) ?? 0) > 0, {
    message: 'a duration above zero, such as "1m" or "90s"',
  }),
  tolerance: z.number().min(0),
});

export const JudgeSchema = z.union(
  [
    z.strictObject({
      sequentialRate: z.strictObject({
        /** Chance of rolling back a canary that is no worse than the baseline (default 0.01). */
        alpha: Probability.optional(),
        /**
         * Relative increase still counted as good: 0.1 tolerates +10% (default 0: a canary worse
         * than the baseline is a regression, chosen with the detection benchmark).
         */
        tolerance: z.number().min(0).optional(),
        /**
         * Error rates that vary between looks beyond Poisson (bursts on one side) are allowed for by
         * an upper bound on that variation at this confidence (default 0.99), estimated from the
         * baseline's last hour and the looks; `false` assumes Poisson counts (more power, and false
         * rollbacks on bursty traffic).
         */
        dispersion: z.union([z.literal(false), z.strictObject({ confidence: Probability })]).optional(),
        /**
         * A canary allowed to be worse while it warms up: for its first `duration` of traffic,
         * `tolerance` stands in for the one above (2: up to 3× the baseline's error rate), and a
         * canary worse than that is still caught from its first look. Unlike `initialDelay`, which
         * looks at nothing until then.
         */
        warmUp: WarmUp.optional(),
      }),
    }),
    z.strictObject({
      sequentialLatency: z.strictObject({
        alpha: Probability.optional(),
        /**
         * `shape` (default): every bucket is evidence, against slower shapes of the baseline's own
         * latency. `thresholds`: "slower than τ" at a few bounds, with a tolerance (chosen when any
         * of tolerance, quantiles, thresholds or weights is set).
         */
        method: z.enum(['shape', 'thresholds']).optional(),
        /**
         * `shape` only: a side whose latency moves on its own between looks (a pod slower for a
         * while) is allowed for, by a 99% upper bound on that movement estimated from the
         * baseline's last hour and the looks (default); `false` assumes both sides' requests are
         * drawn alike in every look (more power, and false rollbacks where they are not).
         */
        ownShifts: z.boolean().optional(),
        tolerance: z.number().min(0).optional(),
        /** Baseline quantiles that fix the thresholds before the canary starts (default .5, .9, .95, .99, .999). */
        quantiles: z.array(Probability).min(1).optional(),
        /** Or fixed thresholds (bucket bounds in the histogram's unit), e.g. an SLO of 0.3 s. */
        thresholds: z.array(z.number().positive()).min(1).optional(),
        /** Weights of the thresholds' e-values (default equal; thresholds that snap to one bucket bound add up). */
        weights: z.array(z.number().positive()).min(1).optional(),
        /**
         * A canary allowed to be slower while it warms up: for its first `duration` of traffic,
         * latency up to (1 + `tolerance`)× the baseline's is no regression (1: twice as slow), and a
         * canary slower than that is still caught from its first look. Unlike `initialDelay`, which
         * looks at nothing until then.
         */
        warmUp: WarmUp.optional(),
      }),
    }),
    z.strictObject({
      mannWhitney: z.strictObject({
        direction: z.enum(['increase', 'decrease', 'either']).optional(),
        tolerance: z.number().min(0).optional(),
        confidence: Probability.optional(),
        nanStrategy: z.enum(['remove', 'replace']).optional(),
        outliers: z.enum(['keep', 'remove']).optional(),
        critical: z.boolean().optional(),
        mustHaveData: z.boolean().optional(),
        effectSize: z
          .strictObject({
            measure: z.enum(['meanRatio', 'cles']).optional(),
            allowedIncrease: z.number().optional(),
            allowedDecrease: z.number().optional(),
            criticalIncrease: z.number().optional(),
            criticalDecrease: z.number().optional(),
          })
          .optional(),
        pass: z.number().min(0).max(100).optional(),
        marginal: z.number().min(0).max(100).optional(),
        /** Compare only the last stretch instead of everything since the analysis began. */
        lookback: z.union([z.string(), z.number()]).optional(),
      }),
    }),
  ],
  { message: 'must have exactly one of sequentialRate, sequentialLatency or mannWhitney' },
);

/** The fields of a metric this package owns (the rest are core's counting fields). */
export const MetricSourceSchema = z.object({
  provider: ProviderSchema,
  successCondition: z.string().min(1).optional(),
  failureCondition: z.string().min(1).optional(),
  /** Flagger's range: fails when the value is below `min` or above `max`. */
  thresholdRange: z
    .strictObject({ min: z.number().optional(), max: z.number().optional() })
    .refine((r) => r.min !== undefined || r.max !== undefined, { message: 'needs min or max' })
    .optional(),
  judge: JudgeSchema.optional(),
  /** Consecutive looks without data before the metric turns inconclusive (default 10). */
  noDataLimit: z.number().int().min(0).optional(),
});

export type ProviderSpec = z.output<typeof ProviderSchema>;
export type JudgeSpec = z.output<typeof JudgeSchema>;
export type MetricSource = z.output<typeof MetricSourceSchema>;
export type PrometheusSource = z.output<typeof PrometheusSourceSchema>;
