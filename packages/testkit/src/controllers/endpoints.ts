import { KIND } from '../apiserver/kinds.ts';
import { jsonEqual, type KubeObject } from '../apiserver/object.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import { ControllerBase, isReady, type Obj, specOf, statusOf } from './controller.ts';
import type { WorkKey } from './queue.ts';

/**
 * pkg/controller/endpoint: a Service's Endpoints list the pods its selector matches, ready ones
 * as addresses and the others as notReadyAddresses; a terminating pod leaves at once.
 */
export class EndpointsController extends ControllerBase {
  readonly kinds = ['endpoints'] as const;

  onEvent(e: StoreEvent): void {
    const o = e.object;
    const namespace = o.metadata.namespace ?? '';
    if (e.info.kind === 'Pod')
      // Only the Services that select this pod now, or list it in their Endpoints still.
      for (const name of this.#servicesOf(o)) this.ctx.queue.add({ kind: 'endpoints', namespace, name });
    else if (e.info.kind === 'Service')
      this.ctx.queue.add({ kind: 'endpoints', namespace, name: o.metadata.name as string });
  }

  #servicesOf(pod: KubeObject): Set<string> {
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name as string;
    return new Set([
      ...this.ctx.store.servicesSelecting(ns, pod.metadata.labels),
      ...this.ctx.store.endpointsListing(ns, name),
    ]);
  }

  reconcile(key: WorkKey): void {
    if (key.kind !== 'endpoints') return;
    const svc = this.ctx.store.get(KIND.service, key.namespace, key.name);
    if (svc) this.#sync(svc);
  }

  #sync(svc: KubeObject): void {
    const { store } = this.ctx;
    const ns = svc.metadata.namespace as string;
    const spec = specOf<{ selector?: Record<string, string>; ports?: Obj[] }>(svc);
    if (!spec.selector || Object.keys(spec.selector).length === 0) return;
    // A terminating pod leaves the Endpoints at once (ShouldPodBeInEndpoints).
    const pods = store.selectLabeled(
      KIND.pod,
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
    const current = store.get(KIND.endpoints, ns, name);
    const body: KubeObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: ns, labels: { ...(svc.metadata.labels ?? {}) } },
      ...(subsets.length ? { subsets } : {}),
    };
    if (!current) store.create(KIND.endpoints, ns, body, { manager: 'endpoint-controller' });
    else if (!jsonEqual(current.subsets, body.subsets)) {
      store.update(
        KIND.endpoints,
        ns,
        { ...current, ...(subsets.length ? { subsets } : { subsets: undefined }) },
        { manager: 'endpoint-controller' },
      );
    }
  }
}
