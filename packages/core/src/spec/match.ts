import { z } from 'zod';
import { CookieName, HeaderName, HeaderValue, Percent, Regex, withHint } from './primitives.ts';

/** Matches one request header: exactly one of exact, prefix or regex. */
export const HeaderMatchSchema = z
  .strictObject({
    name: HeaderName.describe("The header's name, e.g. x-canary."),
    exact: HeaderValue.optional().describe('Its value is exactly this.'),
    prefix: HeaderValue.pipe(z.string().min(1)).optional().describe('Its value starts with this.'),
    regex: Regex.optional().describe('Its value matches this regular expression (RE2).'),
  })
  .superRefine((m, ctx) => {
    const set = [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length;
    if (set !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: set === 0 ? 'says nothing to match' : 'sets more than one of exact, prefix and regex',
        params: { hint: 'give exactly one of exact, prefix or regex' },
      });
    }
  });

/** Matches one cookie by name: its exact value, or a regex over its value. */
export const CookieMatchSchema = z
  .strictObject({
    name: CookieName.describe("The cookie's name."),
    exact: z.string().optional().describe('Its value is exactly this.'),
    regex: Regex.optional().describe('Its value matches this regular expression (RE2).'),
  })
  .superRefine((m, ctx) => {
    const set = [m.exact, m.regex].filter((v) => v !== undefined).length;
    if (set !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: set === 0 ? 'says nothing to match' : 'sets both exact and regex',
        params: { hint: 'give exactly one of exact or regex' },
      });
    }
    if (m.exact !== undefined && /[;\s,"]/.test(m.exact)) {
      ctx.addIssue({
        code: 'custom',
        path: ['exact'],
        message: 'contains a character a cookie value cannot hold',
        params: { hint: 'remove spaces, ";", "," and quotes' },
      });
    }
  });

/**
 * One match rule. Everything inside a rule must hold (AND); a list of rules matches when any
 * rule does (OR) — the same shape as Istio's `match[]` and Gateway API's `matches[]`.
 */
export const MatchRuleSchema = z
  .strictObject({
    headers: z
      .array(HeaderMatchSchema)
      .optional()
      .describe('Headers that must all match (exactly one of exact, prefix or regex each).'),
    cookie: CookieMatchSchema.optional().describe(
      'A cookie that must match (exactly one of exact or regex).',
    ),
  })
  .superRefine((r, ctx) => {
    if ((r.headers?.length ?? 0) === 0 && r.cookie === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'matches nothing',
        params: { hint: 'add at least one header or a cookie to the rule' },
      });
    }
  });

export const MatchListSchema = z
  .array(MatchRuleSchema)
  .min(1, { message: 'needs at least one rule' })
  .max(16, { message: 'has more than 16 rules' });

const ROUTE_NAME = withHint('must be lowercase letters, digits and "-"', 'rename it, e.g. "qa-testers"');

/** A request route: users matching `match` get `weight`% canary. */
export const HeaderRouteSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: ROUTE_NAME })
    .max(40)
    .describe(
      'Names the route (lowercase, digits, "-"); a later step with the same name changes or removes it.',
    ),
  match: MatchListSchema.optional().describe(
    'Who is routed: any rule matching; within a rule every condition must hold. Unset: the route is removed.',
  ),
  weight: Percent.default(100).describe('Share of matched requests sent to the canary (100: all of them).'),
});

export const MirrorSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: ROUTE_NAME })
    .max(40)
    .describe('Names the mirror; a later step with the same name changes or removes it.'),
  percentage: Percent.default(100).describe('Share of the requests copied.'),
  match: MatchListSchema.optional().describe('Copy only requests matching these rules; unset: all requests.'),
  remove: z.boolean().optional().describe('true: remove the mirror of this name.'),
});

/** Matches one request header: exactly one of `exact`, `prefix`, `regex`. */
export type HeaderMatch = z.output<typeof HeaderMatchSchema>;
/** Matches one cookie: exactly one of `exact`, `regex`. */
export type CookieMatch = z.output<typeof CookieMatchSchema>;
/** One match rule: all its headers and its cookie must match; a list of rules matches when any does. */
export type MatchRule = z.output<typeof MatchRuleSchema>;
/** A `setHeaderRoute` step, parsed: matched requests get `weight`% canary; no `match` removes it. */
export type HeaderRoute = z.output<typeof HeaderRouteSchema>;
/** A `setMirror` step, parsed: `percentage`% of (matched) requests copied to the canary. */
export type MirrorRoute = z.output<typeof MirrorSchema>;
