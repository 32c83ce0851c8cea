import { isKanaryError, KanaryError, type RolloutState } from '@kanary/core';
import type { LeaseBackend } from '@kanary/core/adapter';
import {
  createMemoryLeaseBackend,
  createMemoryLock,
  createMemoryStateStore,
  createVirtualClock,
} from '@kanary/core/testing';
import { describe, expect, it } from 'vitest';
import { harness, SPECS } from './harness.ts';

describe('one driver per rollout', () => {
  it('a second driver gets LOCKED with the holder named, or waits when asked', async () => {
    const store = createMemoryStateStore();
    const a = harness('weighted', { store });
    const lock = createMemoryLock({ clock: a.clock });
    const first = a.restart({ lock, holder: 'bot-a' });
    const second = a.restart({ lock, holder: 'bot-b' });
    const running = a.clock.run(first.run());
    await a.clock.advanceToNext();
    const refused = await second.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isKanaryError(refused, 'LOCKED')).toBe(true);
    expect((refused as Error).message).toMatch(/driven by bot-a/);
    // bot-b chooses to wait, and takes over after bot-a finishes.
    const waiter = a.restart({ lock, holder: 'bot-b', waitForLock: true });
    first.on('state', (s) => {
      if (s.phase === 'paused' && s.action && s.action.until === undefined)
        queueMicrotask(() => first.promote());
    });
    const waited = a.clock.run(waiter.run());
    expect((await running).phase).toBe('succeeded');
    expect((await waited).phase).toBe('succeeded');
  });

  it('a lease that is not renewed expires, and another driver takes over', async () => {
    const h = harness('weighted');
    const backend = createMemoryLeaseBackend();
    // A process that froze right after taking the lease: its clock never moves, so it never renews.
    const frozen = createMemoryLock({ backend, clock: createVirtualClock(h.clock.now()) });
    await frozen.acquire({ namespace: 'shop', name: 'shop' }, { holder: 'crashed', ttlMs: 30_000 });
    const lock = createMemoryLock({ backend, clock: h.clock });
    const r = h.restart({ lock, holder: 'new', waitForLock: true });
    const t0 = h.clock.now();
    let startedAt = 0;
    r.once('phase', () => {
      startedAt = h.clock.now();
    });
    await h.runToEnd(r);
    expect(startedAt - t0).toBeGreaterThanOrEqual(30_000);
  });
});

describe('taking the lease through faults', () => {
  /** A lock whose first `failures` acquisitions throw `error`, then the memory lock's own. */
  const flaky = (clock: ReturnType<typeof createVirtualClock>, error: () => Error, failures: number) => {
    const base = createMemoryLock({ clock });
    let tries = 0;
    return {
      tries: () => tries,
      lock: {
        acquire: (...args: Parameters<typeof base.acquire>) =>
          tries++ < failures ? Promise.reject(error()) : base.acquire(...args),
      },
    };
  };
  const overloaded = () =>
    new KanaryError('KUBERNETES', 'get Lease shop/kanary-shop: stream refused', { retryable: true });

  it('a transient fault is tried again with backoff, and the release goes on', async () => {
    const h = harness('weighted');
    const { lock, tries } = flaky(h.clock, overloaded, 3);
    const r = h.restart({ lock });
    const warnings: string[] = [];
    r.on('warning', (w) => warnings.push(w.message));
    const t0 = h.clock.now();
    expect((await h.runToEnd(r)).phase).toBe('succeeded');
    expect(tries()).toBeGreaterThanOrEqual(4);
    expect(warnings.filter((m) => m.startsWith('taking the lease failed and will be retried'))).toHaveLength(
      3,
    );
    // Backed off on the clock (2 s, 4 s, 8 s from the 2 s poll), not at once.
    expect(h.clock.now() - t0).toBeGreaterThanOrEqual(14_000);
  });

  it('a fault that outlasts the progress deadline ends the run with it', async () => {
    const h = harness('weighted');
    const { lock } = flaky(h.clock, overloaded, Number.POSITIVE_INFINITY);
    const t0 = h.clock.now();
    const error = await h.clock.run(h.restart({ lock }).run()).catch((e: unknown) => e);
    expect(isKanaryError(error, 'KUBERNETES')).toBe(true);
    // The default progress deadline is 10 minutes.
    expect(h.clock.now() - t0).toBeGreaterThan(600_000);
    expect(h.clock.now() - t0).toBeLessThan(700_000);
  });

  it('a fault that cannot pass (forbidden) ends the run at once', async () => {
    const h = harness('weighted');
    const forbidden = () => new KanaryError('KUBERNETES', 'leases is forbidden', { retryable: false });
    const { lock, tries } = flaky(h.clock, forbidden, Number.POSITIVE_INFINITY);
    const t0 = h.clock.now();
    const error = await h.clock.run(h.restart({ lock }).run()).catch((e: unknown) => e);
    expect(isKanaryError(error, 'KUBERNETES')).toBe(true);
    expect(tries()).toBe(1);
    expect(h.clock.now()).toBe(t0);
  });
});

