/** Identifies a rollout: its state, lock and owned objects are keyed by this. */
export interface RolloutKey {
  namespace: string;
  name: string;
}

export type Side = 'stable' | 'canary';

/** What routers need to know about a workload to send traffic to it. */
export interface WorkloadRef {
  /** The Deployment's name. */
  name: string;
  /** Labels its pods carry (a DestinationRule subset or a Service selector can use them). */
  podLabels: Record<string, string>;
  /** The pod-template-hash of its current ReplicaSet, when known. */
  podTemplateHash?: string;
  /** A Service that selects only this workload's pods, when one exists. */
  service?: string;
  /** The stable workload as it was when the rollout began: what abort restores. */
  original?: { replicas: number; template: unknown };
}
