import type { KubeClient, KubeObject, ObjectIndex } from './client.ts';

/** A pod as Kanary reads it: readiness and whether it is being deleted. */
export type Pod = KubeObject & {
  metadata: { deletionTimestamp?: string; ownerReferences?: Array<{ kind: string; name: string }> };
  status?: { conditions?: Array<{ type: string; status: string }> };
};

/** Ready and not terminating: a pod the Endpoints list and users reach. */
export function servesTraffic(pod: Pod): boolean {
  return (
    !pod.metadata.deletionTimestamp &&
    (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** `matchLabels` as a label selector query (`app=shop,pod-template-hash=abc`). */
export function labelSelector(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export type Endpoints = KubeObject & {
  subsets?: Array<{
    addresses?: Array<{ targetRef?: { name?: string } }>;
    notReadyAddresses?: Array<{ targetRef?: { name?: string } }>;
  }>;
};

/**
 * The pods among `pods` a data plane can reach now: ready, and not waiting in an Endpoints' not-ready
 * list. A pod that just became ready stays among its Services' not-ready addresses until the
 * endpoints controller has caught up, and kube-proxy, Envoy and nginx route by those, not by the
 * pod's status (chaos seed 1286: users moved onto a new revision in that gap and got 503s). A pod
 * no Endpoints lists at all (no Service selects it: a blue-green side before its switch) is judged
 * by its readiness alone.
 */
export async function reachablePods<P extends Pod>(
  client: KubeClient,
  namespace: string,
  pods: readonly P[],
): Promise<P[]> {
  const ready = pods.filter(servesTraffic);
  if (ready.length === 0) return ready;
  const names = ready.map((p) => p.metadata.name);
  const listed = listedPods(
    await client.listByIndex<Endpoints>('v1', 'Endpoints', namespace, LISTED_PODS, names),
  );
  return ready.filter((p) => listed.ready.has(p.metadata.name) || !listed.notReady.has(p.metadata.name));
}

/** Endpoints by the pods they list (ready or not): which Endpoints speak of a pod, without walking them all. */
export const LISTED_PODS: ObjectIndex = {
  name: 'listed-pods',
  keysOf: (e) => podsListedBy(e as Endpoints),
};

/** The names of the pods an Endpoints object lists, ready or not. */
export function podsListedBy(e: Endpoints): string[] {
  const out: string[] = [];
  for (const s of e.subsets ?? [])
    for (const a of [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])])
      if (a.targetRef?.name) out.push(a.targetRef.name);
  return out;
}

// Per view (the same array until one of its Endpoints changes).
const listedByView = new WeakMap<object, { ready: Set<string>; notReady: Set<string> }>();

function listedPods(endpoints: ReadonlyArray<Endpoints>) {
  const known = listedByView.get(endpoints);
  if (known) return known;
  const listed = { ready: new Set<string>(), notReady: new Set<string>() };
  for (const e of endpoints)
    for (const s of e.subsets ?? []) {
      for (const a of s.addresses ?? []) if (a.targetRef?.name) listed.ready.add(a.targetRef.name);
      for (const a of s.notReadyAddresses ?? []) if (a.targetRef?.name) listed.notReady.add(a.targetRef.name);
    }
  listedByView.set(endpoints, listed);
  return listed;
}