describe('taking a lease back', () => {
  const key = { namespace: 'shop', name: 'shop' };
  const down = (backend: LeaseBackend, until: () => boolean): LeaseBackend => ({
    ...backend,
    get: (k) =>
      until()
        ? Promise.reject(new KanaryError('KUBERNETES', 'the API server is down', { retryable: true }))
        : backend.get(k),
  });

  it('the same holder takes its own lease back at once, with a new epoch', async () => {
    const clock = createVirtualClock(0);
    const backend = createMemoryLeaseBackend();
    // A process that froze with the lease (never renews), restarted under the same name.
    const before = await createMemoryLock({ backend, clock: createVirtualClock(0) }).acquire(key, {
      holder: 'bot',
      ttlMs: 15_000,
    });
    const again = await createMemoryLock({ backend, clock }).acquire(key, { holder: 'bot', ttlMs: 15_000 });
    expect(clock.now()).toBe(0);
    expect(again.epoch).toBe(before.epoch + 1);
    // Someone else still waits for the lease to go silent for its whole duration.
    await expect(
      createMemoryLock({ backend, clock }).acquire(key, { holder: 'other', ttlMs: 15_000 }),
    ).rejects.toMatchObject({ code: 'LOCKED' });
  });

  it('but not while a live lease of this process stands behind the name: a second loop under it waits its turn (seed 8416)', async () => {
    const clock = createVirtualClock(0);
    const lock = createMemoryLock({ clock });
    const first = await lock.acquire(key, { holder: 'operator', ttlMs: 15_000 });
    await expect(lock.acquire(key, { holder: 'operator', ttlMs: 15_000 })).rejects.toMatchObject({
      code: 'LOCKED',
    });
    const second = clock.run(lock.acquire(key, { holder: 'operator', ttlMs: 15_000, wait: true }));
    let taken = false;
    void second.then(() => {
      taken = true;
    });
    await clock.advance(60_000);
    // The first renews all along and keeps it; the second took nothing.
    expect(taken).toBe(false);
    expect(first.isHeld()).toBe(true);
    await first.release();
    const next = await second;
    expect(next.epoch).toBe(first.epoch + 1);
    expect(next.isHeld()).toBe(true);
  });

  it('a lease of this process lost in an outage is taken back at once by the same lock', async () => {
    const clock = createVirtualClock(0);
    const backend = createMemoryLeaseBackend();
    let outage = false;
    const flaky: LeaseBackend = {
      ...backend,
      update: (k, r, v) =>
        outage
          ? Promise.reject(new KanaryError('KUBERNETES', 'the API server is down', { retryable: true }))
          : backend.update(k, r, v),
    };
    const lock = createMemoryLock({ backend: flaky, clock });
    const held = await lock.acquire(key, { holder: 'bot', ttlMs: 15_000 });
    outage = true;
    await clock.advance(12_000);
    expect(held.signal.aborted).toBe(true);
    outage = false;
    const at = clock.now();
    const again = await clock.run(lock.acquire(key, { holder: 'bot', ttlMs: 15_000, wait: true }));
    expect(clock.now()).toBe(at);
    expect(again.epoch).toBe(held.epoch + 1);
  });

  it('a waiter riding out a long outage looks again within two retry periods of its end', async () => {
    const clock = createVirtualClock(0);
    const backend = createMemoryLeaseBackend();
    const outageEnds = 60_000;
    const lock = createMemoryLock({ backend: down(backend, () => clock.now() < outageEnds), clock });
    const acquired = clock.run(lock.acquire(key, { holder: 'bot', ttlMs: 15_000, wait: true }));
    await acquired;
    // Retry period is 1 s for a 15 s lease: no backoff grown through the outage (it would be 16–32 s).
    expect(clock.now() - outageEnds).toBeLessThanOrEqual(2_000);
  });
});

