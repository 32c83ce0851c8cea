import { z } from 'zod';
import { formatIssues, KanaryError, type KanaryIssue } from '../errors/kanary-error.ts';
import { CHECK_HINTS, jsonProblem } from './primitives.ts';
import { type RolloutSpec, RolloutSpecInputSchema, RolloutSpecSchema } from './rollout-spec.ts';
import { STRATEGY_TYPES } from './strategy.ts';
import { closest, fieldsAt } from './suggest.ts';
import { allowTemplateRefs, resolveAnalysisTemplates } from './templates.ts';

/** Renders a zod path the way users write it: `steps[2].setWeight`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function hintFor(issue: z.core.$ZodIssue): string | undefined {
  const params = (issue as { params?: { hint?: unknown } }).params;
  if (params && typeof params.hint === 'string') return params.hint;
  const registered = CHECK_HINTS.get(issue.message);
  if (registered) return registered;
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'remove it or check its spelling against the JSON Schema (rolloutSpecJsonSchema)';
    case 'invalid_type':
      return issue.input === undefined ? 'add this field' : `give a value of type ${issue.expected}`;
    case 'invalid_union':
      return 'discriminator' in issue && issue.discriminator === 'type'
        ? `use one of: ${STRATEGY_TYPES.join(', ')}`
        : 'check the value against the allowed shapes in the JSON Schema';
    case 'invalid_value':
      return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `the minimum is ${String(issue.minimum)}`;
    case 'too_big':
      return `the maximum is ${String(issue.maximum)}`;
    case 'invalid_format':
      return `write a valid ${issue.format}`;
    default:
      return 'see the JSON Schema (rolloutSpecJsonSchema) for what is allowed here';
  }
}

function messageFor(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'is required';
    const got =
      issue.input === null ? 'null' : Array.isArray(issue.input) ? 'a list' : `a ${typeof issue.input}`;
    return `must be ${issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'a map of fields' : `a ${issue.expected}`}, not ${got}`;
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator) {
    return `has an unknown ${issue.discriminator}`;
  }
  return issue.message;
}

/**
 * A union of one-key shapes (`{ sequentialRate: … } | { sequentialLatency: … }`) fails as a whole,
 * which names no field. Where exactly one shape failed only inside its fields — the one the input
 * chose by its key — its own issues are the ones to report, under the union's path.
 */
function intoChosenBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || ('discriminator' in issue && issue.discriminator)) return [issue];
  const chosen = issue.errors.filter(
    (branch) => branch.length > 0 && branch.every((e) => e.path.length >= 2),
  );
  const only = chosen[0];
  if (chosen.length !== 1 || !only) return [issue];
  return only.flatMap((e) => intoChosenBranch({ ...e, path: [...issue.path, ...e.path] }));
}

/**
 * Turns zod issues into Kanary issues, each with a path and, where we know one, a fix. Given the
 * JSON Schema of what was parsed, an unknown field nearly spelt like a known one gets "did you mean".
 */
export function toKanaryIssues(error: z.ZodError, jsonSchema?: () => Record<string, unknown>): KanaryIssue[] {
  return error.issues.flatMap(intoChosenBranch).map((issue) => {
    const hint = (jsonSchema && didYouMean(issue, jsonSchema())) ?? hintFor(issue);
    return { path: formatPath(issue.path), message: messageFor(issue), ...(hint ? { hint } : {}) };
  });
}

function didYouMean(issue: z.core.$ZodIssue, jsonSchema: Record<string, unknown>): string | undefined {
  if (issue.code !== 'unrecognized_keys') return undefined;
  const known = fieldsAt(jsonSchema, issue.path);
  const near = issue.keys.flatMap((k) => {
    const c = closest(k, known);
    return c ? [`"${c}" for "${k}"`] : [];
  });
  if (near.length === 0) return undefined;
  const one = issue.keys.length === 1 && near.length === 1;
  return one
    ? `did you mean "${closest(issue.keys[0] as string, known)}"?`
    : `did you mean ${near.join(', ')}?`;
}

let specJsonSchema: Record<string, unknown> | undefined;
const rolloutSpecSchemaOnce = () => {
  specJsonSchema ??= rolloutSpecJsonSchema();
  return specJsonSchema;
};

/**
 * Validates a rollout spec and returns it typed, with defaults filled in and durations in ms.
 * Throws a KanaryError `INVALID_SPEC` listing every problem, each with its path and a hint.
 */
export function parseRolloutSpec(input: unknown): RolloutSpec {
  const checked = validateRolloutSpec(input);
  if (checked.ok) return checked.spec;
  const { issues } = checked;
  throw new KanaryError(
    'INVALID_SPEC',
    `The rollout spec has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${formatIssues(issues)}`,
    { issues },
  );
}

/** Like parseRolloutSpec, but returns the issues instead of throwing. */
export function validateRolloutSpec(
  input: unknown,
): { ok: true; spec: RolloutSpec } | { ok: false; issues: KanaryIssue[] } {
  // A spec is data: what JSON or YAML cannot write (a cycle, a BigInt, nesting past any pod
  // template's depth) is refused before anything walks it.
  const notJson = jsonProblem(input);
  if (notJson)
    return {
      ok: false,
      issues: [
        {
          path: notJson.path,
          message: notJson.message,
          hint: 'give the spec as JSON or YAML would write it',
        },
      ],
    };
  // Template references first, so every other problem is reported along with theirs.
  const resolved = resolveAnalysisTemplates(input);
  // With the input in each issue, a wrong type reads as such rather than as a missing field.
  const result = RolloutSpecSchema.safeParse(resolved.spec, { reportInput: true });
  if (result.success && resolved.issues.length === 0) return { ok: true, spec: result.data as RolloutSpec };
  // An unresolved reference is reported once, not again as an analysis without metrics.
  const unresolved = resolved.issues.map((i) => i.path.replace(/\.(templateName|templates|args).*$/, ''));
  const rest = result.success
    ? []
    : toKanaryIssues(result.error, rolloutSpecSchemaOnce).filter(
        (i) => !unresolved.some((p) => i.path === p || i.path.startsWith(`${p}.`)),
      );
  return { ok: false, issues: [...resolved.issues, ...rest] };
}

/** JSON Schema (draft 2020-12) of what users write, for editors validating YAML specs. */
export function rolloutSpecJsonSchema(): Record<string, unknown> {
  const schema = allowTemplateRefs(
    z.toJSONSchema(RolloutSpecInputSchema, { io: 'input', unrepresentable: 'any' }) as Record<
      string,
      unknown
    >,
  );
  return {
    ...schema,
    $id: 'https://kanary.dev/schema/rollout-spec.json',
    title: 'Kanary RolloutSpec',
    description: 'A progressive-delivery rollout driven by the Kanary SDK.',
  };
}
