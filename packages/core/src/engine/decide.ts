import type { Plan, PlanAction } from '../plan/actions.ts';
import { currentAction, type EngineEvent } from './reducer.ts';
import { isRetiring, isStopped, type RolloutState } from './state.ts';

/** What the runner should do next. */
export type Decision =
  | { kind: 'stop' }
  /** Nothing to do until `until` (or a control, when undefined). */
  | { kind: 'hold'; until?: number; reason: string }
  /** A transition that needs no port: apply it. */
  | { kind: 'event'; event: EngineEvent }
  /** Run this action through its port. */
  | { kind: 'run'; action: PlanAction }
  /** Take the background analysis' next look. */
  | { kind: 'background' };

/**
 * Pure: given the plan, the state and the time, says what comes next. Timers are decided from
 * persisted timestamps, so a resumed process reaches the same decision as the one that died.
 */
export function decide(plan: Plan, state: RolloutState, now: number): Decision {
  if (isStopped(state) && !isRetiring(state)) return { kind: 'stop' };
  if (state.phase === 'pending') return { kind: 'event', event: { type: 'start', at: now } };
  const evidence = decideEvidence(plan, state, now);
  if (evidence) return evidence;
  const decision = decideSteps(plan, state, now);
  // Background analysis looks on its own schedule, through pauses and waits, until the steps end.
  const bg = plan.background;
  const active =
    bg !== undefined &&
    state.cursor.section === 'steps' &&
    state.cursor.step >= bg.startingStep &&
    (state.background === undefined || state.background.phase === 'running');
  if (!active || decision.kind === 'stop') return decision;
  const due = state.background?.nextAt ?? now;
  if (due <= now) return { kind: 'background' };
  if (decision.kind !== 'hold') return decision;
  return decision.until === undefined || due < decision.until
    ? { ...decision, until: due, reason: `${decision.reason}; background analysis next at ${due}` }
    : decision;
}

function decideSteps(plan: Plan, state: RolloutState, now: number): Decision {
  const action = currentAction(plan, state);
  if (!action) return { kind: 'stop' };

  // Abort and promotion sections are never held: once started they run to the end.
  // A rolling burst under way is a Deployment rolling on its own: only the next look pauses it
  // again, so a pause or an inconclusive analysis takes effect once the step's pods are in place
  // (chaos seed 146: paused mid-burst, the Deployment rolled every pod to the new version).
  // (A hold of the world's, such as a person's own edit of the Deployment, still stops it at once.)
  const bursting = action.type === 'workload.rollTo' && state.action !== undefined;
  const holdable = state.cursor.section === 'prelude' || state.cursor.section === 'steps';
  if (holdable && !bursting && state.userPause) return { kind: 'hold', reason: 'held by pause()' };
  if (holdable && state.held) return { kind: 'hold', reason: state.held.reason };
  if (holdable && !bursting && state.inconclusive)
    return { kind: 'hold', reason: `analysis ${state.inconclusive.key} inconclusive` };

  if (!state.action) {
    const timed = action.type === 'pause' || action.type === 'delay' ? action.duration : undefined;
    return {
      kind: 'event',
      event: { type: 'actionStarted', at: now, ...(timed !== undefined ? { until: now + timed } : {}) },
    };
  }
  if (action.type === 'pause' || action.type === 'delay') {
    if (state.action.until === undefined) return { kind: 'hold', reason: 'paused until promote()' };
    if (now >= state.action.until) return { kind: 'event', event: { type: 'actionCompleted', at: now } };
    return {
      kind: 'hold',
      until: state.action.until,
      reason: action.type === 'pause' ? 'pause' : 'scale-down delay',
    };
  }
  if (action.type === 'analysis') {
    const nextAt = state.analysis?.key === action.key ? state.analysis.nextAt : undefined;
    if (nextAt !== undefined && nextAt > now)
      return { kind: 'hold', until: nextAt, reason: 'analysis interval' };
    return { kind: 'run', action };
  }
  // A probe that is not done yet (readiness, rolling) waits for its next attempt.
  if (state.action.until !== undefined && state.action.until > now) {
    return { kind: 'hold', until: state.action.until, reason: state.action.message ?? 'waiting' };
  }
  return { kind: 'run', action };
}

/**
 * No evidence is not a pass: when the steps have ended and the background analysis never had a
 * look with data, its `noData` policy decides before promotion starts (default: inconclusive,
 * which holds for a human). `promoteFull()` is a person's explicit decision and skips this.
 */
function decideEvidence(plan: Plan, state: RolloutState, now: number): Decision | undefined {
  const bg = plan.background;
  const { section, step, action } = state.cursor;
  const atPromotion = section === 'promotion' && step === 0 && action === 0 && !state.action;
  if (!bg || !atPromotion || state.cursor.step !== 0) return undefined;
  if (state.inconclusive) return { kind: 'hold', reason: `analysis ${state.inconclusive.key} inconclusive` };
  const run = state.background;
  const policy = bg.noData ?? 'inconclusive';
  if (state.promoteFull || (run && run.phase !== 'running')) return undefined;
  const evidence = (run?.withData ?? 0) > 0;
  // The steps are over: the background run ends with them, with its verdict recorded.
  const phase = evidence || policy === 'pass' ? 'successful' : policy === 'fail' ? 'failed' : 'inconclusive';
  return {
    kind: 'event',
    event: {
      type: 'backgroundUpdated',
      at: now,
      run: {
        key: 'background',
        startedAt: run?.startedAt ?? now,
        measurements: run?.measurements ?? [],
        ...(run?.withData ? { withData: run.withData } : {}),
        phase,
        message: evidence
          ? `no regression found in ${run?.withData} look${run?.withData === 1 ? '' : 's'} with data`
          : policy === 'pass'
            ? 'no look had data (noData: pass)'
            : 'the steps ended without a single look with data: no evidence is not a pass',
      },
    },
  };
}
