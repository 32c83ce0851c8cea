import { KIND } from '../apiserver/kinds.ts';
import { clone, jsonEqual, type KubeObject } from '../apiserver/object.ts';
import { matchesSelector } from '../apiserver/selectors.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import {
  ControllerBase,
  createdAt,
  isReady,
  MANAGER,
  type Obj,
  ownedBy,
  readySince,
  specOf,
  statusOf,
} from './controller.ts';
import type { WorkKey } from './queue.ts';

/**
 * pkg/controller/replicaset: as many live pods as `replicas` (terminating ones do not count and
 * are replaced at once), the least useful deleted first, and the status counting ready and
 * available pods (ready for longer than minReadySeconds).
 */
export class ReplicaSetController extends ControllerBase {
  readonly kinds = ['replicaset'] as const;
  #podSeq = 0;

  onEvent(e: StoreEvent): void {
    const o = e.object;
    const namespace = o.metadata.namespace ?? '';
    if (e.info.kind === 'ReplicaSet')
      this.ctx.queue.add({ kind: 'replicaset', namespace, name: o.metadata.name as string });
    else if (e.info.kind === 'Pod')
      for (const ref of o.metadata.ownerReferences ?? [])
        if (ref.kind === 'ReplicaSet') this.ctx.queue.add({ kind: 'replicaset', namespace, name: ref.name });
  }

  reconcile(key: WorkKey): void {
    if (key.kind !== 'replicaset') return;
    const rs = this.ctx.store.get(KIND.replicaSet, key.namespace, key.name);
    if (rs) this.#sync(rs);
  }

  #sync(rs: KubeObject): void {
    const { store, clock, queue } = this.ctx;
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
    const pods = store
      .owned(KIND.pod, rs.metadata.uid)
      .filter((p) => ownedBy(p, rs) && !p.metadata.deletionTimestamp);
    const diff = pods.length - spec.replicas;
    if (diff < 0) {
      for (let i = 0; i < -diff; i++) {
        const suffix = (++this.#podSeq)
          .toString(36)
          .padStart(5, '0')
          .replace(/[0-9]/g, (c) => 'bcdfghjklm'[Number(c)] as string);
        store.create(
          KIND.pod,
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
      for (const p of ranked.slice(0, diff)) store.delete(KIND.pod, ns, p.metadata.name as string);
      return;
    }
    const ready = pods.filter(isReady).length;
    // Available: ready for longer than minReadySeconds (podutil.IsPodAvailable, with its strict
    // "before"); the ReplicaSet looks again when the next ready pod gets there.
    const minReadyMs = (spec.minReadySeconds ?? 0) * 1000;
    const now = clock.now();
    let available = 0;
    for (const p of pods.filter(isReady)) {
      const since = readySince(p);
      if (minReadyMs === 0 || (since !== undefined && since + minReadyMs < now)) available++;
      else if (since !== undefined)
        queue.addAt(
          { kind: 'replicaset', namespace: ns, name: rs.metadata.name as string },
          since + minReadyMs + 1,
        );
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
    store.update(KIND.replicaSet, ns, { ...clone(rs), status }, { manager: MANAGER, subresource: 'status' });
  }
}
