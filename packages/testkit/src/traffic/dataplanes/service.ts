import type { Random } from '../random.ts';
import { type ClusterView, type DataPlane, pick, type RouteOutcome } from './plane.ts';
import { recordSidecar } from './sidecar.ts';

// A Service reached directly: kube-proxy picks a ready endpoint uniformly, so replica counts set
// the split. The pods run sidecars (the emulator's mesh), whose series it writes.

/** Entering at a Service inside the cluster. */
export interface ServiceEntry {
  kind: 'service';
  namespace: string;
  service: string;
}

/** kube-proxy: uniform over the Service's ready endpoints — so replica counts set the split. */
export function routeService(view: ClusterView, random: Random, ns: string, service: string): RouteOutcome {
  const backend = pick(view, random, ns, service);
  return backend
    ? { kind: 'backend', backend, mirrors: [], meta: {} }
    : { kind: 'local', status: 503, reason: 'no healthy upstream', meta: {} };
}

export const servicePlane: DataPlane<ServiceEntry> = {
  // The sidecar's series are declared by the Istio data plane (every simulator has both).
  declare: () => undefined,
  route: (view, random, _req, entry) => routeService(view, random, entry.namespace, entry.service),
  record: recordSidecar,
};
