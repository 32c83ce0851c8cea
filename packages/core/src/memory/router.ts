import { KanaryError } from '../errors/kanary-error.ts';
import type { PortContext } from '../ports/context.ts';
import type { RouterCapabilities, RouterStatus, TrafficRouter } from '../ports/router.ts';
import type { HeaderRoute, MirrorRoute } from '../spec/match.ts';
import type { FaultFn, Journal } from './journal.ts';

export const FULL_CAPABILITIES: RouterCapabilities = {
  weights: 'exact',
  weightResolution: 1,
  headerMatch: { exact: true, prefix: true, regex: true },
  cookieMatch: { exact: true, regex: true },
  matchedWeight: true,
  maxHeaderRoutes: 8,
  mirror: true,
  mirrorPercentage: true,
  stickySessions: true,
};

export interface MemoryRouterOptions {
  name?: string;
  capabilities?: Partial<RouterCapabilities>;
  journal?: Journal;
  faults?: FaultFn;
  /** For `replicas` routers: apply a weight elsewhere (scale workloads) and return the real split. */
  onWeight?: (weight: number, ctx: PortContext) => Promise<number | undefined>;
}

export interface MemoryRouter extends TrafficRouter {
  /** What the routing "objects" hold now. */
  readonly current: {
    weight: number;
    headerRoutes: Record<string, HeaderRoute>;
    mirrors: Record<string, MirrorRoute>;
    prepared: boolean;
  };
}

/** A router that keeps its routing table in memory; for tests, the demo and dry experiments. */
export function createMemoryRouter(options: MemoryRouterOptions = {}): MemoryRouter {
  const current = {
    weight: 0,
    headerRoutes: {} as Record<string, HeaderRoute>,
    mirrors: {} as Record<string, MirrorRoute>,
    prepared: false,
  };
  let effective: number | undefined;
  const record = (method: string, args: unknown[]) => {
    options.journal?.push({ port: 'router', method, args });
    const fault = options.faults?.(method, args);
    if (fault) throw fault;
  };
  const status = (): RouterStatus => ({
    canaryWeight: current.weight,
    verified: true,
    ...(effective !== undefined ? { effectiveWeight: effective } : {}),
    headerRoutes: Object.keys(current.headerRoutes),
    mirrors: Object.keys(current.mirrors),
  });
  const apply = async (weight: number, ctx: PortContext) => {
    current.weight = weight;
    if (options.onWeight) effective = await options.onWeight(weight, ctx);
  };
  return {
    name: options.name ?? 'memory',
    capabilities: { ...FULL_CAPABILITIES, ...options.capabilities },
    current,
    async prepare() {
      record('prepare', []);
      current.prepared = true;
    },
    async setWeight(ctx, weight) {
      record('setWeight', [weight]);
      if (weight < 0 || weight > 100) throw new KanaryError('ROUTER', `weight ${weight} is out of range`);
      await apply(weight, ctx);
      return status();
    },
    async setHeaderRoute(_ctx, route) {
      record('setHeaderRoute', [route.name]);
      current.headerRoutes[route.name] = route;
    },
    async removeHeaderRoute(_ctx, name) {
      record('removeHeaderRoute', [name]);
      delete current.headerRoutes[name];
    },
    async setMirror(_ctx, mirror) {
      record('setMirror', [mirror.name]);
      current.mirrors[mirror.name] = mirror;
    },
    async removeMirror(_ctx, name) {
      record('removeMirror', [name]);
      delete current.mirrors[name];
    },
    async reset(ctx) {
      record('reset', []);
      await apply(0, ctx);
      current.headerRoutes = {};
      current.mirrors = {};
      return status();
    },
    async finalize(ctx) {
      record('finalize', []);
      await apply(0, ctx);
      current.headerRoutes = {};
      current.mirrors = {};
      current.prepared = false;
      return status();
    },
    async status() {
      return status();
    },
  };
}
