import type { KubeObject } from '../apiserver/object.ts';

// Graceful pod termination as kube-apiserver and the kubelet do it: a DELETE sets
// `deletionTimestamp` (now + grace) and leaves the pod; the endpoints controller drops it at once;
// the kubelet runs each container's preStop hook, then SIGTERM, and removes the pod (grace 0) once
// the containers have exited, or when the grace period runs out. Upstream: registry/core/pod
// strategy (CheckGracefulDelete), kubelet's killPod and lifecycle handlers.

type Container = {
  lifecycle?: {
    preStop?: { exec?: { command?: string[] }; sleep?: { seconds?: number }; httpGet?: unknown };
  };
};

/** The grace a DELETE without `gracePeriodSeconds` gives a pod (the spec's, else 30 s). */
export function defaultGraceSeconds(pod: KubeObject): number {
  return (
    (pod.spec as { terminationGracePeriodSeconds?: number } | undefined)?.terminationGracePeriodSeconds ?? 30
  );
}

/**
 * How long a pod keeps serving once told to stop: its longest preStop hook (`sleep N` as an exec
 * command or the sleep action; an HTTP hook returns at once). The application exits on SIGTERM
 * right after it (the emulator's apps keep no connections open), so a pod without a hook stops
 * serving the moment it is deleted, while the Endpoints may still list it.
 */
export function preStopMs(pod: KubeObject): number {
  const containers = ((pod.spec as { containers?: Container[] } | undefined)?.containers ??
    []) as Container[];
  let longest = 0;
  for (const c of containers) {
    const hook = c.lifecycle?.preStop;
    let seconds = hook?.sleep?.seconds ?? 0;
    const command = hook?.exec?.command ?? [];
    // `sleep 5`, or a shell running it: `sh -c "sleep 5"`, `sh -c "sleep 5 && nginx -s quit"`.
    const match = /(?:^|\s|;|&&)sleep\s+(\d+(?:\.\d+)?)/.exec(command.join(' '));
    if (match) seconds = Math.max(seconds, Number(match[1]));
    longest = Math.max(longest, seconds * 1000);
  }
  return longest;
}

/** When the pod was told to stop (deletionTimestamp minus its grace), or undefined. */
export function terminatingSince(pod: KubeObject): number | undefined {
  const at = pod.metadata.deletionTimestamp;
  if (at === undefined) return undefined;
  return Date.parse(at) - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
}

/** Whether the pod's application still answers at `now`: not terminating, or still in its preStop hook. */
export function serving(pod: KubeObject, now: number): boolean {
  const since = terminatingSince(pod);
  if (since === undefined) return true;
  const grace = (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  return now < since + Math.min(preStopMs(pod), grace);
}
