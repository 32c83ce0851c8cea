import type { Clock } from '@kanary/core';
import { seededRandom } from '../apiserver/faults.ts';
import { KINDS, type KindInfo, kindByName } from '../apiserver/kinds.ts';
import { clone, jsonEqual, type KubeObject } from '../apiserver/object.ts';
import { matchesSelector } from '../apiserver/selectors.ts';
import { ApiError } from '../apiserver/status.ts';
import type { ObjectStore, StoreEvent } from '../apiserver/store.ts';
import {
  newRSNewReplicas,
  proportionalScale,
  type RsNumbers,
  reconcileOldReplicaSets,
  resolveFenceposts,
} from './deployment-math.ts';
import { syncGateway, syncGatewayClass, syncHttpRoute } from './gateway.ts';
import { podTemplateHash, templateWithoutHash } from './hash.ts';
import { preStopMs, terminatingSince } from './termination.ts';

/** How pods of a version behave while starting. Matched by image or by labels. */
export interface PodBehavior {
  /** Time from creation to Ready (default: the cluster's `podReadyAfterMs`). */
  readyAfterMs?: number;
  /** Running but never Ready (a failing readiness probe). */
  neverReady?: boolean;
  /** Crash-looping: never Ready, restartCount grows. */
  crashLoop?: boolean;
}

export interface PodBehaviorRule {
  image?: string | RegExp;
  labels?: Record<string, string>;
  behavior: PodBehavior;
}

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

export interface ControllerOptions {
  podReadyAfterMs?: number;
  latency?: ControllerLatency;
  seed?: number;
}

const MANAGER = 'kube-controller-manager';
const REVISION = 'deployment.kubernetes.io/revision';
type Obj = Record<string, unknown>;

const K = {
  deployment: kindByName('Deployment') as KindInfo,
  replicaSet: kindByName('ReplicaSet') as KindInfo,
  pod: kindByName('Pod') as KindInfo,
  service: kindByName('Service') as KindInfo,
  endpoints: kindByName('Endpoints') as KindInfo,
  event: kindByName('Event') as KindInfo,
  namespace: kindByName('Namespace') as KindInfo,
  httpRoute: kindByName('HTTPRoute', 'gateway.networking.k8s.io') as KindInfo,
  gateway: kindByName('Gateway', 'gateway.networking.k8s.io') as KindInfo,
  gatewayClass: kindByName('GatewayClass', 'gateway.networking.k8s.io') as KindInfo,
};

interface DeploymentSpec {
  replicas: number;
  paused?: boolean;
  selector: { matchLabels?: Record<string, string> };
  template: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Obj;
  };
  strategy: {
    type: 'RollingUpdate' | 'Recreate';
    rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string };
  };
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  minReadySeconds?: number;
}

interface RsStatus {
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}

const specOf = <T>(o: KubeObject) => o.spec as T;
const statusOf = <T>(o: KubeObject) => (o.status ?? {}) as T;
const ownedBy = (o: KubeObject, owner: KubeObject) =>
  o.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid && r.controller) ?? false;
const createdAt = (o: KubeObject) =>
  Date.parse(o.metadata.creationTimestamp ?? '') * 1000 + Number(o.metadata.resourceVersion ?? 0) / 1e6;

/**
 * kube-controller-manager and kubelet, reduced to what rollouts depend on: Deployments make
 * ReplicaSets, ReplicaSets make Pods, Pods become Ready, Endpoints follow Services.
 * Work is queued per object as client-go's workqueue does (a key waiting is not queued twice; one
 * changed while being reconciled is reconciled again) and runs after `latency` of clock time, so
 * with a virtual clock the emulator stays deterministic for a seed.
 */
export class ControllerManager {
  readonly #store: ObjectStore;
  readonly #clock: Clock;
  readonly #readyAfterMs: number;
  readonly #behaviors: PodBehaviorRule[] = [];
  readonly #queue = new Set<string>();
  #scheduled = false;
  #podIp = 0;
  #podSeq = 0;
  #stopped = false;
  #events = 0;
  readonly #unsubscribe: () => void;
  readonly #latency: ControllerLatency;
  readonly #random: () => number;
  /** Keys waiting out their latency, not yet in `#queue`. */
  readonly #waiting = new Set<string>();

  constructor(store: ObjectStore, clock: Clock, options: ControllerOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#readyAfterMs = options.podReadyAfterMs ?? 2_000;
    // Not yet the default: the suite is being moved onto it test by test (issue 16).
    this.#latency = options.latency ?? REALISTIC_LATENCY;
    this.#random = seededRandom((options.seed ?? 1) ^ 0x6b636d);
    this.#unsubscribe = store.subscribe((e) => this.#onEvent(e));
  }

  /** One reconcile's delay: a seeded draw within the configured latency. */
  #delay(): number {
    const l = this.#latency;
    return l === 0 ? 0 : Math.round(l.minMs + this.#random() * (l.maxMs - l.minMs));
  }

  // Each timer has a signal of its own: thousands of timers listening on one shared signal made
  // every new one cost a walk over the others (EventTarget checks for duplicates), quadratic at scale.
  readonly #pending = new Set<AbortController>();

