// The pure heart, called directly: `reduce` (state × event → state) and `decide` (plan × state ×
// time → what comes next), with no ports, no clock and no store.
import { parseRolloutSpec, type RolloutState } from '@kanary/core';
import { initialState } from '@kanary/core/testing';
import { describe, expect, it } from 'vitest';
import { checkControl } from '../src/engine/controls.ts';
import { decide } from '../src/engine/decide.ts';
import { type EngineEvent, reduce } from '../src/engine/reducer.ts';
import { harness, SPECS } from './harness.ts';

const T0 = 1_767_225_600_000;
// The harness's weighted release with steps of its own: two weights, a timed and an untimed pause.
const spec = parseRolloutSpec({
  ...SPECS.weighted,
  steps: [
    { setWeight: 10 },
    { pause: { duration: '5m' } },
    { setWeight: 50 },
    { pause: {} },
    { setWeight: 100 },
  ],
});
const plan = harness('weighted', { spec }).rollout.plan();
const ctx = { plan, spec };
const start = () =>
  reduce(initialState({ namespace: 'shop', name: 'shop' }, 'digest', T0), { type: 'start', at: T0 }, ctx);

/** Deep-frozen, so a reducer that changed its input would throw. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Drives the plan with nothing but `decide` and `reduce`: every action completes at once, holds
 * are waited out exactly (a hold without an end is released by `release`, e.g. a person's
 * promote), and every state is checked to be a new object.
 */
function walk(from: RolloutState, release: (s: RolloutState, now: number) => EngineEvent | undefined) {
  let state = frozen(from);
  let now = from.startedAt ?? T0;
  const seen: Array<{ at: number; phase: string; section: string; step: number; weight: number }> = [];
  for (let i = 0; i < 500; i++) {
    const d = decide(plan, state, now);
    let event: EngineEvent | undefined;
    if (d.kind === 'stop') return { state, seen };
    if (d.kind === 'event') event = d.event;
    else if (d.kind === 'run') {
      const weight = d.action.type === 'router.setWeight' ? d.action.weight : undefined;
      event = {
        type: 'actionCompleted',
        at: now,
        ...(weight !== undefined
          ? { result: { router: { canaryWeight: weight, verified: true, headerRoutes: [], mirrors: [] } } }
          : {}),
      };
    } else if (d.kind === 'hold') {
      if (d.until !== undefined) {
        now = d.until;
        continue;
      }
      event = release(state, now);
      if (!event) throw new Error(`held for good: ${d.reason}`);
    } else throw new Error(`unexpected ${d.kind}`);
    const next = frozen(reduce(state, event, ctx));
    expect(next).not.toBe(state);
    state = next;
    seen.push({
      at: now - T0,
      phase: state.phase,
      section: state.cursor.section,
      step: state.cursor.step,
      weight: state.weights.canary,
    });
  }
  throw new Error('no end in 500 decisions');
}