describe("the storage's time", () => {
  const key = { namespace: 'shop', name: 'shop' };
  /** Stamps each write with the storage's own time, rounded down to whole seconds (managedFields). */
  const stamped = (backend: LeaseBackend, serverNow: () => number): LeaseBackend => {
    const stamp = (v: Awaited<ReturnType<LeaseBackend['create']>>) => ({
      ...v,
      writtenAt: { manager: 'kanary', at: Math.floor(serverNow() / 1000) * 1000, precisionMs: 1000 },
    });
    return {
      ...backend,
      create: async (k, r) => stamp(await backend.create(k, r)),
      update: async (k, r, v) => stamp(await backend.update(k, r, v)),
    };
  };

  it("what a lease learnt of the storage's clock holds for the next lease of the same lock (seed 8330 took 20 epochs in 0.9 s)", async () => {
    const clock = createVirtualClock(0);
    const skew = 123_456; // the storage runs this far ahead of the host
    const lock = createMemoryLock({
      backend: stamped(createMemoryLeaseBackend(), () => clock.now() + skew),
      clock,
    });
    const first = await lock.acquire(key, { holder: 'bot', ttlMs: 15_000 });
    await clock.advance(16_000); // three renewals
    // Host minus storage, read as its upper bound: high by less than the storage's one-second
    // resolution (by where in its seconds the writes landed), never low.
    const learnt = first.clockOffsetMs();
    expect(learnt + skew).toBeGreaterThanOrEqual(0);
    expect(learnt + skew).toBeLessThan(1_000);
    await first.release();
    // Taken again near the end of one of the storage's seconds: one write alone says only that
    // the storage's time is within that whole second.
    await clock.advance(1_000 - ((clock.now() + skew) % 1_000) - 50);
    const second = await lock.acquire(key, { holder: 'bot', ttlMs: 15_000 });
    expect(second.epoch).toBe(first.epoch + 1);
    expect(Math.abs(second.clockOffsetMs() + skew)).toBeLessThanOrEqual(Math.abs(learnt + skew));
    await second.release();
  });
});

