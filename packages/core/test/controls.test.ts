import {
  awaitingDecision,
  type ControlType,
  isKanaryError,
  KanaryError,
  type Phase,
  type RolloutState,
} from '@kanary/core';
import { createMemoryStateStore, createMemoryWorkload, initialState } from '@kanary/core/testing';
import { describe, expect, it } from 'vitest';
import { harness, SPECS } from './harness.ts';

/** Runs rollouts that between them pass through every phase; returns one saved state per situation. */
async function statesByPhase(): Promise<Record<string, RolloutState>> {
  const found: Record<string, RolloutState> = {};
  const keep = (label: string, s: RolloutState) => {
    found[label] ??= s;
  };
  keep('pending', await harness('weighted').rollout.load());
  // A good run: pending → progressing → paused → analyzing → promoting → succeeded.
  const good = harness('weighted', { gate: { script: { quick: ['running', 'successful'] } } });
  await good.runToEnd();
  for (const { state } of good.store.history) {
    if (state.phase === 'progressing' && state.cursor.section === 'prelude')
      keep('progressing (prelude)', state);
    else if (state.phase === 'paused' && state.cursor.section === 'steps') keep('paused', state);
    else if (state.phase === 'progressing' && state.cursor.section === 'steps') keep('progressing', state);
    else keep(state.phase, state);
  }
  // An inconclusive analysis, then abort: paused (inconclusive), aborting, aborted.
  const unsure = harness('weighted', { gate: { script: { quick: ['inconclusive'] } } });
  unsure.rollout.on('state', (s) => {
    if (s.inconclusive) queueMicrotask(() => unsure.rollout.abort('not sure').catch(() => undefined));
  });
  await unsure.clock.run(unsure.rollout.run());
  for (const { state } of unsure.store.history) {
    if (state.inconclusive) keep('paused (inconclusive)', state);
    else keep(state.phase, state);
  }
  // The rollback itself fails: failed.
  const broken = harness('weighted', {
    faults: (method) =>
      method === 'reset' ? new KanaryError('ROUTER', 'webhook denied the write') : undefined,
  });
  broken.rollout.on('step', ({ index, state }) => {
    if (index === 1 && state.phase !== 'aborting')
      queueMicrotask(() => broken.rollout.abort('stop').catch(() => undefined));
  });
  const final = await broken.clock.run(broken.rollout.run());
  keep('failed', final);
  // Held by pause().
  const held = harness('weighted');
  held.rollout.once('step', () =>
    queueMicrotask(() => held.rollout.pause().then(() => held.rollout.abort('done'))),
  );
  await held.clock.run(held.rollout.run());
  for (const { state } of held.store.history) if (state.userPause) keep('paused (by user)', state);
  return found;
}

type Expect = Partial<Record<ControlType, Phase | 'refused'>>;
const CONTROLS: ControlType[] = ['promote', 'promoteFull', 'abort', 'retry', 'pause', 'resume', 'skipStep'];

/** For each situation: what each control leads to (the phase after it), or refused. */
const MATRIX: Record<string, Expect> = {
  pending: { promoteFull: 'pending', abort: 'aborted' },
  'progressing (prelude)': { promoteFull: 'progressing', abort: 'aborting', pause: 'paused' },
  // Step 1 (setWeight) is under way; skipping it lands on step 2, a pause.
  progressing: { promoteFull: 'promoting', abort: 'aborting', pause: 'paused', skipStep: 'paused' },
  paused: {
    promote: 'progressing',
    promoteFull: 'promoting',
    abort: 'aborting',
    pause: 'paused',
    skipStep: 'progressing',
  },
  'paused (by user)': {
    promoteFull: 'promoting',
    abort: 'aborting',
    resume: 'progressing',
    skipStep: 'paused',
  },
  'paused (inconclusive)': {
    promote: 'progressing',
    promoteFull: 'promoting',
    abort: 'aborting',
    pause: 'paused',
    skipStep: 'progressing',
  },
  analyzing: { promoteFull: 'promoting', abort: 'aborting', pause: 'paused', skipStep: 'progressing' },
  promoting: { abort: 'aborting' },
  succeeded: {},
  aborting: {},
  // promoteFull() after an abort (as in Argo): the release again, straight to promotion.
  aborted: { retry: 'pending', promoteFull: 'pending' },
  failed: { abort: 'aborting', retry: 'aborting' },
};

