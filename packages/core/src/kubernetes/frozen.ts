/**
 * Freezes an object and everything in it. The watch cache's objects are shared with every reader
 * instead of copied for each; frozen, a reader that changes one fails at once (strict mode) rather
 * than changing what every other rollout reads.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