describe('liveness once per process', () => {
  const counting = (backend: LeaseBackend, clock: { now(): number }) => {
    const writes = new Map<string, number[]>();
    const reads = new Map<string, number[]>();
    const note = (into: Map<string, number[]>, name: string) => {
      const at = into.get(name) ?? [];
      at.push(clock.now());
      into.set(name, at);
    };
    const wrapped: LeaseBackend = {
      ...backend,
      get: async (k) => {
        note(reads, `${k.namespace}/${k.name}`);
        return backend.get(k);
      },
      update: async (k, r, v) => {
        note(writes, `${k.namespace}/${k.name}`);
        return backend.update(k, r, v);
      },
    };
    return { wrapped, writes, reads };
  };

  it('a process holding 200 rollouts renews one heartbeat per namespace, looks at its leases spread out, and removes the heartbeats with its last lease', async () => {
    const clock = createVirtualClock(0);
    const backend = createMemoryLeaseBackend();
    const { wrapped, writes, reads } = counting(backend, clock);
    const lock = createMemoryLock({ backend: wrapped, clock });
    const keys = [
      ...Array.from({ length: 200 }, (_, i) => ({ namespace: 'apps', name: `svc-${i}` })),
      { namespace: 'shop', name: 'web' },
    ];
    const leases = await Promise.all(keys.map((k) => lock.acquire(k, { holder: 'agent', ttlMs: 30_000 })));
    writes.clear();
    reads.clear();
    await clock.advance(60_000);
    // Only the two heartbeats were written: every third of the TTL, six times a minute each.
    expect([...writes.keys()].map((id) => id.replace(/process\.[0-9a-f]{12}$/, 'beat')).sort()).toEqual([
      'apps/beat',
      'shop/beat',
    ]);
    expect([...writes.values()].map((at) => at.length)).toEqual([6, 6]);
    // Each holder looks at its own lease (stolen?) once a third of the TTL, the looks spread out.
    const firsts = keys.map((k) => reads.get(`${k.namespace}/${k.name}`)?.[0] as number);
    expect(firsts.every((t) => t > 8_500 && t <= 10_000)).toBe(true);
    const buckets = new Map<number, number>();
    for (const t of firsts) buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1);
    expect(Math.max(...buckets.values())).toBeLessThan(20);
    const pointer = (await backend.get(keys[0] as (typeof keys)[0]))?.record.liveness;
    expect(pointer?.holder).toBe('agent');
    const beatKey = { namespace: 'apps', name: pointer?.lease as string };
    expect((await backend.get(beatKey))?.record.holder).toMatch(/^kanary-/);
    // Released: the heartbeat is gone by the time the last release resolves.
    await Promise.all(leases.map((l) => l.release()));
    expect(await backend.get(beatKey)).toBeUndefined();
    expect((await backend.get({ namespace: 'shop', name: 'web' }))?.record.holder).toBeUndefined();
  });

  it('a heartbeat that cannot be renewed stops every rollout leaning on it at its renew deadline', async () => {
    const clock = createVirtualClock(0);
    const backend = createMemoryLeaseBackend();
    let down = false;
    const flaky: LeaseBackend = {
      ...backend,
      update: async (k, r, v) => {
        if (down) throw new KanaryError('KUBERNETES', 'the API server is unreachable', { retryable: true });
        return backend.update(k, r, v);
      },
    };
    const lock = createMemoryLock({ backend: flaky, clock });
    const leases = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        lock.acquire({ namespace: 'apps', name }, { holder: 'bot', ttlMs: 30_000 }),
      ),
    );
    down = true;
    await clock.advance(19_000);
    expect(leases.every((l) => l.isHeld())).toBe(true);
    await clock.advance(1_100);
    expect(leases.every((l) => l.signal.aborted && !l.isHeld())).toBe(true);
    expect(((leases[0] as { signal: AbortSignal }).signal.reason as Error).message).toMatch(
      /heartbeat was lost.*no renewal succeeded/,
    );
  });

  it('a waiter takes a rollout once its holder heartbeat has been silent a whole TTL, not while it beats', async () => {
    const backend = createMemoryLeaseBackend();
    const clock = createVirtualClock(0);
    const frozenClock = createVirtualClock(0);
    const live = createMemoryLock({ backend, clock });
    const frozen = createMemoryLock({ backend, clock: frozenClock });
    await live.acquire({ namespace: 'apps', name: 'kept' }, { holder: 'live', ttlMs: 15_000 });
    await frozen.acquire({ namespace: 'apps', name: 'gone' }, { holder: 'frozen', ttlMs: 15_000 });
    const waiter = createMemoryLock({ backend, clock });
    const taken = waiter.acquire(
      { namespace: 'apps', name: 'gone' },
      { holder: 'next', ttlMs: 15_000, wait: true },
    );
    const kept = waiter.acquire(
      { namespace: 'apps', name: 'kept' },
      { holder: 'next', ttlMs: 15_000, wait: true },
    );
    let tookGone = -1;
    void taken.then(() => {
      tookGone = clock.now();
    });
    let tookKept = false;
    void kept.then(() => {
      tookKept = true;
    });
    await clock.advance(14_000);
    expect(tookGone).toBe(-1);
    await clock.advance(3_000);
    expect(tookGone).toBeGreaterThanOrEqual(15_000);
    expect((await taken).epoch).toBe(2);
    await clock.advance(120_000);
    expect(tookKept).toBe(false);
    expect((await waiter.inspect?.({ namespace: 'apps', name: 'kept' }))?.free).toBe(false);
  });

  it('a rollout lease taken by hand is noticed within a third of the TTL; a deleted heartbeat frees its rollouts at once', async () => {
    const clock = createVirtualClock(0);
    const backend = createMemoryLeaseBackend();
    const lock = createMemoryLock({ backend, clock });
    const stolen = await lock.acquire({ namespace: 'apps', name: 'a' }, { holder: 'bot', ttlMs: 30_000 });
    const other = await lock.acquire({ namespace: 'apps', name: 'b' }, { holder: 'bot', ttlMs: 30_000 });
    const a = await backend.get({ namespace: 'apps', name: 'a' });
    await backend.update(
      { namespace: 'apps', name: 'a' },
      { ...(a?.record as NonNullable<typeof a>['record']), holder: 'someone-else', transitions: 2 },
      a?.version as string,
    );
    await clock.advance(10_000);
    expect(stolen.signal.aborted).toBe(true);
    expect((stolen.signal.reason as Error).message).toMatch(/taken by someone-else \(epoch 2\)/);
    expect(other.isHeld()).toBe(true);
    // The heartbeat removed by hand: anyone may take its rollouts at once, and the holder stops
    // at its next renewal.
    const b = await backend.get({ namespace: 'apps', name: 'b' });
    const beat = { namespace: 'apps', name: b?.record.liveness?.lease as string };
    await backend.delete?.(beat, (await backend.get(beat))?.version as string);
    const rival = createMemoryLock({ backend, clock });
    const took = await rival.acquire({ namespace: 'apps', name: 'b' }, { holder: 'rival', ttlMs: 30_000 });
    expect(took.epoch).toBe(other.epoch + 1);
    await clock.advance(10_000);
    expect(other.signal.aborted).toBe(true);
  });

  it('locks of one process on one storage share its heartbeat, and one name still takes turns across them', async () => {
    const clock = createVirtualClock(0);
    const backend = { ...createMemoryLeaseBackend(), scope: 'cluster-a|user' };
    const { wrapped, writes } = counting(backend, clock);
    const one = createMemoryLock({ backend: wrapped, clock });
    const two = createMemoryLock({ backend: wrapped, clock });
    const x = await one.acquire({ namespace: 'apps', name: 'x' }, { holder: 'bot', ttlMs: 30_000 });
    await two.acquire({ namespace: 'apps', name: 'y' }, { holder: 'bot-2', ttlMs: 30_000 });
    writes.clear();
    await clock.advance(30_000);
    expect([...writes.entries()].map(([id, at]) => [id.startsWith('apps/process.'), at.length])).toEqual([
      [true, 3],
    ]);
    // A second loop under the same name, through the other lock: waits for the first's release.
    let second: { epoch: number } | undefined;
    void two
      .acquire({ namespace: 'apps', name: 'x' }, { holder: 'bot', ttlMs: 30_000, wait: true })
      .then((l) => {
        second = l;
      });
    await clock.advance(60_000);
    expect(second).toBeUndefined();
    await x.release();
    await clock.advance(3_000);
    expect(second?.epoch).toBe(x.epoch + 1);
  });
});

