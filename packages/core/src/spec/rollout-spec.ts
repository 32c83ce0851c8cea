import { z } from 'zod';
import { BackgroundAnalysisSchema } from './analysis.ts';
import { WebhookSchema } from './hooks.ts';
import { labelValueProblem, qualifiedNameProblem } from './labels.ts';
import { Duration, hinted, LabelName, ObjectName } from './primitives.ts';
import { type Step, type StepKind, StepSchema, StepUnionSchema, stepKind } from './steps.ts';
import { STRATEGY_TYPES, StrategySchema, type StrategySpec, type StrategyType } from './strategy.ts';
import { AnalysisTemplateSchema } from './templates.ts';

/** Which step kinds each strategy can carry out, and why not where it cannot. */
const ALLOWED_STEPS: Record<StrategyType, Partial<Record<StepKind, true>>> = {
  weighted: {
    setWeight: true,
    pause: true,
    analysis: true,
    setCanaryScale: true,
    setHeaderRoute: true,
    setMirror: true,
  },
  headerMatch: {
    setWeight: true,
    pause: true,
    analysis: true,
    setCanaryScale: true,
    setHeaderRoute: true,
    setMirror: true,
  },
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
  kind: z.literal('Deployment').default('Deployment'),
  /** The stable workload. */
  name: ObjectName,
  /** The stable Service in front of it. */
  service: LabelName.optional(),
});

/** What changes in the new version: an image, or a partial pod template merged over the stable one. */
const Update = z
  .strictObject({
    image: z.string().min(1).optional(),
    /** Which container gets `image`; defaults to the first container. */
    container: z.string().min(1).optional(),
    /** A partial pod template (`metadata`, `spec`), merged over the stable template. */
    template: z.record(z.string(), z.unknown()).optional(),
    /** `replace`: `template` is the whole pod template, not merged (what `undo()` writes). Default `merge`. */
    templateMode: z.enum(['merge', 'replace']).optional(),
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
    apiVersion: z.literal('kanary.dev/v1alpha1').optional(),
    kind: z.literal('Rollout').optional(),
    /** Identifies the rollout: its state, lock and owned objects are named after it. */
    name: LabelName,
    namespace: LabelName.default('default'),
    target: Target,
    update: Update.optional(),
    strategy: StrategySchema,
    steps: z.array(step).max(100, { message: 'has more than 100 steps' }).default([]),
    hooks: z.array(WebhookSchema).default([]),
    /** Background analysis across the steps; blue-green uses pre/post-promotion analysis instead. */
    analysis: BackgroundAnalysisSchema.optional(),
    /**
     * Analyses written once and referenced by name (`analysis: { templateName, args }`, or Argo's
     * `templates: [{ templateName }]` with a list of args) from steps, background and blue-green
     * analyses; `{{args.<name>}}` in their queries takes the reference's args over the defaults here.
     */
    analysisTemplates: z.record(z.string().min(1), AnalysisTemplateSchema).optional(),
    /** Abort (or fail) if a wait for readiness takes longer than this. */
    /** How long a step may wait for its pods before the rollout is stuck: more than zero. */
    progressDeadline: Duration.prefault('10m').refine(
      (v) => v > 0,
      hinted(
        'must be longer than zero (a zero deadline aborts at the first wait for pods)',
        'write e.g. "10m"',
      ),
    ),
    progressDeadlineAbort: z.boolean().default(true),
    /** Keep the old side up this long after promotion, so in-flight traffic drains (Argo #587). */
    scaleDownDelay: Duration.prefault('30s'),
    /** Keep the canary up this long after an abort, for debugging; 0 scales it down at once. */
    abortScaleDownDelay: Duration.prefault('30s'),
    /**
     * What an agent that adopts this rollout (its driver died) does when parts of it exist only as
     * the host's code — hook functions, function providers, a custom router: `abort` (default)
     * rolls back to stable, `hold` leaves it as it is and says so, `continue` drives on without them.
     */
    orphanPolicy: z.enum(['abort', 'hold', 'continue']).optional(),
    /**
     * When someone else changes the target's pod template while the steps run (`kubectl set image`):
     * traffic goes back to the target as it now is, which becomes the baseline, and `restart`
     * (default) begins the release again from its first step, while `hold` waits for `resume()`.
     */
    onTargetChange: z.enum(['restart', 'hold']).default('restart'),
    /**
     * When a person changed the routing Kanary wrote (an emergency 0%, its header route deleted):
     * `hold` (default) keeps their change and waits for `resume()` or `abort()`; `adopt` takes their
     * routing as the rollout's and goes on with the steps (the next step writes its own weight).
     */
    onDrift: z.enum(['hold', 'adopt']).default('hold'),
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

/** A validated rollout spec: durations in milliseconds, defaults filled in. */
export type RolloutSpec = z.output<typeof BaseSpec> & { steps: Step[]; strategy: StrategySpec };
/** What users write (YAML/JSON/object literal): durations as text, defaults optional. */
export type RolloutSpecInput = z.input<typeof RolloutSpecInputSchema>;
