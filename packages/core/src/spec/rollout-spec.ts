import { z } from 'zod';
import { BackgroundAnalysisSchema } from './analysis.ts';
import { WebhookSchema } from './hooks.ts';
import { labelValueProblem, qualifiedNameProblem } from './labels.ts';
import { Duration, hinted, LabelName, ObjectName } from './primitives.ts';
import { type Step, type StepKind, StepSchema, StepUnionSchema, stepKind } from './steps.ts';
import { STRATEGY_TYPES, StrategySchema, type StrategySpec, type StrategyType } from './strategy.ts';
import { AnalysisTemplateSchema } from './templates.ts';

/** Every step kind: what a router-driven canary (weighted, headerMatch) can carry out. */
const ROUTED_STEPS: Partial<Record<StepKind, true>> = {
  setWeight: true,
  pause: true,
  analysis: true,
  setCanaryScale: true,
  setHeaderRoute: true,
  setMirror: true,
};

/** Which step kinds each strategy can carry out, and why not where it cannot. */
const ALLOWED_STEPS: Record<StrategyType, Partial<Record<StepKind, true>>> = {
  weighted: ROUTED_STEPS,
  headerMatch: ROUTED_STEPS,
  rolling: { setWeight: true, pause: true, analysis: true },
  replicaRatio: { setWeight: true, pause: true, analysis: true },
  blueGreen: {},
};

const WHY_NOT: Record<StrategyType, string> = {
  weighted: '',
  headerMatch: '',
  rolling:
    'a rolling update has no router: use setWeight (share of pods updated), pause and analysis, or the weighted strategy',
  replicaRatio:
    'replica ratio splits by pod counts only: use setWeight, pause and analysis, or the weighted strategy with a router',
  blueGreen:
    'blue-green has no steps: use prePromotionAnalysis, autoPromotionSeconds and postPromotionAnalysis in the strategy',
};

const Target = z.strictObject({
  kind: z.literal('Deployment').default('Deployment').describe('The workload kind; only Deployment.'),
  name: ObjectName.describe('The Deployment that runs the stable version and is released.'),
  service: LabelName.optional().describe(
    'The Service in front of it, which users reach (needed by the weighted and headerMatch strategies).',
  ),
});

/** What changes in the new version: an image, or a partial pod template merged over the stable one. */
const Update = z
  .strictObject({
    image: z
      .string()
      .min(1)
      .optional()
      .describe('The new version\'s image, e.g. "shop/frontend:2.4.1", set on `container`.'),
    container: z
      .string()
      .min(1)
      .optional()
      .describe('Which container gets `image`; default the first container of the pod template.'),
    template: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'A partial pod template (`metadata`, `spec`) merged over the stable one: new env, resources, labels.',
      ),
    templateMode: z
      .enum(['merge', 'replace'])
      .optional()
      .describe(
        '`merge` (default): `template` is merged over the stable template; `replace`: it is the whole template.',
      ),
  })
  .superRefine((u, ctx) => {
    if (u.image === undefined && u.template === undefined) {
      ctx.addIssue({ code: 'custom', ...hinted('changes nothing', 'set image, template, or both') });
    }
    if (u.image !== undefined && /\s/.test(u.image)) {
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        ...hinted('contains white space', 'write an image reference such as "nginx:1.20.1"'),
      });
    }
    // Labels and annotations as the API server checks them, before the first write rather than after.
    const metadata = (u.template?.metadata ?? undefined) as Record<string, unknown> | undefined;
    for (const field of ['labels', 'annotations'] as const) {
      const map = metadata?.[field];
      if (map === undefined || map === null) continue;
      if (typeof map !== 'object' || Array.isArray(map)) {
        ctx.addIssue({
          code: 'custom',
          path: ['template', 'metadata', field],
          ...hinted('must be a map of strings', `write e.g. ${field}: { team: "shop" }`),
        });
        continue;
      }
      for (const [key, value] of Object.entries(map)) {
        const keyProblem = qualifiedNameProblem(key);
        const valueProblem =
          field === 'labels'
            ? labelValueProblem(value)
            : typeof value === 'string'
              ? undefined
              : `is ${value === null ? 'null' : typeof value}, and annotation values are strings`;
        if (keyProblem)
          ctx.addIssue({
            code: 'custom',
            path: ['template', 'metadata', field, key],
            ...hinted(
              `is not a valid ${field === 'labels' ? 'label' : 'annotation'} key: it ${keyProblem}`,
              'write e.g. "app.kubernetes.io/version"',
            ),
          });
        else if (valueProblem)
          ctx.addIssue({
            code: 'custom',
            path: ['template', 'metadata', field, key],
            ...hinted(
              valueProblem,
              field === 'labels' ? 'write e.g. "v2" (at most 63 characters)' : 'quote the value',
            ),
          });
      }
    }
  });

