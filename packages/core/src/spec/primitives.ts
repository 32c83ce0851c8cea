import { RE2JS } from '@bufbuild/re2';
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

/** Kubernetes' replica counts are int32: a larger count is refused by the API server after Kanary has written. */
const INT32_MAX = 2_147_483_647;
const REPLICAS_MESSAGE = withHint(
  'is more than an int32 (2147483647)',
  'write a replica count Kubernetes can hold',
);
/** A replica count: a whole number from `min`, at most an int32. */
export const Replicas = (min: 0 | 1) =>
  z.number().int().min(min).max(INT32_MAX, { message: REPLICAS_MESSAGE });

/** An int or a percentage string, as Kubernetes' maxSurge/maxUnavailable. */
const INT_OR_PERCENT = withHint('must be a whole number or a percentage', 'write e.g. 1 or "25%"');
export const IntOrPercent = z.union(
  [
    z.number().int().nonnegative().max(INT32_MAX, { message: REPLICAS_MESSAGE }),
    z.string().regex(/^\d+%$/, { message: INT_OR_PERCENT }),
  ],
  { message: INT_OR_PERCENT },
);

// RFC 9110 token characters: what a header or cookie name may contain.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const HeaderName = z
  .string()
  .max(256, { message: withHint('is longer than 256 characters', 'use a short header name') })
  .regex(TOKEN, {
    message: withHint(
      'is not a valid HTTP header name',
      'use letters, digits and "-" (no spaces, colons or quotes)',
    ),
  });

/**
 * A header value to match (RFC 9110 field-value): no CR, LF, NUL or other control characters but
 * tab, which no request can carry (and which would split a header in an annotation or a log), no
 * spaces at the ends (HTTP parsers strip them, so the value could never match), 4 KiB at most.
 */
export const HeaderValue = z
  .string()
  .max(4096, { message: withHint('is longer than 4096 characters', 'match a shorter value, or a prefix') })
  .superRefine((v, ctx) => {
    const at = [...v].findIndex((ch) => {
      const c = ch.codePointAt(0) ?? 0;
      return (c < 0x20 && c !== 0x09) || c === 0x7f;
    });
    if (at >= 0)
      ctx.addIssue({
        code: 'custom',
        message: `holds the control character U+${([...v][at]?.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} at ${at}, which no HTTP header can carry`,
        params: { hint: 'remove line breaks, NUL and other control characters' },
      });
    else if (/^[ \t]|[ \t]$/.test(v))
      ctx.addIssue({
        code: 'custom',
        message:
          'starts or ends with white space, which HTTP strips from header values: it could never match',
        params: { hint: 'trim the value' },
      });
  });

export const CookieName = z.string().regex(TOKEN, {
  message: withHint(
    'is not a valid cookie name',
    'use letters, digits, "-" and "_" (no spaces, "=", ";" or quotes)',
  ),
});

/**
 * Istio's Envoy and Gateway API implementations evaluate header regexes with RE2 (no lookaround,
 * no backreferences, its own escapes); the routers of the emulator and tests use JavaScript's. A
 * pattern must be both, checked with an RE2 parser (`@bufbuild/re2`, a port of RE2's own), so
 * the data plane never refuses what validation let through.
 */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length > 1024) return 'is longer than 1024 characters';
  try {
    new RegExp(pattern);
  } catch (error) {
    return `is not a valid regular expression (${(error as Error).message})`;
  }
  if (/\(\?<?[=!]/.test(pattern)) return 'uses lookaround, which RE2 (Istio/Envoy) does not support';
  if (/\\[1-9]/.test(pattern)) return 'uses a backreference, which RE2 (Istio/Envoy) does not support';
  try {
    RE2JS.compile(pattern);
  } catch (error) {
    return `is not valid RE2 syntax, which Istio and Gateway API use (${(error as Error).message})`;
  }
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
