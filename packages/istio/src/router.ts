import {
  type ApiVerb,
  canonicalJson,
  createServiceSides,
  type HeaderRoute,
  KanaryError,
  type KanaryIssue,
  type KubeObject,
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
  type Snapshot,
  sameContent,
  serviceSidesPermissions,
  sideHash,
  stableServiceIssue,
  type TrafficRouter,
  updateIfChanged,
} from '@kanary/core/adapter';
import { cookieRegex, toIstioMatch } from './match.ts';
import { type IstioRouterOptions, istioRouterOptionsSchema, ROUTER_ID } from './options.ts';

type Obj = Record<string, unknown>;

export interface IstioDestination {
  host: string;
  subset?: string;
  port?: { number?: number };
}
export interface IstioRoute {
  destination: IstioDestination;
  weight?: number;
  headers?: Obj;
}
export interface HttpRoute {
  name?: string;
  match?: Obj[];
  route?: IstioRoute[];
  mirror?: IstioDestination;
  mirrorPercentage?: { value: number };
  mirrors?: Obj[];
  [key: string]: unknown;
}
type VirtualService = KubeObject & { spec: { hosts?: string[]; http?: HttpRoute[] } };
type DestinationRule = KubeObject & {
  spec: {
    host: string;
    subsets?: Array<{ name: string; labels?: Record<string, string>; [k: string]: unknown }>;
  };
};

const CAPABILITIES: RouterCapabilities = {
  weights: 'exact',
  weightResolution: 1,
  headerMatch: { exact: true, prefix: true, regex: true },
  cookieMatch: { exact: true, regex: true },
  matchedWeight: true,
  maxHeaderRoutes: 16,
  mirror: true,
  mirrorPercentage: true,
  stickySessions: true,
};

const HASH = 'pod-template-hash';

/** What the router needs to put things back exactly: the managed routes' traffic fields, and the subsets. */
interface RoutesSnapshot {
  routes: Record<string, Pick<HttpRoute, 'route' | 'mirror' | 'mirrorPercentage' | 'mirrors'>>;
}
type VsSnapshot = Snapshot<RoutesSnapshot>;

const isOwned = (rollout: string) => (r: HttpRoute) =>
  typeof r.name === 'string' && r.name.startsWith(`kanary-${rollout}-`);
const shortHost = (host: string) => host.split('.')[0] as string;

/**
 * Istio router: weights between DestinationRule subsets (subset-level) or two Services
 * (host-level) in the named `http` routes of a VirtualService, header/cookie routes as
 * Kanary-owned rules right before them, mirroring with a percentage, and sticky sessions by cookie.
 */