describe('controls in every phase', async () => {
  const states = await statesByPhase();

  it('reaches every phase', () => {
    const phases = new Set(Object.values(states).map((s) => s.phase));
    for (const p of [
      'pending',
      'progressing',
      'paused',
      'analyzing',
      'promoting',
      'succeeded',
      'aborting',
      'aborted',
      'failed',
    ]) {
      expect(phases, p).toContain(p);
    }
  });

  for (const [situation, expected] of Object.entries(MATRIX)) {
    for (const control of CONTROLS) {
      const outcome = expected[control] ?? 'refused';
      it(`${situation}: ${control}() → ${outcome}`, async () => {
        const saved = states[situation];
        expect(saved, `no state captured for ${situation}`).toBeDefined();
        const store = createMemoryStateStore();
        const key = { namespace: 'shop', name: 'shop' };
        await store.save(key, saved as RolloutState, undefined);
        const h = harness('weighted', { store });
        // Recorded only: carrying a control out with nobody driving is tested in drivers.test.ts.
        const call = () =>
          control === 'abort'
            ? h.rollout.abort('test', { wait: false })
            : control === 'retry'
              ? h.rollout.retry({ wait: false })
              : control === 'promoteFull'
                ? h.rollout.promoteFull({ wait: false })
                : (h.rollout[control] as () => Promise<RolloutState>)();
        if (outcome === 'refused') {
          const error = await call().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(
            isKanaryError(error, 'INVALID_CONTROL'),
            `${control} in ${situation} should be refused`,
          ).toBe(true);
          expect((error as Error).message).toMatch(new RegExp(`^${control}\\(\\) refused: .{10,}`));
          // Refused means nothing written.
          expect(store.history).toHaveLength(1);
        } else {
          const after = await call();
          expect(after.phase).toBe(outcome);
          expect((await store.load(key))?.state.seq).toBe((saved as RolloutState).seq + 1);
        }
      });
    }
  }
});

describe('phase transitions', () => {
  it('a good rollout goes pending → progressing → paused/analyzing → promoting → succeeded', async () => {
    const h = harness('weighted', { gate: { script: { quick: ['running', 'successful'] } } });
    const seen: string[] = [];
    h.rollout.on('phase', ({ from, to }) => seen.push(`${from}→${to}`));
    const final = await h.runToEnd();
    expect(final.phase).toBe('succeeded');
    expect(seen[0]).toBe('pending→progressing');
    expect(seen).toContain('progressing→paused');
    expect(seen).toContain('paused→progressing');
    expect(seen).toContain('progressing→analyzing');
    expect(seen).toContain('analyzing→progressing');
    expect(seen.at(-2)).toBe('progressing→promoting');
    expect(seen.at(-1)).toBe('promoting→succeeded');
    expect(h.router?.current).toMatchObject({ weight: 0, headerRoutes: {}, mirrors: {} });
    expect(h.workload.world.stable.image).toBe('shop:2');
    expect(h.workload.world.canary).toBeUndefined();
  });

  it('a failed analysis aborts: traffic back to stable first, then the canary goes', async () => {
    const h = harness('weighted', { gate: { script: { quick: ['running', 'failed'] } } });
    const seen: string[] = [];
    h.rollout.on('phase', ({ to }) => seen.push(to));
    const aborts: string[] = [];
    h.rollout.on('abort', ({ reason, cause }) => aborts.push(`${cause}: ${reason}`));
    const final = await h.runToEnd();
    expect(final.phase).toBe('aborted');
    expect(final.outcome).toBe('rolledBack');
    expect(final.abort?.cause).toBe('analysis');
    expect(aborts).toEqual(['analysis: analysis steps[3] failed: scripted failed (evaluation 2)']);
    expect(seen.slice(-3)).toEqual(['analyzing', 'aborting', 'aborted']);
    const afterFailure = h.journal.slice(
      h.journal.findIndex((j) => j.port === 'gate' && j.args[1] === 1) + 1,
    );
    // The stable's template is put back first, which before promotion writes nothing (it was never
    // changed), so the first write is the one moving every user back to stable.
    expect(afterFailure.slice(0, 2).map((j) => `${j.port}.${j.method}`)).toEqual([
      'workload.restoreStable',
      'router.reset',
    ]);
    expect(h.workload.world.stable.image).toBe('v1');
    expect(h.workload.world.canary).toBeUndefined();
  });

  it('an error analysis aborts too; an inconclusive one pauses until promote()', async () => {
    const err = harness('weighted', { gate: { script: { quick: ['error'] } } });
    expect((await err.runToEnd()).abort?.reason).toMatch(/analysis steps\[3\] error/);
    const unsure = harness('weighted', { gate: { script: { quick: ['inconclusive'] } } });
    const phases: string[] = [];
    unsure.rollout.on('phase', ({ to }) => phases.push(to));
    const final = await unsure.runToEnd();
    expect(final.phase).toBe('succeeded');
    expect(final.analyses['steps[3]']?.phase).toBe('inconclusive');
    expect(final.history.some((h) => h.event === 'promote' && h.detail?.includes('inconclusive'))).toBe(true);
  });

  it('retry() after an abort starts again from the beginning and can succeed', async () => {
    let verdict: 'failed' | 'successful' = 'failed';
    const h = harness('weighted');
    const gateCalls: string[] = [];
    const rollout = h.restart({
      gate: {
        name: 'switchable',
        async evaluate({ now }) {
          gateCalls.push(verdict);
          return { state: {}, phase: verdict, measurements: [{ metric: 'm', at: now, phase: verdict }] };
        },
      },
    });
    const first = await h.runToEnd(rollout);
    expect(first.phase).toBe('aborted');
    verdict = 'successful';
    // Recorded only; run() then drives it (retry() with no driver would drive it itself).
    expect((await rollout.retry({ wait: false })).phase).toBe('pending');
    const second = await h.runToEnd(rollout);
    expect(second.phase).toBe('succeeded');
    expect(gateCalls).toEqual(['failed', 'successful']);
  });

  it('promoteFull() after an abort makes the canary again and promotes it without the steps, carried out by the caller', async () => {
    const h = harness('weighted', { gate: { script: { quick: ['failed'] } } });
    const first = await h.runToEnd();
    expect(first.phase).toBe('aborted');
    // Another process (the CLI): nobody drives an aborted rollout, so this one does.
    const cli = h.restart();
    const steps: number[] = [];
    cli.on('step', ({ index }) => steps.push(index));
    const final = await h.clock.run(cli.promoteFull());
    expect(final.phase).toBe('succeeded');
    expect(final.outcome).toBe('promoted');
    expect(steps).toEqual([]);
    expect(final.history.map((e) => e.detail)).toContain('from the beginning, straight to promotion');
    expect(h.workload.world.stable.image).toBe('shop:2');
  });

  it('failed: a rollback that cannot complete stops in failed; retry() finishes it once the fault clears', async () => {
    let broken = true;
    const h = harness('weighted', {
      faults: (method) =>
        broken && method === 'reset' ? new KanaryError('ROUTER', 'admission webhook denied') : undefined,
    });
    h.rollout.once('step', () => queueMicrotask(() => h.rollout.abort('operator said so')));
    const stuck = await h.clock.run(h.rollout.run());
    expect(stuck.phase).toBe('failed');
    expect(stuck.error?.message).toMatch(/admission webhook denied/);
    expect(stuck.cursor.section).toBe('abort');
    broken = false;
    // Nobody drives now: retry() takes the lease and carries the abort section out itself.
    const final = await h.clock.run(h.rollout.retry());
    expect(final.phase).toBe('aborted');
    expect(h.router?.current.weight).toBe(0);
  });

  it('progress deadline: a canary that never gets ready aborts with cause deadline', async () => {
    const h = harness('weighted', {
      spec: { ...SPECS.weighted, progressDeadline: '2m', update: { image: 'broken:1' } },
    });
    const workload = createMemoryWorkload({
      clock: h.clock,
      neverReady: ['broken:1'],
      stable: { name: 'shop', image: 'v1' },
    });
    const final = await h.clock.run(h.restart({ workload }).run());
    expect(final.phase).toBe('aborted');
    expect(final.abort?.cause).toBe('deadline');
    expect(final.abort?.reason).toMatch(/no progress within 120000ms/);
    expect(workload.world.canary).toBeUndefined();
  });

  it('with progressDeadlineAbort: false a stuck rollout fails without rolling back, and can be retried', async () => {
    const h = harness('weighted', {
      spec: {
        ...SPECS.weighted,
        progressDeadline: '1m',
        progressDeadlineAbort: false,
        update: { image: 'slow:1' },
      },
    });
    const w = createMemoryWorkload({
      clock: h.clock,
      neverReady: ['slow:1'],
      stable: { name: 'shop', image: 'v1' },
    });
    const r = h.restart({ workload: w });
    const stuck = await h.clock.run(r.run());
    expect(stuck.phase).toBe('failed');
    expect(stuck.error?.code).toBe('PROGRESS_DEADLINE');
    expect(w.world.canary).toBeDefined();
    await expect(r.promote()).rejects.toThrow(/promote\(\) refused/);
    const aborted = await r.abort('giving up', { wait: false });
    expect(aborted.phase).toBe('aborting');
    expect((await h.clock.run(r.run())).phase).toBe('aborted');
    expect(w.world.canary).toBeUndefined();
  });
});