describe('a lease lost to someone else', () => {
  const key = { namespace: 'shop', name: 'shop' };

  it('to someone who never renews it (a hand-edited Lease): the driver takes it back after one lease duration and finishes', async () => {
    const h = harness('weighted');
    const backend = createMemoryLeaseBackend();
    const lock = createMemoryLock({ backend, clock: h.clock });
    const driver = h.restart({ lock, holder: 'bot', lockTtl: '15s' });
    const lost: string[] = [];
    driver.on('leadership', (e) => lost.push(`${e.status} ${e.holder}`));
    const running = h.clock.run(driver.run());
    while (driver.state?.phase !== 'paused') await h.clock.advanceToNext();
    const current = (await backend.get(key))!;
    await backend.update(
      key,
      { ...current.record, holder: 'squatter', transitions: current.record.transitions + 1 },
      current.version,
    );
    const phase = () => driver.state?.phase as string | undefined;
    for (let i = 0; i < 200 && phase() !== 'succeeded'; i++) {
      if (driver.state?.phase === 'paused' && driver.state.action?.until === undefined)
        await driver.promote().catch(() => undefined);
      await h.clock.advanceToNext();
    }
    expect((await running).phase).toBe('succeeded');
    expect(lost).toContain('lost bot');
    expect(lost.filter((l) => l === 'acquired bot').length).toBeGreaterThanOrEqual(2);
  });

  it('to a live driver: the first one sees it record itself in the state, says who drives now (LOCKED) and stops', async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', { store });
    const backend = createMemoryLeaseBackend();
    const driver = h.restart({
      lock: createMemoryLock({ backend, clock: h.clock }),
      holder: 'bot',
      lockTtl: '15s',
    });
    const running = h.clock.run(driver.run()).then(
      () => undefined,
      (e: unknown) => e,
    );
    while (driver.state?.phase !== 'paused') await h.clock.advanceToNext();
    // Another Kanary process took the lease (as if bot's had expired) and drives.
    const current = (await backend.get(key))!;
    await backend.update(
      key,
      {
        ...current.record,
        holder: 'other',
        transitions: current.record.transitions + 1,
        renewTime: h.clock.now(),
      },
      current.version,
    );
    const other = h.restart({
      lock: createMemoryLock({ backend, clock: h.clock }),
      holder: 'other',
      waitForLock: true,
    });
    const otherRun = h.clock.run(other.run());
    const refused = await h.clock.run(
      Promise.race([running, h.clock.sleep(120_000).then(() => 'still running')]),
    );
    expect(isKanaryError(refused, 'LOCKED')).toBe(true);
    expect((refused as Error).message).toMatch(/other drives it now \(epoch \d+\)/);
    await other.abort('done');
    expect((await otherRun).phase).toBe('aborted');
  });
});

