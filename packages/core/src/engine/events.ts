import type { KanaryError } from '../errors/kanary-error.ts';
import type { PlanAction, PlanStep } from '../plan/actions.ts';
import type { Measurement } from '../ports/gate.ts';
import type { HookName } from '../spec/hooks.ts';
import type { AbortCause, AnalysisRun, HoldCause, Phase, RolloutState } from './state.ts';

/** Typed events, one per kind of transition; every payload carries the state after it. */
export interface RolloutEvents {
  /** Every persisted change. */
  state: [state: RolloutState];
  phase: [event: { from: Phase; to: Phase; state: RolloutState }];
  step: [event: { index: number; step: PlanStep; state: RolloutState }];
  weight: [
    event: { canary: number; stable: number; verified: boolean; effective?: number; state: RolloutState },
  ];
  action: [
    event: {
      action: PlanAction;
      status: 'started' | 'completed' | 'waiting' | 'failed' | 'interrupted';
      message?: string;
    },
  ];
  analysis: [
    event: { key: string; phase: AnalysisRun['phase']; measurements: Measurement[]; message?: string },
  ];
  measurement: [event: { key: string; measurement: Measurement }];
  hook: [event: { hook: HookName; name: string; outcome: 'passed' | 'rejected' | 'error'; message?: string }];
  abort: [event: { reason: string; cause: AbortCause; state: RolloutState }];
  done: [state: RolloutState];
  /**
   * A look at the world found a side users reach without ready pods (`unready`) or the target
   * changed by someone else (`targetChanged`): what was found, what Kanary did, what to do next.
   * With `restart` and `targetChanged` the release begins again at once (`onTargetChange: restart`).
   */
  held: [event: HoldCause & { state: RolloutState }];
  /** This process became the rollout's driver, stopped being it, or handed a control to the driver. */
  leadership: [
    event: {
      status: 'acquired' | 'lost' | 'released' | 'handed-over';
      holder: string;
      epoch?: number;
      message: string;
    },
  ];
  /** Something went wrong that did not stop the rollout (a retried fault, a lost race on the store). */
  warning: [event: { message: string; error?: KanaryError }];
}
