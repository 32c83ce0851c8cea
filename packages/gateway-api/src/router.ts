import {
  canonicalJson,
  cookieHeaderRegex,
  createServiceSides,
  type HeaderRoute,
  KanaryError,
  type KanaryIssue,
  type KubeObject,
  type MatchRule,
  type MirrorRoute,
  missingObjectIssue,
  type ObjectRef,
  originalAnnotation,
  ownedSnapshot,
  type PortContext,
  parseRouterOptions,
  partWiring,
  type RouterCapabilities,
  type RouterStatus,
  routerClient,
  serviceSidesPermissions,
  stableServiceIssue,
  type TrafficRouter,
  updateIfChanged,
} from '@kanary/core/adapter';
import { type GatewayApiRouterOptions, gatewayApiRouterOptionsSchema, ROUTER_ID } from './options.ts';

type Obj = Record<string, unknown>;
interface BackendRef {
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [k: string]: unknown;
}
export interface HttpRouteRule {
  matches?: Obj[];
  filters?: Obj[];
  backendRefs?: BackendRef[];
  [k: string]: unknown;
}
interface RouteCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}
type HTTPRoute = KubeObject & {
  spec: { hostnames?: string[]; parentRefs?: Obj[]; rules?: HttpRouteRule[] };
  status?: { parents?: Array<{ parentRef: Obj; controllerName?: string; conditions?: RouteCondition[] }> };
};

/**
 * Whether the Gateway implementation took the route as written: for every parentRef, an entry in
 * `status.parents` whose Accepted and ResolvedRefs are True for the route's current generation.
 * Undefined when it has; otherwise what is missing, in words.
 */
export function attachmentProblem(route: HTTPRoute): string | undefined {
  const generation = route.metadata.generation ?? 0;
  const name = route.metadata.name;
  for (const ref of route.spec.parentRefs ?? []) {
    const same = (p: Obj) =>
      p.name === ref.name &&
      (p.namespace ?? route.metadata.namespace) === (ref.namespace ?? route.metadata.namespace) &&
      p.sectionName === ref.sectionName &&
      p.port === ref.port;
    const entry = (route.status?.parents ?? []).find((p) => same(p.parentRef));
    const parent = `${String(ref.kind ?? 'Gateway')} ${String(ref.name)}`;
    if (!entry) return `no Gateway controller has reported on HTTPRoute ${name} for ${parent} yet`;
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const c = entry.conditions?.find((x) => x.type === type);
      if (!c || (c.observedGeneration ?? 0) < generation)
        return `${parent} has not yet seen generation ${generation} of HTTPRoute ${name}`;
      if (c.status !== 'True')
        return `${parent} reports ${type} ${c.status} for HTTPRoute ${name}: ${c.reason ?? ''}${c.message ? ` (${c.message})` : ''}`;
    }
  }
  return undefined;
}

const CAPABILITIES: RouterCapabilities = {
  weights: 'exact',
  weightResolution: 1,
  // Gateway API header matches are Exact (core) or RegularExpression; there is no prefix match.
  headerMatch: { exact: true, prefix: false, regex: true },
  cookieMatch: { exact: true, regex: true },
  matchedWeight: true,
  maxHeaderRoutes: 8,
  mirror: true,
  mirrorPercentage: true,
  // sessionPersistence is still experimental in Gateway API; not offered here.
  stickySessions: false,
};

const MARK = 'x-kanary-route';

/** A rule's identity: its name, or its matches (and how many unnamed rules with the same matches come before it). */
function ruleKeys(rules: HttpRouteRule[]): string[] {
  const seen = new Map<string, number>();
  return rules.map((r) => {
    const name = r.name as string | undefined;
    if (name) return `name:${name}`;
    const match = `match:${canonicalJson(r.matches ?? [])}`;
    const n = seen.get(match) ?? 0;
    seen.set(match, n + 1);
    return `${match}#${n}`;
  });
}

const mirrorsTo = (f: Obj, service: string) =>
  f.type === 'RequestMirror' &&
  ((f.requestMirror as Obj | undefined)?.backendRef as Obj | undefined)?.name === service;

function headerMatches(rule: MatchRule): Obj[] {
  const out: Obj[] = [];
  for (const h of rule.headers ?? []) {
    if (h.prefix !== undefined)
      throw new KanaryError('UNSUPPORTED_CAPABILITY', 'Gateway API has no header prefix match');
    out.push(
      h.exact !== undefined
        ? { type: 'Exact', name: h.name, value: h.exact }
        : { type: 'RegularExpression', name: h.name, value: h.regex },
    );
  }
  if (rule.cookie) {
    const c = rule.cookie;
    out.push({
      type: 'RegularExpression',
      name: 'Cookie',
      value: cookieHeaderRegex(
        c.name,
        c.exact !== undefined ? { exact: c.exact } : { regex: c.regex as string },
      ),
    });
  }
  return out;
}