describe('controls from another process', () => {
  it('abort() from a process that does not drive reaches the driver through the store', async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', { store });
    const driver = h.restart();
    const run = h.clock.run(driver.run());
    while (driver.state?.phase !== 'paused') await h.clock.advanceToNext();
    // The chat bot's process: same spec and store, no run().
    const bot = h.restart();
    const written = await bot.abort('/canary abort shop by @li');
    // Returned once the live driver has traffic back on stable: aborting, or already aborted with
    // the canary still to be scaled down after the delay.
    expect(written.phase).toMatch(/^abort(ing|ed)$/);
    expect(written.weights).toMatchObject({ canary: 0, verified: true });
    const final = await run;
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toBe('/canary abort shop by @li');
    expect(h.router?.current.weight).toBe(0);
  });

  it("close() ends an abort that waits for a silent driver's lease, and the wait takes nothing (Ctrl-C on `kanary abort`)", async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', { store });
    const backend = createMemoryLeaseBackend();
    const frozenClock = createVirtualClock(h.clock.now());
    // A driver that froze while paused: its lease stays on the record, unrenewed.
    const frozen = h.restart({ lock: createMemoryLock({ backend, clock: h.clock }), holder: 'bot-a' });
    const run = h.clock.run(frozen.run());
    while (frozen.state?.phase !== 'paused') await h.clock.advanceToNext();
    await frozen.close();
    await run;
    await createMemoryLock({ backend, clock: frozenClock }).acquire(h.rollout.key, {
      holder: 'bot-a',
      ttlMs: 30_000,
    });
    const operator = h.restart({ lock: createMemoryLock({ backend, clock: h.clock }), holder: 'operator' });
    let settled = false;
    const waiting = operator.abort('stop it').finally(() => {
      settled = true;
    });
    await h.clock.advance(5_000);
    expect(settled).toBe(false);
    await operator.close();
    await h.clock.advance(3_000);
    expect(settled).toBe(true);
    // Recorded for whoever drives next; nobody here acted on it.
    expect((await waiting).phase).toBe('aborting');
    expect((await backend.get(h.rollout.key))?.record.holder).toBe('bot-a');
  });

  it('a process without the driver’s hook functions reads the cursor with the driver’s plan (an index into promotion never skips updating the stable)', async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', {
      store,
      hooks: { step: async () => {}, 'confirm-promotion': async () => {}, 'post-rollout': async () => {} },
    });
    const driver = h.restart();
    const run = h.clock.run(driver.run());
    while (driver.state?.phase !== 'paused') await h.clock.advanceToNext();
    // The chat bot's process, and the CLI: the same spec and store, none of the driver's hook functions.
    const bot = h.restart({ hooks: {} });
    const seen = await bot.load();
    expect(seen.cursor).toEqual(driver.state?.cursor);
    expect(bot.plan()).toEqual(driver.plan());
    expect(bot.plan().promotion.map((a) => a.type)).toContain('hook');
    await bot.promoteFull();
    const final = await run;
    expect(final.phase).toBe('succeeded');
    expect(h.workload.world.stable.image).toBe('shop:2');
    // What it saves keeps naming those hooks, for the next process.
    expect(final.wiring?.code).toEqual(expect.arrayContaining(['hook step', 'hook confirm-promotion']));
  });

  it('undo() is refused before any release and after an abort, naming why', async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', { store, gate: { script: { quick: ['failed'] } } });
    await expect(h.rollout.undo()).rejects.toThrow(/undo\(\) refused: .* has no release/);
    expect((await h.runToEnd()).phase).toBe('aborted');
    await expect(h.rollout.undo()).rejects.toThrow(/is aborted \(an aborted release is already back/);
  });

  it('refuses a control that the current phase does not allow, writing nothing', async () => {
    const store = createMemoryStateStore();
    const h = harness('weighted', { store });
    await h.runToEnd();
    const saves = store.history.length;
    await expect(h.restart().abort('late')).rejects.toThrow(
      /abort\(\) refused: the rollout already succeeded/,
    );
    expect(store.history.length).toBe(saves);
  });
});

