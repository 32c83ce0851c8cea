import type { RolloutState, StateStore } from '@kanary/core';
import {
  createMemoryLock,
  createMemoryStateStore,
  type JournalEntry,
  type MemoryStateStore,
} from '@kanary/core/testing';
import { describe, expect, it } from 'vitest';
import { harness, SPECS } from './harness.ts';

const STRATEGIES = Object.keys(SPECS) as Array<keyof typeof SPECS>;
const CRASH = 'simulated crash';

/** A store that lets the n-th save land and then "kills the process" by throwing. */
function crashAfter(inner: MemoryStateStore, n: number): StateStore {
  let saves = 0;
  return {
    load: (key) => inner.load(key),
    async save(key, state, expected) {
      const revision = await inner.save(key, state, expected);
      saves += 1;
      if (saves === n) throw new Error(CRASH);
      return revision;
    },
  };
}

/** The state without the record of who drove it: a resumed run has one takeover more. */
const sansTakeovers = (s: RolloutState) => {
  const { driver: _d, seq: _s, history, ...rest } = s;
  return { ...rest, history: history.filter((h) => h.event !== 'driver').map(({ seq: _q, ...h }) => h) };
};

const describeJournal = (j: JournalEntry[]) =>
  j.map((e) => `${e.port}.${e.method}(${JSON.stringify(e.args)})`);

/** Methods that may run twice when a process dies between doing them and recording it. */
const IDEMPOTENT = /^(router|workload)\.|^gate\.evaluate/;

async function uninterrupted(strategy: keyof typeof SPECS) {
  const h = harness(strategy, {
    gate: { script: { quick: ['running', 'successful'], half: ['running', 'running', 'successful'] } },
  });
  const final = await h.runToEnd();
  return { final, journal: describeJournal(h.journal), saves: h.store.history.map((e) => e.state) };
}

async function crashAndResume(strategy: keyof typeof SPECS, crashAt: number) {
  const inner = createMemoryStateStore();
  const h = harness(strategy, {
    store: crashAfter(inner, crashAt),
    gate: { script: { quick: ['running', 'successful'], half: ['running', 'running', 'successful'] } },
  });
  const firstRun = await h.runToEnd().then(
    () => 'finished',
    (e: Error) => e.message,
  );
  expect(firstRun).toBe(CRASH);
  // A new process: new Rollout object, the same cluster (world) and the same stored state.
  const resumed = h.restart({ store: inner });
  const final = await h.runToEnd(resumed);
  return { final, journal: describeJournal(h.journal) };
}

