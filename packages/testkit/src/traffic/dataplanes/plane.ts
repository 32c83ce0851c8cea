import { KIND, type KindInfo } from '../../apiserver/kinds.ts';
import type { KubeObject } from '../../apiserver/object.ts';
import type { ObjectStore } from '../../apiserver/store.ts';
import { backendProblem } from '../../controllers/gateway.ts';
import { serving } from '../../controllers/termination.ts';
import type { MetricsRegistry, SeriesHandle } from '../metrics.ts';
import type { Random } from '../random.ts';

// What every emulated data plane shares: the request and its outcome, a cached read-only view of
// the cluster, picking a ready pod behind a Service, and the interface each data plane implements
// (routing a request as the real one would, and writing the series the real one exports).

/** A simulated HTTP request. Header names are lower-cased. */
export interface SimRequest {
  host: string;
  path: string;
  method: string;
  headers: Record<string, string>;
}

/** Where a request ended up. */
export interface Backend {
  namespace: string;
  service: string;
  /** The pod that served it, and its workload (owning Deployment) and labels. */
  pod: KubeObject;
  workload: string;
}

export type RouteOutcome =
  | { kind: 'backend'; backend: Backend; mirrors: Backend[]; meta: RouteMeta }
  /** No route, or no ready endpoint: the data plane answers itself (404/503). */
  | { kind: 'local'; status: number; reason: string; meta: RouteMeta };

export interface RouteMeta {
  /** ingress-nginx: the primary Ingress, and the canary upstream name when the canary served. */
  ingress?: string;
  canary?: string;
  primaryService?: string;
  /** Gateway API: the HTTPRoute that matched. */
  route?: string;
  routeNamespace?: string;
  /** Istio: the VirtualService rule that matched. */
  virtualService?: string;
  rule?: string;
  /** `Set-Cookie` values the route adds to the response (Istio `headers.response`). */
  setCookie?: string[];
}

export type Obj = Record<string, unknown>;

/** Regexes evaluated as Envoy does (RE2, full match). Invalid ones match nothing. */
const regexCache = new Map<string, RegExp | null>();
export function fullMatch(pattern: string, value: string): boolean {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 's');
    } catch {
      re = null;
    }
    regexCache.set(pattern, re);
  }
  return re ? re.test(value) : false;
}

/** A read-only view of the cluster for one routing decision batch (cached per tick). */
export class ClusterView {
  readonly #store: ObjectStore;
  #cache = new Map<string, unknown>();
  constructor(store: ObjectStore) {
    this.#store = store;
  }
  invalidate(): void {
    this.#cache.clear();
  }
  now(): number {
    return this.#store.now();
  }
  #memo<T>(key: string, make: () => T): T {
    let value = this.#cache.get(key) as T | undefined;
    if (value === undefined) {
      value = make();
      this.#cache.set(key, value);
    }
    return value;
  }
  list(info: KindInfo, ns?: string): KubeObject[] {
    return this.#memo(`list/${info.plural}/${ns ?? '*'}`, () => this.#store.list(info, ns));
  }
  service(ns: string, name: string): KubeObject | undefined {
    return this.list(KIND.service, ns).find((s) => s.metadata.name === name);
  }
  /** Ready pods behind a Service, as its Endpoints list them. */
  readyPods(ns: string, service: string): KubeObject[] {
    return this.#memo(`ready/${ns}/${service}`, () => {
      const ep = this.list(KIND.endpoints, ns).find((e) => e.metadata.name === service);
      const names = new Set(
        ((ep?.subsets as Obj[] | undefined) ?? []).flatMap((s) =>
          ((s.addresses as Obj[] | undefined) ?? []).map(
            (a) => (a.targetRef as Obj | undefined)?.name as string,
          ),
        ),
      );
      return this.list(KIND.pod, ns).filter((p) => names.has(p.metadata.name as string));
    });
  }
  /** Why a Gateway API backendRef cannot be used (see the gateway controller), memoized per batch. */
  backendProblem(
    route: KubeObject,
    ref: { name: string; namespace?: string; port?: number; kind?: string },
  ): { reason: string; message: string } | undefined {
    return (
      this.#memo(
        `backend/${route.metadata.namespace}/${route.metadata.name}/${ref.namespace ?? ''}/${ref.name}/${ref.port ?? ''}/${ref.kind ?? ''}`,
        () => backendProblem(this.#store, route, { ...ref }) ?? null,
      ) ?? undefined
    );
  }
  workloadOf(pod: KubeObject): string {
    const rsRef = pod.metadata.ownerReferences?.find((r) => r.kind === 'ReplicaSet');
    if (!rsRef) return pod.metadata.name as string;
    const rs = this.list(KIND.replicaSet, pod.metadata.namespace).find((r) => r.metadata.name === rsRef.name);
    return rs?.metadata.ownerReferences?.find((r) => r.kind === 'Deployment')?.name ?? rsRef.name;
  }
}

/** A ready pod behind a Service (of one subset's labels), uniformly: what kube-proxy and the proxies' load balancers do. */
export function pick(
  view: ClusterView,
  random: Random,
  ns: string,
  service: string,
  subsetLabels?: Record<string, string>,
): Backend | undefined {
  let pods = view.readyPods(ns, service);
  if (subsetLabels)
    pods = pods.filter((p) => Object.entries(subsetLabels).every(([k, v]) => p.metadata.labels?.[k] === v));
  if (pods.length === 0) return undefined;
  const pod = pods[Math.floor(random.next() * pods.length)] as KubeObject;
  // A pod still listed but no longer answering (deleted without a preStop hook, so its app got
  // SIGTERM while the Endpoints had not caught up): the connection fails, as on a cluster.
  if (!serving(pod, view.now())) return undefined;
  return { namespace: ns, service, pod, workload: view.workloadOf(pod) };
}

/** One request as a data plane saw it, for its series. */
export interface RequestRecord {
  req: SimRequest;
  outcome: RouteOutcome;
  /** Who served it; undefined when the data plane answered itself. */
  backend: Backend | undefined;
  code: string;
  latencyMs: number;
  /** The workload that sent it (the previous hop, or the load's name). */
  source: { workload: string; namespace: string };
  /** A mirrored copy (its response is dropped). */
  mirrored: boolean;
}

/** Where a data plane writes: the registry, and handles cached per distinct label set. */
export interface SeriesWriter {
  metrics: MetricsRegistry;
  /** The handles for `key`, made by `make` the first time (label sets repeat for every request). */
  series(key: string, make: () => SeriesHandle[]): SeriesHandle[];
}

/** One emulated data plane: how it routes a request entering at `E`, and the series it exports. */
export interface DataPlane<E> {
  /** Declares its series in the registry (once per simulator). */
  declare(metrics: MetricsRegistry): void;
  route(view: ClusterView, random: Random, req: SimRequest, entry: E): RouteOutcome;
  /** Writes the series one request adds. */
  record(out: SeriesWriter, request: RequestRecord): void;
}
