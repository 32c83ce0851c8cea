import { cookieHeaderRegex, KanaryError, type MatchRule } from '@kanary/core/adapter';

/** An Istio StringMatch. */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

/** The cookie regex Istio matches on the `cookie` header (space-tolerant; see @kanary/core). */
export const cookieRegex: typeof cookieHeaderRegex = cookieHeaderRegex;

/** Kanary match rules (OR of ANDs) as Istio `HTTPMatchRequest`s. Header names are lower-cased, as Istio requires. */
export function toIstioMatch(rules: MatchRule[]): Array<{ headers: Record<string, StringMatch> }> {
  return rules.map((rule) => {
    const headers: Record<string, StringMatch> = {};
    for (const h of rule.headers ?? []) {
      const name = h.name.toLowerCase();
      if (headers[name])
        throw new KanaryError('INVALID_SPEC', `header "${name}" is matched twice in one rule`);
      headers[name] =
        h.exact !== undefined
          ? { exact: h.exact }
          : h.prefix !== undefined
            ? { prefix: h.prefix }
            : { regex: h.regex as string };
    }
    if (rule.cookie) {
      if (headers.cookie)
        throw new KanaryError('INVALID_SPEC', 'a rule cannot match the cookie header and a cookie at once');
      const c = rule.cookie;
      headers.cookie = {
        regex: cookieRegex(c.name, c.exact !== undefined ? { exact: c.exact } : { regex: c.regex as string }),
      };
    }
    return { headers };
  });
}
