import type { KanaryIssue } from '../errors/kanary-error.ts';
import type { HeaderRoute, MirrorRoute } from '../spec/match.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import type { PortContext } from './context.ts';
import type { Permission } from './permissions.ts';
import type { PartWiring } from './wiring.ts';

/**
 * How a router realises weights:
 * - `exact`: requests are split by the router (mesh, ingress, Gateway API);
 * - `replicas`: the split follows pod counts behind one Service (approximate);
 * - `binary`: only all-stable or all-canary (a Service selector switch).
 */
export type WeightMode = 'exact' | 'replicas' | 'binary';

/** What a router can do. Asking for anything else is refused before a rollout starts. */
export interface RouterCapabilities {
  weights: WeightMode;
  /** Smallest weight step the router can express, in percent (1, or 0.01 with a finer total). */
  weightResolution: number;
  headerMatch: { exact: boolean; prefix: boolean; regex: boolean };
  cookieMatch: { exact: boolean; regex: boolean };
  /** A split inside the matched route (e.g. 50/50 for matched users). */
  matchedWeight: boolean;
  /** More than one header route at once. */
  maxHeaderRoutes: number;
  mirror: boolean;
  mirrorPercentage: boolean;
  stickySessions: boolean;
}

export const NO_CAPABILITIES: RouterCapabilities = {
  weights: 'binary',
  weightResolution: 100,
  headerMatch: { exact: false, prefix: false, regex: false },
  cookieMatch: { exact: false, regex: false },
  matchedWeight: false,
  maxHeaderRoutes: 0,
  mirror: false,
  mirrorPercentage: false,
  stickySessions: false,
};

/** What a router reports after a weight change or when asked. */
export interface RouterStatus {
  /** The canary weight the routing objects hold now. */
  canaryWeight: number;
  /** True when the weight was read back from the routing objects after writing. */
  verified: boolean;
  /** The split the data plane really applies, when it differs from the requested one (replica ratio). */
  effectiveWeight?: number;
  headerRoutes: string[];
  mirrors: string[];
}

/**
 * Sends traffic. Every method is idempotent: calling it again with the same input changes
 * nothing, so a resumed rollout can simply repeat the last call.
 */
export interface TrafficRouter {
  readonly name: string;
  readonly capabilities: RouterCapabilities;
  /** How another process rebuilds this router (the agent); absent for a router only code can make. */
  readonly wiring?: PartWiring;
  /** Checks objects and permissions without writing; returns problems to report. */
  validate?(ctx: PortContext): Promise<KanaryIssue[]>;
  /** The Kubernetes API access this router needs for a rollout (`kanary rbac`); absent: none. */
  permissions?(spec: RolloutSpec): Permission[];
  /** Creates what the router owns (canary subsets, canary Ingress at weight 0); sends no traffic. */
  prepare?(ctx: PortContext): Promise<void>;
  setWeight(ctx: PortContext, weight: number): Promise<RouterStatus>;
  setHeaderRoute(ctx: PortContext, route: HeaderRoute): Promise<void>;
  removeHeaderRoute(ctx: PortContext, name: string): Promise<void>;
  setMirror(ctx: PortContext, mirror: MirrorRoute): Promise<void>;
  removeMirror(ctx: PortContext, name: string): Promise<void>;
  /** Abort: all traffic to stable and Kanary's routes gone, in as few writes as the router allows. */
  reset(ctx: PortContext): Promise<RouterStatus>;
  /** After promotion, when stable runs the new version: stable only, the user's config as it was. */
  finalize(ctx: PortContext): Promise<RouterStatus>;
  status(ctx: PortContext): Promise<RouterStatus>;
}
