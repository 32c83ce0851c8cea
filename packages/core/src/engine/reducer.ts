import { actionsAt, type Plan, type PlanAction, retireIndex, type Section } from '../plan/actions.ts';
import type { WorkloadRef } from '../ports/refs.ts';
import type { RouterStatus } from '../ports/router.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import type { Control } from './controls.ts';
import {
  type AbortCause,
  type AnalysisRun,
  type Cursor,
  HISTORY_LIMIT,
  type HoldCause,
  type Phase,
  type RolloutState,
  TERMINAL_PHASES,
} from './state.ts';

/** What an action produced, applied to the state when it completes. */
export interface ActionResult {
  router?: RouterStatus;
  canary?: WorkloadRef;
  stable?: WorkloadRef;
}

export interface ErrorInfo {
  code: string;
  message: string;
}

/** Everything that can happen to a rollout. The reducer turns each into the next state. */
export type EngineEvent =
  | { type: 'start'; at: number; stable?: WorkloadRef }
  | { type: 'actionStarted'; at: number; until?: number }
  | { type: 'actionCompleted'; at: number; result?: ActionResult; note?: string }
  | { type: 'actionWaiting'; at: number; retryAt: number; message?: string }
  | { type: 'actionFailed'; at: number; error: ErrorInfo; cause: Exclude<AbortCause, 'user' | 'analysis'> }
  | { type: 'analysisUpdated'; at: number; run: AnalysisRun }
  | { type: 'backgroundUpdated'; at: number; run: AnalysisRun }
  | { type: 'control'; at: number; control: Control }
  /**
   * A look at the world stopped the steps (see `RolloutState.held`); `result` is the routing Kanary
   * wrote to keep users off a side that cannot serve, if any (`cleared`: its routes were removed).
   */
  | { type: 'held'; at: number; cause: Omit<HoldCause, 'at'>; result?: ActionResult; cleared?: boolean }
  /**
   * Someone changed the target's template: `stable` is the target as it now is (its `original` the
   * new baseline), `result` the routing back to it; `restart` begins again from the prelude.
   */
  | {
      type: 'targetChanged';
      at: number;
      stable: WorkloadRef;
      result?: ActionResult;
      restart: boolean;
      reason: string;
    }
  /**
   * In promotion or abort, the target turned out changed by someone else: `stable` is it as it now
   * is (its `original` the new baseline); the action under the cursor runs again with it.
   */
  | { type: 'rebased'; at: number; stable: WorkloadRef; reason: string }
  /**
   * A look at the world moved users without stopping anything (in promotion, off a stable that lost
   * its pods onto the canary being promoted): `result` is the routing written.
   */
  | { type: 'rerouted'; at: number; result: ActionResult; reason: string }
  /**
   * During a blue-green release's scale-down delay the promoted version stopped serving while the
   * old one still can: the release is rolled back (the abort section), which is what keeping the
   * old version up for the delay is for.
   */
  | { type: 'regressed'; at: number; reason: string }
  /**
   * A person changed the routing and the spec says `onDrift: adopt`: their weight (`result`)
   * becomes the rollout's (`cleared`: Kanary's header routes are gone) and the action runs again.
   */
  | { type: 'adopted'; at: number; result: ActionResult; cleared?: boolean; reason: string }
  /** A driver took the rollout over (its lease's epoch); recorded before it acts. */
  | { type: 'driver'; at: number; holder: string; epoch: number };

export interface ReduceContext {
  plan: Plan;
  spec: RolloutSpec;
}

export function currentAction(plan: Plan, state: RolloutState): PlanAction | undefined {
  const { section, step, action } = state.cursor;
  if (section === 'done') return undefined;
  return actionsAt(plan, section, step)[action];
}

function sectionLength(plan: Plan, section: Section): number {
  return section === 'steps' ? plan.steps.length : 1;
}

/** The first cursor at or after `from` that points at an action, following section order. */
function settle(plan: Plan, from: Cursor, promoteFull: boolean): Cursor {
  let { section, step, action } = from;
  for (;;) {
    if (section === 'done') return { section, step: 0, action: 0 };
    if (section === 'steps' && promoteFull) {
      section = 'promotion';
      step = 0;
      action = 0;
      continue;
    }
    if (step >= sectionLength(plan, section)) {
      if (section === 'prelude') section = 'steps';
      else if (section === 'steps') section = 'promotion';
      else section = 'done';
      step = 0;
      action = 0;
      continue;
    }
    if (action < actionsAt(plan, section, step).length) return { section, step, action };
    step += 1;
    action = 0;
  }
}