describe('transient faults', () => {
  it('retries 409/429/5xx-style failures of any port with backoff and still completes', async () => {
    let n = 0;
    const h = harness('weighted', {
      faults: (method) => {
        n += 1;
        return n % 3 === 0 && method !== 'reset'
          ? new KanaryError('KUBERNETES', `injected 503 on ${method}`, { retryable: true })
          : undefined;
      },
    });
    const warnings: string[] = [];
    h.rollout.on('warning', (w) => warnings.push(w.message));
    const final = await h.runToEnd();
    expect(final.phase).toBe('succeeded');
    expect(warnings.length).toBeGreaterThan(3);
    expect(h.workload.world.stable.image).toBe('shop:2');
  });

  it('a fault that will not go away aborts once the progress deadline passes', async () => {
    const h = harness('weighted', {
      spec: { ...SPECS.weighted, progressDeadline: '1m' },
      faults: (method) =>
        method === 'setWeight'
          ? new KanaryError('KUBERNETES', 'apiserver unavailable', { retryable: true })
          : undefined,
    });
    const final = await h.runToEnd();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.cause).toBe('deadline');
    expect(final.abort?.reason).toMatch(
      /router.setWeight failed: no progress within 60000ms \(last error: apiserver unavailable\)/,
    );
  });

  it('a router that reads back a different weight is retried, not trusted', async () => {
    const h = harness('weighted', { spec: { ...SPECS.weighted, steps: [{ setWeight: 10 }] } });
    const router = h.router!;
    let lie = 2;
    let calls = 0;
    const original = router.setWeight.bind(router);
    const liar = {
      ...router,
      setWeight: async (ctx: Parameters<typeof router.setWeight>[0], w: number) => {
        const status = await original(ctx, w);
        calls += 1;
        return lie-- > 0 ? { ...status, canaryWeight: w + 5 } : status;
      },
    };
    const r = h.restart({ router: liar });
    const weights: number[] = [];
    r.on('weight', (e) => weights.push(e.canary));
    const final = await h.runToEnd(r);
    expect(final.phase).toBe('succeeded');
    expect(weights[0]).toBe(10);
    // Two lies were refused and retried; then the honest answer for 10%, and promotion's 100%.
    expect(calls).toBe(4);
  });
});

describe('events', () => {
  it('emits weight, step, measurement and done events with the values hosts show', async () => {
    const h = harness('replicaRatio', { gate: { script: { gray: ['running', 'successful'] } } });
    const weights: Array<[number, number | undefined]> = [];
    const steps: string[] = [];
    const measurements: string[] = [];
    let done: RolloutState | undefined;
    h.rollout.on('weight', (w) => weights.push([w.canary, w.effective]));
    h.rollout.on('step', (s) => steps.push(s.step.title));
    h.rollout.on('measurement', (m) =>
      measurements.push(`${m.key}:${m.measurement.metric}:${m.measurement.phase}`),
    );
    h.rollout.on('done', (s) => {
      done = s;
    });
    await h.runToEnd();
    expect(steps).toEqual([
      'set weight 10%',
      'pause 2m',
      'set weight 50%',
      'analysis gray',
      'pause until promoted',
    ]);
    expect(weights).toContainEqual([10, 10]);
    expect(weights).toContainEqual([50, 50]);
    expect(measurements).toEqual(['steps[3]:success-rate:successful', 'steps[3]:success-rate:successful']);
    expect(done?.phase).toBe('succeeded');
  });
});
