import { z } from 'zod';
import { tryParseDuration } from './duration.ts';

/** A refinement whose failure carries a hint, read back by `parseRolloutSpec`. */
export function hinted(message: string, hint: string): { message: string; params: { hint: string } } {
  return { message, params: { hint } };
}

/**
 * Hints for built-in checks (regex, min, max), which cannot carry params: keyed by their message.
 * Built-in checks are used where possible because they also appear in the JSON Schema.
 */
export const CHECK_HINTS: Map<string, string> = new Map();
export function withHint(message: string, hint: string): string {
  CHECK_HINTS.set(message, hint);
  return message;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes object name (DNS-1123 subdomain, as Deployments and Services require). */
const NAME_MESSAGE = withHint(
  'is not a valid Kubernetes name',
  'use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',
);
export const ObjectName = z
  .string()
  .min(1, { message: NAME_MESSAGE })
  .max(253, { message: NAME_MESSAGE })
  .regex(DNS1123_SUBDOMAIN, { message: NAME_MESSAGE });

/** A DNS-1123 label: namespaces, Service names, and our own names that become object names. */
const LABEL_MESSAGE = withHint(
  'is not a valid DNS-1123 label',
  'use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
);
export const LabelName = z
  .string()
  .min(1, { message: LABEL_MESSAGE })
  .max(63, { message: LABEL_MESSAGE })
  .regex(DNS1123_LABEL, { message: LABEL_MESSAGE });

/** Durations: "30s", "5m", "1h30m", "250ms" or milliseconds. Parsed to milliseconds. */
/** The longest duration a spec may give: a year (longer ones overflow dates and timers). */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;

export const Duration = z
  .union([z.string(), z.number()])
  .refine(
    (v) => tryParseDuration(v) !== undefined,
    hinted('is not a duration', 'write e.g. "30s", "5m", "1h" or a whole number of milliseconds'),
  )
  .refine(
    (v) => (tryParseDuration(v) ?? 0) <= MAX_DURATION_MS,
    hinted('is longer than a year', 'write a shorter duration, or pause without one to wait for a person'),
  )
  .transform((v) => tryParseDuration(v) as number);

const PERCENT_MESSAGE = withHint('must be between 0 and 100', 'write a percentage from 0 to 100');
export const Percent = z.number().min(0, { message: PERCENT_MESSAGE }).max(100, { message: PERCENT_MESSAGE });

/** An int or a percentage string, as Kubernetes' maxSurge/maxUnavailable. */
const INT_OR_PERCENT = withHint('must be a whole number or a percentage', 'write e.g. 1 or "25%"');
export const IntOrPercent = z.union(
  [z.number().int().nonnegative(), z.string().regex(/^\d+%$/, { message: INT_OR_PERCENT })],
  { message: INT_OR_PERCENT },
);

// RFC 9110 token characters: what a header or cookie name may contain.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const HeaderName = z.string().regex(TOKEN, {
  message: withHint(
    'is not a valid HTTP header name',
    'use letters, digits and "-" (no spaces, colons or quotes)',
  ),
});

export const CookieName = z.string().regex(TOKEN, {
  message: withHint(
    'is not a valid cookie name',
    'use letters, digits, "-" and "_" (no spaces, "=", ";" or quotes)',
  ),
});

/**
 * Istio and Envoy evaluate regexes with RE2, which has no lookaround or backreferences; a pattern
 * using them is refused by the data plane. We refuse it here, before anything is written.
 */
export function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch (error) {
    return `is not a valid regular expression (${(error as Error).message})`;
  }
  if (/\(\?<?[=!]/.test(pattern)) return 'uses lookaround, which RE2 (Istio/Envoy) does not support';
  if (/\\[1-9]/.test(pattern)) return 'uses a backreference, which RE2 (Istio/Envoy) does not support';
  return undefined;
}

export const Regex = z.string().superRefine((v, ctx) => {
  const problem = regexProblem(v);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem, params: { hint: 'write an RE2-compatible pattern' } });
  }
});

/** How deep a free-form object in a spec may nest (a pod template is a dozen levels at most). */
export const MAX_JSON_DEPTH = 64;

/** How many values a spec may hold, counting shared (YAML alias) ones each time they appear. */
const MAX_JSON_VALUES = 1_000_000;

/**
 * Where and why a spec is not plain JSON Kanary can save and compare (a cycle, a BigInt, a
 * function, a non-finite number, nesting past MAX_JSON_DEPTH, more than MAX_JSON_VALUES values), or
 * undefined. A value shared by two parents (a YAML alias) is fine; one inside itself is not.
 * Iterative, so a 100,000-deep value is refused rather than overflowing the stack.
 */
export function jsonProblem(value: unknown): { path: string; message: string } | undefined {
  type Frame = { v: unknown; depth: number; path: string; leave?: boolean };
  const stack: Frame[] = [{ v: value, depth: 0, path: '' }];
  const ancestors = new Set<object>();
  let count = 0;
  while (stack.length > 0) {
    const { v, depth, path, leave } = stack.pop() as Frame;
    if (leave) {
      ancestors.delete(v as object);
      continue;
    }
    const problem = (message: string) => ({ path, message });
    if (++count > MAX_JSON_VALUES) return problem(`holds more than ${MAX_JSON_VALUES} values`);
    // An undefined field is an absent one (JSON.stringify drops it; zod treats it as missing).
    if (v === undefined || v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return problem(`is ${String(v)}, which JSON cannot hold`);
      continue;
    }
    if (typeof v !== 'object') return problem(`is a ${typeof v}, which JSON cannot hold`);
    if (depth >= MAX_JSON_DEPTH) return problem(`nests deeper than ${MAX_JSON_DEPTH} levels`);
    if (ancestors.has(v)) return problem('contains itself');
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null)
      return problem(`is a ${proto?.constructor?.name ?? 'non-plain'} object, which JSON cannot hold`);
    ancestors.add(v);
    stack.push({ v, depth, path, leave: true });
    for (const [k, child] of Object.entries(v))
      stack.push({
        v: child,
        depth: depth + 1,
        path: Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k,
      });
  }
  return undefined;
}
