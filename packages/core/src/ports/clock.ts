/** Time as the engine sees it. Inject a virtual clock to run hours of rollout in milliseconds. */
export interface Clock {
  /** Wall-clock time in ms since the epoch: what timestamps are made of. */
  now(): number;
  /**
   * A clock that never jumps (ms, arbitrary origin), for measuring how long something took or
   * has stayed unchanged. Defaults to `now()` where absent.
   */
  monotonic?(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMEOUT = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      // setTimeout fires after 1 ms for delays of 2^31 ms or more: longer waits go in pieces.
      const until = Date.now() + Math.max(0, ms);
      let timer = setTimeout(tick, Math.min(Math.max(0, ms), MAX_TIMEOUT));
      function tick() {
        const left = until - Date.now();
        if (left > 0) timer = setTimeout(tick, Math.min(left, MAX_TIMEOUT));
        else done();
      }
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/** A clock that moves only when told to, so time-dependent behaviour is deterministic. */
export interface VirtualClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order and letting their reactions run. */
  advance(ms: number): Promise<void>;
  /** Moves to the next timer, if any; returns whether one fired. */
  advanceToNext(): Promise<boolean>;
  /** Number of sleeps waiting. */
  pending(): number;
  /**
   * Runs `work` to completion, jumping time to the next timer whenever everything is idle
   * (no timer due and nothing left to do but wait). Bounded by `maxMs` of virtual time.
   */
  run<T>(work: Promise<T>, options?: { maxMs?: number }): Promise<T>;
}

/** Lets pending promise reactions and I/O callbacks run before time moves again. */
export async function flushAsync(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export function createVirtualClock(start = 0): VirtualClock {
  let now = start;
  let seq = 0;
  let timers: Timer[] = [];

  const fireDue = async (until: number): Promise<boolean> => {
    let fired = false;
    for (;;) {
      timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = timers[0];
      if (!next || next.at > until) break;
      // Everything due at this instant fires together, then reactions run once.
      const at = next.at;
      const due = timers.filter((t) => t.at === at);
      timers = timers.filter((t) => t.at !== at);
      now = Math.max(now, at);
      for (const t of due) t.resolve();
      fired = true;
      await flushAsync();
    }
    return fired;
  };

  const clock: VirtualClock = {
    now: () => now,
    monotonic: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const timer: Timer = { at: now + Math.max(0, ms), seq: seq++, resolve: () => finish() };
        function finish() {
          timers = timers.filter((t) => t !== timer);
          signal?.removeEventListener('abort', finish);
          resolve();
        }
        timers.push(timer);
        signal?.addEventListener('abort', finish, { once: true });
      });
    },
    async advance(ms) {
      await flushAsync();
      const target = now + ms;
      await fireDue(target);
      now = target;
      await flushAsync();
    },
    async advanceToNext() {
      await flushAsync();
      timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = timers[0];
      if (!next) return false;
      return fireDue(next.at);
    },
    pending: () => timers.length,
    async run<T>(work: Promise<T>, options: { maxMs?: number } = {}): Promise<T> {
      const limit = now + (options.maxMs ?? 30 * 24 * 3_600_000);
      let settled = false;
      let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
      work.then(
        (value) => {
          settled = true;
          outcome = { ok: true, value };
        },
        (error: unknown) => {
          settled = true;
          outcome = { ok: false, error };
        },
      );
      while (!settled) {
        await flushAsync(10);
        if (settled) break;
        if (timers.length === 0) {
          // Nothing scheduled: the work waits on real I/O; give it a moment.
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        if ((timers[0] as Timer).at > limit) throw new Error(`virtual clock: work still running after maxMs`);
        await fireDue((timers[0] as Timer).at);
      }
      const result = outcome as NonNullable<typeof outcome>;
      if (!result.ok) throw result.error;
      return result.value;
    },
  };
  return clock;
}

/** The clock's monotonic reading, or its wall clock where it has none. */
export const monotonicNow = (clock: Clock): number => clock.monotonic?.() ?? clock.now();

/**
 * A view of `clock` whose wall clock is `offsetMs()` behind it: how a driver reads and writes
 * rollout timestamps on the shared timeline (see docs/decisions.md, "One timeline").
 */
export function shiftedClock(clock: Clock, offsetMs: () => number): Clock {
  return {
    now: () => clock.now() - offsetMs(),
    monotonic: () => monotonicNow(clock),
    sleep: (ms, signal) => clock.sleep(ms, signal),
  };
}
