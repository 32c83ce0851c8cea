import type { RolloutKey } from './refs.ts';

export interface LockOptions {
  /** Who is asking; shown to the loser of a race. */
  holder: string;
  /** How long the lease lasts without renewal. */
  ttlMs: number;
  /** Wait for the current holder to release or expire, instead of failing with `LOCKED`. */
  wait?: boolean;
  signal?: AbortSignal;
}

export interface LockLease {
  readonly holder: string;
  /** Extends the lease; throws `LOCKED` if another holder has taken it over. */
  renew(): Promise<void>;
  release(): Promise<void>;
}

/** One driver per rollout at a time. */
export interface Lock {
  acquire(key: RolloutKey, options: LockOptions): Promise<LockLease>;
}