function buildSpecSchema<S extends z.ZodType>(step: S) {
  return z.strictObject({
    apiVersion: z
      .literal('kanary.dev/v1alpha1')
      .optional()
      .describe('Optional, for files that carry it: kanary.dev/v1alpha1.'),
    kind: z.literal('Rollout').optional().describe('Optional, for files that carry it: Rollout.'),
    name: LabelName.describe(
      'Names the rollout: its state ConfigMap (kanary-NAME), its Lease and the objects it owns are named after it.',
    ),
    namespace: LabelName.default('default').describe(
      'The namespace of the target and of everything the rollout writes.',
    ),
    target: Target.describe(
      'What is released: the Deployment that runs the stable version, and its Service.',
    ),
    update: Update.optional().describe(
      'What the new version changes: an image, a partial pod template, or both. Required unless the canary is adopted.',
    ),
    strategy: StrategySchema.describe(
      'How the new version is exposed: weighted, headerMatch, rolling, blueGreen or replicaRatio (by `type`).',
    ),
    steps: z
      .array(step)
      .max(100, { message: 'has more than 100 steps' })
      .default([])
      .describe(
        'What happens in order before promotion; each step is an object with one key: setWeight, pause, analysis, setCanaryScale, setHeaderRoute or setMirror.',
      ),
    hooks: z
      .array(WebhookSchema)
      .default([])
      .describe(
        'HTTP endpoints called at points of the release; a gating hook that does not answer 2xx stops it.',
      ),
    analysis: BackgroundAnalysisSchema.optional().describe(
      'Background analysis, measured across the steps from `startingStep`: a failure rolls back at once, whatever step the rollout is in. Blue-green uses pre/post-promotion analysis instead.',
    ),
    analysisTemplates: z
      .record(z.string().min(1), AnalysisTemplateSchema)
      .optional()
      .describe(
        "Analyses written once and referenced by name wherever an analysis goes (`templateName` and `args`, or Argo's `templates`); `{{args.NAME}}` in their queries takes the reference's args over the defaults here.",
      ),
    progressDeadline: Duration.prefault('10m')
      .refine(
        (v) => v > 0,
        hinted(
          'must be longer than zero (a zero deadline aborts at the first wait for pods)',
          'write e.g. "10m"',
        ),
      )
      .describe(
        'How long a step may wait for its pods to be ready before the rollout is stuck (more than zero).',
      ),
    progressDeadlineAbort: z
      .boolean()
      .default(true)
      .describe(
        'A stuck rollout rolls back (true, default) or stops as failed, waiting for `retry` or `abort` (false).',
      ),
    scaleDownDelay: Duration.prefault('30s').describe(
      'After promotion, how long the old version stays up so requests in flight drain (0: at once).',
    ),
    abortScaleDownDelay: Duration.prefault('30s').describe(
      'After an abort, how long the canary stays up for debugging (0: removed at once).',
    ),
    orphanPolicy: z
      .enum(['abort', 'hold', 'continue'])
      .optional()
      .describe(
        "What an agent that adopts this rollout (its driver died) does when parts exist only as the host's code (hook functions, function providers, a custom router): `abort` (default) rolls back, `hold` leaves it and says so, `continue` drives on without them.",
      ),
    onTargetChange: z
      .enum(['restart', 'hold'])
      .default('restart')
      .describe(
        "When someone else changes the target's pod template during the steps (`kubectl set image`): traffic goes back to the target as it now is, and `restart` (default) begins again from the first step while `hold` waits for `resume`.",
      ),
    onDrift: z
      .enum(['hold', 'adopt'])
      .default('hold')
      .describe(
        "When a person changes the routing Kanary wrote: `hold` (default) keeps their change and waits for `resume` or `abort`; `adopt` takes it as the rollout's and goes on.",
      ),
  });
}

