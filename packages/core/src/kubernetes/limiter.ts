/**
 * Runs at most `max` tasks at once; the rest wait in order of arrival, urgent ones (a lease's
 * renewal) ahead of all others: a holder whose renewal queued behind a thousand rollouts' reads
 * would miss its renew deadline and stop every rollout it drives.
 */
export function createLimiter(max: number): <T>(task: () => Promise<T>, urgent?: boolean) => Promise<T> {
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`maxInFlight must be a whole number ≥ 1, got ${max}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  const urgentWaiting: Array<() => void> = [];
  return async (task, urgent = false) => {
    if (running >= max)
      await new Promise<void>((resolve) => (urgent ? urgentWaiting : waiting).push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      // A waiter inherits the slot: `running` stays as it is when one is woken.
      const next = urgentWaiting.shift() ?? waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}