function advance(plan: Plan, state: RolloutState): RolloutState {
  const { section, step, action } = state.cursor;
  const cursor = settle(plan, { section, step, action: action + 1 }, state.promoteFull);
  const next: RolloutState = { ...state, cursor, action: undefined };
  if (cursor.section === 'done') {
    next.outcome = section === 'abort' ? 'rolledBack' : 'promoted';
  }
  return next;
}

/** Derives the phase from the cursor and flags: the phase is never stored independently of them. */
export function derivePhase(plan: Plan, state: RolloutState): Phase {
  if (state.cursor.section === 'done') return state.outcome === 'promoted' ? 'succeeded' : 'aborted';
  // Past the switch (or the abort's reset): only the old version's retirement is left.
  const retire = retireIndex(plan, state.cursor.section);
  if (retire >= 0 && state.cursor.action >= retire)
    return state.cursor.section === 'promotion' ? 'succeeded' : 'aborted';
  if (state.error) return 'failed';
  if (state.startedAt === undefined) return 'pending';
  if (state.cursor.section === 'abort') return 'aborting';
  if (state.held) return 'paused';
  // Held for a human before promotion starts (no evidence from the background analysis).
  if (state.inconclusive && !state.action) return 'paused';
  if (state.cursor.section === 'promotion') return 'promoting';
  if (state.userPause || state.inconclusive) return 'paused';
  const action = currentAction(plan, state);
  if (action?.type === 'pause') return 'paused';
  if (action?.type === 'analysis') return 'analyzing';
  return 'progressing';
}

function note(state: RolloutState, at: number, event: string, detail?: string): RolloutState {
  const entry = { at, seq: state.seq + 1, event, ...(detail ? { detail } : {}) };
  const history = [...state.history, entry];
  if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
  return { ...state, history };
}

function beginAbort(
  plan: Plan,
  state: RolloutState,
  at: number,
  cause: AbortCause,
  reason: string,
): RolloutState {
  const aborting: RolloutState = {
    ...state,
    abort: { reason, cause, at, from: state.cursor },
    cursor: settle(plan, { section: 'abort', step: 0, action: 0 }, false),
    action: undefined,
    analysis: undefined,
    inconclusive: undefined,
    userPause: undefined,
    held: undefined,
    promoteFull: false,
    error: undefined,
  };
  if (aborting.cursor.section === 'done') aborting.outcome = 'rolledBack';
  return note(aborting, at, 'abort', `${cause}: ${reason}`);
}

function applyResult(
  state: RolloutState,
  action: PlanAction | undefined,
  result: ActionResult | undefined,
): RolloutState {
  let next = state;
  if (result?.router) {
    const r = result.router;
    next = {
      ...next,
      weights: {
        canary: r.canaryWeight,
        verified: r.verified,
        ...(r.effectiveWeight !== undefined ? { effective: r.effectiveWeight } : {}),
      },
    };
  }
  if (result?.canary) next = { ...next, targets: { ...next.targets, canary: result.canary } };
  if (result?.stable) {
    // A refreshed description never replaces what the stable workload looked like at the start.
    const original = next.targets.stable?.original ?? result.stable.original;
    next = {
      ...next,
      targets: { ...next.targets, stable: { ...result.stable, ...(original ? { original } : {}) } },
    };
  }
  if (!action) return next;
  switch (action.type) {
    case 'router.setHeaderRoute':
      return { ...next, headerRoutes: { ...next.headerRoutes, [action.route.name]: action.route } };
    case 'router.removeHeaderRoute': {
      const { [action.name]: _, ...rest } = next.headerRoutes;
      return { ...next, headerRoutes: rest };
    }
    case 'router.setMirror':
      return { ...next, mirrors: { ...next.mirrors, [action.mirror.name]: action.mirror } };
    case 'router.removeMirror': {
      const { [action.name]: _, ...rest } = next.mirrors;
      return { ...next, mirrors: rest };
    }
    case 'router.reset':
    case 'router.finalize':
      return { ...next, headerRoutes: {}, mirrors: {} };
    default:
      return next;
  }
}

