import { KubeHttpError, type Transport } from './transport.ts';

/**
 * The resources of the built-in kinds Kanary touches: their names and scope are fixed by the
 * Kubernetes API, so finding them costs no discovery request. Other kinds (CRDs such as Istio's)
 * are discovered, one request per API version however many callers ask at once.
 */
const BUILT_IN: Record<string, Record<string, string>> = {
  v1: {
    ConfigMap: 'configmaps',
    Endpoints: 'endpoints',
    Event: 'events',
    Pod: 'pods',
    Secret: 'secrets',
    Service: 'services',
    ServiceAccount: 'serviceaccounts',
  },
  'apps/v1': { Deployment: 'deployments', ReplicaSet: 'replicasets' },
  'coordination.k8s.io/v1': { Lease: 'leases' },
  'discovery.k8s.io/v1': { EndpointSlice: 'endpointslices' },
  'events.k8s.io/v1': { Event: 'events' },
};

interface Resource {
  name: string;
  namespaced: boolean;
}

interface ResourceList {
  resources?: Array<{ name: string; kind: string; namespaced: boolean }>;
}

/** Where an object or a collection is: a path under the server, found by the table or by discovery. */
export interface ResourcePaths {
  /** `/apis/apps/v1/namespaces/x/deployments[/name]`; a namespaced object without a namespace is in `default`. */
  objectPath(ref: { apiVersion: string; kind: string; namespace?: string; name: string }): Promise<string>;
  /** The collection: in `namespace`, or across all of them when it is not given. */
  collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string>;
}

export function createResourcePaths(transport: Transport): ResourcePaths {
  // A version's resource list, once asked; a kind not in it asks again (a CRD installed since).
  const known = new Map<string, Map<string, Resource>>();
  const asking = new Map<string, Promise<Map<string, Resource>>>();
  const root = (apiVersion: string) =>
    apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;

  const discover = (apiVersion: string) => {
    let pending = asking.get(apiVersion);
    if (!pending) {
      pending = transport
        .send<ResourceList>('GET', root(apiVersion))
        .then((list) => {
          const kinds = new Map<string, Resource>();
          // Subresources (`deployments/scale`) share their parent's kind: only the parent is a collection.
          for (const r of list.resources ?? [])
            if (!r.name.includes('/')) kinds.set(r.kind, { name: r.name, namespaced: r.namespaced });
          known.set(apiVersion, kinds);
          return kinds;
        })
        .finally(() => asking.delete(apiVersion));
      asking.set(apiVersion, pending);
    }
    return pending;
  };

  const resource = async (apiVersion: string, kind: string): Promise<Resource> => {
    const builtIn = BUILT_IN[apiVersion]?.[kind];
    if (builtIn) return { name: builtIn, namespaced: true };
    const found = known.get(apiVersion)?.get(kind) ?? (await discover(apiVersion)).get(kind);
    if (found) return found;
    // As the server answers for a missing API group: absent, not a fault.
    throw new KubeHttpError(
      404,
      JSON.stringify({
        kind: 'Status',
        code: 404,
        reason: 'NotFound',
        message: `the server has no resource of kind ${kind} in ${apiVersion}`,
      }),
      {},
    );
  };

  const collection = async (apiVersion: string, kind: string, namespace: string | undefined) => {
    const r = await resource(apiVersion, kind);
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${root(apiVersion)}${ns}/${r.name}`;
  };
  return {
    async objectPath(ref) {
      const r = await resource(ref.apiVersion, ref.kind);
      const base = await collection(
        ref.apiVersion,
        ref.kind,
        r.namespaced ? (ref.namespace ?? 'default') : undefined,
      );
      return `${base}/${encodeURIComponent(ref.name)}`;
    },
    collectionPath: (apiVersion, kind, namespace) => collection(apiVersion, kind, namespace),
  };
}
