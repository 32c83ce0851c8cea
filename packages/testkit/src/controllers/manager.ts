import type { Clock } from '@kanary/core';
import type { KubeObject } from '../apiserver/object.ts';
import type { ObjectStore, StoreEvent } from '../apiserver/store.ts';
import { type Controller, type ControllerContext, REVISION } from './controller.ts';
import { DeploymentController } from './deployment.ts';
import { EndpointsController } from './endpoints.ts';
import { GarbageCollector } from './garbage-collector.ts';
import { GatewayController } from './gateway.ts';
import { Kubelet, type PodBehavior, type PodBehaviorRule } from './kubelet.ts';
import { NamespaceController } from './namespace.ts';
import { type ControllerLatency, REALISTIC_LATENCY, type WorkKey, WorkQueue } from './queue.ts';
import { ReplicaSetController } from './replicaset.ts';

export interface ControllerOptions {
  podReadyAfterMs?: number;
  latency?: ControllerLatency;
  seed?: number;
}

/**
 * kube-controller-manager and the kubelet, reduced to what rollouts depend on: Deployments make
 * ReplicaSets, ReplicaSets make Pods, Pods become Ready, Endpoints follow Services, the garbage
 * collector and the namespace controller delete, and a Gateway API implementation writes route
 * status. One controller per file, all on one work queue (queue.ts) fed by the store's events.
 */
export class ControllerManager {
  readonly #queue: WorkQueue;
  readonly #kubelet: Kubelet;
  /** In the order a store event reaches them: it decides the order of their queued work. */
  readonly #controllers: readonly Controller[];
  readonly #byKind = new Map<WorkKey['kind'], Controller>();
  readonly #unsubscribe: () => void;
  /** The latest store events, named in the error when the reconcile loop does not settle. */
  readonly #recent: string[] = [];

  constructor(store: ObjectStore, clock: Clock, options: ControllerOptions = {}) {
    this.#queue = new WorkQueue(clock, {
      latency: options.latency ?? REALISTIC_LATENCY,
      seed: options.seed ?? 1,
      reconcile: (key) => this.#byKind.get(key.kind)?.reconcile(key),
      recent: () => this.#recent.join(' | '),
    });
    const ctx: ControllerContext = { store, clock, queue: this.#queue };
    this.#kubelet = new Kubelet(ctx, options.podReadyAfterMs ?? 2_000);
    this.#controllers = [
      new GarbageCollector(ctx),
      new NamespaceController(ctx),
      new ReplicaSetController(ctx),
      new DeploymentController(ctx),
      new EndpointsController(ctx),
      this.#kubelet,
      new GatewayController(ctx),
    ];
    for (const c of this.#controllers) for (const kind of c.kinds) this.#byKind.set(kind, c);
    this.#unsubscribe = store.subscribe((e) => this.#onEvent(e));
  }

  /** No reconcile queued or waiting out its delay (timers for later, such as minReadySeconds, aside). */
  idle(): boolean {
    return this.#queue.idle();
  }

  stop(): void {
    this.#unsubscribe();
    this.#queue.stop();
  }

  setPodBehavior(rule: PodBehaviorRule): void {
    this.#kubelet.setPodBehavior(rule);
  }

  /** Pods of a version start crashing now; returns how many were running (see the kubelet). */
  crashPods(match: Omit<PodBehaviorRule, 'behavior'>): number {
    return this.#kubelet.crashPods(match);
  }

  behaviorOf(pod: KubeObject): PodBehavior {
    return this.#kubelet.behaviorOf(pod);
  }

  #onEvent(e: StoreEvent): void {
    const o = e.object;
    this.#recent.push(
      `${e.type} ${e.info.kind} ${o.metadata.name} rv${o.metadata.resourceVersion} replicas=${String((o.spec as { replicas?: number } | undefined)?.replicas)} rev=${o.metadata.annotations?.[REVISION] ?? '-'} status=${JSON.stringify((o.status as Record<string, unknown> | undefined)?.replicas ?? '')}`,
    );
    if (this.#recent.length > 12) this.#recent.shift();
    for (const c of this.#controllers) c.onEvent(e);
  }
}
