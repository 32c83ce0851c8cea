import { z } from 'zod';
import type { KanaryIssue } from '../errors/kanary-error.ts';
import { AnalysisMetricSchema } from './analysis.ts';

/**
 * Analysis templates (Argo's AnalysisTemplate, referenced as `templateName: frontend-health-check`):
 * metrics written once under `analysisTemplates`, referenced by name wherever an analysis goes,
 * with args. A reference is replaced by the analysis it stands for before the spec is validated,
 * so everything after parsing sees ordinary analyses.
 */
export const AnalysisTemplateSchema = z.strictObject({
  metrics: z
    .array(AnalysisMetricSchema)
    .min(1, { message: 'needs at least one metric' })
    .describe('The metrics every reference to this template measures.'),
  args: z
    .record(z.string(), z.string())
    .optional()
    .describe("Default values of `{{args.NAME}}` in its queries; a reference's args override them."),
});

/** A reference as Kanary writes it (`templateName`) or as Argo does (`templates` and a list of args). */
export const AnalysisTemplateRefSchema = z.strictObject({
  templateName: z.string().min(1).optional().describe('The analysisTemplates entry this analysis is.'),
  templates: z
    .array(
      z.strictObject({
        templateName: z.string().min(1).describe('An analysisTemplates entry.'),
      }),
    )
    .min(1)
    .optional()
    .describe("Argo's form: the templates whose metrics together make this analysis."),
  name: z.string().min(1).max(63).optional().describe('A name for the analysis in status and events.'),
  args: z
    .union([
      z.record(z.string(), z.string()),
      z.array(
        z.strictObject({
          name: z.string().min(1).describe("The arg's name, as in {{args.NAME}}."),
          value: z.string().describe('Its value.'),
        }),
      ),
    ])
    .optional()
    .describe("Values of `{{args.NAME}}` for this use: a map, or Argo's list of { name, value }."),
  startingStep: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Background analysis only: the step where measuring begins.'),
  noData: z
    .enum(['inconclusive', 'fail', 'pass'])
    .optional()
    .describe('Background analysis only: the verdict when no look had data.'),
});

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every place an analysis can be written, as (path, holder, key). */
function analysisSlots(spec: Obj): Array<{ path: string; holder: Obj; key: string }> {
  const slots: Array<{ path: string; holder: Obj; key: string }> = [];
  if (Array.isArray(spec.steps))
    spec.steps.forEach((step, i) => {
      if (isObj(step) && 'analysis' in step)
        slots.push({ path: `steps[${i}].analysis`, holder: step, key: 'analysis' });
    });
  if ('analysis' in spec) slots.push({ path: 'analysis', holder: spec, key: 'analysis' });
  if (isObj(spec.strategy))
    for (const key of ['prePromotionAnalysis', 'postPromotionAnalysis'])
      if (key in spec.strategy) slots.push({ path: `strategy.${key}`, holder: spec.strategy, key });
  return slots;
}

/**
 * Replaces every template reference in a spec as written by the analysis it names. Returns a copy
 * (the input is not changed) and an issue for each reference that cannot be resolved.
 */
export function resolveAnalysisTemplates(input: unknown): { spec: unknown; issues: KanaryIssue[] } {
  if (!isObj(input)) return { spec: input, issues: [] };
  const spec = structuredClone(input);
  const templates = isObj(spec.analysisTemplates) ? spec.analysisTemplates : {};
  const names = Object.keys(templates);
  const issues: KanaryIssue[] = [];
  for (const { path, holder, key } of analysisSlots(spec)) {
    const ref = holder[key];
    if (!isObj(ref) || (!('templateName' in ref) && !('templates' in ref))) continue;
    const parsed = AnalysisTemplateRefSchema.safeParse(ref);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        issues.push({
          path: [path, ...issue.path.map(String)].join('.'),
          message: issue.message,
          hint: 'a template reference has templateName (or templates), name, args, and for background analysis startingStep and noData',
        });
      continue;
    }
    const { templateName, templates: list, args, ...rest } = parsed.data;
    const wanted = [...(templateName ? [templateName] : []), ...(list ?? []).map((t) => t.templateName)];
    const missing = wanted.filter((n) => !isObj(templates[n]));
    if (missing.length > 0) {
      issues.push({
        path: `${path}.templateName`,
        message: `names ${missing.map((n) => `"${n}"`).join(', ')}, not defined under analysisTemplates`,
        hint: names.length ? `use one of: ${names.join(', ')}` : 'define it under analysisTemplates',
      });
      continue;
    }
    const given = Array.isArray(args) ? Object.fromEntries(args.map((a) => [a.name, a.value])) : (args ?? {});
    const metrics: unknown[] = [];
    const defaults: Record<string, string> = {};
    for (const n of wanted) {
      const t = templates[n] as Obj;
      if (Array.isArray(t.metrics)) metrics.push(...t.metrics);
      if (isObj(t.args)) Object.assign(defaults, t.args);
    }
    const merged = { ...defaults, ...given };
    holder[key] = {
      name: rest.name ?? wanted.join('+').slice(0, 63),
      metrics,
      ...(Object.keys(merged).length ? { args: merged } : {}),
      ...(rest.startingStep !== undefined ? { startingStep: rest.startingStep } : {}),
      ...(rest.noData !== undefined ? { noData: rest.noData } : {}),
    };
  }
  return { spec, issues };
}

/** For the JSON Schema: wherever an analysis goes, a template reference may go instead. */
export function allowTemplateRefs(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _s, ...ref } = z.toJSONSchema(AnalysisTemplateRefSchema, { io: 'input' }) as Obj;
  const slots = new Set(['analysis', 'prePromotionAnalysis', 'postPromotionAnalysis']);
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isObj(node)) return node;
    const out: Obj = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'properties' && isObj(v)) {
        out[k] = Object.fromEntries(
          Object.entries(v).map(([name, prop]) => [
            name,
            slots.has(name) && isObj(prop) && isObj(prop.properties) && 'metrics' in prop.properties
              ? {
                  ...(typeof prop.description === 'string' ? { description: prop.description } : {}),
                  anyOf: [walk(prop), ref],
                }
              : walk(prop),
          ]),
        );
      } else out[k] = walk(v);
    }
    return out;
  };
  return walk(schema) as Record<string, unknown>;
}
