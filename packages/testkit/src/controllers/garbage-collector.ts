import { KINDS, type KindInfo } from '../apiserver/kinds.ts';
import type { KubeObject } from '../apiserver/object.ts';
import { ApiError } from '../apiserver/status.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import { ControllerBase } from './controller.ts';
import type { WorkKey } from './queue.ts';

/**
 * pkg/controller/garbagecollector: an owner deleted in the foreground or orphaning is looked at
 * whenever it or one of its dependents changes; the dependents of an owner that is gone are
 * deleted (background propagation) or lose their reference to it.
 */
export class GarbageCollector extends ControllerBase {
  readonly kinds = ['collect', 'dangling'] as const;

  onEvent(e: StoreEvent): void {
    const o = e.object;
    const namespace = o.metadata.namespace ?? '';
    const { queue } = this.ctx;
    const finalizers = o.metadata.finalizers ?? [];
    if (
      (finalizers.includes('foregroundDeletion') || finalizers.includes('orphan')) &&
      o.metadata.deletionTimestamp
    )
      queue.add({ kind: 'collect', namespace, ownerKind: e.info.kind, name: o.metadata.name as string });
    // An owner gone: its dependents are looked at (background propagation deletes them).
    if (e.type === 'DELETED' && o.metadata.uid)
      queue.add({ kind: 'dangling', namespace, uid: o.metadata.uid });
    if (e.type === 'DELETED' || o.metadata.deletionTimestamp)
      for (const ref of o.metadata.ownerReferences ?? [])
        queue.add({ kind: 'collect', namespace, ownerKind: ref.kind, name: ref.name });
  }

  reconcile(key: WorkKey): void {
    if (key.kind === 'collect') this.#collect(key.namespace, key.ownerKind, key.name);
    else if (key.kind === 'dangling') this.#collectDangling(key.uid);
  }

  /**
   * Foreground and orphan deletion. Foreground: the owner's dependents are deleted, in the
   * foreground themselves; once none that blocks it is left, the owner's `foregroundDeletion`
   * finalizer goes, and the owner with it. Orphan: the owner's reference is taken out of every
   * dependent, then its `orphan` finalizer goes.
   */
  #collect(ns: string, kind: string, name: string): void {
    const { store } = this.ctx;
    const info = KINDS.find((k) => k.kind === kind && k.namespaced === (ns !== ''));
    const owner = info && store.get(info, ns || undefined, name);
    if (!info || !owner?.metadata.deletionTimestamp) return;
    if (owner.metadata.finalizers?.includes('orphan')) {
      for (const d of store.dependentsOf(owner.metadata.uid))
        this.#dropOwner(d, owner.metadata.uid as string);
      this.#dropFinalizer(info, owner, 'orphan');
      return;
    }
    if (!owner.metadata.finalizers?.includes('foregroundDeletion')) return;
    const dependents = store.dependentsOf(owner.metadata.uid);
    for (const d of dependents) {
      if (d.metadata.deletionTimestamp) continue;
      const depInfo = KINDS.find((k) => k.kind === d.kind) as KindInfo;
      store.delete(depInfo, d.metadata.namespace, d.metadata.name as string, { foreground: true });
    }
    const blocking = dependents.some((d) =>
      d.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid && r.blockOwnerDeletion),
    );
    if (blocking) return;
    this.#dropFinalizer(info, owner, 'foregroundDeletion');
  }

  /** The last step: its finalizer goes (and the owner with it, if it was the last). */
  #dropFinalizer(info: KindInfo, owner: KubeObject, finalizer: string): void {
    const finalizers = (owner.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    this.ctx.store.update(
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
      this.ctx.store.update(
        depInfo,
        d.metadata.namespace,
        { ...d, metadata },
        { manager: 'garbage-collector' },
      );
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
  }

  /**
   * Background propagation (attemptToDeleteItem): a dependent whose owners are all gone is
   * deleted; one that still has an owner only loses the reference to the gone one.
   */
  #collectDangling(uid: string): void {
    const { store } = this.ctx;
    for (const d of store.dependentsOf(uid)) {
      if (d.metadata.deletionTimestamp) continue;
      const alive = (d.metadata.ownerReferences ?? []).some((r) => r.uid !== uid && store.hasUid(r.uid));
      if (alive) this.#dropOwner(d, uid);
      else {
        const depInfo = KINDS.find((k) => k.kind === d.kind) as KindInfo;
        try {
          store.delete(depInfo, d.metadata.namespace, d.metadata.name as string);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
        }
      }
    }
  }
}