  /** Waits `ms` of the clock; resolves false when the controllers were stopped meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    const timer = new AbortController();
    this.#pending.add(timer);
    return this.#clock.sleep(ms, timer.signal).then(() => {
      this.#pending.delete(timer);
      return !timer.signal.aborted && !this.#stopped;
    });
  }

  /** Runs `work` after one controller delay (on the next microtask when latency is 0). */
  #later(work: () => void): void {
    const ms = this.#delay();
    if (ms === 0) queueMicrotask(() => !this.#stopped && work());
    else
      void this.#sleep(ms).then(
        (due) => due && work(),
        () => undefined,
      );
  }

  /** No reconcile queued or waiting out its delay (timers for later, such as minReadySeconds, aside). */
  idle(): boolean {
    return this.#queue.size === 0 && this.#waiting.size === 0;
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();

    for (const timer of this.#pending) timer.abort();
    this.#pending.clear();
  }

  setPodBehavior(rule: PodBehaviorRule): void {
    this.#behaviors.unshift(rule);
  }

  /**
   * Pods of a version start crashing now (a bad config reloaded, a dependency gone): the running
   * ones stop being Ready and crash-loop, and so do any started later. Returns how many were running.
   */
  crashPods(match: Omit<PodBehaviorRule, 'behavior'>): number {
    const rule = { ...match, behavior: { crashLoop: true } };
    this.setPodBehavior(rule);
    const running = this.#store
      .select(K.pod, undefined, () => true)
      .filter((p) => this.behaviorOf(p) === rule.behavior && !p.metadata.deletionTimestamp);
    for (const pod of running) this.#startPod(pod);
    return running.length;
  }

  behaviorOf(pod: KubeObject): PodBehavior {
    const containers = (specOf<Obj>(pod).containers as Obj[] | undefined) ?? [];
    for (const rule of this.#behaviors) {
      const imageOk =
        rule.image === undefined ||
        containers.some((c) =>
          typeof rule.image === 'string'
            ? c.image === rule.image
            : (rule.image as RegExp).test(String(c.image)),
        );
      const labelsOk =
        rule.labels === undefined ||
        Object.entries(rule.labels).every(([k, v]) => pod.metadata.labels?.[k] === v);
      if (imageOk && labelsOk) return rule.behavior;
    }
    return {};
  }

  /** The latest store events, named in the error when the reconcile loop does not settle. */
  readonly #recent: string[] = [];

  #onEvent(e: StoreEvent): void {
    const o = e.object;
    this.#onDeletion(e);
    this.#recent.push(
      `${e.type} ${e.info.kind} ${o.metadata.name} rv${o.metadata.resourceVersion} replicas=${String((o.spec as { replicas?: number } | undefined)?.replicas)} rev=${o.metadata.annotations?.[REVISION] ?? '-'} status=${JSON.stringify((o.status as Record<string, unknown> | undefined)?.replicas ?? '')}`,
    );
    if (this.#recent.length > 12) this.#recent.shift();
    const ns = o.metadata.namespace ?? '';
    switch (e.info.kind) {
      case 'Deployment':
        this.#enqueue(`deploy/${ns}/${o.metadata.name}`);
        break;
      case 'ReplicaSet':
        this.#enqueue(`rs/${ns}/${o.metadata.name}`);
        for (const ref of o.metadata.ownerReferences ?? [])
          if (ref.kind === 'Deployment') this.#enqueue(`deploy/${ns}/${ref.name}`);
        break;
      case 'Pod':
        for (const ref of o.metadata.ownerReferences ?? [])
          if (ref.kind === 'ReplicaSet') this.#enqueue(`rs/${ns}/${ref.name}`);
        // Only the Services that select this pod now, or list it in their Endpoints still.
        for (const svc of this.#servicesOf(o)) this.#enqueue(`endpoints/${ns}/${svc}`);
        if (e.type === 'ADDED') this.#startPod(o);
        if (e.type === 'MODIFIED' && o.metadata.deletionTimestamp) this.#stopPod(o);
        break;
      case 'Service':
        this.#enqueue(`endpoints/${ns}/${o.metadata.name}`);
        this.#enqueueRoutes();
        break;
      case 'HTTPRoute':
        this.#enqueue(`httproute/${ns}/${o.metadata.name}`);
        for (const ref of ((o.spec as Obj | undefined)?.parentRefs as Obj[] | undefined) ?? [])
          this.#enqueue(`gateway/${(ref.namespace as string | undefined) ?? ns}/${String(ref.name)}`);
        break;
      case 'Gateway':
        this.#enqueue(`gateway/${ns}/${o.metadata.name}`);
        this.#enqueueRoutes();
        break;
      case 'GatewayClass':
        this.#enqueue(`gatewayclass/-/${o.metadata.name}`);
        for (const g of this.#store.select(K.gateway, undefined, () => true))
          this.#enqueue(`gateway/${g.metadata.namespace}/${g.metadata.name}`);
        break;
      case 'ReferenceGrant':
      case 'Namespace':
        this.#enqueueRoutes();
        break;
    }
  }

  /**
   * The garbage collector's and the namespace controller's part: an owner deleted in the foreground
   * is looked at again whenever it or one of its dependents changes, and a terminating namespace
   * whenever something in it does.
   */
  #onDeletion(e: StoreEvent): void {
    const o = e.object;
    const ns = o.metadata.namespace ?? '';
    const finalizers = o.metadata.finalizers ?? [];
    if (
      (finalizers.includes('foregroundDeletion') || finalizers.includes('orphan')) &&
      o.metadata.deletionTimestamp
    )
      this.#enqueue(`gc/${ns}/${e.info.kind}:${o.metadata.name}`);
    // An owner gone: its dependents are looked at (background propagation deletes them).
    if (e.type === 'DELETED' && o.metadata.uid) this.#enqueue(`dangling/${ns}/${o.metadata.uid}`);
    if (e.type === 'DELETED' || o.metadata.deletionTimestamp)
      for (const ref of o.metadata.ownerReferences ?? []) this.#enqueue(`gc/${ns}/${ref.kind}:${ref.name}`);
    if (e.info.kind === 'Namespace' && !e.info.group && o.metadata.deletionTimestamp)
      this.#enqueue(`namespace/-/${o.metadata.name}`);
    else if (ns && this.#store.get(K.namespace, undefined, ns)?.metadata.deletionTimestamp)
      this.#enqueue(`namespace/-/${ns}`);
  }

  /**
   * Foreground and orphan deletion (pkg/controller/garbagecollector). Foreground: the owner's
   * dependents are deleted, in the foreground themselves; once none that blocks it is left, the
   * owner's `foregroundDeletion` finalizer goes, and the owner with it. Orphan: the owner's reference
   * is taken out of every dependent, then its `orphan` finalizer goes.
   */
  #collect(ns: string, kind: string, name: string): void {
    const info = KINDS.find((k) => k.kind === kind && k.namespaced === (ns !== ''));
    const owner = info && this.#store.get(info, ns || undefined, name);
    if (!info || !owner?.metadata.deletionTimestamp) return;
    if (owner.metadata.finalizers?.includes('orphan')) {
      for (const d of this.#store.dependentsOf(owner.metadata.uid))
        this.#dropOwner(d, owner.metadata.uid as string);
      this.#dropFinalizer(info, owner, 'orphan');
      return;
    }
    if (!owner.metadata.finalizers?.includes('foregroundDeletion')) return;
    const dependents = this.#store.dependentsOf(owner.metadata.uid);
    for (const d of dependents) {
      if (d.metadata.deletionTimestamp) continue;
      const depInfo = KINDS.find((k) => k.kind === d.kind) as KindInfo;
      this.#store.delete(depInfo, d.metadata.namespace, d.metadata.name as string, { foreground: true });
    }
    const blocking = dependents.some((d) =>
      d.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid && r.blockOwnerDeletion),
    );
    if (blocking) return;
    this.#dropFinalizer(info, owner, 'foregroundDeletion');
  }

  /** The garbage collector's last step: its finalizer goes (and the owner with it, if it was the last). */
  #dropFinalizer(info: KindInfo, owner: KubeObject, finalizer: string): void {
    const finalizers = (owner.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    this.#store.update(
      info,
      owner.metadata.namespace,
      { ...owner, metadata: { ...owner.metadata, finalizers } },
      { manager: 'garbage-collector' },
    );
  }

  /** A dependent without this owner: its reference goes (the only one: the dependent stays, ownerless). */
  #dropOwner(d: KubeObject, uid: string): void {
    const depInfo = KINDS.find((k) => k.kind === d.kind) as KindInfo;
    const refs = (d.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
    const metadata = { ...d.metadata, ownerReferences: refs };
    if (refs.length === 0) delete (metadata as { ownerReferences?: unknown }).ownerReferences;
    try {
      this.#store.update(depInfo, d.metadata.namespace, { ...d, metadata }, { manager: 'garbage-collector' });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
  }

  /**
   * Background propagation (the garbage collector's attemptToDeleteItem): a dependent whose owners
   * are all gone is deleted; one that still has an owner only loses the reference to the gone one.
   */
  #collectDangling(uid: string): void {
    for (const d of this.#store.dependentsOf(uid)) {
      if (d.metadata.deletionTimestamp) continue;
      const alive = (d.metadata.ownerReferences ?? []).some(
        (r) => r.uid !== uid && this.#store.hasUid(r.uid),
      );
      if (alive) this.#dropOwner(d, uid);
      else {
        const depInfo = KINDS.find((k) => k.kind === d.kind) as KindInfo;
        try {
          this.#store.delete(depInfo, d.metadata.namespace, d.metadata.name as string);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
        }
      }
    }
  }

  /** pkg/controller/namespace: a terminating namespace's contents are deleted, then the namespace. */
  #terminate(name: string): void {
    const ns = this.#store.get(K.namespace, undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    for (const { info, object } of this.#store.contentsOf(name))
      if (!object.metadata.deletionTimestamp) this.#store.delete(info, name, object.metadata.name as string);
    this.#store.finalizeNamespace(name);
  }

  /** Every HTTPRoute: what attaches and resolves depends on Gateways, Services and grants alike. */
  #enqueueRoutes(): void {
    for (const r of this.#store.select(K.httpRoute, undefined, () => true))
      this.#enqueue(`httproute/${r.metadata.namespace}/${r.metadata.name}`);
  }

  /** Queues `key` to be reconciled after one controller delay (once, however often it is queued meanwhile). */
  #enqueue(key: string): void {
    if (this.#stopped || this.#waiting.has(key)) return;
    // Without latency, within the running drain, whose loop guard then sees a reconcile that never settles.
    if (this.#latency === 0) {
      this.#ready(key);
      return;
    }
    this.#waiting.add(key);
    this.#later(() => {
      this.#waiting.delete(key);
      this.#ready(key);
    });
  }

  /** Puts `key` on the queue the drain loop works through now. */
  #ready(key: string): void {
    if (this.#stopped) return;
    this.#queue.add(key);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
  }

  readonly #delayed = new Map<string, number>();

  /** Re-reconciles `key` at clock time `at` (one pending timer per key, the earliest wins). */
  #enqueueAfter(key: string, at: number): void {
    const pending = this.#delayed.get(key);
    if (pending !== undefined && pending <= at) return;
    this.#delayed.set(key, at);
    void this.#sleep(Math.max(0, at - this.#clock.now())).then(
      (due) => {
        if (this.#delayed.get(key) === at) this.#delayed.delete(key);
        if (due) this.#enqueue(key);
      },
      () => undefined,
    );
  }

  #drain(): void {
    let rounds = 0;
    const counts = new Map<string, number>();
    while (this.#queue.size > 0 && !this.#stopped) {
      const [key] = this.#queue;
      this.#queue.delete(key as string);
      counts.set(key as string, (counts.get(key as string) ?? 0) + 1);
      if (++rounds > 10_000) {
        const busiest = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 4);
        throw new Error(
          `controller manager: reconcile loop did not settle (${busiest.map(([k, n]) => `${k} ×${n}`).join(', ')}); last changes: ${this.#recent.join(' | ')}`,
        );
      }
      try {
        this.#reconcile(key as string);
      } catch (error) {
        // A conflict with a concurrent client write: try again with fresh state.
        if (error instanceof ApiError && error.code === 409) this.#enqueue(key as string);
        // 404: gone meanwhile; 403: its namespace is terminating (a controller logs it and moves on).
        else if (!(error instanceof ApiError && (error.code === 404 || error.code === 403))) throw error;
      }
    }
    this.#scheduled = false;
  }

  #servicesOf(pod: KubeObject): Set<string> {
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name as string;
    return new Set([
      ...this.#store.servicesSelecting(ns, pod.metadata.labels),
      ...this.#store.endpointsListing(ns, name),
    ]);
  }

  #reconcile(key: string): void {
    const [type, ns, name] = key.split('/') as [string, string, string];
    if (type === 'deploy') {
      const d = this.#store.get(K.deployment, ns, name);
      if (d) this.#syncDeployment(d);
    } else if (type === 'rs') {
      const rs = this.#store.get(K.replicaSet, ns, name);
      if (rs) this.#syncReplicaSet(rs);
    } else if (type === 'gc') {
      const [kind, ...rest] = name.split(':');
      this.#collect(ns, kind as string, rest.join(':'));
    } else if (type === 'dangling') {
      this.#collectDangling(name);
    } else if (type === 'namespace') {
      this.#terminate(name);
    } else if (type === 'httproute') {
      const route = this.#store.get(K.httpRoute, ns, name);
      if (route) syncHttpRoute(this.#store, route, this.#clock.now());
    } else if (type === 'gateway') {
      const gateway = this.#store.get(K.gateway, ns, name);
      if (gateway) syncGateway(this.#store, gateway, this.#clock.now());
    } else if (type === 'gatewayclass') {
      const cls = this.#store.get(K.gatewayClass, undefined, name);
      if (cls) syncGatewayClass(this.#store, cls, this.#clock.now());
    } else if (type === 'endpoints') {
      const svc = this.#store.get(K.service, ns, name);
      if (svc) this.#syncEndpoints(svc);
    }
  }

  // ---------------------------------------------------------------- Deployments

  /** What kube-controller-manager's event recorder writes (client-go names it `<object>.<hex time>`). */
  #event(involved: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const now = this.#clock.now();
    const at = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.#events += 1;
    this.#store.create(
      K.event,
      involved.metadata.namespace,
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.metadata.name}.${(now * 1000 + (this.#events % 1000)).toString(16)}` },
        involvedObject: {
          apiVersion: involved.apiVersion,
          kind: involved.kind,
          namespace: involved.metadata.namespace,
          name: involved.metadata.name,
          uid: involved.metadata.uid,
          resourceVersion: involved.metadata.resourceVersion,
        },
        type,
        reason,
        message,
        source: { component: 'deployment-controller' },
        reportingComponent: 'deployment-controller',
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      } as KubeObject,
      { manager: MANAGER },
    );
  }

  #setRsReplicas(rs: KubeObject, replicas: number, d: KubeObject, surge: number): void {
    const before = specOf<{ replicas: number }>(rs).replicas;
    if (before !== replicas)
      // pkg/controller/deployment/sync.go scaleReplicaSet
      this.#event(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${replicas > before ? 'up' : 'down'} replica set ${rs.metadata.name} from ${before} to ${replicas}`,
      );
    const next = clone(rs);
    (next.spec as { replicas: number }).replicas = replicas;
    const dReplicas = specOf<DeploymentSpec>(d).replicas;
    next.metadata.annotations = {
      ...next.metadata.annotations,
      'deployment.kubernetes.io/desired-replicas': String(dReplicas),
      'deployment.kubernetes.io/max-replicas': String(dReplicas + surge),
    };
    this.#store.update(K.replicaSet, rs.metadata.namespace, next, { manager: MANAGER });
  }

  #numbers(rs: KubeObject): RsNumbers {
    const annotation = (name: string) => {
      const value = rs.metadata.annotations?.[`deployment.kubernetes.io/${name}`];
      return value === undefined ? Number.NaN : Number(value);
    };
    const max = annotation('max-replicas');
    const desired = annotation('desired-replicas');
    return {
      name: rs.metadata.name as string,
      replicas: specOf<{ replicas: number }>(rs).replicas,
      available: statusOf<RsStatus>(rs).availableReplicas ?? 0,
      created: createdAt(rs),
      ...(Number.isFinite(max) ? { maxReplicasAnnotation: max } : {}),
      ...(Number.isFinite(desired) ? { desiredReplicasAnnotation: desired } : {}),
    };
  }

  #syncDeployment(d: KubeObject): void {
    // Being deleted: the garbage collector takes its ReplicaSets; nothing is created or scaled
    // (pkg/controller/deployment syncDeployment: DeletionTimestamp set → status only).
    if (d.metadata.deletionTimestamp) return;
    const spec = specOf<DeploymentSpec>(d);
    const ns = d.metadata.namespace as string;
    const all = this.#store.owned(K.replicaSet, d.metadata.uid).filter((rs) => ownedBy(rs, d));
    const wanted = templateWithoutHash(spec.template);
    let newRs = all.find((rs) => jsonEqual(templateWithoutHash(specOf<DeploymentSpec>(rs).template), wanted));
    const olds = all.filter((rs) => rs !== newRs);
    const maxRevision = Math.max(0, ...olds.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0)));
    const { surge, unavailable } =
      spec.strategy.type === 'Recreate'
        ? { surge: 0, unavailable: spec.replicas }
        : resolveFenceposts(
            spec.strategy.rollingUpdate?.maxSurge,
            spec.strategy.rollingUpdate?.maxUnavailable,
            spec.replicas,
          );

    if (spec.paused) {
      // A paused Deployment only scales: no new ReplicaSet, no rollout progress.
      if (this.#applyScale(d, newRs, olds, surge)) return;
      this.#updateDeploymentStatus(d, newRs, all, unavailable);
      return;
    }

    if (!newRs) {
      const created = this.#createReplicaSet(
        d,
        maxRevision + 1,
        spec.strategy.type === 'Recreate' ? 0 : undefined,
        surge,
        all,
      );
      newRs = created;
      return;
    }
    const newRevision = Number(newRs.metadata.annotations?.[REVISION] ?? 0);
    if (newRevision <= maxRevision) {
      // Rolling back to an earlier template: that ReplicaSet becomes the newest revision.
      const next = clone(newRs);
      next.metadata.annotations = { ...next.metadata.annotations, [REVISION]: String(maxRevision + 1) };
      this.#store.update(K.replicaSet, ns, next, { manager: MANAGER });
      return;
    }
    // The new ReplicaSet follows the Deployment's minReadySeconds and takes its annotations
    // (getNewReplicaSet and copyDeploymentAnnotationsToReplicaSet upstream: added or changed keys
    // are copied, none removed).
    const minReady = spec.minReadySeconds ?? 0;
    const copied = copiedAnnotations(d);
    const rsAnnotations = newRs.metadata.annotations ?? {};
    if (
      (specOf<{ minReadySeconds?: number }>(newRs).minReadySeconds ?? 0) !== minReady ||
      Object.entries(copied).some(([k, v]) => rsAnnotations[k] !== v)
    ) {
      const next = clone(newRs);
      (next.spec as { minReadySeconds?: number }).minReadySeconds = minReady;
      next.metadata.annotations = { ...rsAnnotations, ...copied };
      this.#store.update(K.replicaSet, ns, next, { manager: MANAGER });
      return;
    }
    if (d.metadata.annotations?.[REVISION] !== String(newRevision)) {
      const next = clone(d);
      next.metadata.annotations = { ...next.metadata.annotations, [REVISION]: String(newRevision) };
      // Through /status, as upstream (getNewReplicaSet's UpdateStatus): no new generation.
      this.#store.update(K.deployment, ns, next, { manager: MANAGER, subresource: 'status' });
      return;
    }

    if (spec.strategy.type === 'Recreate') {
      const oldActive = olds.filter((rs) => specOf<{ replicas: number }>(rs).replicas > 0);
      for (const rs of oldActive) this.#setRsReplicas(rs, 0, d, 0);
      if (oldActive.length > 0) return;
      const oldPods = olds.some((rs) => (statusOf<RsStatus>(rs).replicas ?? 0) > 0);
      if (oldPods) {
        this.#updateDeploymentStatus(d, newRs, all, unavailable);
        return;
      }
      if (specOf<{ replicas: number }>(newRs).replicas !== spec.replicas) {
        this.#setRsReplicas(newRs, spec.replicas, d, 0);
        return;
      }
    } else {
      // isScalingEvent: an active set sized for another replica count means the Deployment was scaled.
      const scaling = all.some((rs) => {
        const desired = rs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'];
        return (
          specOf<{ replicas: number }>(rs).replicas > 0 &&
          desired !== undefined &&
          Number(desired) !== spec.replicas
        );
      });
      if (scaling && this.#applyScale(d, newRs, olds, surge)) return;
      const nums = all.map((rs) => this.#numbers(rs));
      const newNums = this.#numbers(newRs);
      const grow = newRSNewReplicas(spec.replicas, surge, nums, newNums);
      if (grow !== newNums.replicas) {
        this.#setRsReplicas(newRs, grow, d, surge);
        return;
      }
      const downs = reconcileOldReplicaSets(
        spec.replicas,
        unavailable,
        olds.map((rs) => this.#numbers(rs)),
        newNums,
      );
      let changed = false;
      for (const [rsName, replicas] of downs) {
        const rs = olds.find((r) => r.metadata.name === rsName) as KubeObject;
        if (specOf<{ replicas: number }>(rs).replicas !== replicas) {
          this.#setRsReplicas(rs, replicas, d, surge);
          changed = true;
        }
      }
      if (changed) return;
    }
    this.#cleanupHistory(d, olds);
    this.#updateDeploymentStatus(
      d,
      newRs,
      this.#store.owned(K.replicaSet, d.metadata.uid).filter((rs) => ownedBy(rs, d)),
      unavailable,
    );
  }

  /** Returns true when it wrote something. */
  #applyScale(d: KubeObject, newRs: KubeObject | undefined, olds: KubeObject[], surge: number): boolean {
    const spec = specOf<DeploymentSpec>(d);
    const changes = proportionalScale(
      spec.replicas,
      surge,
      newRs ? this.#numbers(newRs) : undefined,
      olds.map((rs) => this.#numbers(rs)),
      statusOf<{ replicas?: number }>(d).replicas ?? 0,
    );
    // As kube-controller-manager's scale(): every active ReplicaSet gets the new desired/max
    // annotations, resized or not; one left with stale ones would make every sync a scaling event
    // (chaos seed 128 looped forever between a proportional scale and the rollout's growth).
    let wrote = false;
    for (const rs of [newRs, ...olds]) {
      if (!rs) continue;
      const current = specOf<{ replicas: number }>(rs).replicas;
      const replicas = changes.get(rs.metadata.name as string) ?? current;
      const a = rs.metadata.annotations ?? {};
      const stale =
        current > 0 &&
        (a['deployment.kubernetes.io/desired-replicas'] !== String(spec.replicas) ||
          a['deployment.kubernetes.io/max-replicas'] !== String(spec.replicas + surge));
      if (replicas === current && !stale) continue;
      this.#setRsReplicas(rs, replicas, d, surge);
      wrote = true;
    }
    return wrote;
  }

  #createReplicaSet(
    d: KubeObject,
    revision: number,
    replicasOverride: number | undefined,
    surge: number,
    all: KubeObject[],
  ): KubeObject {
    const spec = specOf<DeploymentSpec>(d);
    let collision = 0;
    let hash = podTemplateHash(spec.template, collision);
    while (this.#store.get(K.replicaSet, d.metadata.namespace, `${d.metadata.name}-${hash}`))
      hash = podTemplateHash(spec.template, ++collision);
    const labels = { ...(spec.template.metadata?.labels ?? {}), 'pod-template-hash': hash };
    const nums = all.map((rs) => this.#numbers(rs));
    const replicas =
      replicasOverride ??
      newRSNewReplicas(spec.replicas, surge, nums, { name: '', replicas: 0, available: 0, created: 0 });
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        labels,
        annotations: {
          ...copiedAnnotations(d),
          [REVISION]: String(revision),
          'deployment.kubernetes.io/desired-replicas': String(spec.replicas),
          'deployment.kubernetes.io/max-replicas': String(spec.replicas + surge),
        },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: d.metadata.name as string,
            uid: d.metadata.uid as string,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas,
        minReadySeconds: spec.minReadySeconds ?? 0,
        selector: {
          ...spec.selector,
          matchLabels: { ...(spec.selector.matchLabels ?? {}), 'pod-template-hash': hash },
        },
        template: { ...clone(spec.template), metadata: { ...clone(spec.template.metadata ?? {}), labels } },
      },
    };
    const created = this.#store.create(K.replicaSet, d.metadata.namespace, rs, { manager: MANAGER });
    if (replicas > 0)
      this.#event(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${rs.metadata.name} from 0 to ${replicas}`,
      );
    return created;
  }

  #cleanupHistory(d: KubeObject, olds: KubeObject[]): void {
    const limit = specOf<DeploymentSpec>(d).revisionHistoryLimit ?? 10;
    const idle = olds
      .filter(
        (rs) =>
          specOf<{ replicas: number }>(rs).replicas === 0 && (statusOf<RsStatus>(rs).replicas ?? 0) === 0,
      )
      .sort(
        (a, b) =>
          Number(a.metadata.annotations?.[REVISION] ?? 0) - Number(b.metadata.annotations?.[REVISION] ?? 0),
      );
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      this.#store.delete(K.replicaSet, rs.metadata.namespace, rs.metadata.name as string);
    }
  }

  #updateDeploymentStatus(
    d: KubeObject,
    newRs: KubeObject | undefined,
    all: KubeObject[],
    unavailable: number,
  ): void {
    const spec = specOf<DeploymentSpec>(d);
    const sum = (f: keyof RsStatus) => all.reduce((s, rs) => s + (statusOf<RsStatus>(rs)[f] ?? 0), 0);
    const available = sum('availableReplicas');
    const total = sum('replicas');
    const updated = newRs ? (statusOf<RsStatus>(newRs).replicas ?? 0) : 0;
    const oldPods = all
      .filter((rs) => rs.metadata.name !== newRs?.metadata.name)
      .reduce((s, rs) => s + (statusOf<RsStatus>(rs).replicas ?? 0), 0);
    const complete =
      newRs !== undefined &&
      updated === spec.replicas &&
      (statusOf<RsStatus>(newRs).availableReplicas ?? 0) === spec.replicas &&
      oldPods === 0;
    const prev = statusOf<{ conditions?: Array<Obj> }>(d).conditions ?? [];
    const now = new Date(this.#clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const condition = (type: string, status: string, reason: string, message: string): Obj => {
      const old = prev.find((c) => c.type === type);
      const same = old && old.status === status && old.reason === reason;
      return {
        type,
        status,
        lastUpdateTime: same && old.message === message ? old.lastUpdateTime : now,
        lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now,
        reason,
        message,
      };
    };
    const rsName = newRs?.metadata.name ?? d.metadata.name;
    const progressing = (() => {
      if (spec.paused) return condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused');
      if (complete)
        return condition(
          'Progressing',
          'True',
          'NewReplicaSetAvailable',
          `ReplicaSet "${rsName}" has successfully progressed.`,
        );
      const old = prev.find((c) => c.type === 'Progressing');
      const message = `ReplicaSet "${rsName}" is progressing.`;
      const deadline = (spec.progressDeadlineSeconds ?? 600) * 1000;
      const since = Date.parse(String(old?.lastUpdateTime ?? now));
      // Progress means pods moved or a new ReplicaSet took over; a message change is not progress.
      const oldRs = /ReplicaSet "([^"]+)"/.exec(String(old?.message ?? ''))?.[1];
      const progressed =
        statusOf<Obj>(d).updatedReplicas !== updated ||
        statusOf<Obj>(d).availableReplicas !== available ||
        oldRs !== rsName;
      if (!progressed && old?.reason === 'ProgressDeadlineExceeded')
        return condition('Progressing', 'False', 'ProgressDeadlineExceeded', String(old.message));
      if (!progressed && old?.reason !== 'DeploymentPaused' && this.#clock.now() - since > deadline) {
        return condition(
          'Progressing',
          'False',
          'ProgressDeadlineExceeded',
          `ReplicaSet "${rsName}" has timed out progressing.`,
        );
      }
      return progressed || old?.reason !== 'ReplicaSetUpdated'
        ? { ...condition('Progressing', 'True', 'ReplicaSetUpdated', message), lastUpdateTime: now }
        : condition('Progressing', 'True', 'ReplicaSetUpdated', message);
    })();
    const availableCondition =
      available >= spec.replicas - unavailable
        ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
        : condition(
            'Available',
            'False',
            'MinimumReplicasUnavailable',
            'Deployment does not have minimum availability.',
          );
    if (!complete && !spec.paused && progressing.reason !== 'ProgressDeadlineExceeded') {
      // requeueStuckDeployment: look again when the deadline would pass.
      const since = Date.parse(String(progressing.lastUpdateTime));
      this.#enqueueAfter(
        `deploy/${d.metadata.namespace}/${d.metadata.name}`,
        since + (spec.progressDeadlineSeconds ?? 600) * 1000 + 1000,
      );
    }
    const status: Obj = {
      observedGeneration: d.metadata.generation,
      replicas: total,
      updatedReplicas: updated,
      readyReplicas: sum('readyReplicas'),
      availableReplicas: available,
      ...(spec.replicas - available > 0 ? { unavailableReplicas: spec.replicas - available } : {}),
      conditions: [availableCondition, progressing],
    };
    for (const k of ['readyReplicas', 'availableReplicas', 'updatedReplicas', 'replicas'] as const)
      if (status[k] === 0) delete status[k];
    const current = statusOf<Obj>(d);
    const comparable = (s: Obj) => ({
      ...s,
      conditions: (s.conditions as Obj[] | undefined)?.map(
        ({ lastUpdateTime: _u, lastTransitionTime: _t, ...c }) => c,
      ),
    });
    if (jsonEqual(comparable(current), comparable(status))) return;
    this.#store.update(
      K.deployment,
      d.metadata.namespace,
      { ...clone(d), status },
      { manager: MANAGER, subresource: 'status' },
    );
  }

  // ---------------------------------------------------------------- ReplicaSets

  #syncReplicaSet(rs: KubeObject): void {
    // Being deleted: its pods are the garbage collector's now; none is replaced.
    if (rs.metadata.deletionTimestamp) return;
    const ns = rs.metadata.namespace as string;
    const spec = specOf<{
      replicas: number;
      minReadySeconds?: number;
      selector: Obj;
      template: { metadata?: { labels?: Record<string, string> }; spec: Obj };
    }>(rs);
    // Terminating pods are not counted: the ReplicaSet replaces them at once (FilterActivePods).
    const pods = this.#store
      .owned(K.pod, rs.metadata.uid)
      .filter((p) => ownedBy(p, rs) && !p.metadata.deletionTimestamp);
    const diff = pods.length - spec.replicas;
    if (diff < 0) {
      for (let i = 0; i < -diff; i++) {
        const suffix = (++this.#podSeq)
          .toString(36)
          .padStart(5, '0')
          .replace(/[0-9]/g, (c) => 'bcdfghjklm'[Number(c)] as string);
        this.#store.create(
          K.pod,
          ns,
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: `${rs.metadata.name}-${suffix}`,
              namespace: ns,
              labels: { ...(spec.template.metadata?.labels ?? {}) },
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: 'ReplicaSet',
                  name: rs.metadata.name as string,
                  uid: rs.metadata.uid as string,
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ],
            },
            spec: clone(spec.template.spec),
          },
          { manager: MANAGER },
        );
      }
      return;
    }
    if (diff > 0) {
      // Delete the least useful pods first: not ready, then the most recently created.
      const ranked = [...pods].sort(
        (a, b) => Number(isReady(a)) - Number(isReady(b)) || createdAt(b) - createdAt(a),
      );
      for (const p of ranked.slice(0, diff)) this.#store.delete(K.pod, ns, p.metadata.name as string);
      return;
    }
    const ready = pods.filter(isReady).length;
    // Available: ready for longer than minReadySeconds (podutil.IsPodAvailable, with its strict
    // "before"); the ReplicaSet looks again when the next ready pod gets there.
    const minReadyMs = (spec.minReadySeconds ?? 0) * 1000;
    const now = this.#clock.now();
    let available = 0;
    for (const p of pods.filter(isReady)) {
      const since = readySince(p);
      if (minReadyMs === 0 || (since !== undefined && since + minReadyMs < now)) available++;
      else if (since !== undefined)
        this.#enqueueAfter(`rs/${ns}/${rs.metadata.name}`, since + minReadyMs + 1);
    }
    const status: Obj = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) => matchesSelector(p.metadata.labels, spec.selector as never))
        .length,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: rs.metadata.generation,
    };
    for (const k of ['readyReplicas', 'availableReplicas', 'fullyLabeledReplicas'] as const)
      if (status[k] === 0) delete status[k];
    if (jsonEqual(statusOf<Obj>(rs), status)) return;
    this.#store.update(
      K.replicaSet,
      ns,
      { ...clone(rs), status },
      { manager: MANAGER, subresource: 'status' },
    );
  }

  // ---------------------------------------------------------------- kubelet

  #startPod(pod: KubeObject): void {
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name as string;
    // A restarted container keeps its pod's IP.
    const known = statusOf<Obj>(pod).podIP as string | undefined;
    const n = known ? 0 : ++this.#podIp;
    const ip = known ?? `10.244.${Math.floor(n / 250)}.${(n % 250) + 1}`;
    const behavior = this.behaviorOf(pod);
    const containers = (specOf<Obj>(pod).containers as Obj[]).map((c) => c.name as string);
    const setStatus = (ready: boolean, restarts = 0) => {
      const current = this.#store.get(K.pod, ns, name);
      if (!current) return;
      const now = new Date(this.#clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      // A condition's lastTransitionTime moves only when its status does (minReadySeconds counts from it).
      const before = (statusOf<Obj>(current).conditions as Obj[] | undefined) ?? [];
      const since = (type: string) => {
        const was = before.find((c) => c.type === type);
        return was && (was.status === 'True') === ready
          ? ((was.lastTransitionTime as string | undefined) ?? now)
          : now;
      };
      const status: Obj = {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        hostIP: '172.18.0.2',
        startTime: (statusOf<Obj>(current).startTime as string | undefined) ?? now,
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Initialized', status: 'True' },
          {
            type: 'ContainersReady',
            status: ready ? 'True' : 'False',
            lastTransitionTime: since('ContainersReady'),
          },
          { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: since('Ready') },
        ],
        containerStatuses: containers.map((c) => ({
          name: c,
          ready,
          started: !behavior.crashLoop,
          restartCount: restarts,
          image:
            ((specOf<Obj>(current).containers as Obj[]).find((x) => x.name === c)?.image as string) ?? '',
          imageID: `docker-pullable://${String((specOf<Obj>(current).containers as Obj[]).find((x) => x.name === c)?.image)}@sha256:${'0'.repeat(64)}`,
          state: behavior.crashLoop
            ? { waiting: { reason: 'CrashLoopBackOff' } }
            : { running: { startedAt: now } },
        })),
      };
      this.#store.update(K.pod, ns, { ...current, status }, { manager: 'kubelet', subresource: 'status' });
    };
    // creationTimestamp has whole seconds only: the start is taken here, when the pod is created.
    const started = this.#clock.now();
    this.#later(() => {
      setStatus(false);
      if (behavior.crashLoop) {
        let restarts = 0;
        const loop = async () => {
          while (!this.#stopped && this.#store.get(K.pod, ns, name)) {
            if (await this.#sleep(10_000 * Math.min(2 ** restarts, 30))) setStatus(false, ++restarts);
          }
        };
        void loop();
        return;
      }
      if (behavior.neverReady) return;
      // Counted from the pod's creation, as its doc says: the kubelet's own reaction is part of it.
      const elapsed = this.#clock.now() - started;
      const delay = Math.max(0, (behavior.readyAfterMs ?? this.#readyAfterMs) - elapsed);
      void this.#sleep(delay).then((due) => {
        // Pods told to crash meanwhile (`crashPods`) never get there.
        if (due && !this.behaviorOf(pod).crashLoop) setStatus(true);
      });
    });
  }

  /** Pods being stopped, by uid: one kubelet kill each. */
  readonly #stopping = new Set<string>();

  /**
   * The kubelet stops a deleted pod: its preStop hooks run (the app still serves), then SIGTERM, and
   * once the containers have exited (at once, or when the grace period ends) the pod is removed.
   */
  #stopPod(pod: KubeObject): void {
    const uid = pod.metadata.uid as string;
    if (this.#stopping.has(uid)) return;
    this.#stopping.add(uid);
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name as string;
    const since = terminatingSince(pod) ?? this.#clock.now();
    const grace = (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
    const exitAt = since + Math.min(preStopMs(pod), grace);
    void this.#sleep(Math.max(0, exitAt - this.#clock.now())).then(
      (due) =>
        due &&
        this.#later(() => {
          this.#stopping.delete(uid);
          const current = this.#store.get(K.pod, ns, name);
          if (current?.metadata.uid !== uid) return;
          try {
            this.#store.delete(K.pod, ns, name, { gracePeriodSeconds: 0 });
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
          }
        }),
      () => undefined,
    );
  }

  // ---------------------------------------------------------------- Endpoints

  #syncEndpoints(svc: KubeObject): void {
    const ns = svc.metadata.namespace as string;
    const spec = specOf<{ selector?: Record<string, string>; ports?: Obj[] }>(svc);
    if (!spec.selector || Object.keys(spec.selector).length === 0) return;
    // A terminating pod leaves the Endpoints at once (ShouldPodBeInEndpoints).
    const pods = this.#store.selectLabeled(
      K.pod,
      ns,
      spec.selector,
      (p) => Boolean(statusOf<Obj>(p).podIP) && !p.metadata.deletionTimestamp,
    );
    const address = (p: KubeObject) => ({
      ip: statusOf<Obj>(p).podIP as string,
      nodeName: 'kanary-node',
      targetRef: {
        kind: 'Pod',
        namespace: ns,
        name: p.metadata.name as string,
        uid: p.metadata.uid as string,
      },
    });
    const ready = pods.filter(isReady).map(address);
    const notReady = pods.filter((p) => !isReady(p)).map(address);
    const ports = (spec.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: typeof p.targetPort === 'number' ? p.targetPort : (p.port as number),
      protocol: p.protocol ?? 'TCP',
    }));
    const subsets =
      ready.length + notReady.length > 0
        ? [
            {
              ...(ready.length ? { addresses: ready } : {}),
              ...(notReady.length ? { notReadyAddresses: notReady } : {}),
              ports,
            },
          ]
        : [];
    const name = svc.metadata.name as string;
    const current = this.#store.get(K.endpoints, ns, name);
    const body: KubeObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: ns, labels: { ...(svc.metadata.labels ?? {}) } },
      ...(subsets.length ? { subsets } : {}),
    };
    if (!current) this.#store.create(K.endpoints, ns, body, { manager: 'endpoint-controller' });
    else if (!jsonEqual(current.subsets, body.subsets)) {
      this.#store.update(
        K.endpoints,
        ns,
        { ...current, ...(subsets.length ? { subsets } : { subsets: undefined }) },
        { manager: 'endpoint-controller' },
      );
    }
  }
}

/** Annotations of a Deployment its ReplicaSets carry too (all but the controller's own and kubectl's). */
const NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);
function copiedAnnotations(d: KubeObject): Record<string, string> {
  return Object.fromEntries(Object.entries(d.metadata.annotations ?? {}).filter(([k]) => !NOT_COPIED.has(k)));
}

/** When the pod's Ready condition last turned True (its lastTransitionTime, in seconds as upstream). */
function readySince(pod: KubeObject): number | undefined {
  const conditions =
    statusOf<{ conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> }>(pod)
      .conditions ?? [];
  const at = conditions.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
  return at === undefined ? undefined : Date.parse(at);
}

export function isReady(pod: KubeObject): boolean {
  const conditions = statusOf<{ conditions?: Array<{ type: string; status: string }> }>(pod).conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}