export function createIstioRouter(options: IstioRouterOptions): TrafficRouter {
  parseRouterOptions(ROUTER_ID, istioRouterOptionsSchema, options);
  const client = routerClient(options);
  const sides = createServiceSides(client, options);
  let apiVersion = options.apiVersion;
  const vsName =
    typeof options.virtualService === 'string' ? options.virtualService : options.virtualService.name;
  const vsNs = (ctx: PortContext) =>
    (typeof options.virtualService === 'object' && options.virtualService.namespace) || ctx.spec.namespace;
  const stableSubset = options.destinationRule?.stableSubset ?? 'stable';
  const canarySubset = options.destinationRule?.canarySubset ?? 'canary';

  /** networking.istio.io/v1 where served (Istio ≥ 1.22), else v1beta1. */
  const version = async (ctx: PortContext): Promise<string> => {
    if (apiVersion) return apiVersion;
    try {
      await client.listView('networking.istio.io/v1', 'VirtualService', vsNs(ctx));
      apiVersion = 'networking.istio.io/v1';
    } catch {
      apiVersion = 'networking.istio.io/v1beta1';
    }
    return apiVersion;
  };
  const vsRef = async (ctx: PortContext): Promise<ObjectRef> => ({
    apiVersion: await version(ctx),
    kind: 'VirtualService',
    namespace: vsNs(ctx),
    name: vsName,
  });
  const drRef = async (ctx: PortContext): Promise<ObjectRef | undefined> =>
    options.destinationRule
      ? {
          apiVersion: await version(ctx),
          kind: 'DestinationRule',
          namespace: options.destinationRule.namespace ?? ctx.spec.namespace,
          name: options.destinationRule.name,
        }
      : undefined;
  const stableServiceName = (ctx: PortContext) => sides.names(ctx).stable;
  const canaryServiceName = (ctx: PortContext) => sides.names(ctx).canary;

  const managedNames = (vs: VirtualService): string[] => {
    if (options.routes) return options.routes;
    const candidates = (vs.spec.http ?? []).filter((r) => !r.match || r.match.length === 0);
    return candidates.length === 1 && candidates[0]?.name
      ? [candidates[0].name]
      : candidates.length === 1
        ? ['<default>']
        : [];
  };
  const isManaged = (vs: VirtualService, r: HttpRoute, i: number) => {
    const names = managedNames(vs);
    return (
      names.includes(r.name ?? '') ||
      (names[0] === '<default>' && !r.name && (!r.match || r.match.length === 0) && i >= 0)
    );
  };
  /**
   * Each route's identity, so a restore finds it wherever a person has moved it: its name, or for
   * an unnamed route its match (and how many unnamed routes with the same match come before it).
   * Never its position: a route someone adds above would shift every index.
   */
  const routeKeys = (http: HttpRoute[]): string[] => {
    const seen = new Map<string, number>();
    return http.map((r) => {
      if (r.name) return r.name;
      const match = `match:${canonicalJson(r.match ?? [])}`;
      const n = seen.get(match) ?? 0;
      seen.set(match, n + 1);
      return `${match}#${n}`;
    });
  };
  /** The saved fields of a route: by identity, or by position in snapshots written before identities. */
  const savedRoute = (snap: VsSnapshot | undefined, key: string, position: number) =>
    snap?.routes[key] ?? (key.startsWith('match:') ? snap?.routes[`#${position}`] : undefined);
  const isStableDest = (ctx: PortContext, d: IstioDestination, drHost?: string) =>
    options.destinationRule
      ? d.subset === stableSubset && shortHost(d.host) === shortHost(drHost ?? d.host)
      : shortHost(d.host) === stableServiceName(ctx) && !d.subset;

  const readAll = async (ctx: PortContext) => {
    const vs = await client.get<VirtualService>(await vsRef(ctx));
    if (!vs) throw new KanaryError('NOT_FOUND', `VirtualService ${vsNs(ctx)}/${vsName} does not exist`);
    const dr = (await drRef(ctx))
      ? await client.get<DestinationRule>((await drRef(ctx)) as ObjectRef)
      : undefined;
    return { vs, dr };
  };

  /** The destinations for stable and canary, keeping the user's host spelling and port. */
  const destinations = (ctx: PortContext, route: HttpRoute, drHost: string | undefined) => {
    const stable = (route.route ?? []).find((d) => isStableDest(ctx, d.destination, drHost))?.destination;
    if (!stable)
      throw new KanaryError(
        'ROUTER',
        `route ${route.name ?? '(unnamed)'} has no destination for the stable version`,
      );
    const canary: IstioDestination = options.destinationRule
      ? { ...stable, subset: canarySubset }
      : {
          host: stable.host.replace(stableServiceName(ctx), canaryServiceName(ctx)),
          ...(stable.port ? { port: stable.port } : {}),
        };
    return { stable, canary };
  };

  const stickyOf = (ctx: PortContext) => {
    const s = ctx.spec.strategy;
    return (s.type === 'weighted' || s.type === 'headerMatch') && s.stickySession
      ? s.stickySession
      : undefined;
  };
  /**
   * Sticky sessions per release: the cookie says which side served and which canary revision it
   * was, so a cookie from an earlier release matches nothing and is split again like anyone's.
   */
  const stickyValue = (ctx: PortContext, side: 'stable' | 'canary') =>
    `${ctx.spec.name}.${side}.${ctx.targets.canary?.podTemplateHash ?? ctx.state.specDigest.slice(0, 10)}`;
  const stickyHeaders = (ctx: PortContext, side: 'stable' | 'canary'): Obj | undefined => {
    const sticky = stickyOf(ctx);
    if (!sticky) return undefined;
    const maxAge = Math.round(sticky.maxAge / 1000);
    return {
      response: {
        add: { 'Set-Cookie': `${sticky.cookieName}=${stickyValue(ctx, side)}; Max-Age=${maxAge}; Path=/` },
      },
    };
  };
  const split = (
    ctx: PortContext,
    d: { stable: IstioDestination; canary: IstioDestination },
    weight: number,
  ): IstioRoute[] => {
    const sticky = weight > 0 && weight < 100;
    const withCookie = (side: 'stable' | 'canary') => {
      const headers = sticky ? stickyHeaders(ctx, side) : undefined;
      return headers ? { headers } : {};
    };
    // Both destinations always, weights summing to 100: what Istio before 1.15 requires.
    return [
      { destination: d.stable, weight: 100 - weight, ...withCookie('stable') },
      { destination: d.canary, weight, ...withCookie('canary') },
    ];
  };

  /** Read-modify-write of the VirtualService with resourceVersion; returns it as written. */
  const writeVs = async (ctx: PortContext, mutate: (vs: VirtualService) => VirtualService | undefined) =>
    updateIfChanged<VirtualService>(client, await vsRef(ctx), mutate);

  /** Subsets (or Services) first, so no weight ever points at a subset that is not there. */
  const ensureSides = async (ctx: PortContext, withCanary: boolean) => {
    const stableHash = sideHash(ctx, 'stable');
    const canaryHash = withCanary ? sideHash(ctx, 'canary') : undefined;
    const ref = await drRef(ctx);
    if (ref) {
      const snapshot = drSnapshot(ctx);
      const dr = await client.get<DestinationRule>(ref);
      if (!dr)
        throw new KanaryError('NOT_FOUND', `DestinationRule ${ref.namespace}/${ref.name} does not exist`);
      const wanted = (subsets: DestinationRule['spec']['subsets']) => {
        const list = [...(subsets ?? [])];
        const put = (name: string, hash: string) => {
          const i = list.findIndex((s) => s.name === name);
          const subset = { ...(list[i] ?? { name }), labels: { [HASH]: hash } };
          if (i >= 0) list[i] = subset;
          else list.push(subset);
        };
        put(stableSubset, stableHash);
        if (canaryHash) put(canarySubset, canaryHash);
        return list;
      };
      const current = dr.spec.subsets ?? [];
      // From the cache: a DestinationRule already as wanted costs no request.
      if (snapshot.saved(dr) && sameContent(wanted(current), current)) return;
      await updateIfChanged<DestinationRule>(client, ref, (d) =>
        snapshot.keep({ ...d, spec: { ...d.spec, subsets: wanted(d.spec.subsets) } }, snapshot.of(d)),
      );
      return;
    }
    // Host-level: the stable Service pinned to stable pods, and a canary Service for canary pods.
    await sides.pinStable(ctx);
    if (canaryHash) await sides.ensureCanary(ctx);
  };

  /** The managed routes' traffic fields, saved the first time the router touches the VirtualService. */
  const vsSnapshot = (ctx: PortContext) =>
    ownedSnapshot(originalAnnotation(ctx.spec.name), (vs: VirtualService): RoutesSnapshot => {
      const routes: RoutesSnapshot['routes'] = {};
      const keys = routeKeys(vs.spec.http ?? []);
      (vs.spec.http ?? []).forEach((r, i) => {
        if (isManaged(vs, r, i))
          routes[keys[i] as string] = {
            route: r.route,
            mirror: r.mirror,
            mirrorPercentage: r.mirrorPercentage,
            mirrors: r.mirrors,
          };
      });
      return { routes };
    });
  /** The subsets as they were (null: the rule had none), under the same annotation on the DestinationRule. */
  const drSnapshot = (ctx: PortContext) =>
    ownedSnapshot(originalAnnotation(ctx.spec.name), (d: DestinationRule) => ({
      subsets: d.spec.subsets ?? null,
    }));
  const markSnapshot = (ctx: PortContext, vs: VirtualService): VirtualService =>
    vsSnapshot(ctx).keep(vs, vsSnapshot(ctx).of(vs));

  /** Inserts or replaces an owned rule, right before the first managed route. */
  const putOwned = (vs: VirtualService, rule: HttpRoute): HttpRoute[] => {
    const http = (vs.spec.http ?? []).filter((r) => r.name !== rule.name);
    const first = http.findIndex((r, i) => isManaged(vs, r, i));
    http.splice(first < 0 ? http.length : first, 0, rule);
    return http;
  };

  const status = async (ctx: PortContext): Promise<RouterStatus> => {
    const { vs, dr } = await readAll(ctx);
    const managed = (vs.spec.http ?? []).find((r, i) => isManaged(vs, r, i));
    const canary = (managed?.route ?? []).find((d) => !isStableDest(ctx, d.destination, dr?.spec.host));
    const owned = (vs.spec.http ?? []).filter(isOwned(ctx.spec.name));
    const prefix = `kanary-${ctx.spec.name}-`;
    return {
      canaryWeight: canary ? (canary.weight ?? 0) : 0,
      verified: true,
      headerRoutes: owned
        .filter(
          (r) =>
            r.route?.some((d) => (d.weight ?? 100) > 0 && !isStableDest(ctx, d.destination, dr?.spec.host)) &&
            !(r.name ?? '').startsWith(`${prefix}mirror-`) &&
            !(r.name ?? '').startsWith(`${prefix}sticky`),
        )
        .map((r) => (r.name as string).slice(prefix.length)),
      mirrors: [
        ...owned
          .filter((r) => (r.name ?? '').startsWith(`${prefix}mirror-`))
          .map((r) => (r.name as string).slice(`${prefix}mirror-`.length)),
        ...(managed?.mirror ? ['(all)'] : []),
      ],
    };
  };

  /** All traffic to stable, Kanary's rules gone, the managed routes as the user had them. */
  const restoreRoutes = async (ctx: PortContext): Promise<void> => {
    const snapshot = vsSnapshot(ctx);
    await writeVs(ctx, (vs) => {
      const saved = snapshot.saved(vs);
      const owned = isOwned(ctx.spec.name);
      if (!saved && !(vs.spec.http ?? []).some(owned)) return undefined;
      const snap: VsSnapshot = saved ?? { routes: {}, hadAnnotations: true };
      const all = vs.spec.http ?? [];
      const keys = routeKeys(all);
      const http = all
        .map((r, i) => ({ r, key: keys[i] as string }))
        .filter(({ r }) => !owned(r))
        .map(({ r, key }, j) => {
          const original = savedRoute(snap, key, j);
          if (!original) return r;
          const { route: _r, mirror: _m, mirrorPercentage: _p, mirrors: _s, ...rest } = r;
          return {
            ...rest,
            ...(original.route !== undefined ? { route: original.route } : {}),
            ...(original.mirror !== undefined ? { mirror: original.mirror } : {}),
            ...(original.mirrorPercentage !== undefined
              ? { mirrorPercentage: original.mirrorPercentage }
              : {}),
            ...(original.mirrors !== undefined ? { mirrors: original.mirrors } : {}),
          };
        });
      return snapshot.drop({ ...vs, spec: { ...vs.spec, http } }, saved);
    });
  };

  /** The user's subsets or Service selectors back, the canary Service gone: only when no canary pod is left to leak to. */
  const unpin = async (ctx: PortContext): Promise<void> => {
    const ref = await drRef(ctx);
    if (ref) {
      const snapshot = drSnapshot(ctx);
      if (snapshot.saved(await client.get<DestinationRule>(ref))) {
        await updateIfChanged<DestinationRule>(client, ref, (d) => {
          const snap = snapshot.saved(d);
          if (!snap) return undefined;
          const { subsets: _s, ...spec } = d.spec;
          const restored = snap.subsets !== null ? { ...spec, subsets: snap.subsets } : spec;
          return snapshot.drop({ ...d, spec: restored as DestinationRule['spec'] }, snap);
        });
      }
    } else await sides.release(ctx);
  };

  const router: TrafficRouter = {
    name: 'istio',
    wiring: partWiring(ROUTER_ID, options),
    permissions(spec) {
      const vsNamespace =
        (typeof options.virtualService === 'object' && options.virtualService.namespace) || spec.namespace;
      return [
        {
          apiGroup: 'networking.istio.io',
          resource: 'virtualservices',
          // list: which API version the mesh serves.
          verbs: ['get', 'list', 'update', 'patch'],
          namespace: vsNamespace,
          why: `weights and header routes in VirtualService ${vsName}`,
        },
        ...(options.destinationRule
          ? [
              {
                apiGroup: 'networking.istio.io',
                resource: 'destinationrules',
                verbs: ['get', 'update', 'patch'] as ApiVerb[],
                namespace: options.destinationRule.namespace ?? spec.namespace,
                why: `stable and canary subsets in DestinationRule ${options.destinationRule.name}`,
              },
            ]
          : []),
        ...serviceSidesPermissions(spec.namespace),
      ];
    },
    capabilities: CAPABILITIES,

    async validate(ctx) {
      const issues: KanaryIssue[] = stableServiceIssue(ctx, 'Istio');
      const vs = await client.get<VirtualService>(await vsRef(ctx)).catch(() => undefined);
      if (!vs)
        return [...issues, missingObjectIssue('router.virtualService', 'VirtualService', vsNs(ctx), vsName)];
      const names = managedNames(vs);
      if (names.length === 0) {
        issues.push({
          path: 'router.routes',
          message: `VirtualService ${vsName} has no single route without a match to manage`,
          hint: 'name the routes Kanary manages (routes: [...])',
          severity: 'error',
        });
      }
      const dr = (await drRef(ctx))
        ? await client.get<DestinationRule>((await drRef(ctx)) as ObjectRef)
        : undefined;
      if (options.destinationRule && !dr) {
        issues.push({
          path: 'router.destinationRule',
          message: `DestinationRule ${options.destinationRule.name} does not exist`,
          hint: 'create it with a host matching the VirtualService destination',
          severity: 'error',
        });
      }
      (vs.spec.http ?? []).forEach((r, i) => {
        if (!isManaged(vs, r, i)) return;
        const dests = r.route ?? [];
        if (!dests.some((d) => isStableDest(ctx, d.destination, dr?.spec.host))) {
          issues.push({
            path: 'router.routes',
            message: `route ${r.name ?? i} does not send traffic to the stable ${options.destinationRule ? `subset "${stableSubset}"` : `Service "${stableServiceName(ctx)}"`}`,
            hint: 'point the managed route at the stable version',
            severity: 'error',
          });
        }
        const others = dests.filter(
          (d) =>
            !isStableDest(ctx, d.destination, dr?.spec.host) &&
            (options.destinationRule
              ? d.destination.subset !== canarySubset
              : shortHost(d.destination.host) !== canaryServiceName(ctx)),
        );
        if (others.length > 0) {
          issues.push({
            path: 'router.routes',
            message: `route ${r.name ?? i} also sends traffic to ${others.map((o) => o.destination.subset ?? o.destination.host).join(', ')}`,
            hint: 'Kanary manages routes between stable and canary only',
            severity: 'error',
          });
        }
      });
      for (const n of options.routes ?? []) {
        if (!(vs.spec.http ?? []).some((r) => r.name === n))
          issues.push({
            path: 'router.routes',
            message: `VirtualService ${vsName} has no http route named "${n}"`,
            severity: 'error',
          });
      }
      return issues;
    },

    async prepare(ctx) {
      const withCanary = ctx.targets.canary?.podTemplateHash !== undefined;
      await ensureSides(ctx, withCanary);
      const vs = await client.get<VirtualService>(await vsRef(ctx));
      if (vs && !vsSnapshot(ctx).saved(vs)) await writeVs(ctx, (v) => markSnapshot(ctx, v));
    },

    async setWeight(ctx, weight) {
      if (!Number.isInteger(weight) || weight < 0 || weight > 100)
        throw new KanaryError('ROUTER', `Istio weights are whole percentages; ${weight} is not one`);
      await ensureSides(ctx, true);
      const { dr } = await readAll(ctx);
      const sticky = stickyOf(ctx);
      await writeVs(ctx, (vs0) => {
        const vs = markSnapshot(ctx, vs0);
        const mirrorPrefix = `kanary-${ctx.spec.name}-mirror-`;
        let http = (vs.spec.http ?? []).map((r, i) =>
          isManaged(vs, r, i) || (r.name ?? '').startsWith(mirrorPrefix)
            ? { ...r, route: split(ctx, destinations(ctx, r, dr?.spec.host), weight) }
            : r,
        );
        const stickyName = `kanary-${ctx.spec.name}-sticky`;
        const stickyNames = [stickyName, `${stickyName}-stable`];
        http = http.filter((r) => !stickyNames.includes(r.name ?? ''));
        if (sticky && weight > 0 && weight < 100) {
          // Whoever a response of this release sent to a side stays there (Flagger's canary and primary cookies).
          const managed = http.find((r, i) => isManaged(vs, r, i)) as HttpRoute;
          const d = destinations(ctx, managed, dr?.spec.host);
          for (const side of ['canary', 'stable'] as const) {
            http = putOwned(
              { ...vs, spec: { ...vs.spec, http } },
              {
                name: side === 'canary' ? stickyName : `${stickyName}-stable`,
                match: [
                  {
                    headers: {
                      cookie: { regex: cookieRegex(sticky.cookieName, { exact: stickyValue(ctx, side) }) },
                    },
                  },
                ],
                route: [{ destination: d[side], weight: 100 }],
              },
            );
          }
        }
        return { ...vs, spec: { ...vs.spec, http } };
      });
      const read = await status(ctx);
      return { ...read, verified: read.canaryWeight === weight };
    },

    async setHeaderRoute(ctx, route: HeaderRoute) {
      if (!route.match) return router.removeHeaderRoute(ctx, route.name);
      await ensureSides(ctx, true);
      const { dr } = await readAll(ctx);
      await writeVs(ctx, (vs0) => {
        const vs = markSnapshot(ctx, vs0);
        const managed = (vs.spec.http ?? []).find((r, i) => isManaged(vs, r, i));
        if (!managed) throw new KanaryError('ROUTER', `VirtualService ${vsName} has no managed route`);
        const d = destinations(ctx, managed, dr?.spec.host);
        const rule: HttpRoute = {
          name: `kanary-${ctx.spec.name}-${route.name}`,
          match: toIstioMatch(route.match as NonNullable<HeaderRoute['match']>),
          route: route.weight >= 100 ? [{ destination: d.canary, weight: 100 }] : split(ctx, d, route.weight),
        };
        return { ...vs, spec: { ...vs.spec, http: putOwned(vs, rule) } };
      });
    },

    async removeHeaderRoute(ctx, name) {
      await writeVs(ctx, (vs) => {
        const http = (vs.spec.http ?? []).filter((r) => r.name !== `kanary-${ctx.spec.name}-${name}`);
        return http.length === (vs.spec.http ?? []).length
          ? undefined
          : { ...vs, spec: { ...vs.spec, http } };
      });
    },

    async setMirror(ctx, mirror: MirrorRoute) {
      if (mirror.remove) return router.removeMirror(ctx, mirror.name);
      await ensureSides(ctx, true);
      const { dr } = await readAll(ctx);
      await writeVs(ctx, (vs0) => {
        const vs = markSnapshot(ctx, vs0);
        const http = vs.spec.http ?? [];
        let next: HttpRoute[];
        if (mirror.match) {
          const managed = http.find((r, i) => isManaged(vs, r, i)) as HttpRoute;
          const d = destinations(ctx, managed, dr?.spec.host);
          // Matched requests are split like everyone (the managed route's weights, which setWeight
          // keeps in step) and copied to the canary (responses ignored).
          next = putOwned(vs, {
            name: `kanary-${ctx.spec.name}-mirror-${mirror.name}`,
            match: toIstioMatch(mirror.match),
            route: managed.route?.length ? managed.route : [{ destination: d.stable, weight: 100 }],
            mirror: d.canary,
            mirrorPercentage: { value: mirror.percentage },
          });
        } else {
          next = http.map((r, i) => {
            if (!isManaged(vs, r, i)) return r;
            const d = destinations(ctx, r, dr?.spec.host);
            return { ...r, mirror: d.canary, mirrorPercentage: { value: mirror.percentage } };
          });
        }
        return { ...vs, spec: { ...vs.spec, http: next } };
      });
    },

    async removeMirror(ctx, name) {
      await writeVs(ctx, (vs) => {
        const snap = vsSnapshot(ctx).saved(vs);
        const keys = routeKeys(vs.spec.http ?? []);
        const http = (vs.spec.http ?? [])
          .map((r, i) => ({ r, key: keys[i] as string }))
          .filter(({ r }) => r.name !== `kanary-${ctx.spec.name}-mirror-${name}`)
          .map(({ r, key }, j) => {
            if (!isManaged(vs, r, j)) return r;
            const original = savedRoute(snap, key, j);
            const { mirror: _m, mirrorPercentage: _p, ...rest } = r;
            return {
              ...rest,
              ...(original?.mirror ? { mirror: original.mirror } : {}),
              ...(original?.mirrorPercentage ? { mirrorPercentage: original.mirrorPercentage } : {}),
            };
          });
        return { ...vs, spec: { ...vs.spec, http } };
      });
    },

    // Abort: one VirtualService write sends everything to stable; stable stays pinned to its pods.
    // The stable side is pointed at the stable's pods as they are now *before* users are sent to it:
    // after a promotion (or an abort that put the old template back) its ReplicaSet is a new one, and
    // the subset still names the old one's pods, which are going away (503 between the two writes).
    async reset(ctx) {
      if (ctx.targets.stable?.podTemplateHash) await ensureSides(ctx, false);
      await restoreRoutes(ctx);
      return status(ctx);
    },
    async finalize(ctx) {
      if (ctx.targets.stable?.podTemplateHash) await ensureSides(ctx, false);
      await restoreRoutes(ctx);
      await unpin(ctx);
      return status(ctx);
    },
    status,
  };
  return router;
}
