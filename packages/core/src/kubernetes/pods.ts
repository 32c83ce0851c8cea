import type { KubeObject } from './client.ts';

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