/** Back to the first action: the canary is re-made from the current target and every check runs again. */
function restartFromPrelude(plan: Plan, state: RolloutState): RolloutState {
  const { held: _h, inconclusive: _i, userPause: _u, analysis: _a, background: _b, ...rest } = state;
  return {
    ...rest,
    cursor: settle(plan, { section: 'prelude', step: 0, action: 0 }, false),
    action: undefined,
    analyses: {},
    promoteFull: false,
  };
}

function describeCursor(c: Cursor): string {
  return c.section === 'steps' ? `step ${c.step + 1}` : c.section;
}

/**
 * The rollout's state machine: a pure function from (state, event) to the next state.
 * Controls must have been checked with `checkControl` first; the reducer trusts them.
 */
export function reduce(state: RolloutState, event: EngineEvent, ctx: ReduceContext): RolloutState {
  const { plan, spec } = ctx;
  // A finished release, or a failed one waiting for a person, runs nothing: an action's outcome
  // arriving now is stale (the engine cuts actions short on controls, so it sends none), and
  // taking it would move a rolled-back release on to `succeeded`, or call a failed abort `aborted`.
  if ((state.cursor.section === 'done' || state.phase === 'failed') && event.type.startsWith('action'))
    return state;
  let next: RolloutState;
  switch (event.type) {
    case 'start': {
      next = {
        ...state,
        startedAt: state.startedAt ?? event.at,
        cursor: settle(plan, state.cursor, state.promoteFull),
        ...(event.stable
          ? {
              targets: {
                ...state.targets,
                stable: {
                  ...event.stable,
                  ...((state.targets.stable?.original ?? event.stable.original)
                    ? { original: state.targets.stable?.original ?? event.stable.original }
                    : {}),
                },
              },
            }
          : {}),
      };
      if (next.cursor.section === 'done') next.outcome = 'promoted';
      next = note(next, event.at, 'start');
      break;
    }
    case 'actionStarted':
      next = {
        ...state,
        action: state.action ?? {
          startedAt: event.at,
          attempts: 0,
          ...(event.until !== undefined ? { until: event.until } : {}),
        },
      };
      break;
    case 'actionWaiting':
      next = {
        ...state,
        action: {
          ...(state.action ?? { startedAt: event.at, attempts: 0 }),
          attempts: (state.action?.attempts ?? 0) + 1,
          until: event.retryAt,
          ...(event.message ? { message: event.message } : {}),
        },
      };
      break;
    case 'actionCompleted': {
      const action = currentAction(plan, state);
      next = advance(plan, applyResult(state, action, event.result));
      if (next.cursor.step !== state.cursor.step || next.cursor.section !== state.cursor.section) {
        next = note(next, event.at, 'advance', `to ${describeCursor(next.cursor)}`);
      }
      if (event.note) next = note(next, event.at, 'note', event.note);
      break;
    }
    case 'actionFailed': {
      const action = currentAction(plan, state);
      const what = action ? action.type : 'action';
      if (TERMINAL_PHASES.has(state.phase) && state.cursor.section !== 'done') {
        // Retiring: the release stands. What is left stays as it is (never the routing handed back
        // over a side that could not be scaled down), and says so.
        next = note(
          {
            ...state,
            cursor: { section: 'done', step: 0, action: 0 },
            action: undefined,
            outcome: state.phase === 'succeeded' ? 'promoted' : 'rolledBack',
          },
          event.at,
          'retireFailed',
          `${what}: ${event.error.message}; the old version and the routing are left as they are`,
        );
        break;
      }
      const inAbort = state.cursor.section === 'abort';
      const keepGoingForward = event.cause === 'deadline' && !spec.progressDeadlineAbort;
      if (inAbort || keepGoingForward) {
        next = note(
          { ...state, error: { ...event.error, at: event.at, action: what } },
          event.at,
          'failed',
          `${what}: ${event.error.message}`,
        );
      } else {
        next = beginAbort(plan, state, event.at, event.cause, `${what} failed: ${event.error.message}`);
        next = { ...next, error: undefined };
      }
      break;
    }
    case 'analysisUpdated':
      next = applyAnalysis(plan, state, event.run, event.at, 'analysis');
      break;
    case 'backgroundUpdated':
      next = applyAnalysis(plan, state, event.run, event.at, 'background');
      break;
    case 'control':
      next = applyControl(state, event.control, event.at, plan);
      break;
    case 'rerouted':
      next = note(applyResult(state, undefined, event.result), event.at, 'rerouted', event.reason);
      break;
    case 'held': {
      const moved = applyResult(state, undefined, event.result);
      next = note(
        {
          ...moved,
          ...(event.cleared ? { headerRoutes: {}, mirrors: {} } : {}),
          held: { at: event.at, ...event.cause },
          action: undefined,
        },
        event.at,
        'held',
        `${event.cause.kind}: ${event.cause.reason}`,
      );
      break;
    }
    case 'targetChanged': {
      const moved = applyResult(state, undefined, event.result);
      const rebased: RolloutState = {
        ...moved,
        headerRoutes: {},
        mirrors: {},
        targets: { ...moved.targets, stable: event.stable },
        action: undefined,
      };
      next = event.restart
        ? note(
            restartFromPrelude(plan, rebased),
            event.at,
            'targetChanged',
            `${event.reason}; starting again`,
          )
        : note(
            {
              ...rebased,
              held: {
                at: event.at,
                kind: 'targetChanged',
                side: 'stable',
                reason: event.reason,
                restart: true,
              },
            },
            event.at,
            'held',
            `targetChanged: ${event.reason}`,
          );
      break;
    }
    case 'adopted': {
      const moved = applyResult(state, undefined, event.result);
      next = note(
        { ...moved, ...(event.cleared ? { headerRoutes: {}, mirrors: {} } : {}), action: undefined },
        event.at,
        'adopted',
        event.reason,
      );
      break;
    }
    case 'regressed': {
      // Only a release waiting to retire its old version can regress; anything else is stale.
      if (state.phase !== 'succeeded' || state.cursor.section !== 'promotion') {
        next = state;
        break;
      }
      const { outcome: _o, finishedAt: _f, ...live } = state;
      next = beginAbort(plan, live, event.at, 'error', event.reason);
      break;
    }
    case 'rebased':
      next = note(
        { ...state, targets: { ...state.targets, stable: event.stable }, action: undefined },
        event.at,
        'rebased',
        event.reason,
      );
      break;
    case 'driver':
      next = note(
        { ...state, driver: { holder: event.holder, epoch: event.epoch, since: event.at } },
        event.at,
        'driver',
        `${event.holder} drives (epoch ${event.epoch})`,
      );
      break;
  }
  next = { ...next, seq: state.seq + 1, updatedAt: event.at };
  next.phase = derivePhase(plan, next);
  if (next.phase === 'succeeded') next.outcome = 'promoted';
  if (next.phase === 'aborted') next.outcome = 'rolledBack';
  if (TERMINAL_PHASES.has(next.phase) && !TERMINAL_PHASES.has(state.phase)) next.finishedAt = event.at;
  return next;
}

