import { z } from 'zod';
import { AnalysisSchema } from './analysis.ts';
import { HeaderRouteSchema, MirrorSchema } from './match.ts';
import { Duration, hinted, Percent, Replicas } from './primitives.ts';
import { closest } from './suggest.ts';

/** Each step is an object with exactly one key, as in Argo Rollouts' `steps`. */
export const SetWeightStep = z.strictObject({
  setWeight: Percent.describe(
    "The canary's share, 0–100: of requests (weighted), of matched requests (headerMatch), of pods (rolling, replicaRatio).",
  ),
});
export const PauseStep = z.strictObject({
  pause: z
    .strictObject({
      duration: Duration.optional().describe('How long, e.g. "10m"; unset: until `kanary promote`.'),
    })
    .describe('Wait: for a duration, or until a person promotes. Background analysis goes on meanwhile.'),
});
export const AnalysisStep = z.strictObject({
  analysis: AnalysisSchema.describe(
    'Measure now and wait for the verdict: a failure rolls back, inconclusive waits for a person.',
  ),
});
export const SetCanaryScaleStep = z.strictObject({
  setCanaryScale: z
    .strictObject({
      replicas: Replicas(0).optional().describe('This many canary pods.'),
      weight: Percent.optional().describe('This percentage of the stable replica count.'),
      matchTrafficWeight: z
        .literal(true)
        .optional()
        .describe('Back to following the traffic weight (the default behaviour).'),
    })
    .describe(
      'Size the canary apart from its traffic weight (exactly one field), e.g. full size at 0% to warm it up.',
    )
    .superRefine((s, ctx) => {
      const set = [s.replicas, s.weight, s.matchTrafficWeight].filter((v) => v !== undefined).length;
      if (set !== 1) {
        ctx.addIssue({
          code: 'custom',
          ...hinted(
            'must set exactly one of replicas, weight or matchTrafficWeight',
            'keep one of the three',
          ),
        });
      }
    }),
});
export const SetHeaderRouteStep = z.strictObject({
  setHeaderRoute: HeaderRouteSchema.describe(
    'Route requests that match a header or cookie to the canary, whatever the weight; without match it removes the route.',
  ),
});
export const SetMirrorStep = z.strictObject({
  setMirror: MirrorSchema.describe(
    "Copy a share of requests to the canary; its answers are discarded, users get stable's.",
  ),
});

const STEP_KEYS = [
  'setWeight',
  'pause',
  'analysis',
  'setCanaryScale',
  'setHeaderRoute',
  'setMirror',
] as const;
export type StepKind = (typeof STEP_KEYS)[number];

const stepUnion = z.union([
  SetWeightStep,
  PauseStep,
  AnalysisStep,
  SetCanaryScaleStep,
  SetHeaderRouteStep,
  SetMirrorStep,
]);

/**
 * A step. The union is chosen by the step's key before zod runs, so an error points into the one
 * step kind the user meant instead of listing six failed alternatives.
 */
/** "did you mean setWeight?" for one misspelt step key, else the list of step kinds. */
function stepHint(keys: string[]): string {
  const near = keys.length === 1 ? closest(keys[0] as string, STEP_KEYS) : undefined;
  return near ? `did you mean "${near}"?` : `write an object with exactly one of: ${STEP_KEYS.join(', ')}`;
}

export const StepSchema: z.ZodType<z.output<typeof stepUnion>, z.input<typeof stepUnion>> = z
  .unknown()
  .transform((raw, ctx) => {
    const keys = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? Object.keys(raw) : [];
    const kind = keys.length === 1 ? STEP_KEYS.find((k) => k === keys[0]) : undefined;
    if (!kind) {
      ctx.addIssue({
        code: 'custom',
        message:
          keys.length === 0
            ? 'is not a step'
            : `has key(s) ${keys.map((k) => `"${k}"`).join(', ')}, not one step`,
        params: {
          hint: stepHint(keys),
        },
      });
      return z.NEVER;
    }
    const schema = {
      setWeight: SetWeightStep,
      pause: PauseStep,
      analysis: AnalysisStep,
      setCanaryScale: SetCanaryScaleStep,
      setHeaderRoute: SetHeaderRouteStep,
      setMirror: SetMirrorStep,
    }[kind] as z.ZodType<z.output<typeof stepUnion>>;
    const result = schema.safeParse(raw, { reportInput: true });
    if (!result.success) {
      for (const issue of result.error.issues) {
        ctx.addIssue({ ...(issue as z.core.$ZodRawIssue), path: issue.path });
      }
      return z.NEVER;
    }
    return result.data;
  }) as unknown as z.ZodType<z.output<typeof stepUnion>, z.input<typeof stepUnion>>;

/** For the JSON Schema: the plain union, which editors understand. */
export const StepUnionSchema: typeof stepUnion = stepUnion;

/** One step, parsed: an object with one key (docs/spec-reference.md, "steps[]"). */
export type Step = z.output<typeof stepUnion>;
/** One step as written (durations as text). */
export type StepInput = z.input<typeof stepUnion>;

export function stepKind(step: Step): StepKind {
  return Object.keys(step)[0] as StepKind;
}