const BaseSpec = buildSpecSchema(StepSchema);
/** The same shape with a plain step union, for the JSON Schema users load into their editors. */
export const RolloutSpecInputSchema: ReturnType<typeof buildSpecSchema<typeof StepUnionSchema>> =
  buildSpecSchema(StepUnionSchema);

type BaseOutput = z.output<typeof BaseSpec>;

/** Checks that need the whole spec: which steps fit the strategy, and references between steps. */
function checkCoherence(spec: BaseOutput, ctx: z.RefinementCtx): void {
  const strategy = spec.strategy as StrategySpec;
  const type = strategy.type;
  const steps = spec.steps as Step[];
  const usesCanaryWorkload = type !== 'rolling';
  const adopt =
    'canary' in strategy ? strategy.canary.adopt : type === 'blueGreen' ? strategy.green.adopt : false;
  if (spec.update === undefined && !(usesCanaryWorkload && adopt)) {
    ctx.addIssue({
      code: 'custom',
      path: ['update'],
      ...hinted(
        'is required: nothing says what the new version is',
        usesCanaryWorkload
          ? 'set update.image, or strategy canary.adopt: true to use an existing Deployment'
          : 'set update.image or update.template',
      ),
    });
  }
  if ((type === 'weighted' || type === 'headerMatch') && spec.target.service === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['target', 'service'],
      ...hinted(
        'is required for traffic routing',
        'name the stable Service, e.g. target.service: shop-frontend',
      ),
    });
  }
  if (type === 'replicaRatio' && spec.target.service === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['target', 'service'],
      ...hinted(
        'is required: replica ratio needs the Service that selects both Deployments',
        'name that Service',
      ),
    });
  }

  if (spec.analysis && type === 'blueGreen') {
    ctx.addIssue({
      code: 'custom',
      path: ['analysis'],
      ...hinted(
        'is background analysis across steps, and blue-green has no steps',
        'use strategy.prePromotionAnalysis and strategy.postPromotionAnalysis',
      ),
    });
  }
  if (spec.analysis && spec.analysis.startingStep >= Math.max(steps.length, 1)) {
    ctx.addIssue({
      code: 'custom',
      path: ['analysis', 'startingStep'],
      ...hinted(
        `is ${spec.analysis.startingStep}, and there are ${steps.length} steps`,
        `use a step index from 0 to ${Math.max(steps.length - 1, 0)}`,
      ),
    });
  }

  const maxWeight = 'maxWeight' in strategy ? strategy.maxWeight : 100;
  const headerRoutes = new Set<string>();
  const mirrors = new Set<string>();
  steps.forEach((step, i) => {
    const kind = stepKind(step);
    if (!ALLOWED_STEPS[type][kind]) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, kind],
        message: `is not a step the ${type} strategy can carry out`,
        params: { hint: WHY_NOT[type] },
      });
      return;
    }
    if ('setWeight' in step && step.setWeight > maxWeight) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'setWeight'],
        ...hinted(
          `is above strategy.maxWeight (${maxWeight})`,
          `lower it to ${maxWeight} or raise maxWeight`,
        ),
      });
    }
    if ('setWeight' in step && type === 'rolling' && step.setWeight === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'setWeight'],
        ...hinted(
          'cannot be 0 in a rolling update: updated pods are never rolled back by a step',
          'use 1 or more',
        ),
      });
    }
    if ('setHeaderRoute' in step) {
      const { name, match } = step.setHeaderRoute;
      if (match === undefined && !headerRoutes.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'setHeaderRoute', 'match'],
          ...hinted(
            `is missing, which removes route "${name}", but no earlier step sets it`,
            'add match rules, or fix the name',
          ),
        });
      }
      if (match === undefined) headerRoutes.delete(name);
      else headerRoutes.add(name);
    }
    if ('setMirror' in step) {
      const { name, remove } = step.setMirror;
      if (remove && !mirrors.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'setMirror', 'remove'],
          ...hinted(`removes mirror "${name}", but no earlier step sets it`, 'fix the name or drop the step'),
        });
      }
      if (remove) mirrors.delete(name);
      else mirrors.add(name);
    }
  });

  const hookNames = new Set<string>();
  spec.hooks.forEach((hook, i) => {
    const key = hook.name ?? hook.url;
    if (hookNames.has(`${hook.on}/${key}`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['hooks', i],
        ...hinted('repeats an earlier hook', 'remove the duplicate, or give each a distinct name'),
      });
    }
    hookNames.add(`${hook.on}/${key}`);
  });
}

