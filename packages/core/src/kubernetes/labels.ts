/** Labels Kanary puts on what it makes and reads back: one place for every such name. */

/** The rollout an object belongs to (its owned objects, its canary's pods). */
export const LABEL_ROLLOUT = 'kanary.dev/rollout';
/** The side a Kanary-made workload plays (`canary`). */
export const LABEL_ROLE = 'kanary.dev/role';
/** Marks pods of a version Kanary made, so its template (and pod-template-hash) differs from stable's. */
export const LABEL_REVISION = 'kanary.dev/revision';

const MANAGED_BY = 'app.kubernetes.io/managed-by';

/** Labels on the objects Kanary owns for a rollout (its state ConfigMap and Lease). */
export const ownedLabels = (rollout: string): Record<string, string> => ({
  [LABEL_ROLLOUT]: rollout,
  [MANAGED_BY]: 'kanary',
});

/** Selects every object Kanary owns: how the agent finds rollouts. */
export const OWNED_SELECTOR = `${MANAGED_BY}=kanary`;
