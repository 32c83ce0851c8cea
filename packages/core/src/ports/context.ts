import type { RolloutState } from '../engine/state.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import type { RolloutKey, WorkloadRef } from './refs.ts';

/** What every port call receives: the spec, the workloads involved, and a cancellation signal. */
export interface PortContext {
  key: RolloutKey;
  spec: RolloutSpec;
  /** Workload references known so far (the canary's appear once it exists). */
  targets: { stable?: WorkloadRef; canary?: WorkloadRef };
  /** Read-only view of the rollout state when the call was made. */
  state: Readonly<RolloutState>;
  signal: AbortSignal;
}
