import type { PortContext } from '../ports/context.ts';
import type { RouterStatus, TrafficRouter } from '../ports/router.ts';
import type { MatchRule } from '../spec/match.ts';
import type { HashOn } from '../spec/strategy.ts';

/** The header route that carries a weight by user; hidden from the engine's list of routes. */
export const BY_USER_ROUTE = 'by-user';

const DIGITS: Record<HashOn['keys'], string> = { decimal: '0123456789', hex: '0123456789abcdef' };

/** A character class for the digits with values [from, to), both cases for hex letters. */
function digitClass(keys: HashOn['keys'], from: number, to: number): string {
  const chars = [...DIGITS[keys].slice(from, to)].map((c) => (/[a-f]/.test(c) ? c + c.toUpperCase() : c));
  const body = chars.join('');
  return body.length === 1 ? body : `[${body}]`;
}

/** How many groups the keys fall into: every value of the last two digits. */
export function userBuckets(keys: HashOn['keys']): number {
  return DIGITS[keys].length ** 2;
}

export interface UserPartition {
  /** The share of keys routed to the canary, in percent: never above the weight asked for. */
  share: number;
  /** Who is routed, as a match rule every weighted router understands; undefined for nobody. */
  match: MatchRule[] | undefined;
}

/**
 * The users a weight sends to the canary: those whose key's last two digits, read as a number,
 * are below ⌊weight × buckets / 100⌋. Rounding down keeps the share within the step; a larger
 * weight keeps every user of a smaller one (the set only grows), so nobody flips back and forth.
 */
export function userPartition(hashOn: HashOn, weight: number): UserPartition {
  const base = DIGITS[hashOn.keys].length;
  const buckets = base * base;
  const k = Math.min(buckets, Math.max(0, Math.floor((weight * buckets) / 100 + 1e-9)));
  if (k === 0) return { share: 0, match: undefined };
  const q = Math.floor(k / base);
  const r = k % base;
  const any = digitClass(hashOn.keys, 0, base);
  const alternatives = [
    ...(q > 0 ? [`${digitClass(hashOn.keys, 0, q)}${any}`] : []),
    ...(r > 0 ? [`${digitClass(hashOn.keys, q, q + 1)}${digitClass(hashOn.keys, 0, r)}`] : []),
  ];
  const suffix = `(?:${alternatives.join('|')})`;
  const match: MatchRule[] = hashOn.header
    ? [{ headers: [{ name: hashOn.header, regex: `^.*${suffix}$` }] }]
    : [{ cookie: { name: hashOn.cookie as string, regex: `[^;]*${suffix}` } }];
  return { share: (k * 100) / buckets, match };
}

/**
 * A router that moves users rather than requests (`strategy.hashOn`): a weight between 0 and 100
 * is a header route for the users' partition plus 0% for everyone else; 0 and 100 are plain
 * weights. The data planes cannot hash across two destinations themselves, so the partition is a
 * regex over the key the router's own header or cookie matching applies.
 */
export function routeByUser(given: TrafficRouter, hashOn: HashOn): TrafficRouter {
  const inner = unwrapByUser(given);
  /** The inner status seen as a weight: the partition counts as the weight Kanary wrote for it. */
  const asWeight = (ctx: PortContext, live: RouterStatus, written?: number): RouterStatus => {
    const headerRoutes = live.headerRoutes.filter((n) => n !== BY_USER_ROUTE);
    const weight = written ?? ctx.state.weights.canary;
    if (!live.headerRoutes.includes(BY_USER_ROUTE) || live.canaryWeight > 0 || !(weight > 0 && weight < 100))
      return { ...live, headerRoutes };
    return {
      ...live,
      canaryWeight: weight,
      effectiveWeight: userPartition(hashOn, weight).share,
      headerRoutes,
    };
  };
  const router: TrafficRouter = {
    name: inner.name,
    capabilities: { ...inner.capabilities, maxHeaderRoutes: inner.capabilities.maxHeaderRoutes - 1 },
    ...(inner.wiring ? { wiring: inner.wiring } : {}),
    ...(inner.validate ? { validate: (ctx) => inner.validate?.(ctx) ?? Promise.resolve([]) } : {}),
    ...(inner.permissions ? { permissions: (spec) => inner.permissions?.(spec) ?? [] } : {}),
    ...(inner.prepare ? { prepare: (ctx) => inner.prepare?.(ctx) ?? Promise.resolve() } : {}),
    async setWeight(ctx, weight) {
      const { match } = userPartition(hashOn, weight);
      if (weight > 0 && weight < 100 && match) {
        // The partition first, then everyone else to 0%: coming down from 100% nobody is left
        // without a route, and going up the new users join before anyone else could.
        await inner.setHeaderRoute(ctx, { name: BY_USER_ROUTE, match, weight: 100 });
        return asWeight(ctx, await inner.setWeight(ctx, 0), weight);
      }
      // 100% moves everyone before the partition goes; 0% (or a share too small for one group)
      // takes the others off first.
      await inner.setWeight(ctx, weight >= 100 ? 100 : 0);
      await inner.removeHeaderRoute(ctx, BY_USER_ROUTE);
      const live = await inner.status(ctx);
      return { ...live, headerRoutes: live.headerRoutes.filter((n) => n !== BY_USER_ROUTE) };
    },
    setHeaderRoute: (ctx, route) => inner.setHeaderRoute(ctx, route),
    removeHeaderRoute: (ctx, name) => inner.removeHeaderRoute(ctx, name),
    setMirror: (ctx, mirror) => inner.setMirror(ctx, mirror),
    removeMirror: (ctx, name) => inner.removeMirror(ctx, name),
    reset: async (ctx) => asWeight(ctx, await inner.reset(ctx), 0),
    finalize: async (ctx) => asWeight(ctx, await inner.finalize(ctx), 0),
    status: async (ctx) => asWeight(ctx, await inner.status(ctx)),
  };
  WRAPPED.set(router, inner);
  return router;
}

const WRAPPED = new WeakMap<TrafficRouter, TrafficRouter>();

/** The router a by-user router was made from (a process re-creating a driver passes it on). */
export function unwrapByUser(router: TrafficRouter): TrafficRouter {
  return WRAPPED.get(router) ?? router;
}
