import type { Clock } from '@kanary/core';
import type { KubeObject } from '../apiserver/object.ts';
import type { ObjectStore, StoreEvent } from '../apiserver/store.ts';
import type { WorkKey, WorkKind, WorkQueue } from './queue.ts';

// What every emulated controller shares: the store it reads and writes, the clock, the one work
// queue, and small readers of the objects they all look at.

/** What a controller is given: the store, the clock and the queue. */
export interface ControllerContext {
  store: ObjectStore;
  clock: Clock;
  queue: WorkQueue;
}

/** One controller: the store events it queues work for, and the work it does. */
export interface Controller {
  /** The work items it reconciles (none for the kubelet, which acts on events directly). */
  readonly kinds: readonly WorkKind[];
  /** client-go's informer event handlers: what a store event queues (or does, for the kubelet). */
  onEvent(e: StoreEvent): void;
  reconcile(key: WorkKey): void;
}

/** What every controller holds: its context. */
export abstract class ControllerBase implements Controller {
  abstract readonly kinds: readonly WorkKind[];
  protected readonly ctx: ControllerContext;
  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
  }
  abstract onEvent(e: StoreEvent): void;
  abstract reconcile(key: WorkKey): void;
}

/** The name kube-controller-manager's controllers write with. */
export const MANAGER = 'kube-controller-manager';
export const REVISION = 'deployment.kubernetes.io/revision';

export type Obj = Record<string, unknown>;

export const specOf = <T>(o: KubeObject) => o.spec as T;
export const statusOf = <T>(o: KubeObject) => (o.status ?? {}) as T;
export const ownedBy = (o: KubeObject, owner: KubeObject) =>
  o.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid && r.controller) ?? false;
/** Creation order: the whole-second timestamp, then the resourceVersion within it. */
export const createdAt = (o: KubeObject) =>
  Date.parse(o.metadata.creationTimestamp ?? '') * 1000 + Number(o.metadata.resourceVersion ?? 0) / 1e6;

export function isReady(pod: KubeObject): boolean {
  const conditions = statusOf<{ conditions?: Array<{ type: string; status: string }> }>(pod).conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** When the pod's Ready condition last turned True (its lastTransitionTime, in seconds as upstream). */
export function readySince(pod: KubeObject): number | undefined {
  const conditions =
    statusOf<{ conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> }>(pod)
      .conditions ?? [];
  const at = conditions.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
  return at === undefined ? undefined : Date.parse(at);
}
