import { isKanaryError, KanaryError } from '../errors/kanary-error.ts';
import { type Clock, monotonicNow, systemClock } from '../ports/clock.ts';
import type {
  LeaseBackend,
  LeaseRecord,
  LeaseView,
  Lock,
  LockLease,
  LockOptions,
  VersionedLease,
} from '../ports/lock.ts';
import type { RolloutKey } from '../ports/refs.ts';
import { createRetryPolicy } from '../retry/policy.ts';

/** How a holder paces itself, as fractions of the lease duration (client-go: 15 s / 10 s / 2 s). */
export const LEASE_TIMING = {
  /** A holder renews this often while all is well. */
  renewEvery: 1 / 3,
  /** A holder that has not renewed for this long stops writing at once. */
  renewDeadline: 2 / 3,
  /** After a failed renewal, or while waiting for a lease, look again this often. */
  retryEvery: 1 / 15,
} as const;

/**
 * A rollout's own fraction in [0, 1), the same every run (a hash of its key): renewals come up to
 * 15% early by it, so a thousand rollouts taken at once (an agent adopting them after a restart)
 * drift apart instead of renewing in one burst every period. Deterministic, so a simulated run
 * replays exactly; never late, so the margin before the renew deadline only grows.
 */
export function spreadOf(key: RolloutKey): number {
  let h = 2166136261;
  for (const c of `${key.namespace}/${key.name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  // FNV-1a, then a final mix (MurmurHash3's): names that differ in their last character only
  // (svc-1, svc-2, …) would otherwise land close together.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

interface Observation {
  record: LeaseRecord;
  /** When this process first saw the record as it is, on its monotonic clock. */
  at: number;
}

const sameRecord = (a: LeaseRecord, b: LeaseRecord) =>
  a.holder === b.holder && a.renewTime === b.renewTime && a.transitions === b.transitions;

/**
 * A Lock with client-go's leader-election semantics over any lease storage:
 * - a lease held by someone else expires only after this process has seen the same record stay
 *   unchanged for its whole duration on its own monotonic clock (clock skew between hosts cannot
 *   shorten it);
 * - every acquisition increments the lease's transitions, which is the holder's epoch;
 * - a holder renews every third of the duration and, if no renewal succeeded for two thirds of
 *   it, stops at once (its `signal` aborts) — a full third before anyone else may take over.
 */
export function createElectedLock(backend: LeaseBackend, options: { clock?: Clock } = {}): Lock {
  const clock = options.clock ?? systemClock;
  const mono = () => monotonicNow(clock);
  const observed = new Map<string, Observation>();
  // One host and one storage clock: what earlier leases learnt of the offset holds for the next
  // (a fresh estimate from one write is a whole second wide at the Lease's precision; a driver
  // back for its scale-down then read the storage's time up to 1 s low and took the lease again
  // and again until the second turned over — 20 epochs in 0.9 s, chaos seed 8330).
  const offset = createOffsetEstimate();
  const idOf = (key: RolloutKey) => `${key.namespace}/${key.name}`;
  // Leases this process holds now. Our own name on a lease is taken back at once only when no
  // live lease of ours stands behind it: two drive loops of one process (an abort's carry-out and
  // a promotion's, under one holder) otherwise took it from each other in one instant, thousands
  // of epochs deep (chaos seed 8416).
  const holding = new Map<string, LockLease>();

  const observe = (key: RolloutKey, lease: VersionedLease): Observation => {
    const seen = observed.get(idOf(key));
    if (seen && sameRecord(seen.record, lease.record)) return seen;
    const fresh = { record: lease.record, at: mono() };
    observed.set(idOf(key), fresh);
    return fresh;
  };

  return {
    async inspect(key): Promise<LeaseView> {
      const current = await backend.get(key);
      const seen = current ? observe(key, current) : undefined;
      return {
        record: current?.record,
        free: !current?.record.holder,
        silentForMs: seen ? mono() - seen.at : 0,
      };
    },

    async acquire(key, opts: LockOptions): Promise<LockLease> {
      const { holder, ttlMs, signal } = opts;
      // Like client-go's fixed retry period: a waiter riding out an outage looks again within two
      // retry periods of the API coming back, not after a backoff that grew through the outage.
      const period = Math.max(100, ttlMs * LEASE_TIMING.retryEvery);
      const retry = createRetryPolicy({ clock, baseMs: period, maxMs: 2 * period });
      for (let attempt = 0; ; ) {
        if (signal?.aborted) throw new KanaryError('LOCKED', `gave up waiting for the lease on ${idOf(key)}`);
        let current: VersionedLease | undefined;
        try {
          current = await backend.get(key);
        } catch (error) {
          // The storage is unreachable: a waiter rides it out, anyone else is told.
          if (!opts.wait || !isKanaryError(error) || !error.retryable) throw error;
          await retry.wait(attempt++, signal);
          continue;
        }
        const sentAt = mono();
        const sentWall = clock.now();
        const take = (transitions: number): LeaseRecord => ({
          holder,
          durationMs: ttlMs,
          acquireTime: clock.now(),
          renewTime: clock.now(),
          transitions: Math.max(transitions, opts.minEpoch ?? 0) + 1,
        });
        if (current) {
          const seen = observe(key, current);
          const silentFor = mono() - seen.at;
          // Our own name on it (this process lost it in an outage, or restarted under the same
          // name): as client-go, take it back at once; the new epoch fences what the old one sent.
          const sibling =
            current.record.holder === holder && holding.get(idOf(key))?.signal.aborted === false;
          const others = (current.record.holder && current.record.holder !== holder) || sibling;
          if (others && silentFor < current.record.durationMs) {
            if (!opts.wait) throw lockedError(backend, key, current.record, silentFor);
            await clock.sleep(
              Math.min(current.record.durationMs - silentFor, Math.max(100, ttlMs * LEASE_TIMING.retryEvery)),
              signal,
            );
            continue;
          }
        }
        try {
          const written = current
            ? await backend.update(key, take(current.record.transitions), current.version)
            : await backend.create(key, take(0));
          observe(key, written);
          offset.add(written, sentWall, clock.now());
          const lease = holdLease(backend, key, clock, holder, ttlMs, written, sentAt, offset);
          holding.set(idOf(key), lease);
          lease.signal.addEventListener(
            'abort',
            () => {
              if (holding.get(idOf(key)) === lease) holding.delete(idOf(key));
            },
            { once: true },
          );
          return lease;
        } catch (error) {
          // Someone else wrote in between: look again.
          if (!isKanaryError(error, 'CONFLICT')) throw error;
        }
      }
    },
  };
}

function lockedError(backend: LeaseBackend, key: RolloutKey, record: LeaseRecord, silentMs: number) {
  const left = Math.ceil((record.durationMs - silentMs) / 1000);
  return new KanaryError(
    'LOCKED',
    `rollout ${key.namespace}/${key.name} is being driven by ${record.holder} (${backend.describe(key)}; ` +
      `it expires if not renewed within ${left}s)`,
    { details: { holder: record.holder, epoch: record.transitions, expiresInSeconds: left } },
  );
}

/** The holder's side: renewals on schedule, the renew deadline watched, release on request. */
function holdLease(
  backend: LeaseBackend,
  key: RolloutKey,
  clock: Clock,
  holder: string,
  ttlMs: number,
  acquired: VersionedLease,
  sentAt: number,
  offset: OffsetEstimate,
): LockLease {
  const mono = () => monotonicNow(clock);
  const epoch = acquired.record.transitions;
  const renewDeadline = ttlMs * LEASE_TIMING.renewDeadline;
  const renewEvery = ttlMs * LEASE_TIMING.renewEvery * (1 - 0.15 * spreadOf(key));
  const lost = new AbortController();
  const stop = new AbortController();
  let record = acquired.record;
  let version = acquired.version;
  let renewedAt = sentAt;

  const lose = (why: string) => {
    if (lost.signal.aborted) return;
    lost.abort(
      new KanaryError(
        'LEADERSHIP_LOST',
        `this process no longer drives ${key.namespace}/${key.name}: ${why}`,
        {
          details: { holder, epoch },
        },
      ),
    );
    stop.abort();
  };

  // The watchdog: however long a renewal hangs, the holder stops at its renew deadline.
  void (async () => {
    while (!stop.signal.aborted) {
      const left = renewedAt + renewDeadline - mono();
      if (left <= 0) return lose(`no renewal succeeded for ${Math.round(renewDeadline / 1000)}s`);
      await clock.sleep(left, stop.signal);
    }
  })();

  void (async () => {
    let failing = false;
    while (!stop.signal.aborted) {
      await clock.sleep(failing ? ttlMs * LEASE_TIMING.retryEvery : renewEvery, stop.signal);
      if (stop.signal.aborted) return;
      const attemptAt = mono();
      const wallBefore = clock.now();
      try {
        const next = { ...record, renewTime: wallBefore };
        const written = await backend.update(key, next, version);
        if (stop.signal.aborted) return;
        record = written.record;
        version = written.version;
        renewedAt = attemptAt;
        offset.add(written, wallBefore, clock.now());
        failing = false;
      } catch (error) {
        if (stop.signal.aborted) return;
        failing = true;
        if (!isKanaryError(error, 'CONFLICT')) continue;
        // Changed under us: still ours (someone touched another field) or taken?
        const current = await backend.get(key).catch(() => undefined);
        if (!current) continue;
        if (current.record.holder !== holder || current.record.transitions !== epoch) {
          return lose(
            `the lease was taken by ${current.record.holder ?? 'nobody'} (epoch ${current.record.transitions})`,
          );
        }
        record = current.record;
        version = current.version;
      }
    }
  })();

  return {
    holder,
    epoch,
    signal: lost.signal,
    isHeld: () => !lost.signal.aborted && mono() - renewedAt < renewDeadline,
    clockOffsetMs: () => offset.value(),
    async release() {
      const held = !lost.signal.aborted;
      lose('released');
      if (!held) return;
      const released = { ...record, holder: undefined, renewTime: clock.now() };
      try {
        await backend.update(key, released, version);
      } catch {
        // Best effort: if it fails, the lease simply expires.
      }
    },
  };
}

/**
 * This host's wall clock minus the storage's, from our own writes: the storage stamped each one
 * at a time between our send and our receipt, rounded down to its precision. The intervals of
 * all writes are intersected, so the estimate tightens as renewals go by.
 */
type OffsetEstimate = ReturnType<typeof createOffsetEstimate>;

function createOffsetEstimate() {
  let low = Number.NEGATIVE_INFINITY;
  let high = Number.POSITIVE_INFINITY;
  return {
    add(written: VersionedLease, sentWall: number, receivedWall: number) {
      const at = written.writtenAt;
      if (!at) return;
      const lo = sentWall - (at.at + at.precisionMs);
      const hi = receivedWall - at.at;
      if (Math.max(lo, low) > Math.min(hi, high)) {
        // A clock stepped: start over from this write.
        low = lo;
        high = hi;
      } else {
        low = Math.max(lo, low);
        high = Math.min(hi, high);
      }
    },
    /** The upper bound: read on the timeline, a wait can then only end late (by ≤ the precision), never early. */
    value(): number {
      return Number.isFinite(high) ? Math.ceil(high) : 0;
    },
  };
}