/**
 * Gateway API router: backendRef weights in the rules that send to the stable Service, header
 * and cookie routes as Kanary-owned rules (more specific than the rule they copy, so they win),
 * RequestMirror with a percentage. Only Kanary's rules and weights change, and finishing puts
 * the route back exactly as it was.
 */
export function createGatewayApiRouter(options: GatewayApiRouterOptions): TrafficRouter {
  parseRouterOptions(ROUTER_ID, gatewayApiRouterOptionsSchema, options);
  const client = routerClient(options);
  const sides = createServiceSides(client, options);
  const routeRef = (ctx: PortContext): ObjectRef => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    namespace: ctx.spec.namespace,
    name: options.httpRoute,
  });
  const stableName = (ctx: PortContext) => sides.names(ctx).stable;
  const canaryName = (ctx: PortContext) => sides.names(ctx).canary;
  /** The route's rules as they were before this rollout first changed them. */
  const snapshot = (ctx: PortContext) =>
    ownedSnapshot(originalAnnotation(ctx.spec.name), (route: HTTPRoute) => ({
      rules: route.spec.rules ?? [],
    }));
  const mark = (ctx: PortContext, name: string) => `${ctx.spec.name}.${name}`;
  const isOwned = (ctx: PortContext) => (r: HttpRouteRule) =>
    (r.filters ?? []).some((f) =>
      ((f.requestHeaderModifier as Obj | undefined)?.set as Obj[] | undefined)?.some(
        (h) => h.name === MARK && String(h.value).startsWith(`${ctx.spec.name}.`),
      ),
    );
  const sendsToStable = (ctx: PortContext) => (r: HttpRouteRule) =>
    (r.backendRefs ?? []).some((b) => b.name === stableName(ctx));
  /** Changes the route's rules, the snapshot kept (or dropped when `keepSnapshot` is false). */
  const write = (
    ctx: PortContext,
    mutate: (rules: HttpRouteRule[], route: HTTPRoute) => HttpRouteRule[] | undefined,
    keepSnapshot = true,
  ) =>
    updateIfChanged<HTTPRoute>(client, routeRef(ctx), (route) => {
      const snap = snapshot(ctx).of(route);
      const rules = mutate(structuredClone(route.spec.rules ?? []), route);
      if (!rules) return undefined;
      const next = { ...route, spec: { ...route.spec, rules } };
      return keepSnapshot ? snapshot(ctx).keep(next, snap) : snapshot(ctx).drop(next, snap);
    });

  const pinStable = (ctx: PortContext) => sides.pinStable(ctx);
  const ensureCanaryService = (ctx: PortContext) => sides.ensureCanary(ctx);

  /** The stable and canary backendRefs for a rule, keeping the user's port and fields. */
  const split = (ctx: PortContext, rule: HttpRouteRule, weight: number): BackendRef[] => {
    const stable = (rule.backendRefs ?? []).find((b) => b.name === stableName(ctx)) as BackendRef;
    return [
      { ...stable, weight: 100 - weight },
      { ...stable, name: canaryName(ctx), weight },
    ];
  };

  const status = async (ctx: PortContext): Promise<RouterStatus> => {
    const route = await client.get<HTTPRoute>(routeRef(ctx));
    const rules = route?.spec.rules ?? [];
    const problem = route ? attachmentProblem(route) : `HTTPRoute ${options.httpRoute} does not exist`;
    const managed = rules.find((r) => sendsToStable(ctx)(r) && !isOwned(ctx)(r));
    const canary = managed?.backendRefs?.find((b) => b.name === canaryName(ctx));
    const owned = rules.filter(isOwned(ctx));
    return {
      canaryWeight: canary?.weight ?? 0,
      // Only what the Gateway implementation reports as taken: a route no Gateway accepted (or not
      // yet at this generation) is written, not in effect.
      verified: problem === undefined,
      headerRoutes: owned.map((r) => {
        const set =
          ((r.filters?.[0]?.requestHeaderModifier as Obj | undefined)?.set as Obj[] | undefined) ?? [];
        return String(set[0]?.value ?? '').slice(ctx.spec.name.length + 1);
      }),
      mirrors: managed?.filters?.some((f) => f.type === 'RequestMirror') ? ['(all)'] : [],
    };
  };

  /** The route's status once its Gateway implementation has reported on what was written (bounded wait). */
  const settled = async (ctx: PortContext): Promise<RouterStatus> => {
    const until = client.clock.now() + (options.statusTimeoutMs ?? 10_000);
    for (;;) {
      const read = await status(ctx);
      if (read.verified || client.clock.now() >= until || ctx.signal.aborted) return read;
      await client.clock.sleep(250, ctx.signal).catch(() => undefined);
    }
  };

  /**
   * Undoes Kanary's changes and nothing else: its own rules go, the canary backendRef and mirror
   * leave each rule, and the stable backendRef gets its weight back from the snapshot, found by the
   * rule's identity (never by position, never by writing back the whole list). A person's rules,
   * timeouts and filters added meanwhile stay.
   */
  const restoreRules = (ctx: PortContext, keepSnapshot: boolean) =>
    write(
      ctx,
      (rules, route) => {
        const snap = snapshot(ctx).of(route);
        const saved = new Map(ruleKeys(snap.rules).map((k, i) => [k, snap.rules[i] as HttpRouteRule]));
        const fallback = snap.rules.find(sendsToStable(ctx));
        const stableRef = (r: HttpRouteRule | undefined) =>
          (r?.backendRefs ?? []).find((b) => b.name === stableName(ctx));
        const kept = rules.filter((r) => !isOwned(ctx)(r));
        const keys = ruleKeys(kept);
        return kept.map((r, i) => {
          const original = saved.get(keys[i] as string) ?? fallback;
          let next: HttpRouteRule = r;
          if ((r.backendRefs ?? []).some((b) => b.name === canaryName(ctx))) {
            const weight = stableRef(original)?.weight;
            next = {
              ...next,
              backendRefs: (r.backendRefs ?? [])
                .filter((b) => b.name !== canaryName(ctx))
                .map((b) => {
                  if (b.name !== stableName(ctx)) return b;
                  const { weight: _w, ...rest } = b;
                  return weight === undefined ? rest : { ...rest, weight };
                }),
            };
          }
          const filters = (r.filters ?? []).filter((f) => !mirrorsTo(f, canaryName(ctx)));
          if (filters.length !== (r.filters ?? []).length) {
            const { filters: _f, ...rest } = next;
            next = filters.length > 0 || original?.filters ? { ...rest, filters } : rest;
          }
          return next;
        });
      },
      keepSnapshot,
    );

  const router: TrafficRouter = {
    name: 'gateway-api',
    wiring: partWiring(ROUTER_ID, options),
    permissions: (spec) => [
      {
        apiGroup: 'gateway.networking.k8s.io',
        resource: 'httproutes',
        verbs: ['get', 'update', 'patch'],
        why: `weights and header rules in HTTPRoute ${options.httpRoute}`,
      },
      ...serviceSidesPermissions(spec.namespace),
    ],
    capabilities: CAPABILITIES,
    async validate(ctx) {
      const route = await client.get<HTTPRoute>(routeRef(ctx));
      if (!route)
        return [missingObjectIssue('router.httpRoute', 'HTTPRoute', ctx.spec.namespace, options.httpRoute)];
      const issues: KanaryIssue[] = stableServiceIssue(ctx, 'Gateway API');
      const attached = attachmentProblem(route);
      if (attached)
        issues.push({
          path: 'router.httpRoute',
          message: `${attached}: users may not reach the route, and Kanary cannot verify its weights`,
          hint: 'check the parentRefs, the Gateway listeners and the backendRefs (kubectl describe httproute)',
          // A route its Gateway did not accept routes nothing: a release through it cannot be judged.
          // An unresolved backendRef may be another rule's; it is said, not refused.
          severity: /reports Accepted False/.test(attached) ? 'error' : 'warning',
        });
      if (!(route.spec.rules ?? []).some(sendsToStable(ctx))) {
        issues.push({
          path: 'router.httpRoute',
          message: `no rule of HTTPRoute ${options.httpRoute} sends traffic to Service ${stableName(ctx)}`,
          hint: 'point a rule at the stable Service',
          severity: 'error',
        });
      }
      return issues;
    },
    async prepare(ctx) {
      await pinStable(ctx);
      if (ctx.targets.canary?.podTemplateHash) await ensureCanaryService(ctx);
      await write(ctx, (rules) => rules);
    },
    async setWeight(ctx, weight) {
      if (!Number.isInteger(weight) || weight < 0 || weight > 100)
        throw new KanaryError('ROUTER', `weight ${weight} must be a whole percentage`);
      await ensureCanaryService(ctx);
      await write(ctx, (rules) =>
        rules.map((r) =>
          sendsToStable(ctx)(r) && !isOwned(ctx)(r) ? { ...r, backendRefs: split(ctx, r, weight) } : r,
        ),
      );
      const read = await settled(ctx);
      return { ...read, verified: read.verified && read.canaryWeight === weight };
    },
    async setHeaderRoute(ctx, route: HeaderRoute) {
      if (!route.match) return router.removeHeaderRoute(ctx, route.name);
      await ensureCanaryService(ctx);
      await write(ctx, (rules) => {
        const kept = rules.filter(
          (r) => !(isOwned(ctx)(r) && JSON.stringify(r).includes(`"${mark(ctx, route.name)}"`)),
        );
        const base = kept.find((r) => sendsToStable(ctx)(r) && !isOwned(ctx)(r));
        if (!base)
          throw new KanaryError(
            'ROUTER',
            `HTTPRoute ${options.httpRoute} has no rule for the stable Service`,
          );
        const baseMatches =
          base.matches && base.matches.length > 0
            ? base.matches
            : [{ path: { type: 'PathPrefix', value: '/' } }];
        // Each of the user's matches, with the route's header conditions added: strictly more specific.
        const matches = (route.match as MatchRule[]).flatMap((m) =>
          baseMatches.map((b) => ({
            ...b,
            headers: [...((b.headers as Obj[] | undefined) ?? []), ...headerMatches(m)],
          })),
        );
        const owned: HttpRouteRule = {
          matches,
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: MARK, value: mark(ctx, route.name) }] },
            },
          ],
          backendRefs:
            route.weight >= 100
              ? [{ ...split(ctx, base, 100)[1], weight: 1 } as BackendRef]
              : split(ctx, base, route.weight),
        };
        return [...kept, owned];
      });
    },
    async removeHeaderRoute(ctx, name) {
      await write(ctx, (rules) =>
        rules.filter((r) => !(isOwned(ctx)(r) && JSON.stringify(r).includes(`"${mark(ctx, name)}"`))),
      );
    },
    async setMirror(ctx, mirror: MirrorRoute) {
      if (mirror.remove) return router.removeMirror(ctx, mirror.name);
      if (mirror.match)
        throw new KanaryError(
          'UNSUPPORTED_CAPABILITY',
          'the Gateway API router mirrors all of a rule, not matched requests',
        );
      await ensureCanaryService(ctx);
      await write(ctx, (rules) =>
        rules.map((r) => {
          if (!sendsToStable(ctx)(r) || isOwned(ctx)(r)) return r;
          const stable = (r.backendRefs ?? []).find((b) => b.name === stableName(ctx)) as BackendRef;
          const filters = (r.filters ?? []).filter(
            (f) =>
              !(
                f.type === 'RequestMirror' &&
                (f.requestMirror as Obj).backendRef &&
                ((f.requestMirror as Obj).backendRef as Obj).name === canaryName(ctx)
              ),
          );
          return {
            ...r,
            filters: [
              ...filters,
              {
                type: 'RequestMirror',
                requestMirror: {
                  backendRef: { name: canaryName(ctx), ...(stable.port ? { port: stable.port } : {}) },
                  percent: mirror.percentage,
                },
              },
            ],
          };
        }),
      );
    },
    async removeMirror(ctx) {
      await write(ctx, (rules) =>
        rules.map((r) => {
          const filters = (r.filters ?? []).filter(
            (f) =>
              !(
                f.type === 'RequestMirror' &&
                ((f.requestMirror as Obj).backendRef as Obj).name === canaryName(ctx)
              ),
          );
          if (filters.length === (r.filters ?? []).length) return r;
          const { filters: _f, ...rest } = r;
          return filters.length > 0 ? { ...rest, filters } : rest;
        }),
      );
    },
    // Abort: the rules as the user had them (all to stable) in one write; stable stays pinned.
    // The stable Service is pointed at the stable's pods as they are now before users go back to it:
    // after a promotion (or an abort that put the old template back) it runs a new ReplicaSet.
    async reset(ctx) {
      if (ctx.targets.stable?.podTemplateHash) await pinStable(ctx);
      await restoreRules(ctx, true);
      return settled(ctx);
    },
    async finalize(ctx) {
      if (ctx.targets.stable?.podTemplateHash) await pinStable(ctx);
      if (await client.get(routeRef(ctx))) await restoreRules(ctx, false);
      await sides.release(ctx);
      return status(ctx);
    },
    status,
  };
  return router;
}