/**
 * One look's verdict for the inline analysis under the cursor or the background one. Both record
 * finished runs, pause on inconclusive and abort on failed/error; only an inline success moves the
 * cursor, and the background run is kept (it says why looks stopped).
 */
function applyAnalysis(
  plan: Plan,
  state: RolloutState,
  run: AnalysisRun,
  at: number,
  slot: 'analysis' | 'background',
): RolloutState {
  if (run.phase === 'running') return { ...state, [slot]: run };
  const done = { phase: run.phase, at, ...(run.message ? { message: run.message } : {}) };
  const recorded: RolloutState = {
    ...state,
    [slot]: slot === 'background' || run.phase === 'inconclusive' ? run : undefined,
    analyses: { ...state.analyses, [run.key]: done },
  };
  if (run.phase === 'successful') {
    const next = slot === 'analysis' ? advance(plan, recorded) : recorded;
    return note(next, at, 'analysis', `${run.key} successful`);
  }
  if (run.phase === 'inconclusive') {
    return note(
      { ...recorded, inconclusive: { at, key: run.key } },
      at,
      'analysis',
      `${run.key} inconclusive: paused for a human`,
    );
  }
  return beginAbort(
    plan,
    recorded,
    at,
    'analysis',
    `analysis ${run.key} ${run.phase}${run.message ? `: ${run.message}` : ''}`,
  );
}

