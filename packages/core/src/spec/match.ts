import { z } from 'zod';
import { CookieName, HeaderName, HeaderValue, Percent, Regex, withHint } from './primitives.ts';

/** Matches one request header: exactly one of exact, prefix or regex. */
export const HeaderMatchSchema = z
  .strictObject({
    name: HeaderName,
    exact: HeaderValue.optional(),
    prefix: HeaderValue.pipe(z.string().min(1)).optional(),
    regex: Regex.optional(),
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
    name: CookieName,
    exact: z.string().optional(),
    regex: Regex.optional(),
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
    headers: z.array(HeaderMatchSchema).optional(),
    cookie: CookieMatchSchema.optional(),
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
    .max(40),
  match: MatchListSchema.optional(),
  weight: Percent.default(100),
});

export const MirrorSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: ROUTE_NAME })
    .max(40),
  percentage: Percent.default(100),
  match: MatchListSchema.optional(),
  remove: z.boolean().optional(),
});

export type HeaderMatch = z.output<typeof HeaderMatchSchema>;
export type CookieMatch = z.output<typeof CookieMatchSchema>;
export type MatchRule = z.output<typeof MatchRuleSchema>;
export type HeaderRoute = z.output<typeof HeaderRouteSchema>;
export type MirrorRoute = z.output<typeof MirrorSchema>;
