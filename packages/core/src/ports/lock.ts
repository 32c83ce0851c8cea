import type { RolloutKey } from './refs.ts';

/**
 * What a lease says, as client-go's leader election reads it. Times are the writer's wall clock
 * (ms since the epoch) and are shown to people only: expiry is judged by observation, never by
 * comparing another host's timestamp with ours.
 */
export interface LeaseRecord {
  /** Undefined once released. */
  holder: string | undefined;
  durationMs: number;
  acquireTime?: number;
  renewTime?: number;
  /**
   * Incremented on every acquisition (also when a restarted process reuses its identity): the
   * holder's epoch, carried by each of its writes as a fencing token.
   */
  transitions: number;
  /**
   * Where the holder's liveness is kept when it is not this lease's own renewals: the holder
   * process's heartbeat lease in the same namespace, as it was when this lease was taken. It counts
   * only while `holder` and `transitions` are still the ones it was written with (a hand edit or an
   * older Kanary falls back to this lease's own renewals).
   */
  liveness?: Liveness;
}

/** A rollout lease's pointer to its holder's heartbeat. */
export interface Liveness {
  /** The holder and transitions this pointer was written for. */
  holder: string;
  transitions: number;
  /** The heartbeat lease's name (its key's `name`, in the rollout's namespace). */
  lease: string;
  /** The heartbeat's transitions then: a heartbeat taken again since no longer vouches for it. */
  epoch: number;
}

/** A stored lease record and its version for compare-and-swap. */
export interface VersionedLease {
  record: LeaseRecord;
  version: string;
  /** The storage's own time of the last write, when it records one (the API server's managedFields). */
  writtenAt?: { manager: string; at: number; precisionMs: number };
}

/**
 * Where leases live: a Kubernetes Lease, or memory. `create` and `update` are compare-and-swap
 * and throw KanaryError `CONFLICT` when they lose a race.
 */
export interface LeaseBackend {
  /** Names the lease for messages, e.g. `Lease shop/kanary-web`. */
  describe(key: RolloutKey): string;
  /** The lease as the storage has it now (never a cached copy: liveness is judged on it). */
  get(key: RolloutKey): Promise<VersionedLease | undefined>;
  /**
   * The lease as a cache last saw it, possibly stale, at no cost: how a holder notices that its
   * lease was taken without asking the storage for each lease it holds. Absent: `get`.
   */
  peek?(key: RolloutKey): Promise<VersionedLease | undefined>;
  create(key: RolloutKey, record: LeaseRecord): Promise<VersionedLease>;
  update(key: RolloutKey, record: LeaseRecord, version: string): Promise<VersionedLease>;
  /** Removes a lease at `version` (CONFLICT if it changed); a missing one is fine. Absent: heartbeats are released, not removed. */
  delete?(key: RolloutKey, version: string): Promise<void>;
  /**
   * Names the storage and credentials, so that every lock of one process on it shares one
   * heartbeat per namespace (two locks of one process must never take leases from each other).
   * Absent: each lock keeps its own.
   */
  scope?: string;
}

export interface LockOptions {
  /** Who is asking; unique per process (two processes must never share it). */
  holder: string;
  /** Lease duration: how long others wait, after they last saw it change, before taking it. */
  ttlMs: number;
  /** Wait for the current holder to release or expire, instead of failing with `LOCKED`. */
  wait?: boolean;
  signal?: AbortSignal;
  /** The lowest epoch to take (the highest one the rollout's state has seen), so epochs never go back. */
  minEpoch?: number;
}

export interface LockLease {
  readonly holder: string;
  /** This holder's epoch (the lease's transitions after our acquisition): the fencing token. */
  readonly epoch: number;
  /** Aborted the moment this process may no longer act as the holder (renew deadline missed, taken, released). */
  readonly signal: AbortSignal;
  /** True while the last successful renewal is within the renew deadline, on this process's monotonic clock. */
  isHeld(): boolean;
  /**
   * This process's wall clock minus the lease storage's clock (the API server's), as measured on
   * our own lease writes; 0 where the storage has no clock. Rollout timestamps are kept on the
   * storage's clock so that drivers on skewed hosts agree on them.
   */
  clockOffsetMs(): number;
  /** Gives the lease up so a successor need not wait for it to expire. */
  release(): Promise<void>;
}

/** What a process can tell about a lease without waiting for it to expire. */
export interface LeaseView {
  record: LeaseRecord | undefined;
  /** Released or never taken: anyone may take it at once. */
  free: boolean;
  /** How long this process has seen the record unchanged (its own monotonic clock). */
  silentForMs: number;
  /**
   * When the holder was last heard from (its heartbeat or the lease renewed), for people: the
   * API server's time of that write where it records one (to the second), else the holder's own
   * clock. Never used to judge expiry, which `silentForMs` does on this process's clock.
   */
  heardAt?: number;
}

/** One driver per rollout at a time. */
export interface Lock {
  acquire(key: RolloutKey, options: LockOptions): Promise<LockLease>;
  /** Reads the lease as it is now. */
  inspect?(key: RolloutKey): Promise<LeaseView>;
}