describe('reduce and decide, called directly', () => {
  it('walk a weighted plan: each step in order, the timed pause waited out to the millisecond, the untimed one until promote()', () => {
    const { state, seen } = walk(start(), (_s, now) => ({
      type: 'control',
      at: now,
      control: { type: 'promote' },
    }));
    expect(state.phase).toBe('succeeded');
    expect(state.outcome).toBe('promoted');
    // Weights only ever go up along the steps, and each is reached in its own step.
    const steps = seen.filter((s) => s.section === 'steps');
    const weightAt = (step: number) => steps.filter((s) => s.step === step).map((s) => s.weight);
    expect(weightAt(1).every((w) => w === 10)).toBe(true);
    expect(weightAt(3).every((w) => w === 50)).toBe(true);
    const pauseEnd = seen.find((s) => s.section === 'steps' && s.step === 2);
    expect(pauseEnd?.at).toBe(5 * 60_000);
    expect(seen.some((s) => s.phase === 'paused')).toBe(true);
    expect(seen.map((s) => s.section)).toContain('promotion');
  });

  it('decide over time at a timed pause: hold until its end, then complete it; the same answer after a restart', () => {
    let state = start();
    const now = T0;
    for (
      let i = 0;
      i < 20 && !(state.cursor.section === 'steps' && state.cursor.step === 1 && state.action);
      i++
    ) {
      const d = decide(plan, state, now);
      if (d.kind === 'event') state = reduce(state, d.event, ctx);
      else if (d.kind === 'run') state = reduce(state, { type: 'actionCompleted', at: now }, ctx);
      else throw new Error(d.kind);
    }
    const startedAt = state.action?.startedAt as number;
    const cases: Array<[number, string, number | undefined]> = [
      [startedAt, 'hold', startedAt + 300_000],
      [startedAt + 299_999, 'hold', startedAt + 300_000],
      [startedAt + 300_000, 'event', undefined],
      [startedAt + 3_600_000, 'event', undefined],
    ];
    for (const [at, kind, until] of cases) {
      const d = decide(plan, state, at);
      expect(d.kind, `at +${at - startedAt} ms`).toBe(kind);
      if (d.kind === 'hold') expect(d.until).toBe(until);
      if (d.kind === 'event') expect(d.event.type).toBe('actionCompleted');
      // A resumed process deciding from the saved state (a copy) reaches the same decision.
      expect(decide(plan, structuredClone(state), at)).toEqual(d);
    }
  });

  const phases: Array<[string, () => RolloutState]> = [
    ['progressing in the prelude', start],
    ['paused at the untimed pause', () => walkTo((s) => s.phase === 'paused' && s.cursor.step === 3)],
    ['promoting', () => walkTo((s) => s.phase === 'promoting')],
  ];
  function walkTo(stop: (s: RolloutState) => boolean): RolloutState {
    let state = start();
    let now = T0;
    for (let i = 0; i < 200; i++) {
      if (stop(state)) return state;
      const d = decide(plan, state, now);
      if (d.kind === 'event') state = reduce(state, d.event, ctx);
      else if (d.kind === 'run') {
        const w = d.action.type === 'router.setWeight' ? d.action.weight : undefined;
        state = reduce(
          state,
          {
            type: 'actionCompleted',
            at: now,
            ...(w !== undefined
              ? { result: { router: { canaryWeight: w, verified: true, headerRoutes: [], mirrors: [] } } }
              : {}),
          },
          ctx,
        );
      } else if (d.kind === 'hold' && d.until !== undefined) now = d.until;
      else if (d.kind === 'hold')
        state = reduce(state, { type: 'control', at: now, control: { type: 'promote' } }, ctx);
      else throw new Error(d.kind);
    }
    throw new Error('not reached');
  }

  it.each(phases)('abort from %s: the abort section, its reason kept, and decide runs it next', (_, at) => {
    const before = frozen(at());
    const after = reduce(
      before,
      { type: 'control', at: T0 + 1, control: { type: 'abort', reason: 'errors' } },
      ctx,
    );
    expect(after.phase).toBe('aborting');
    expect(after.cursor.section).toBe('abort');
    expect(after.abort?.reason).toBe('errors');
    expect(after.history.at(-1)?.event).toBe('abort');
    expect(after.history.at(-1)?.seq).toBe((before.history.at(-1)?.seq ?? 0) + 1);
    expect(['run', 'event']).toContain(decide(plan, after, T0 + 1).kind);
    const { state } = walk(after, () => undefined);
    expect(state.phase).toBe('aborted');
    expect(state.outcome).toBe('rolledBack');
  });

  it.each(phases)('pause() from %s holds without an end until resume(); nothing else changes', (name, at) => {
    const before = frozen(at());
    const paused = reduce(before, { type: 'control', at: T0 + 1, control: { type: 'pause' } }, ctx);
    expect(paused.cursor).toEqual(before.cursor);
    expect(paused.weights).toEqual(before.weights);
    const d = decide(plan, paused, T0 + 10 ** 9);
    if (name === 'promoting') {
      // Promotion is never held: once started it runs to the end.
      expect(d.kind).not.toBe('hold');
      return;
    }
    expect(d.kind).toBe('hold');
    expect(d.kind === 'hold' && d.until).toBeUndefined();
    const resumed = reduce(paused, { type: 'control', at: T0 + 2, control: { type: 'resume' } }, ctx);
    expect(resumed.userPause ?? false).toBe(false);
  });

  it('an action that fails aborts with its cause; a failure in the abort section fails the release for a person', () => {
    const running = frozen(walkTo((s) => s.cursor.section === 'steps' && s.cursor.step === 2));
    const failed = reduce(
      running,
      { type: 'actionFailed', at: T0 + 1, error: { code: 'ROUTER', message: 'no route' }, cause: 'error' },
      ctx,
    );
    expect(failed.phase).toBe('aborting');
    expect(failed.abort?.cause).toBe('error');
    const inAbort = reduce(
      failed,
      {
        type: 'actionFailed',
        at: T0 + 2,
        error: { code: 'ROUTER', message: 'still no route' },
        cause: 'error',
      },
      ctx,
    );
    expect(inAbort.phase).toBe('failed');
    expect(decide(plan, inAbort, T0 + 3).kind).toBe('stop');
  });

  describe('reduce over phase × event', () => {
    const complete = (state: RolloutState): RolloutState => walk(state, () => undefined).state;
    const err = { code: 'ROUTER', message: 'boom', retryable: false } as const;
    // One state in each phase a release passes through, each reached by the reducer itself.
    const states: Record<string, () => RolloutState> = {
      pending: () => initialState({ namespace: 'shop', name: 'shop' }, 'digest', T0),
      progressing: start,
      paused: () => walkTo((s) => s.phase === 'paused' && s.cursor.step === 3),
      promoting: () => walkTo((s) => s.phase === 'promoting'),
      aborting: () =>
        reduce(start(), { type: 'control', at: T0, control: { type: 'abort', reason: 'x' } }, ctx),
      succeeded: () =>
        walk(start(), (_, now) => ({ type: 'control', at: now, control: { type: 'promote' } })).state,
      aborted: () =>
        complete(reduce(start(), { type: 'control', at: T0, control: { type: 'abort', reason: 'x' } }, ctx)),
      failed: () => {
        const aborting = reduce(
          start(),
          { type: 'control', at: T0, control: { type: 'abort', reason: 'x' } },
          ctx,
        );
        return reduce(aborting, { type: 'actionFailed', at: T0 + 1, error: err, cause: 'error' }, ctx);
      },
    };
    const at = T0 + 10 ** 7;
    const events: Record<string, EngineEvent> = {
      actionCompleted: { type: 'actionCompleted', at },
      actionFailed: { type: 'actionFailed', at, error: err, cause: 'error' },
      abort: { type: 'control', at, control: { type: 'abort', reason: 'y' } },
      pause: { type: 'control', at, control: { type: 'pause' } },
      promote: { type: 'control', at, control: { type: 'promote' } },
      held: {
        type: 'held',
        at,
        cause: { kind: 'unready', side: 'canary', reason: 'no pods', restart: false },
      },
      regressed: { type: 'regressed', at, reason: 'green stopped serving' },
      driver: { type: 'driver', at, holder: 'b', epoch: 7 },
      actionWaiting: { type: 'actionWaiting', at, retryAt: at + 1000 },
      resume: { type: 'control', at, control: { type: 'resume' } },
      retry: { type: 'control', at, control: { type: 'retry' } },
      skipStep: { type: 'control', at, control: { type: 'skipStep' } },
      promoteFull: { type: 'control', at, control: { type: 'promoteFull' } },
      targetChanged: {
        type: 'targetChanged',
        at,
        stable: { name: 'shop', podLabels: { app: 'shop' }, podTemplateHash: 'h2' },
        restart: false,
        reason: 'someone set an image',
      },
      rerouted: {
        type: 'rerouted',
        at,
        result: { router: { canaryWeight: 30, verified: true, headerRoutes: [], mirrors: [] } },
        reason: 'moved',
      },
    };
    // The phase each event leads to from each phase, where the event can arrive there (controls
    // only where `checkControl` allows them; the engine never sends the others).
    const table = Object.entries(states).map(([phase, make]) => {
      const state = frozen(make());
      expect(state.phase).toBe(phase);
      return {
        phase,
        row: Object.fromEntries(
          Object.entries(events).map(([name, event]) => {
            if (event.type === 'control' && checkControl(plan, state, event.control)) return [name, '–'];
            if (event.type.startsWith('action')) {
              // An action's outcome arrives only after `decide` said to run one (once it was started).
              const d = decide(plan, state, at);
              const started =
                d.kind === 'event' && d.event.type === 'actionStarted'
                  ? frozen(reduce(state, d.event, ctx))
                  : state;
              if (decide(plan, started, at).kind !== 'run') return [name, '–'];
              return [name, reduce(started, event, ctx).phase];
            }
            return [name, reduce(state, event, ctx).phase];
          }),
        ),
      };
    });

    it('matches the written table', () => {
      // rows: from; columns: the events above, in order ('–': it cannot arrive in that phase):
      // actionCompleted, actionFailed, abort, pause, promote, held, regressed, driver, actionWaiting,
      // resume, retry, skipStep, promoteFull, targetChanged, rerouted.
      const expected: Record<string, string[]> = {
        // biome-ignore format: a table
        pending:     ['–',           '–',        'aborted',  '–',      '–',           'pending',   'pending',     'pending',     '–',           '–', '–',        '–',           'pending',     'pending',     'pending'],
        // biome-ignore format: a table
        progressing: ['progressing', 'aborting', 'aborting', 'paused', '–',           'paused',    'progressing', 'progressing', 'progressing', '–', '–',        '–',           'progressing', 'paused',      'progressing'],
        // biome-ignore format: a table
        paused:      ['–',           '–',        'aborting', 'paused', 'progressing', 'paused',    'paused',      'paused',      '–',           '–', '–',        'progressing', 'promoting',   'paused',      'paused'],
        // biome-ignore format: a table
        promoting:   ['promoting',   'aborting', 'aborting', '–',      '–',           'paused',    'promoting',   'promoting',   'promoting',   '–', '–',        '–',           '–',           'paused',      'promoting'],
        // biome-ignore format: a table
        aborting:    ['aborting',    'failed',   '–',        '–',      '–',           'aborting',  'aborting',    'aborting',    'aborting',    '–', '–',        '–',           '–',           'aborting',    'aborting'],
        // biome-ignore format: a table
        succeeded:   ['–',           '–',        '–',        '–',      '–',           'succeeded', 'succeeded',   'succeeded',   '–',           '–', '–',        '–',           '–',           'succeeded',   'succeeded'],
        // biome-ignore format: a table
        aborted:     ['–',           '–',        '–',        '–',      '–',           'aborted',   'aborted',     'aborted',     '–',           '–', 'pending',  '–',           'pending',     'aborted',     'aborted'],
        // biome-ignore format: a table
        failed:      ['–',           '–',        'aborting', '–',      '–',           'failed',    'failed',      'failed',      '–',           '–', 'aborting', '–',           '–',           'failed',      'failed'],
      };
      expect(Object.fromEntries(table.map(({ phase, row }) => [phase, Object.values(row)]))).toEqual(
        expected,
      );
    });

    it("a finished release stays finished whatever arrives; only a person's control starts it again", () => {
      for (const phase of ['succeeded', 'aborted', 'failed']) {
        const state = frozen((states[phase] as () => RolloutState)());
        for (const [name, event] of Object.entries(events)) {
          // Controls are checked before they are reduced: only those allowed here.
          if (event.type === 'control' && checkControl(plan, state, event.control)) continue;
          // Delivered even where the engine sends no such event (a stale outcome, a late look).
          const next = reduce(state, event, ctx);
          // retry() or promoteFull() after an abort begins the release again; abort() or retry() of a failed abort runs it again.
          if (event.type === 'control')
            expect(['pending', 'aborting'], `${phase} + ${name}`).toContain(next.phase);
          else if (event.type.startsWith('action')) expect(next, `${phase} + ${name}`).toBe(state);
          else expect(next.phase, `${phase} + ${name}`).toBe(phase);
        }
      }
    });
  });
});
