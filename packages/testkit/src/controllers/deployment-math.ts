// The arithmetic of kube-controller-manager's Deployment controller (pkg/controller/deployment),
// on plain numbers so it can be tested on its own. Names follow the upstream functions.

export type IntOrPercent = number | string;

/** GetScaledValueFromIntOrPercent: percentages of `total`, rounded up or down. */
export function scaledValue(value: IntOrPercent | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const percent = Number.parseInt(value, 10);
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** ResolveFenceposts: maxSurge rounds up, maxUnavailable down; both 0 makes unavailable 1. */
export function resolveFenceposts(
  maxSurge: IntOrPercent | undefined,
  maxUnavailable: IntOrPercent | undefined,
  replicas: number,
): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge, replicas, true);
  let unavailable = scaledValue(maxUnavailable, replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export interface RsNumbers {
  name: string;
  replicas: number;
  available: number;
  /** For ordering: older first. */
  created: number;
  /** deployment.kubernetes.io/max-replicas annotation, when set. */
  maxReplicasAnnotation?: number;
  /** deployment.kubernetes.io/desired-replicas annotation, when set. */
  desiredReplicasAnnotation?: number;
}

/** NewRSNewReplicas for RollingUpdate: how far the new ReplicaSet may grow now. */
export function newRSNewReplicas(
  replicas: number,
  surge: number,
  all: RsNumbers[],
  newRs: RsNumbers,
): number {
  const current = all.reduce((s, rs) => s + rs.replicas, 0);
  const maxTotal = replicas + surge;
  if (current >= maxTotal) return newRs.replicas;
  const scaleUp = Math.min(maxTotal - current, replicas - newRs.replicas);
  return newRs.replicas + scaleUp;
}

/**
 * reconcileOldReplicaSets: first removes unhealthy old pods, then scales old ReplicaSets down
 * as far as availability allows. Returns the new replica counts of the old sets.
 */
export function reconcileOldReplicaSets(
  replicas: number,
  unavailable: number,
  oldRss: RsNumbers[],
  newRs: RsNumbers | undefined,
): Map<string, number> {
  const result = new Map<string, number>();
  const olds = [...oldRss].sort((a, b) => a.created - b.created).map((rs) => ({ ...rs }));
  const oldPods = olds.reduce((s, rs) => s + rs.replicas, 0);
  if (oldPods === 0) return result;
  const all = [...olds, ...(newRs ? [newRs] : [])];
  const allPods = all.reduce((s, rs) => s + rs.replicas, 0);
  const minAvailable = replicas - unavailable;
  const newUnavailable = newRs ? newRs.replicas - newRs.available : 0;
  const maxScaledDown = allPods - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return result;

  // cleanupUnhealthyReplicas
  let cleaned = 0;
  for (const rs of olds) {
    if (cleaned >= maxScaledDown) break;
    if (rs.replicas === 0 || rs.replicas === rs.available) continue;
    const down = Math.min(maxScaledDown - cleaned, rs.replicas - rs.available);
    rs.replicas -= down;
    cleaned += down;
    result.set(rs.name, rs.replicas);
  }

  // scaleDownOldReplicaSetsForRollingUpdate
  const available = [...olds, ...(newRs ? [newRs] : [])].reduce(
    (s, rs) => s + Math.min(rs.available, rs.replicas),
    0,
  );
  if (available <= minAvailable) return result;
  const total = available - minAvailable;
  let scaled = 0;
  for (const rs of olds) {
    if (scaled >= total) break;
    if (rs.replicas === 0) continue;
    const down = Math.min(rs.replicas, total - scaled);
    rs.replicas -= down;
    scaled += down;
    result.set(rs.name, rs.replicas);
  }
  return result;
}

/**
 * The `scale` step used for paused deployments and replica changes: one active set takes the
 * whole count; a saturated new set retires the old ones; otherwise replicas are added or removed
 * in proportion to each set's share (getProportion with the max-replicas annotation).
 */
export function proportionalScale(
  replicas: number,
  surge: number,
  newRs: RsNumbers | undefined,
  oldRss: RsNumbers[],
  statusReplicas: number,
): Map<string, number> {
  const result = new Map<string, number>();
  const all = [...(newRs ? [newRs] : []), ...oldRss];
  const active = all.filter((rs) => rs.replicas > 0);
  if (active.length <= 1) {
    const target = active[0] ?? newRs ?? [...oldRss].sort((a, b) => b.created - a.created)[0];
    if (target && target.replicas !== replicas) result.set(target.name, replicas);
    return result;
  }
  // IsSaturated: the new set is at the Deployment's size, was sized for it (its desired-replicas
  // annotation), and all of it is available. Without the annotation check a paused Deployment scaled
  // down to the new set's size retires every old pod at once (chaos seed 3324: a person's
  // `kubectl scale` turned a 60% rolling step into 100%).
  if (
    newRs &&
    newRs.replicas === replicas &&
    newRs.desiredReplicasAnnotation === replicas &&
    newRs.available === replicas
  ) {
    for (const rs of oldRss) if (rs.replicas > 0) result.set(rs.name, 0);
    return result;
  }
  const allowed = replicas > 0 ? replicas + surge : 0;
  const current = active.reduce((s, rs) => s + rs.replicas, 0);
  const toAdd = allowed - current;
  if (toAdd === 0) return result;
  // Largest first; ties newest first when growing, oldest first when shrinking (BySizeNewer / BySizeOlder).
  const ordered = [...active].sort(
    (a, b) => b.replicas - a.replicas || (toAdd > 0 ? b.created - a.created : a.created - b.created),
  );
  let added = 0;
  const next = new Map(ordered.map((rs) => [rs.name, rs.replicas]));
  for (const rs of ordered) {
    let proportion = 0;
    if (rs.replicas !== 0 && toAdd !== added) {
      const annotated = rs.maxReplicasAnnotation || statusReplicas;
      const fraction =
        replicas === 0
          ? -rs.replicas
          : annotated === 0
            ? 0
            : Math.round((rs.replicas * allowed) / annotated) - rs.replicas;
      const allowedLeft = toAdd - added;
      proportion = toAdd > 0 ? Math.min(fraction, allowedLeft) : Math.max(fraction, allowedLeft);
    }
    next.set(rs.name, rs.replicas + proportion);
    added += proportion;
  }
  // Leftovers go to the largest (first) set.
  const first = ordered[0];
  if (first && toAdd !== added)
    next.set(first.name, Math.max(0, (next.get(first.name) ?? 0) + toAdd - added));
  for (const [name, value] of next)
    if (value !== all.find((r) => r.name === name)?.replicas) result.set(name, value);
  return result;
}
