import type { KubeClient, KubeObject } from './client.ts';

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

type Endpoints = KubeObject & {
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
export async function reachablePods(client: KubeClient, namespace: string, pods: Pod[]): Promise<Pod[]> {
  const ready = pods.filter(servesTraffic);
  if (ready.length === 0) return ready;
  const endpoints = await client.list<Endpoints>('v1', 'Endpoints', namespace);
  const listedReady = new Set<string | undefined>();
  const listedNotReady = new Set<string | undefined>();
  for (const e of endpoints)
    for (const s of e.subsets ?? []) {
      for (const a of s.addresses ?? []) listedReady.add(a.targetRef?.name);
      for (const a of s.notReadyAddresses ?? []) listedNotReady.add(a.targetRef?.name);
    }
  return ready.filter((p) => listedReady.has(p.metadata.name) || !listedNotReady.has(p.metadata.name));
}