describe('resume after the driving process dies', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: resuming from every step boundary repeats nothing and ends the same`, async () => {
      const reference = await uninterrupted(strategy);
      expect(reference.final.phase).toBe('succeeded');
      // Saves where a step (or section) begins: the state persisted at each step boundary.
      const boundaries = reference.saves
        .map((s, i) => ({ s, n: i + 1 }))
        .filter(({ s }, i) => {
          const prev = reference.saves[i - 1];
          return (
            s.cursor.action === 0 &&
            (!prev || prev.cursor.step !== s.cursor.step || prev.cursor.section !== s.cursor.section)
          );
        });
      expect(boundaries.length).toBeGreaterThanOrEqual(3);
      for (const { n } of boundaries) {
        const resumed = await crashAndResume(strategy, n);
        expect(sansTakeovers(resumed.final), `crash after save ${n}`).toEqual(sansTakeovers(reference.final));
        expect(resumed.journal, `crash after save ${n}`).toEqual(reference.journal);
      }
    });

    it(`${strategy}: resuming from any save repeats at most the idempotent action in flight`, async () => {
      const reference = await uninterrupted(strategy);
      for (let n = 1; n <= reference.saves.length; n++) {
        const resumed = await crashAndResume(strategy, n);
        expect(resumed.final.phase, `crash after save ${n}`).toBe('succeeded');
        expect(resumed.final.cursor).toEqual(reference.final.cursor);
        expect(resumed.final.weights).toEqual(reference.final.weights);
        // The resumed journal is the reference one with, at most, repeated idempotent calls.
        const extra = [...resumed.journal];
        for (const call of reference.journal) {
          const at = extra.indexOf(call);
          expect(at, `crash after save ${n}: ${call} missing`).toBeGreaterThanOrEqual(0);
          for (const skipped of extra.splice(0, at + 1).slice(0, -1)) {
            expect(skipped, `crash after save ${n}: unexpected ${skipped}`).toMatch(IDEMPOTENT);
          }
        }
        expect(extra).toEqual([]);
      }
    });
  }

  it('pause timers resume from the persisted start, not from the restart', async () => {
    const inner = createMemoryStateStore();
    const h = harness('weighted', {
      store: inner,
      spec: {
        ...SPECS.weighted,
        steps: [{ setWeight: 10 }, { pause: { duration: '10m' } }, { setWeight: 50 }],
      },
    });
    let pausedAt = 0;
    h.rollout.on('phase', ({ to }) => {
      if (to === 'paused') pausedAt = h.clock.now();
    });
    // Let it reach the pause, then "die" 4 minutes in.
    const first = h.rollout.run();
    first.catch(() => undefined);
    while (pausedAt === 0) await h.clock.advanceToNext();
    await h.clock.advance(4 * 60_000);
    const resumedAfter = h.clock.now();
    // The first process stops (its lease released); a new one resumes from the saved state.
    await h.clock.run(h.rollout.close());
    const second = h.restart();
    let weight50At = 0;
    second.on('weight', ({ canary }) => {
      if (canary === 50) weight50At = h.clock.now();
    });
    const final = await h.clock.run(second.run());
    void first;
    expect(final.phase).toBe('succeeded');
    // 10 minutes after the pause began, not 10 minutes after the restart.
    expect(weight50At - pausedAt).toBe(10 * 60_000);
    expect(weight50At).toBeLessThan(resumedAfter + 10 * 60_000);
  });

  it('refuses another spec while a rollout is in progress, and writes nothing', async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', { store });
    const waiting = new Promise<void>((resolve) =>
      h.rollout.on('state', (s) => {
        if (s.phase === 'paused' && s.action !== undefined && s.action.until === undefined) resolve();
      }),
    );
    const running = h.rollout.run();
    await h.clock.run(waiting);
    const before = await store.load(h.rollout.key);
    const other = harness('weighted', {
      store,
      clock: h.clock,
      world: { workload: h.workload, router: h.router },
      spec: { ...SPECS.weighted, update: { image: 'shop:3' } },
    });
    // Another process (its lock aside) loading the state finds it belongs to the release in flight.
    await expect(other.rollout.load()).rejects.toMatchObject({
      code: 'INVALID_STATE',
      issues: [{ message: 'the spec changed while a rollout was paused' }],
    });
    expect((await store.load(h.rollout.key))?.revision).toBe(before?.revision);
    await h.rollout.abort('cleanup');
    expect((await h.clock.run(running)).phase).toBe('aborted');
  });

  it('run() with a new spec while a release is in flight rolls that one back through its live driver, then releases the new one', async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', { store });
    const waiting = new Promise<void>((resolve) =>
      h.rollout.on('state', (s) => {
        if (s.phase === 'paused' && s.action !== undefined && s.action.until === undefined) resolve();
      }),
    );
    const running = h.clock.run(h.rollout.run());
    await h.clock.run(waiting);
    const next = harness('weighted', {
      store,
      clock: h.clock,
      world: { workload: h.workload, router: h.router },
      spec: { ...SPECS.weighted, update: { image: 'shop:3' } },
    });
    const warnings: string[] = [];
    next.rollout.on('warning', (w) => warnings.push(w.message));
    const final = await next.runToEnd();
    const first = await running;
    expect(first.phase).toBe('aborted');
    expect(first.abort?.reason).toBe('superseded by a new spec for the same rollout');
    expect(warnings.join('\n')).toMatch(/supersedes the release in flight \(paused\)/);
    expect(final.phase).toBe('succeeded');
    expect(h.workload.world.stable.image).toBe('shop:3');
  });

  it('a new spec during the scale-down delay after a blue-green switch retires the old version at once, then starts the new one', async () => {
    const store = createMemoryStateStore();
    const spec = { ...SPECS.blueGreen, scaleDownDelay: '5m' };
    const gate = { script: { smoke: ['successful' as const], after: ['successful' as const] } };
    const h = harness('blueGreen', { store, spec, gate });
    const lock = createMemoryLock({ clock: h.clock });
    const first = h.restart({ lock, holder: 'first' });
    const delaying = new Promise<void>((resolve) =>
      first.on('state', (s) => {
        if (s.cursor.section === 'promotion' && s.action?.until !== undefined) resolve();
      }),
    );
    const running = h.clock.run(first.run());
    await h.clock.run(delaying);
    const next = harness('blueGreen', {
      store,
      clock: h.clock,
      world: { workload: h.workload, router: h.router },
      spec: { ...spec, update: { image: 'localhost:5001/py-http:3' } },
      gate,
    });
    const warnings: string[] = [];
    const second = next.restart({ lock, holder: 'second' });
    second.on('warning', (w) => warnings.push(w.message));
    const started = new Promise<RolloutState>((resolve) =>
      second.on('state', (st) => st.cursor.section === 'steps' && resolve(st)),
    );
    const asked = h.clock.now();
    const secondRun = h.clock.run(second.run());
    const begun = await h.clock.run(started);
    // Long before the 5 minutes were up: the delay no longer blocks the next release.
    expect(h.clock.now() - asked).toBeLessThan(60_000);
    // Not rolled back: the switch was made, and the release it belongs to ended as promoted.
    expect((await running).phase).toBe('succeeded');
    expect(warnings.join('\n')).toMatch(/scaling its old version down now/);
    expect(begun.specDigest).not.toBe((await running).specDigest);
    await second.abort('done');
    expect((await secondRun).phase).toBe('aborted');
  });

  it.each([
    ['promoted', 'succeeded'],
    ['rolled back', 'aborted'],
  ] as const)('starts the next release once the last one was %s', async (_how, phase) => {
    const store = createMemoryStateStore();
    const h = harness('weighted', {
      store,
      ...(phase === 'aborted' ? { gate: { script: { quick: ['failed'] } } } : {}),
    });
    const last = await h.runToEnd();
    expect(last.phase).toBe(phase);
    const next = harness('weighted', {
      store,
      clock: h.clock,
      world: { workload: h.workload, router: h.router },
      spec: { ...SPECS.weighted, update: { image: 'shop:3' } },
    });
    const final = await next.runToEnd();
    expect(final.phase).toBe('succeeded');
    expect(final.specDigest).not.toBe(last.specDigest);
    expect(final.history[0]?.at).toBeGreaterThanOrEqual(last.finishedAt ?? Number.POSITIVE_INFINITY);
    expect(h.workload.world.stable.image).toBe('shop:3');
    expect((await store.load(h.rollout.key))?.state.specDigest).toBe(final.specDigest);
  });

  it('keeps the state JSON-serialisable at every save', async () => {
    const h = harness('blueGreen');
    await h.runToEnd();
    for (const { state } of h.store.history) {
      expect(JSON.parse(JSON.stringify(state)) as RolloutState).toEqual(state);
    }
  });
});
