import type { Plan } from '../plan/actions.ts';
import type { RolloutState } from './state.ts';

/**
 * One change of a rollout's state that this process saved. The store's compare-and-swap lets one
 * process save each change, so a recorder sees every transition exactly once across all the
 * processes that touch a rollout (a reload of someone else's change is not a transition here).
 */
export interface Transition {
  prev: RolloutState | undefined;
  next: RolloutState;
  plan: Plan;
  /** The process that saved it. */
  holder: string;
}

/**
 * Reports transitions elsewhere (Kubernetes Events: `createEventRecorder`). Called after the save,
 * never awaited: a recorder that fails or hangs cannot stop a release.
 */
export type TransitionRecorder = (transition: Transition) => void;