/** An ended release started again from its prelude (retry, or promoteFull straight to promotion). */
function releaseAgain(plan: Plan, state: RolloutState, promoteFull: boolean): RolloutState {
  const { abort: _a, error: _e, outcome: _o, finishedAt: _f, held: _h, ...rest } = state;
  return {
    ...rest,
    cursor: settle(plan, { section: 'prelude', step: 0, action: 0 }, promoteFull),
    action: undefined,
    analysis: undefined,
    analyses: {},
    promoteFull,
    startedAt: undefined,
  };
}

function applyControl(state: RolloutState, control: Control, at: number, plan: Plan): RolloutState {
  switch (control.type) {
    case 'promote': {
      if (state.inconclusive?.key === 'background') {
        // The background verdict stands (no more looks); the steps go on from where they were.
        return note(
          { ...state, inconclusive: undefined },
          at,
          'promote',
          'past inconclusive background analysis',
        );
      }
      if (state.inconclusive) {
        return note(
          advance(plan, { ...state, inconclusive: undefined, analysis: undefined }),
          at,
          'promote',
          `past inconclusive ${state.inconclusive.key}`,
        );
      }
      return note(advance(plan, state), at, 'promote', 'past pause');
    }
    case 'promoteFull': {
      if (state.phase === 'aborted') {
        // After an abort: the canary is made again and, once ready, promoted without the steps.
        return note(
          releaseAgain(plan, state, true),
          at,
          'promoteFull',
          'from the beginning, straight to promotion',
        );
      }
      const flagged: RolloutState = {
        ...state,
        held: undefined,
        promoteFull: true,
        inconclusive: undefined,
        analysis: undefined,
      };
      if (state.cursor.section !== 'steps') return note(flagged, at, 'promoteFull');
      return note(
        {
          ...flagged,
          action: undefined,
          cursor: settle(plan, { section: 'promotion', step: 0, action: 0 }, false),
        },
        at,
        'promoteFull',
      );
    }
    case 'abort': {
      if (state.startedAt === undefined) {
        // Nothing was written yet: there is nothing to roll back.
        return note(
          {
            ...state,
            abort: { reason: control.reason, cause: control.cause ?? 'user', at, from: state.cursor },
            cursor: { section: 'done', step: 0, action: 0 },
            outcome: 'rolledBack',
          },
          at,
          'abort',
          `${control.cause ?? 'user'}: ${control.reason}`,
        );
      }
      return beginAbort(plan, state, at, control.cause ?? 'user', control.reason);
    }
    case 'retry': {
      if (state.phase === 'aborted') {
        // Argo's retry: start the steps again from the beginning (the canary was cleaned up).
        return note(releaseAgain(plan, state, false), at, 'retry', 'from the beginning');
      }
      // Failed mid-way: try the failed action again.
      const { error: _e, finishedAt: _f, ...rest } = state;
      return note({ ...rest, action: undefined }, at, 'retry', `from ${describeCursor(state.cursor)}`);
    }
    case 'pause':
      return note({ ...state, userPause: { at } }, at, 'pause');
    case 'resume':
      if (state.held?.restart) {
        return note(
          restartFromPrelude(plan, state),
          at,
          'resume',
          `after ${state.held.kind}: from the beginning`,
        );
      }
      if (state.held) {
        // Nothing was moved: the action that found the problem runs (and looks) again.
        return note(
          { ...state, userPause: undefined, held: undefined, action: undefined },
          at,
          'resume',
          `after ${state.held.kind}`,
        );
      }
      return note({ ...state, userPause: undefined }, at, 'resume');
    case 'skipStep': {
      const cursor = settle(
        plan,
        { section: 'steps', step: state.cursor.step + 1, action: 0 },
        state.promoteFull,
      );
      return note(
        { ...state, cursor, action: undefined, analysis: undefined, inconclusive: undefined },
        at,
        'skipStep',
        `skipped step ${state.cursor.step + 1}`,
      );
    }
  }
}
