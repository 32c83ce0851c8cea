import {
  backtrackingProblem,
  createServiceSides,
  type HeaderRoute,
  KanaryError,
  type KanaryIssue,
  type KubeObject,
  LABEL_ROLLOUT,
  type MatchRule,
  missingObjectIssue,
  type ObjectRef,
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
import { type NginxRouterOptions, nginxRouterOptionsSchema, ROUTER_ID } from './options.ts';

type Obj = Record<string, unknown>;
type Ingress = KubeObject & {
  spec: {
    ingressClassName?: string;
    rules?: Array<{
      host?: string;
      http?: {
        paths: Array<{ path?: string; pathType: string; backend: { service?: { name: string; port: Obj } } }>;
      };
    }>;
  };
};

/** What ingress-nginx accepts in canary-by-header, -value and -cookie (internal/ingress/annotations/canary). */
const CANARY_VALUE = /^[/\-._~a-zA-Z0-9/:]*$/;

/** Checks a header/cookie route against what one canary Ingress can express, and ingress-nginx's traps. */
export function nginxRouteProblems(route: Pick<HeaderRoute, 'match' | 'weight'>): string[] {
  const problems: string[] = [];
  const rules: MatchRule[] = route.match ?? [];
  if (route.weight !== 100)
    problems.push(
      'ingress-nginx sends every matched request to the canary; a partial weight for matched users needs Istio or Gateway API',
    );
  const headers = rules.filter((r) => (r.headers?.length ?? 0) > 0);
  const cookies = rules.filter((r) => r.cookie);
  if (rules.some((r) => (r.headers?.length ?? 0) > 1 || ((r.headers?.length ?? 0) > 0 && r.cookie))) {
    problems.push('ingress-nginx matches one header or one cookie, not several conditions at once');
  }
  if (headers.length > 1 || cookies.length > 1)
    problems.push('one canary Ingress carries a single header rule and a single cookie rule');
  for (const r of headers) {
    const h = r.headers?.[0];
    if (!h) continue;
    if (!CANARY_VALUE.test(h.name))
      problems.push(
        `header name "${h.name}" has characters ingress-nginx refuses (allowed: letters, digits and /-._~:)`,
      );
    if (h.prefix !== undefined)
      problems.push('ingress-nginx cannot match a header prefix; use exact or regex');
    if (h.exact !== undefined) {
      if (!CANARY_VALUE.test(h.exact))
        problems.push(
          `header value "${h.exact}" has characters ingress-nginx refuses (allowed: letters, digits and /-._~:)`,
        );
      if (h.exact === 'never')
        problems.push(
          'a header value of "never" does not force primary once canary-by-header-value is set (ingress-nginx falls through to the weight); leave the value out to get always/never semantics',
        );
    }
    if (h.regex !== undefined) {
      try {
        new RegExp(h.regex);
      } catch (e) {
        // ingress-nginx would send every request carrying the header to primary, skipping cookie and weight.
        problems.push(
          `header pattern does not compile (${(e as Error).message}); ingress-nginx would send all such requests to primary`,
        );
      }
      // ingress-nginx runs the pattern with PCRE on every request carrying the header.
      const slow = backtrackingProblem(h.regex);
      if (slow)
        problems.push(
          `header pattern "${h.regex}" ${slow}; ingress-nginx evaluates it with PCRE on every request that carries the header`,
        );
    }
  }
  for (const r of cookies) {
    const c = r.cookie as NonNullable<MatchRule['cookie']>;
    if (!CANARY_VALUE.test(c.name))
      problems.push(`cookie name "${c.name}" has characters ingress-nginx refuses`);
    if (c.exact !== 'always')
      problems.push(
        'canary-by-cookie routes only the value "always" to the canary (and "never" to primary); set the cookie to "always" for testers',
      );
  }
  return problems;
}

const CAPABILITIES = (weightTotal: number): RouterCapabilities => ({
  weights: 'exact',
  weightResolution: 100 / weightTotal,
  headerMatch: { exact: true, prefix: false, regex: true },
  cookieMatch: { exact: true, regex: false },
  matchedWeight: false,
  maxHeaderRoutes: 1,
  mirror: false,
  mirrorPercentage: false,
  stickySessions: false,
});

/** ingress-nginx canary Ingress router: a canary Ingress beside the user's, by annotations. */
export function createNginxRouter(options: NginxRouterOptions): TrafficRouter {
  parseRouterOptions(ROUTER_ID, nginxRouterOptionsSchema, options);
  const client = routerClient(options);
  const sides = createServiceSides(client, options);
  const prefix = `${options.annotationPrefix ?? 'nginx.ingress.kubernetes.io'}/`;
  const total = options.weightTotal ?? 100;
  const canaryIngressName = options.canaryIngress ?? `${options.stableIngress}-canary`;
  const canaryServiceName = (ctx: PortContext) => sides.names(ctx).canary;
  const ingressRef = (ctx: PortContext, name: string): ObjectRef => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    namespace: ctx.spec.namespace,
    name,
  });
  const ROUTE_KEYS = [
    'canary-by-header',
    'canary-by-header-value',
    'canary-by-header-pattern',
    'canary-by-cookie',
  ].map((k) => `${prefix}${k}`);

  const stableService = (ctx: PortContext) => sides.names(ctx).stable;
  const pinStable = (ctx: PortContext) => sides.pinStable(ctx);

  /** The canary Service and the canary Ingress (at weight 0): what ingress-nginx merges into the primary location. */
  const ensureCanary = async (ctx: PortContext): Promise<Ingress> => {
    await sides.ensureCanary(ctx);
    const name = canaryServiceName(ctx);
    const current = await client.get<Ingress>(ingressRef(ctx, canaryIngressName));
    if (current) return current;
    const primary = await client.get<Ingress>(ingressRef(ctx, options.stableIngress));
    if (!primary)
      throw new KanaryError(
        'NOT_FOUND',
        `Ingress ${ctx.spec.namespace}/${options.stableIngress} does not exist`,
      );
    // Same class, hosts, paths and pathTypes as the primary (ingress-nginx merges only identical locations).
    const rules = (primary.spec.rules ?? []).map((r) => ({
      ...r,
      http: r.http
        ? {
            paths: r.http.paths.map((p) => ({
              ...p,
              backend: { service: { name, port: (p.backend.service?.port ?? { number: 80 }) as Obj } },
            })),
          }
        : undefined,
    }));
    const classAnnotation = primary.metadata.annotations?.['kubernetes.io/ingress.class'];
    return client.create<Ingress>({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: canaryIngressName,
        namespace: ctx.spec.namespace,
        labels: { [LABEL_ROLLOUT]: ctx.spec.name },
        annotations: {
          ...(classAnnotation ? { 'kubernetes.io/ingress.class': classAnnotation } : {}),
          [`${prefix}canary`]: 'true',
          [`${prefix}canary-weight`]: '0',
          ...(total > 100 ? { [`${prefix}canary-weight-total`]: String(total) } : {}),
        },
      },
      spec: {
        ...(primary.spec.ingressClassName ? { ingressClassName: primary.spec.ingressClassName } : {}),
        rules,
      } as Ingress['spec'],
    });
  };

  const annotate = async (
    ctx: PortContext,
    change: (a: Record<string, string>) => Record<string, string>,
  ) => {
    await updateIfChanged<Ingress>(client, ingressRef(ctx, canaryIngressName), (ing) => ({
      ...ing,
      metadata: { ...ing.metadata, annotations: change({ ...(ing.metadata.annotations ?? {}) }) },
    }));
  };

  const status = async (ctx: PortContext): Promise<RouterStatus> => {
    const ing = await client.get<Ingress>(ingressRef(ctx, canaryIngressName));
    const a = ing?.metadata.annotations ?? {};
    const weight = Number(a[`${prefix}canary-weight`] ?? 0);
    const t = Number(a[`${prefix}canary-weight-total`] ?? 100);
    return {
      canaryWeight: ing ? (weight * 100) / Math.max(t, 100) : 0,
      verified: true,
      headerRoutes:
        a[`${prefix}canary-by-header`] || a[`${prefix}canary-by-cookie`]
          ? [a['kanary.dev/header-route'] ?? 'route']
          : [],
      mirrors: [],
    };
  };

  const router: TrafficRouter = {
    name: 'ingress-nginx',
    wiring: partWiring(ROUTER_ID, options),
    permissions: (spec) => [
      {
        apiGroup: 'networking.k8s.io',
        resource: 'ingresses',
        verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
        why: 'the canary Ingress made beside the stable one (list: no second canary on its host), weighted, removed',
      },
      ...serviceSidesPermissions(spec.namespace),
    ],
    capabilities: CAPABILITIES(total),

    async validate(ctx) {
      const primary = await client.get<Ingress>(ingressRef(ctx, options.stableIngress));
      if (!primary)
        return [
          missingObjectIssue('router.stableIngress', 'Ingress', ctx.spec.namespace, options.stableIngress),
        ];
      const issues: KanaryIssue[] = stableServiceIssue(ctx, 'ingress-nginx');
      if (primary.metadata.annotations?.[`${prefix}canary`] === 'true') {
        issues.push({
          path: 'router.stableIngress',
          message: `${options.stableIngress} is itself a canary Ingress`,
          hint: 'name the primary Ingress users reach',
          severity: 'error',
        });
      }
      if (canaryServiceName(ctx) === stableService(ctx)) {
        issues.push({
          path: 'router.canaryService',
          message:
            'the canary Service must differ from the primary one (ingress-nginx ignores such a canary)',
          severity: 'error',
        });
      }
      // One canary per host+path: another canary Ingress on our locations would win or be refused.
      const locations = new Set(
        (primary.spec.rules ?? []).flatMap((r) =>
          (r.http?.paths ?? []).map((p) => `${r.host ?? '*'}|${p.path ?? '/'}|${p.pathType}`),
        ),
      );
      const others = await client.listView<Ingress>('networking.k8s.io/v1', 'Ingress', ctx.spec.namespace);
      for (const ing of others) {
        if (
          ing.metadata.name === canaryIngressName ||
          ing.metadata.annotations?.[`${prefix}canary`] !== 'true'
        )
          continue;
        const clash = (ing.spec.rules ?? []).some((r) =>
          (r.http?.paths ?? []).some((p) => locations.has(`${r.host ?? '*'}|${p.path ?? '/'}|${p.pathType}`)),
        );
        if (clash) {
          issues.push({
            path: 'router.stableIngress',
            message: `canary Ingress ${ing.metadata.name} already serves a host and path of ${options.stableIngress}; ingress-nginx uses one canary per location`,
            hint: 'remove it, or let Kanary adopt its name with canaryIngress',
            severity: 'error',
          });
        }
      }
      for (const step of ctx.spec.steps) {
        if ('setHeaderRoute' in step && step.setHeaderRoute.match) {
          for (const p of nginxRouteProblems(step.setHeaderRoute))
            issues.push({ path: 'steps', message: p, severity: 'error' });
        }
      }
      if (ctx.spec.strategy.type === 'headerMatch') {
        for (const p of nginxRouteProblems({
          match: ctx.spec.strategy.match,
          weight: ctx.spec.strategy.weight,
        }))
          issues.push({ path: 'strategy.match', message: p, severity: 'error' });
      }
      return issues;
    },

    async prepare(ctx) {
      await pinStable(ctx);
      if (ctx.targets.canary?.podTemplateHash) await ensureCanary(ctx);
    },

    async setWeight(ctx, weight) {
      if (weight < 0 || weight > 100) throw new KanaryError('ROUTER', `weight ${weight} is out of range`);
      const value = Math.round((weight * total) / 100);
      if (Math.abs((value * 100) / total - weight) > 1e-9)
        throw new KanaryError('ROUTER', `${weight}% needs canary-weight-total finer than ${total}`);
      await ensureCanary(ctx);
      await annotate(ctx, (a) => ({
        ...a,
        [`${prefix}canary`]: 'true',
        [`${prefix}canary-weight`]: String(value),
      }));
      const read = await status(ctx);
      return { ...read, verified: Math.abs(read.canaryWeight - weight) < 1e-9 };
    },

    async setHeaderRoute(ctx, route) {
      if (!route.match) return router.removeHeaderRoute(ctx, route.name);
      const problems = nginxRouteProblems(route);
      if (problems.length > 0) throw new KanaryError('UNSUPPORTED_CAPABILITY', problems.join('; '));
      await ensureCanary(ctx);
      await annotate(ctx, (a) => {
        for (const k of ROUTE_KEYS) delete a[k];
        for (const rule of route.match ?? []) {
          const h = rule.headers?.[0];
          if (h) {
            a[`${prefix}canary-by-header`] = h.name;
            // "always"/"never" keep their meaning only without a value.
            if (h.exact !== undefined && h.exact !== 'always') a[`${prefix}canary-by-header-value`] = h.exact;
            if (h.regex !== undefined) a[`${prefix}canary-by-header-pattern`] = h.regex;
          }
          if (rule.cookie) a[`${prefix}canary-by-cookie`] = rule.cookie.name;
        }
        a['kanary.dev/header-route'] = route.name;
        return a;
      });
    },

    async removeHeaderRoute(ctx) {
      if (!(await client.get(ingressRef(ctx, canaryIngressName)))) return;
      await annotate(ctx, (a) => {
        for (const k of [...ROUTE_KEYS, 'kanary.dev/header-route']) delete a[k];
        return a;
      });
    },

    setMirror: async () => {
      throw new KanaryError('UNSUPPORTED_CAPABILITY', 'the ingress-nginx router cannot mirror to the canary');
    },
    removeMirror: async () => undefined,

    // Abort: weight 0 and no header or cookie route, in one write; never `canary: "false"` (#6825).
    // The stable Service is pointed at the stable's pods as they are now before users go back to it:
    // after a promotion (or an abort that put the old template back) it runs a new ReplicaSet.
    async reset(ctx) {
      if (ctx.targets.stable?.podTemplateHash) await pinStable(ctx);
      if (await client.get(ingressRef(ctx, canaryIngressName))) {
        await annotate(ctx, (a) => {
          for (const k of [...ROUTE_KEYS, 'kanary.dev/header-route']) delete a[k];
          return { ...a, [`${prefix}canary`]: 'true', [`${prefix}canary-weight`]: '0' };
        });
      }
      return status(ctx);
    },

    // Stable runs the new version (or the canary is gone): remove what Kanary made, restore the selector.
    async finalize(ctx) {
      if (ctx.targets.stable?.podTemplateHash) await pinStable(ctx);
      await client.delete(ingressRef(ctx, canaryIngressName));
      await sides.release(ctx);
      return status(ctx);
    },
    status,
  };
  return router;
}
