import type { KanaryIssue } from '../errors/kanary-error.ts';
import type { Plan } from '../plan/actions.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import type { PortContext } from './context.ts';
import type { Permission } from './permissions.ts';
import type { Side, WorkloadRef } from './refs.ts';
import type { PartWiring } from './wiring.ts';

export interface Readiness {
  ready: boolean;
  desired: number;
  readyReplicas: number;
  updated?: number;
  message?: string;
}

/**
 * The pods a side's share of traffic reaches: the side's current pod-template-hash (what the
 * routers pin Services and subsets to), ready and not terminating. Read before every routing
 * write and on every poll while a side holds a share: a side without them must get no traffic.
 */
export interface Endpoints {
  /** False when the side's workload is gone. */
  exists: boolean;
  ready: number;
  /** What was found, for a person: "canary Deployment shop-canary does not exist", "0 of 3 pods ready". */
  message: string;
  /**
   * For the stable: set when its pod template is no longer the one the rollout began from, because
   * someone else changed it (`kubectl set image`); says what changed.
   */
  changed?: string;
}

/** Progress of a rolling update towards a share of updated pods. */
export interface RollProgress {
  done: boolean;
  updated: number;
  total: number;
  message?: string;
  /** Look again this soon (ms) instead of after the poll interval: a step is being held in flight. */
  retryInMs?: number;
}

/** Changes told as they happen (a watch); see `WorkloadDriver.watch`. */
export interface ChangeFeed {
  /** Whether changes are being told now (every watch behind it open); while not, the engine polls. */
  live(): boolean;
  /** Stops telling. */
  close(): void;
}

/** Why a stable workload is not ready to be released from (see `WorkloadDriver.settling`). */
export type Settling = { wait: string } | { refuse: string; hint: string };

/**
 * Runs the versions. Like routers, every method is idempotent, so a resumed rollout can repeat
 * the call it was making when its process died.
 */
export interface WorkloadDriver {
  readonly name: string;
  /** How another process rebuilds this driver (the agent); absent for a driver only code can make. */
  readonly wiring?: PartWiring;
  /** Preflight: checks workloads exist and look safe to roll (probes, graceful shutdown, requests). */
  validate?(ctx: PortContext): Promise<KanaryIssue[]>;
  /** The Kubernetes API access this driver needs to carry out `plan` (`kanary rbac`); absent: none. */
  permissions?(spec: RolloutSpec, plan: Plan): Permission[];
  /**
   * Before a release begins: whether the stable workload is still in its own rollout (a
   * `kubectl set image` a moment ago) — `wait` while it moves, `refuse` when it is stuck or paused
   * halfway — or undefined when it is at rest. Kanary waits rather than pin routing to half of it.
   */
  settling?(ctx: PortContext): Promise<Settling | undefined>;
  /** Describes the stable workload (and the canary when it exists) without changing anything. */
  describe(ctx: PortContext): Promise<{ stable: WorkloadRef; canary?: WorkloadRef }>;
  /** Creates (or adopts) the canary from the stable template plus the spec's update. */
  ensureCanary(ctx: PortContext, options: { replicas?: number }): Promise<WorkloadRef>;
  /** Sets a side's replicas; `percentOfStable` sizes the canary relative to the stable's replicas. */
  scale(
    ctx: PortContext,
    side: Side,
    size: { replicas: number } | { percentOfStable: number },
  ): Promise<void>;
  readiness(ctx: PortContext, side: Side): Promise<Readiness>;
  /**
   * The ready pods behind a side as routers reach it (see `Endpoints`). Without it the engine
   * cannot look before routing writes, and says so once in a warning.
   */
  endpoints?(ctx: PortContext, side: Side): Promise<Endpoints>;
  /**
   * Tells `onChange` when something `endpoints` or `describe` reads may have changed (the sides'
   * workloads, their pods, the Endpoints listing them), so a waiting rollout looks at the world
   * when it moved instead of on every poll. Absent, or while the feed is not `live`, the engine
   * polls every `pollInterval` as before.
   */
  watch?(ctx: PortContext, onChange: () => void): ChangeFeed;
  /** Makes the stable workload run the new version. */
  promote(ctx: PortContext): Promise<void>;
  /** Puts the stable workload back on the template it had when the rollout began. */
  restoreStable(ctx: PortContext): Promise<void>;
  /** Removes what Kanary created for the canary; leaves everything else alone. */
  cleanup(ctx: PortContext): Promise<void>;
  /** Rolling strategy: updates the Deployment in place until `percent` of pods are new, then holds. */
  rollTo?(ctx: PortContext, percent: number): Promise<RollProgress>;
  /** Rolling strategy: back to the previous template. */
  undo?(ctx: PortContext): Promise<void>;
  /** Rolling strategy: expose the new pods on their own Service (and pin the stable one to the old). */
  isolate?(ctx: PortContext): Promise<void>;
  /** Rolling strategy: undo `isolate`. */
  unisolate?(ctx: PortContext): Promise<void>;
}
