import { LABEL_ROLLOUT } from '../workloads/deployment-driver.ts';

/** Labels on the objects Kanary owns for a rollout (its state ConfigMap and Lease). */
export const ownedLabels = (rollout: string): Record<string, string> => ({
  [LABEL_ROLLOUT]: rollout,
  'app.kubernetes.io/managed-by': 'kanary',
});

/** Selects every object Kanary owns: how the agent finds rollouts. */
export const OWNED_SELECTOR = 'app.kubernetes.io/managed-by=kanary';
