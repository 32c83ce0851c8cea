import type { Plan } from '../plan/actions.ts';
import { currentAction } from './reducer.ts';
import type { RolloutState } from './state.ts';

export type Control =
  | { type: 'promote' }
  | { type: 'promoteFull' }
  | { type: 'abort'; reason: string; cause?: 'user' | 'group' }
  | { type: 'retry' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'skipStep' };

export type ControlType = Control['type'];

/**
 * Whether a control may be applied now. Returns undefined when allowed, or a sentence saying why
 * not and what to do instead — a control never silently does nothing.
 */
export function checkControl(plan: Plan, state: RolloutState, control: Control): string | undefined {
  const phase = state.phase;
  const action = currentAction(plan, state);
  const held =
    state.held && `the rollout is held (${state.held.reason}); resume() once that is fixed, or abort()`;
  switch (control.type) {
    case 'promote': {
      if (held) return held;
      if (state.inconclusive) return undefined;
      if (action?.type === 'pause' && phase !== 'pending') {
        return undefined;
      }
      if (phase === 'paused' && state.userPause)
        return 'the rollout is held by pause(); call resume() to continue';
      if (phase === 'analyzing') {
        return 'an analysis is running; wait for its verdict, skipStep() to skip it, or promoteFull() to skip all steps';
      }
      return `promote() continues past a pause or an inconclusive analysis, and the rollout is ${phase}${
        phase === 'progressing' ? '; use promoteFull() to skip the remaining steps' : ''
      }`;
    }
    case 'promoteFull':
      // After an abort, as in Argo Rollouts: the release again, straight to promotion.
      if (phase === 'aborted') return undefined;
      if (state.promoteFull) return 'promoteFull() was already requested';
      if (phase === 'pending' || phase === 'progressing' || phase === 'paused' || phase === 'analyzing') {
        if (state.cursor.section === 'prelude' || state.cursor.section === 'steps') return undefined;
      }
      return `promoteFull() skips remaining steps, and the rollout is ${phase}`;
    case 'abort':
      if (phase === 'aborting') return 'the rollout is already aborting';
      if (phase === 'aborted') return 'the rollout is already aborted; retry() starts it again';
      if (phase === 'succeeded') {
        return 'the rollout already succeeded and the new version is stable; start a new rollout to go back';
      }
      return undefined;
    case 'retry':
      if (phase === 'aborted' || phase === 'failed') return undefined;
      return `retry() restarts an aborted or failed rollout, and this one is ${phase}`;
    case 'pause':
      if (state.userPause) return 'the rollout is already held by pause()';
      if (phase === 'progressing' || phase === 'analyzing' || phase === 'paused') return undefined;
      if (phase === 'promoting') return 'promotion is underway and cannot be held; abort() rolls it back';
      if (phase === 'pending') return 'the rollout has not started; call run() first';
      return `the rollout is ${phase}; there is nothing to pause`;
    case 'resume':
      if (state.userPause || state.held) return undefined;
      if (action?.type === 'pause') return 'the rollout is at a pause step; promote() continues past it';
      if (state.inconclusive) return 'an analysis was inconclusive; promote() continues, abort() rolls back';
      return `resume() releases a pause(), and the rollout is ${phase}, not held`;
    case 'skipStep':
      if (held) return held;
      // A rolling burst under way only stops at the next look: skipped now, it would roll every pod
      // while the next step waits (chaos seed 718).
      if (action?.type === 'workload.rollTo' && state.action !== undefined)
        return "pods are moving to this step's share and a rolling update cannot stop mid-batch; skipStep() once they are in place";
      if (
        state.cursor.section === 'steps' &&
        (phase === 'progressing' || phase === 'paused' || phase === 'analyzing')
      ) {
        return undefined;
      }
      return `skipStep() skips a step while steps run, and the rollout is ${phase}${
        state.cursor.section === 'prelude' ? ' (still preparing the canary)' : ''
      }`;
  }
}