export const RolloutSpecSchema: z.ZodType<
  BaseOutput & { steps: Step[] },
  z.input<typeof RolloutSpecInputSchema>
> = BaseSpec.superRefine(checkCoherenceBeside, {
  // By default zod skips this once any field is malformed, hiding these problems until the user
  // fixes that one; it runs whenever the strategy and the list of steps can be read.
  when: (payload) => {
    const v = payload.value as { strategy?: { type?: unknown }; steps?: unknown } | undefined;
    return (
      STRATEGY_TYPES.includes(v?.strategy?.type as StrategyType) &&
      Array.isArray(v?.steps) &&
      !payload.issues.some(
        (i) => (i.path ?? []).length <= 1 && (i.path?.[0] === 'strategy' || i.path?.[0] === 'steps'),
      )
    );
  },
}) as never;

/**
 * The coherence checks beside problems of shape: a check whose field is already reported says
 * nothing more there, and one that cannot read a malformed field leaves it to that field's issue.
 */
function checkCoherenceBeside(spec: BaseOutput, ctx: z.RefinementCtx): void {
  // A problem is owned by its field's first two levels (`steps.2`, `strategy.canary`).
  const owner = (path: readonly PropertyKey[] | undefined) => (path ?? []).slice(0, 2).map(String).join('.');
  const reported = ctx.issues.map((i) => owner(i.path));
  const related = (path: string) =>
    path === '' || reported.some((r) => r === path || r.startsWith(`${path}.`) || path.startsWith(`${r}.`));
  const quiet = {
    ...ctx,
    addIssue: (issue: Parameters<z.RefinementCtx['addIssue']>[0]) => {
      const path = typeof issue === 'string' ? '' : owner(issue.path);
      if (reported.length === 0 || !related(path)) ctx.addIssue(issue);
    },
  } as z.RefinementCtx;
  try {
    checkCoherence(spec, quiet);
  } catch (error) {
    if (reported.length === 0) throw error;
  }
}

/** A validated rollout spec: durations in milliseconds, defaults filled in. Every field: docs/spec-reference.md. */
export type RolloutSpec = z.output<typeof BaseSpec> & { steps: Step[]; strategy: StrategySpec };
/** What users write (YAML/JSON/object literal): durations as text, defaults optional. Every field: docs/spec-reference.md. */
export type RolloutSpecInput = z.input<typeof RolloutSpecInputSchema>;