describe('awaitingDecision', () => {
  const base = { ...initialState({ namespace: 'shop', name: 'shop' }, 'x', 0), startedAt: 0 };
  it.each([
    ['an untimed pause', { phase: 'paused', action: { startedAt: 0, attempts: 0 } }, 'pause'],
    [
      'an inconclusive analysis',
      { phase: 'paused', inconclusive: { at: 0, key: 'steps[1]' } },
      'inconclusive',
    ],
    ['a timed pause', { phase: 'paused', action: { startedAt: 0, attempts: 0, until: 60_000 } }, undefined],
    [
      'a pause() by a user',
      { phase: 'paused', userPause: { at: 0 }, action: { startedAt: 0, attempts: 0 } },
      undefined,
    ],
    ['a running step', { phase: 'progressing', action: { startedAt: 0, attempts: 0 } }, undefined],
  ] as const)('%s → %s', (_what, fields, expected) => {
    expect(awaitingDecision({ ...base, ...fields } as RolloutState)).toBe(expected);
  });

  it('holds at the plan’s untimed pause of a real run, and promote() releases it', async () => {
    const h = harness('weighted');
    const seen: Array<string | undefined> = [];
    h.rollout.on('state', (s) => seen.push(awaitingDecision(s)));
    expect((await h.runToEnd()).phase).toBe('succeeded');
    expect(seen).toContain('pause');
    expect(seen.at(-1)).toBeUndefined();
  });
});
