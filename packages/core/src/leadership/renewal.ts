import { AsyncLocalStorage } from 'node:async_hooks';

const storage = new AsyncLocalStorage<true>();

/**
 * Runs `fn` as a lease renewal: Kanary's Kubernetes client sends its requests ahead of every
 * request waiting for a slot (client-go's advice is a client of its own for leader election, for
 * the same reason: renewals must not starve behind the work they protect).
 */
export function runAsRenewal<T>(fn: () => Promise<T>): Promise<T> {
  return storage.run(true, fn);
}

/** Whether the caller runs inside `runAsRenewal`. */
export function isRenewal(): boolean {
  return storage.getStore() === true;
}
