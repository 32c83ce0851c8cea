import type { KubeClient, KubeObject } from '../kubernetes/client.ts';
import { type Endpoints, podsListedBy } from '../kubernetes/pods.ts';
import type { ChangeFeed } from '../ports/workload.ts';

const KINDS = [
  ['apps/v1', 'Deployment'],
  ['v1', 'Pod'],
  ['v1', 'Endpoints'],
] as const;

/**
 * The Deployment a pod belongs to, by its name (`<deployment>-<pod-template-hash>-<suffix>`, as the
 * ReplicaSet controller names them). A pod named otherwise maps to a name no rollout listens for.
 */
function deploymentOfPod(pod: string): string {
  const last = pod.lastIndexOf('-');
  const hash = last > 0 ? pod.lastIndexOf('-', last - 1) : -1;
  return hash > 0 ? pod.slice(0, hash) : pod;
}

/** The Deployments whose pods an Endpoints object lists. */
const deploymentsListed = (e: KubeObject): Set<string> =>
  new Set(podsListedBy(e as Endpoints).map(deploymentOfPod));

/**
 * Changes to Deployments, their pods and the Endpoints that list those pods, in one namespace, told
 * by Deployment name: one listener per kind on the client however many rollouts listen, so an event
 * costs a lookup, not a call per rollout (5,000 rollouts in one namespace each filtering every pod
 * event would be quadratic).
 */
class Hub {
  readonly #byName = new Map<string, Set<() => void>>();
  /** Endpoints name → the Deployments whose pods it listed last: its next change matters to them. */
  readonly #listed = new Map<string, Set<string>>();
  readonly #stops: Array<() => void>;
  readonly client: KubeClient;
  readonly namespace: string;

  constructor(client: KubeClient, namespace: string) {
    this.client = client;
    this.namespace = namespace;
    this.#stops = KINDS.map(([apiVersion, kind]) =>
      client.onChange(apiVersion, kind, namespace, (o) => this.#changed(kind, o)),
    );
    void client
      .listView<KubeObject>('v1', 'Endpoints', namespace)
      .then((all) => {
        for (const e of all)
          if (!this.#listed.has(e.metadata.name)) this.#listed.set(e.metadata.name, deploymentsListed(e));
      })
      .catch(() => undefined);
  }

  get empty(): boolean {
    return this.#byName.size === 0;
  }

  add(names: readonly string[], listener: () => void): () => void {
    for (const n of names) {
      let set = this.#byName.get(n);
      if (!set) {
        set = new Set();
        this.#byName.set(n, set);
      }
      set.add(listener);
    }
    return () => {
      for (const n of names) {
        const set = this.#byName.get(n);
        set?.delete(listener);
        if (set?.size === 0) this.#byName.delete(n);
      }
    };
  }

  live(): boolean {
    return KINDS.every(([apiVersion, kind]) => this.client.watching(apiVersion, kind, this.namespace));
  }

  stop(): void {
    for (const stop of this.#stops) stop();
  }

  #changed(kind: string, o: KubeObject | undefined): void {
    // No object: the watch was relisted, which may hide any change.
    if (!o) this.#tell([...this.#byName.keys()]);
    else if (kind === 'Deployment') this.#tell([o.metadata.name]);
    else if (kind === 'Pod') this.#tell([deploymentOfPod(o.metadata.name)]);
    else {
      const now = deploymentsListed(o);
      const before = this.#listed.get(o.metadata.name);
      this.#listed.set(o.metadata.name, now);
      this.#tell(new Set([...now, ...(before ?? [])]));
    }
  }

  #tell(names: Iterable<string>): void {
    const told = new Set<() => void>();
    for (const n of names) for (const l of this.#byName.get(n) ?? []) told.add(l);
    for (const l of told) l();
  }
}

const hubs = new WeakMap<KubeClient, Map<string, Hub>>();

/** Tells `onChange` of changes to the Deployments `names`, their pods and the Endpoints listing them. */
export function watchDeployments(
  client: KubeClient,
  namespace: string,
  names: readonly string[],
  onChange: () => void,
): ChangeFeed {
  let byNamespace = hubs.get(client);
  if (!byNamespace) {
    byNamespace = new Map();
    hubs.set(client, byNamespace);
  }
  let hub = byNamespace.get(namespace);
  if (!hub) {
    hub = new Hub(client, namespace);
    byNamespace.set(namespace, hub);
  }
  const own = hub;
  const remove = own.add(names, onChange);
  let closed = false;
  return {
    live: () => own.live(),
    close: () => {
      if (closed) return;
      closed = true;
      remove();
      if (own.empty && byNamespace.get(namespace) === own) {
        own.stop();
        byNamespace.delete(namespace);
      }
    },
  };
}
