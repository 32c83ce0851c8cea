import { KIND } from '../apiserver/kinds.ts';
import { clone, jsonEqual, type KubeObject } from '../apiserver/object.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import {
  ControllerBase,
  createdAt,
  MANAGER,
  type Obj,
  ownedBy,
  REVISION,
  specOf,
  statusOf,
} from './controller.ts';
import {
  newRSNewReplicas,
  proportionalScale,
  type RsNumbers,
  reconcileOldReplicaSets,
  resolveFenceposts,
} from './deployment-math.ts';
import { podTemplateHash, templateWithoutHash } from './hash.ts';
import type { WorkKey } from './queue.ts';

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

/**
 * pkg/controller/deployment: a ReplicaSet per pod template (the newest revision takes over, an
 * earlier template rolled back to becomes the newest), rolling updates within maxSurge and
 * maxUnavailable or Recreate, proportional scaling, paused Deployments, history cleanup, and the
 * status with its Progressing and Available conditions and the progress deadline. The arithmetic
 * is in deployment-math.ts.
 */
export class DeploymentController extends ControllerBase {
  readonly kinds = ['deployment'] as const;
  /** Events written, for their names' uniqueness within one millisecond. */
  #events = 0;
  get #store() {
    return this.ctx.store;
  }
  get #clock() {
    return this.ctx.clock;
  }

  onEvent(e: StoreEvent): void {
    const o = e.object;
    const namespace = o.metadata.namespace ?? '';
    if (e.info.kind === 'Deployment')
      this.ctx.queue.add({ kind: 'deployment', namespace, name: o.metadata.name as string });
    else if (e.info.kind === 'ReplicaSet')
      for (const ref of o.metadata.ownerReferences ?? [])
        if (ref.kind === 'Deployment') this.ctx.queue.add({ kind: 'deployment', namespace, name: ref.name });
  }

  reconcile(key: WorkKey): void {
    if (key.kind !== 'deployment') return;
    const d = this.#store.get(KIND.deployment, key.namespace, key.name);
    if (d) this.#sync(d);
  }

  /** What kube-controller-manager's event recorder writes (client-go names it `<object>.<hex time>`). */
  #event(involved: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const now = this.#clock.now();
    const at = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.#events += 1;
    this.#store.create(
      KIND.event,
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
    this.#store.update(KIND.replicaSet, rs.metadata.namespace, next, { manager: MANAGER });
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

  #sync(d: KubeObject): void {
    // Being deleted: the garbage collector takes its ReplicaSets; nothing is created or scaled
    // (pkg/controller/deployment syncDeployment: DeletionTimestamp set → status only).
    if (d.metadata.deletionTimestamp) return;
    const spec = specOf<DeploymentSpec>(d);
    const ns = d.metadata.namespace as string;
    const all = this.#store.owned(KIND.replicaSet, d.metadata.uid).filter((rs) => ownedBy(rs, d));
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
      this.#store.update(KIND.replicaSet, ns, next, { manager: MANAGER });
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
      this.#store.update(KIND.replicaSet, ns, next, { manager: MANAGER });
      return;
    }
    if (d.metadata.annotations?.[REVISION] !== String(newRevision)) {
      const next = clone(d);
      next.metadata.annotations = { ...next.metadata.annotations, [REVISION]: String(newRevision) };
      // Through /status, as upstream (getNewReplicaSet's UpdateStatus): no new generation.
      this.#store.update(KIND.deployment, ns, next, { manager: MANAGER, subresource: 'status' });
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
      this.#store.owned(KIND.replicaSet, d.metadata.uid).filter((rs) => ownedBy(rs, d)),
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
    while (this.#store.get(KIND.replicaSet, d.metadata.namespace, `${d.metadata.name}-${hash}`))
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
    const created = this.#store.create(KIND.replicaSet, d.metadata.namespace, rs, { manager: MANAGER });
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
      this.#store.delete(KIND.replicaSet, rs.metadata.namespace, rs.metadata.name as string);
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
      this.ctx.queue.addAt(
        { kind: 'deployment', namespace: d.metadata.namespace as string, name: d.metadata.name as string },
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
      KIND.deployment,
      d.metadata.namespace,
      { ...clone(d), status },
      { manager: MANAGER, subresource: 'status' },
    );
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
