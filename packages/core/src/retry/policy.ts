import { type Clock, systemClock } from '../ports/clock.ts';

export interface RetryPolicyOptions {
  clock?: Clock;
  /** The first wait (default 250 ms). */
  baseMs?: number;
  /** No wait is longer than this (default 30 s). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * `equal` (default): half fixed, half random, so many clients retrying after one fault do not
   * come back in step; `none` for waits that must be exact (tests, polling).
   */
  jitter?: 'equal' | 'none';
  random?: () => number;
}

/** One backoff rule for every retry in Kanary, waiting on the injected clock. */
export interface RetryPolicy {
  /** The wait before retry number `attempt` (0 = the first retry). */
  delay(attempt: number): number;
  /** Waits that long on the clock; resolves early (without error) when `signal` aborts. */
  wait(attempt: number, signal?: AbortSignal): Promise<void>;
}

export function createRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const clock = options.clock ?? systemClock;
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  const jitter = options.jitter ?? 'equal';
  const policy: RetryPolicy = {
    delay(attempt) {
      const full = Math.min(max, base * factor ** Math.min(Math.max(0, attempt), 30));
      return jitter === 'none' ? full : full / 2 + random() * (full / 2);
    },
    wait: (attempt, signal) => clock.sleep(policy.delay(attempt), signal),
  };
  return policy;
}
