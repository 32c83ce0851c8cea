import { hostname } from 'node:os';
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
import { runAsRenewal } from './renewal.ts';

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
 * A rollout's own fraction in [0, 1), the same every run (a hash of its key): a holder's looks at
 * its lease come up to 15% early by it, so a thousand rollouts taken at once (an agent adopting
 * them after a restart) drift apart instead of looking in one burst every period. Deterministic, so a simulated run
 * replays exactly; never late, so the margin before the renew deadline only grows.
 */
export function spreadOf(key: RolloutKey): number {
  return hash32(`${key.namespace}/${key.name}`) / 2 ** 32;
}

function hash32(text: string): number {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  // FNV-1a, then a final mix (MurmurHash3's): names that differ in their last character only
  // (svc-1, svc-2, …) would otherwise land close together.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** 12 hex digits of `text`: a lease name made of a process identity of any length. */
const hashHex = (text: string) =>
  hash32(text).toString(16).padStart(8, '0') + hash32(`${text}#`).toString(16).padStart(8, '0').slice(0, 4);

interface Observation {
  record: LeaseRecord;
  /** When this process first saw the record as it is, on its monotonic clock. */
  at: number;
}

const sameRecord = (a: LeaseRecord, b: LeaseRecord) =>
  a.holder === b.holder && a.renewTime === b.renewTime && a.transitions === b.transitions;

/** A process's liveness in one namespace, shared by every rollout lease it holds there. */
interface Heartbeat {
  key: RolloutKey;
  held: HeldLease;
  /** Rollout leases that lean on it; at 0 it is removed. */
  users: number;
  /**
   * What each of them does when the heartbeat is lost. A set told by one abort listener: thousands
   * of listeners on the heartbeat's own signal cost a scan of all of them on every add and remove
   * (2% of a 5,000-rollout driver's CPU in a wave of steps).
   */
  lost: Set<() => void>;
  /** Its entry in the process's heartbeats. */
  made?: Promise<Heartbeat>;
}

/**
 * One process as a lease holder on one storage: its heartbeats and the rollout leases it holds.
 * Every lock of a process on one storage shares it, so two of them never take a lease from each
 * other nor keep two heartbeats.
 */
interface HolderProcess {
  /** The heartbeats' holder identity: unique to this process. */
  id: string;
  /** The heartbeats' lease name in each namespace. */
  heartbeatName: string;
  heartbeats: Map<string, Promise<Heartbeat>>;
  /** Heartbeats being removed: a new one in that namespace waits for it. */
  retiring: Map<string, Promise<void>>;
  /** Rollout leases held now, by rollout. */
  holding: Map<string, LockLease>;
  offset: OffsetEstimate;
}

const processes = new WeakMap<Clock, Map<string, HolderProcess>>();
let processCount = 0;

function newProcess(): HolderProcess {
  const id = `kanary-${hostname()}-${process.pid}-${(++processCount).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return {
    id,
    heartbeatName: `process.${hashHex(id)}`,
    heartbeats: new Map(),
    retiring: new Map(),
    holding: new Map(),
    // One host and one storage clock: what earlier leases learnt of the offset holds for the next
    // (a fresh estimate from one write is a whole second wide at the Lease's precision; a driver
    // back for its scale-down then read the storage's time up to 1 s low and took the lease again
    // and again until the second turned over — 20 epochs in 0.9 s, chaos seed 8330).
    offset: createOffsetEstimate(),
  };
}

function processFor(backend: LeaseBackend, clock: Clock): HolderProcess {
  if (backend.scope === undefined) return newProcess();
  const byScope = processes.get(clock) ?? new Map<string, HolderProcess>();
  processes.set(clock, byScope);
  const found = byScope.get(backend.scope) ?? newProcess();
  byScope.set(backend.scope, found);
  return found;
}

/** What a waiter can tell of a lease's holder. */
/** A lease's last write time for display: the storage's own clock where it records one. */
const heard = (lease: VersionedLease): { heardAt?: number } => {
  const at = lease.writtenAt?.at ?? lease.record.renewTime;
  return at === undefined ? {} : { heardAt: at };
};

interface Judgement {
  /** Released, or its holder's heartbeat is gone: take it at once. */
  free: boolean;
  /** How long the holder's sign of life (its heartbeat, or the lease itself) has been seen unchanged. */
  silentFor: number;
  /** How long that sign of life must stay unchanged before the lease may be taken. */
  durationMs: number;
  /** When that sign of life was last written, for people: the storage's time, or the writer's. */
  heardAt?: number;
}

/**
 * A Lock with client-go's leader-election semantics over any lease storage, with liveness kept
 * once per process instead of once per rollout:
 * - each rollout lease names its holder and epoch, and points at the holder process's heartbeat
 *   lease in the same namespace; only the heartbeat is renewed (every third of its duration), so a
 *   process holding a thousand paused rollouts writes one lease per namespace, not a thousand;
 * - a rollout lease held by someone else may be taken once its holder's heartbeat has been seen
 *   unchanged for its whole duration on this process's own monotonic clock (clock skew between
 *   hosts cannot shorten it), or is gone, released or taken again since; a lease without a valid
 *   pointer (an older Kanary, a hand edit) is judged by its own renewals, as before;
 * - every acquisition increments the rollout lease's transitions, which is the holder's epoch;
 * - a heartbeat not renewed for two thirds of its duration stops every rollout leaning on it at
 *   once (their `signal`s abort) — a full third before anyone else may take over — and a holder
 *   that sees its rollout lease taken (a watch-cached look each third of the duration) stops too.
 */
export function createElectedLock(backend: LeaseBackend, options: { clock?: Clock } = {}): Lock {
  const clock = options.clock ?? systemClock;
  const mono = () => monotonicNow(clock);
  const observed = new Map<string, Observation>();
  const me = processFor(backend, clock);
  const idOf = (key: RolloutKey) => `${key.namespace}/${key.name}`;

  const observe = (key: RolloutKey, lease: VersionedLease): Observation => {
    const seen = observed.get(idOf(key));
    if (seen && sameRecord(seen.record, lease.record)) return seen;
    const fresh = { record: lease.record, at: mono() };
    observed.set(idOf(key), fresh);
    return fresh;
  };

  const judge = async (key: RolloutKey, current: VersionedLease): Promise<Judgement> => {
    const record = current.record;
    if (!record.holder) return { free: true, silentFor: 0, durationMs: record.durationMs };
    const pointer = record.liveness;
    if (pointer && pointer.holder === record.holder && pointer.transitions === record.transitions) {
      const beatKey = { namespace: key.namespace, name: pointer.lease };
      const beat = await backend.get(beatKey);
      if (!beat?.record.holder || beat.record.transitions !== pointer.epoch) {
        return { free: true, silentFor: 0, durationMs: record.durationMs };
      }
      const seen = observe(beatKey, beat);
      return {
        free: false,
        silentFor: mono() - seen.at,
        durationMs: beat.record.durationMs,
        ...heard(beat),
      };
    }
    const seen = observe(key, current);
    return { free: false, silentFor: mono() - seen.at, durationMs: record.durationMs, ...heard(current) };
  };

  /** This process's heartbeat in `namespace`, made when none is running; the caller must `unlean` it. */
  const lean = async (namespace: string, ttlMs: number): Promise<Heartbeat> => {
    for (;;) {
      const known = me.heartbeats.get(namespace);
      if (known) {
        const beat = await known.catch(() => undefined);
        if (beat && !beat.held.lease.signal.aborted) {
          beat.users++;
          return beat;
        }
        if (me.heartbeats.get(namespace) === known) me.heartbeats.delete(namespace);
        continue;
      }
      const retiring = me.retiring.get(namespace);
      if (retiring) {
        await retiring;
        continue;
      }
      // A heartbeat that failed to start or was lost stays filed until the next look above finds it so.
      const made = startHeartbeat(namespace, ttlMs);
      me.heartbeats.set(namespace, made);
      const beat = await made;
      beat.made = made;
      beat.users++;
      return beat;
    }
  };

  const startHeartbeat = async (namespace: string, ttlMs: number): Promise<Heartbeat> => {
    const key = { namespace, name: me.heartbeatName };
    // Ours alone (its name is this process's): created without a look, taken at once whatever it says.
    let current: VersionedLease | undefined;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) current = await backend.get(key);
      const sentAt = mono();
      const sentWall = clock.now();
      const record: LeaseRecord = {
        holder: me.id,
        durationMs: ttlMs,
        acquireTime: sentWall,
        renewTime: sentWall,
        transitions: (current?.record.transitions ?? 0) + 1,
      };
      try {
        const written = current
          ? await backend.update(key, record, current.version)
          : await backend.create(key, record);
        me.offset.add(written, sentWall, clock.now());
        const held = holdLease(
          { backend, key, clock, holder: me.id, ttlMs, acquired: written, offset: me.offset },
          sentAt,
        );
        const lost = new Set<() => void>();
        held.lease.signal.addEventListener(
          'abort',
          () => {
            for (const tell of [...lost]) tell();
          },
          { once: true },
        );
        return { key, held, users: 0, lost };
      } catch (error) {
        if (!isKanaryError(error, 'CONFLICT')) throw error;
      }
    }
  };

  /** Lets go of a heartbeat; the last user's letting go removes it (the promise ends when it has). */
  const unlean = (beat: Heartbeat): Promise<void> | undefined => {
    beat.users--;
    if (beat.users > 0) return undefined;
    const { namespace } = beat.key;
    // Only its own entry: a successor may already be filed under the namespace.
    if (beat.made && me.heartbeats.get(namespace) === beat.made) me.heartbeats.delete(namespace);
    // Removed, not left behind: a process per `kanary run` would otherwise leave one per run.
    const retire = beat.held.retire(backend.delete !== undefined).finally(() => {
      if (me.retiring.get(namespace) === retire) me.retiring.delete(namespace);
    });
    me.retiring.set(namespace, retire);
    return retire;
  };

  return {
    async inspect(key): Promise<LeaseView> {
      const current = await backend.get(key);
      if (!current) return { record: undefined, free: true, silentForMs: 0 };
      const view = await judge(key, current);
      return {
        record: { ...current.record, durationMs: view.durationMs },
        free: view.free,
        silentForMs: view.silentFor,
        ...(view.heardAt !== undefined ? { heardAt: view.heardAt } : {}),
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
        let view: Judgement | undefined;
        try {
          current = await backend.get(key);
          if (current) view = await judge(key, current);
        } catch (error) {
          // The storage is unreachable: a waiter rides it out, anyone else is told.
          if (!opts.wait || !isKanaryError(error) || !error.retryable) throw error;
          await retry.wait(attempt++, signal);
          continue;
        }
        if (current && view && !view.free) {
          // Our own name on it with no live lease of ours behind it (this process lost it in an
          // outage, or restarted under the same name): as client-go, take it back at once; the
          // new epoch fences what the old one sent. Our name on a live one of ours is a second
          // drive loop of this process (an abort's carry-out and a promotion's): it waits its turn
          // — they otherwise took it from each other in one instant, thousands of epochs deep
          // (chaos seed 8416).
          const sibling =
            current.record.holder === holder && me.holding.get(idOf(key))?.signal.aborted === false;
          const others = current.record.holder !== holder || sibling;
          if (others && view.silentFor < view.durationMs) {
            if (!opts.wait) throw lockedError(backend, key, current.record, view);
            await clock.sleep(Math.min(view.durationMs - view.silentFor, period), signal);
            continue;
          }
        }
        let beat: Heartbeat;
        try {
          beat = await lean(key.namespace, ttlMs);
        } catch (error) {
          if (!opts.wait || !isKanaryError(error) || !error.retryable) throw error;
          await retry.wait(attempt++, signal);
          continue;
        }
        let lease: LockLease | undefined;
        try {
          const transitions = Math.max(current?.record.transitions ?? 0, opts.minEpoch ?? 0) + 1;
          const sentWall = clock.now();
          const record: LeaseRecord = {
            holder,
            durationMs: ttlMs,
            acquireTime: sentWall,
            renewTime: sentWall,
            transitions,
            liveness: { holder, transitions, lease: beat.key.name, epoch: beat.held.lease.epoch },
          };
          const written = current
            ? await backend.update(key, record, current.version)
            : await backend.create(key, record);
          observe(key, written);
          me.offset.add(written, sentWall, clock.now());
          const taken = { backend, key, clock, holder, ttlMs, acquired: written, offset: me.offset };
          lease = holdRollout(taken, beat, () => unlean(beat));
          const held = lease;
          me.holding.set(idOf(key), held);
          held.signal.addEventListener(
            'abort',
            () => {
              if (me.holding.get(idOf(key)) === held) me.holding.delete(idOf(key));
            },
            { once: true },
          );
          return held;
        } catch (error) {
          // Someone else wrote in between: look again.
          if (!isKanaryError(error, 'CONFLICT')) throw error;
        } finally {
          if (!lease) unlean(beat);
        }
      }
    },
  };
}

function lockedError(backend: LeaseBackend, key: RolloutKey, record: LeaseRecord, view: Judgement) {
  const left = Math.ceil((view.durationMs - view.silentFor) / 1000);
  return new KanaryError(
    'LOCKED',
    `rollout ${key.namespace}/${key.name} is being driven by ${record.holder} (${backend.describe(key)}; ` +
      `it expires if its holder shows no sign of life within ${left}s)`,
    { details: { holder: record.holder, epoch: record.transitions, expiresInSeconds: left } },
  );
}

/** A lease just taken, and what its holder needs to keep it. */
interface Taken {
  backend: LeaseBackend;
  key: RolloutKey;
  clock: Clock;
  holder: string;
  ttlMs: number;
  acquired: VersionedLease;
  offset: OffsetEstimate;
}

/** A renewed lease as its holder keeps it. */
interface HeldLease {
  lease: LockLease;
  /** Stops renewing and releases it, or removes it (`remove`). */
  retire(remove: boolean): Promise<void>;
}

/**
 * A rollout lease as its holder keeps it: never renewed (its heartbeat is), given up when the
 * heartbeat is lost, when this process sees someone else's name or epoch on it, or on release.
 */
function holdRollout(taken: Taken, beat: Heartbeat, done: () => Promise<void> | undefined): LockLease {
  const { backend, key, clock, holder, ttlMs, acquired, offset } = taken;
  const epoch = acquired.record.transitions;
  const lost = new AbortController();
  let record = acquired.record;
  let version = acquired.version;
  const ours = (r: LeaseRecord | undefined) => r?.holder === holder && r.transitions === epoch;
  let ended: Promise<void> | undefined;

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
    ended = done();
  };
  const beatLost = () => {
    const reason = beat.held.lease.signal.reason as Error | undefined;
    lose(`its heartbeat was lost (${reason?.message ?? 'stopped'})`);
  };
  if (beat.held.lease.signal.aborted) beatLost();
  else beat.lost.add(beatLost);

  // Taken by hand or by an older Kanary: seen in the watch cache, confirmed at the storage.
  void (async () => {
    const every = ttlMs * LEASE_TIMING.renewEvery * (1 - 0.15 * spreadOf(key));
    while (!lost.signal.aborted) {
      await clock.sleep(every, lost.signal);
      if (lost.signal.aborted) return;
      try {
        const seen = await (backend.peek ?? backend.get)(key);
        if (lost.signal.aborted || (seen && ours(seen.record))) continue;
        const now = await backend.get(key);
        if (lost.signal.aborted || (now && ours(now.record))) continue;
        lose(
          now
            ? `the lease was taken by ${now.record.holder ?? 'nobody'} (epoch ${now.record.transitions})`
            : 'the lease was deleted',
        );
      } catch {
        // Unreachable storage: the heartbeat's renew deadline decides.
      }
    }
  })();

  return {
    holder,
    epoch,
    signal: lost.signal,
    isHeld: () => !lost.signal.aborted && beat.held.lease.isHeld(),
    clockOffsetMs: () => offset.value(),
    async release() {
      const held = !lost.signal.aborted;
      beat.lost.delete(beatLost);
      lose('released');
      try {
        for (let tries = 0; held && tries < 2; tries++) {
          try {
            await backend.update(key, { ...record, holder: undefined, renewTime: clock.now() }, version);
            return;
          } catch (error) {
            // Best effort: if it fails, the lease simply expires with the heartbeat.
            if (!isKanaryError(error, 'CONFLICT')) return;
            const now = await backend.get(key).catch(() => undefined);
            if (!now || !ours(now.record)) return;
            record = now.record;
            version = now.version;
          }
        }
      } finally {
        // A process that exits after its last release leaves no heartbeat behind.
        await ended;
      }
    },
  };
}

/** The holder's side of a renewed lease: renewals on schedule, the renew deadline watched, release on request. */
function holdLease(taken: Taken, sentAt: number): HeldLease {
  const { backend, key, clock, holder, ttlMs, acquired, offset } = taken;
  const mono = () => monotonicNow(clock);
  const epoch = acquired.record.transitions;
  const renewDeadline = ttlMs * LEASE_TIMING.renewDeadline;
  const renewEvery = ttlMs * LEASE_TIMING.renewEvery;
  const lost = new AbortController();
  const stop = new AbortController();
  let record = acquired.record;
  let version = acquired.version;
  let renewedAt = sentAt;

  const lose = (why: string) => {
    if (lost.signal.aborted) return;
    lost.abort(
      new KanaryError('LEADERSHIP_LOST', `this process no longer holds ${backend.describe(key)}: ${why}`, {
        details: { holder, epoch },
      }),
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
        const written = await runAsRenewal(() => backend.update(key, next, version));
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
        // Changed under us: still ours (someone touched another field), taken, or removed?
        const current = await runAsRenewal(() => backend.get(key)).catch(() => 'unreachable' as const);
        if (current === 'unreachable') continue;
        if (!current) return lose('it was deleted');
        if (current.record.holder !== holder || current.record.transitions !== epoch) {
          return lose(
            `it was taken by ${current.record.holder ?? 'nobody'} (epoch ${current.record.transitions})`,
          );
        }
        record = current.record;
        version = current.version;
      }
    }
  })();

  const lease: LockLease = {
    holder,
    epoch,
    signal: lost.signal,
    isHeld: () => !lost.signal.aborted && mono() - renewedAt < renewDeadline,
    clockOffsetMs: () => offset.value(),
    release: () => retire(false),
  };
  const retire = async (remove: boolean) => {
    const held = !lost.signal.aborted;
    lose('released');
    if (!held) return;
    try {
      if (remove && backend.delete) await backend.delete(key, version);
      else await backend.update(key, { ...record, holder: undefined, renewTime: clock.now() }, version);
    } catch {
      // Best effort: if it fails, the lease simply expires.
    }
  };
  return { lease, retire };
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
