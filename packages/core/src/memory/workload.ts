import { KanaryError } from '../errors/kanary-error.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { PortContext } from '../ports/context.ts';
import type { Side, WorkloadRef } from '../ports/refs.ts';
import type { Endpoints, Readiness, RollProgress, WorkloadDriver } from '../ports/workload.ts';
import type { FaultFn, Journal } from './journal.ts';

interface SideState {
  name: string;
  image: string;
  replicas: number;
  /** When the side last changed; pods are ready `readyAfterMs` later. */
  changedAt: number;
}

export interface MemoryWorkloadOptions {
  clock?: Clock;
  stable?: { name?: string; image?: string; replicas?: number };
  /** How long new or rescheduled pods take to become ready (default 0). */
  readyAfterMs?: number;
  /** Images whose pods never become ready (to exercise progress deadlines). */
  neverReady?: string[];
  /** Pods updated per rolling batch (default: a quarter of the replicas, at least 1). */
  rollingBatch?: number;
  journal?: Journal;
  faults?: FaultFn;
}

export interface MemoryWorkload extends WorkloadDriver {
  /** The simulated cluster, for assertions. */
  readonly world: {
    stable: SideState;
    canary: SideState | undefined;
    original: { image: string; replicas: number };
    rolling: { updated: number; paused: boolean } | undefined;
    isolated: boolean;
  };
}

/** Deployments simulated in memory: enough of Kubernetes for the engine's own tests and the demo. */
export function createMemoryWorkload(options: MemoryWorkloadOptions = {}): MemoryWorkload {
  const clock = options.clock ?? systemClock;
  const readyAfter = options.readyAfterMs ?? 0;
  const never = new Set(options.neverReady ?? []);
  const stable: SideState = {
    name: options.stable?.name ?? 'app',
    image: options.stable?.image ?? 'app:1',
    replicas: options.stable?.replicas ?? 4,
    changedAt: Number.NEGATIVE_INFINITY,
  };
  const world: MemoryWorkload['world'] = {
    stable,
    canary: undefined,
    original: { image: stable.image, replicas: stable.replicas },
    rolling: undefined,
    isolated: false,
  };
  const record = (method: string, args: unknown[]) => {
    options.journal?.push({ port: 'workload', method, args });
    const fault = options.faults?.(method, args);
    if (fault) throw fault;
  };
  const newImage = (ctx: PortContext) => ctx.spec.update?.image ?? `${world.original.image}-next`;
  const ref = (s: SideState, side: Side): WorkloadRef => ({
    name: s.name,
    podLabels: { app: stable.name, track: side, version: s.image },
    podTemplateHash: s.image.replace(/[^a-z0-9]/g, ''),
  });
  const isReady = (s: SideState) => !never.has(s.image) && clock.now() >= s.changedAt + readyAfter;
  const sideOf = (side: Side): SideState => {
    const s = side === 'stable' ? world.stable : world.canary;
    if (!s) throw new KanaryError('WORKLOAD', `the ${side} workload does not exist`);
    return s;
  };

  return {
    name: 'memory',
    world,
    async describe() {
      return {
        stable: ref(world.stable, 'stable'),
        ...(world.canary ? { canary: ref(world.canary, 'canary') } : {}),
      };
    },
    async ensureCanary(ctx, { replicas }) {
      record('ensureCanary', [replicas]);
      const name =
        'canary' in ctx.spec.strategy
          ? (ctx.spec.strategy.canary.name ?? `${stable.name}-canary`)
          : `${stable.name}-green`;
      if (!world.canary) {
        world.canary = {
          name,
          image: newImage(ctx),
          replicas: replicas ?? stable.replicas,
          changedAt: clock.now(),
        };
      }
      return ref(world.canary, 'canary');
    },
    async scale(_ctx, side, size) {
      record('scale', [side, size]);
      const s = sideOf(side);
      const replicas =
        'replicas' in size
          ? size.replicas
          : Math.ceil((world.original.replicas * size.percentOfStable) / 100);
      if (s.replicas !== replicas) {
        s.replicas = replicas;
        s.changedAt = clock.now();
      }
    },
    async readiness(_ctx, side): Promise<Readiness> {
      const s = side === 'stable' ? world.stable : world.canary;
      if (!s) return { ready: false, desired: 0, readyReplicas: 0, message: `${side} does not exist` };
      const ready = isReady(s);
      return { ready, desired: s.replicas, readyReplicas: ready ? s.replicas : 0 };
    },
    async endpoints(_ctx, side): Promise<Endpoints> {
      const s = side === 'stable' ? world.stable : world.canary;
      if (!s) return { exists: false, ready: 0, message: `${side} does not exist` };
      // The stable keeps serving from its old pods while new ones start; a new canary does not.
      const ready = never.has(s.image) ? 0 : side === 'stable' || isReady(s) ? s.replicas : 0;
      return { exists: true, ready, message: `${side} ${s.name}: ${ready} of ${s.replicas} pods ready` };
    },
    async promote(ctx) {
      record('promote', []);
      const image = world.canary?.image ?? newImage(ctx);
      if (world.stable.image !== image) {
        world.stable.image = image;
        world.stable.changedAt = clock.now();
      }
    },
    async restoreStable() {
      record('restoreStable', []);
      if (world.stable.image !== world.original.image || world.stable.replicas !== world.original.replicas) {
        world.stable.image = world.original.image;
        world.stable.replicas = world.original.replicas;
        world.stable.changedAt = clock.now();
      }
    },
    async cleanup() {
      record('cleanup', []);
      world.canary = undefined;
    },
    async rollTo(ctx, percent): Promise<RollProgress> {
      record('rollTo', [percent]);
      const total = world.stable.replicas;
      const target = Math.ceil((total * percent) / 100);
      world.rolling ??= { updated: 0, paused: false };
      const r = world.rolling;
      if (r.updated < target && isReady(world.stable)) {
        r.updated = Math.min(target, r.updated + (options.rollingBatch ?? Math.max(1, Math.ceil(total / 4))));
        world.stable.changedAt = clock.now();
      }
      const done = r.updated >= target && isReady(world.stable);
      r.paused = done && percent < 100;
      if (done && r.updated >= total) {
        world.stable.image = newImage(ctx);
        world.rolling = undefined;
      }
      return { done, updated: r.updated, total };
    },
    async undo() {
      record('undo', []);
      world.rolling = undefined;
      world.stable.image = world.original.image;
      world.stable.changedAt = clock.now();
    },
    async isolate() {
      record('isolate', []);
      world.isolated = true;
    },
    async unisolate() {
      record('unisolate', []);
      world.isolated = false;
    },
  };
}
