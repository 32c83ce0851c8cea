import type { Clock } from '@kanary/core';
import { seededRandom } from '../apiserver/faults.ts';
import { ApiError } from '../apiserver/status.ts';

/**
 * How long a controller takes to react to a change, in clock time: each reconcile (and each kubelet
 * status update) happens a seeded, uniformly drawn delay after the event that queued it, so a read
 * right after a write still sees the old ReplicaSets, status and Endpoints, as on a real cluster
 * (informer delivery plus work-queue wait: tens to hundreds of milliseconds). `0` reconciles on the
 * next microtask, for unit tests of the controllers' arithmetic only.
 */
export type ControllerLatency = 0 | { minMs: number; maxMs: number };

/** 20–250 ms per reconcile, a lightly loaded kube-controller-manager. */
export const REALISTIC_LATENCY: ControllerLatency = { minMs: 20, maxMs: 250 };

/** One item of work: which controller, and the object it looks at. */
export type WorkKey =
  | {
      kind: 'deployment' | 'replicaset' | 'endpoints' | 'httproute' | 'gateway';
      namespace: string;
      name: string;
    }
  | { kind: 'gatewayclass' | 'namespace'; name: string }
  /** The garbage collector's look at an owner being deleted in the foreground or orphaning. */
  | { kind: 'collect'; namespace: string; ownerKind: string; name: string }
  /** The garbage collector's look at the dependents of an owner that is gone. */
  | { kind: 'dangling'; namespace: string; uid: string };
export type WorkKind = WorkKey['kind'];

/** The queue's identity of a key: the same object queued twice is one item. */
export function keyId(key: WorkKey): string {
  switch (key.kind) {
    case 'gatewayclass':
    case 'namespace':
      return `${key.kind}/-/${key.name}`;
    case 'collect':
      return `collect/${key.namespace}/${key.ownerKind}:${key.name}`;
    case 'dangling':
      return `dangling/${key.namespace}/${key.uid}`;
    default:
      return `${key.kind}/${key.namespace}/${key.name}`;
  }
}

export interface WorkQueueOptions {
  latency: ControllerLatency;
  seed: number;
  /** Runs one item; conflicts (409) requeue it, 404 and 403 drop it, anything else is thrown. */
  reconcile(key: WorkKey): void;
  /** What to name when the loop does not settle (the latest changes). */
  recent(): string;
}

/**
 * client-go's workqueue, on the emulator's clock: a key waiting is not queued twice, one changed
 * while being reconciled is reconciled again, each runs one seeded controller delay after it was
 * queued, and the timers of the kubelet's and the controllers' own waits are cancelled together
 * on stop. With a virtual clock the whole emulator stays deterministic for a seed.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #options: WorkQueueOptions;
  readonly #random: () => number;
  /** Keys ready for the drain loop now. */
  readonly #ready = new Map<string, WorkKey>();
  /** Keys waiting out their delay, not yet ready. */
  readonly #waiting = new Set<string>();
  /** Keys to look at again at a clock time (one timer per key, the earliest wins). */
  readonly #delayed = new Map<string, number>();
  // Each timer has a signal of its own: thousands of timers listening on one shared signal made
  // every new one cost a walk over the others (EventTarget checks for duplicates), quadratic at scale.
  readonly #pending = new Set<AbortController>();
  #scheduled = false;
  #stopped = false;

  constructor(clock: Clock, options: WorkQueueOptions) {
    this.#clock = clock;
    this.#options = options;
    this.#random = seededRandom(options.seed ^ 0x6b636d);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** No reconcile queued or waiting out its delay (timers for later, such as minReadySeconds, aside). */
  idle(): boolean {
    return this.#ready.size === 0 && this.#waiting.size === 0;
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#pending) timer.abort();
    this.#pending.clear();
  }

  /** One reconcile's delay: a seeded draw within the configured latency. */
  #delay(): number {
    const l = this.#options.latency;
    return l === 0 ? 0 : Math.round(l.minMs + this.#random() * (l.maxMs - l.minMs));
  }

  /** Waits `ms` of the clock; resolves false when the queue was stopped meanwhile. */
  sleep(ms: number): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    const timer = new AbortController();
    this.#pending.add(timer);
    return this.#clock.sleep(ms, timer.signal).then(() => {
      this.#pending.delete(timer);
      return !timer.signal.aborted && !this.#stopped;
    });
  }

  /** Runs `work` after one controller delay (on the next microtask when latency is 0). */
  later(work: () => void): void {
    const ms = this.#delay();
    if (ms === 0) queueMicrotask(() => !this.#stopped && work());
    else
      void this.sleep(ms).then(
        (due) => due && work(),
        () => undefined,
      );
  }

  /** Queues `key` to be reconciled after one controller delay (once, however often it is queued meanwhile). */
  add(key: WorkKey): void {
    const id = keyId(key);
    if (this.#stopped || this.#waiting.has(id)) return;
    // Without latency, within the running drain, whose loop guard then sees a reconcile that never settles.
    if (this.#options.latency === 0) {
      this.#makeReady(id, key);
      return;
    }
    this.#waiting.add(id);
    this.later(() => {
      this.#waiting.delete(id);
      this.#makeReady(id, key);
    });
  }

  /** Re-reconciles `key` at clock time `at`. */
  addAt(key: WorkKey, at: number): void {
    const id = keyId(key);
    const pending = this.#delayed.get(id);
    if (pending !== undefined && pending <= at) return;
    this.#delayed.set(id, at);
    void this.sleep(Math.max(0, at - this.#clock.now())).then(
      (due) => {
        if (this.#delayed.get(id) === at) this.#delayed.delete(id);
        if (due) this.add(key);
      },
      () => undefined,
    );
  }

  #makeReady(id: string, key: WorkKey): void {
    if (this.#stopped) return;
    this.#ready.set(id, key);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
  }

  #drain(): void {
    let rounds = 0;
    const counts = new Map<string, number>();
    while (this.#ready.size > 0 && !this.#stopped) {
      const [id, key] = this.#ready.entries().next().value as [string, WorkKey];
      this.#ready.delete(id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      if (++rounds > 10_000) {
        const busiest = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 4);
        throw new Error(
          `controller manager: reconcile loop did not settle (${busiest.map(([k, n]) => `${k} ×${n}`).join(', ')}); last changes: ${this.#options.recent()}`,
        );
      }
      try {
        this.#options.reconcile(key);
      } catch (error) {
        // A conflict with a concurrent client write: try again with fresh state.
        if (error instanceof ApiError && error.code === 409) this.add(key);
        // 404: gone meanwhile; 403: its namespace is terminating (a controller logs it and moves on).
        else if (!(error instanceof ApiError && (error.code === 404 || error.code === 403))) throw error;
      }
    }
    this.#scheduled = false;
  }
}
