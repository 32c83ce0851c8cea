/** Runs at most `max` tasks at once; the rest wait in order of arrival. */
export function createLimiter(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`maxInFlight must be a whole number ≥ 1, got ${max}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      // A waiter inherits the slot: `running` stays as it is when one is woken.
      if (waiting.length > 0) waiting.shift()?.();
      else running -= 1;
    }
  };
}
