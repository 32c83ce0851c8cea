import { KIND } from '../apiserver/kinds.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import { ControllerBase } from './controller.ts';
import type { WorkKey } from './queue.ts';

/**
 * pkg/controller/namespace: a terminating namespace's contents are deleted, then the namespace;
 * it is looked at again whenever something in it changes.
 */
export class NamespaceController extends ControllerBase {
  readonly kinds = ['namespace'] as const;

  onEvent(e: StoreEvent): void {
    const o = e.object;
    const ns = o.metadata.namespace ?? '';
    const { store, queue } = this.ctx;
    if (e.info.kind === 'Namespace' && !e.info.group && o.metadata.deletionTimestamp)
      queue.add({ kind: 'namespace', name: o.metadata.name as string });
    else if (ns && store.get(KIND.namespace, undefined, ns)?.metadata.deletionTimestamp)
      queue.add({ kind: 'namespace', name: ns });
  }

  reconcile(key: WorkKey): void {
    if (key.kind !== 'namespace') return;
    const { store } = this.ctx;
    const ns = store.get(KIND.namespace, undefined, key.name);
    if (!ns?.metadata.deletionTimestamp) return;
    for (const { info, object } of store.contentsOf(key.name))
      if (!object.metadata.deletionTimestamp) store.delete(info, key.name, object.metadata.name as string);
    store.finalizeNamespace(key.name);
  }
}
