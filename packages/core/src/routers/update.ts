import { canonicalJson } from '../engine/digest.ts';
import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';

/** Whether two values hold the same JSON, key order aside (what the API server would store). */
export function sameContent(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * `client.update` that writes only when `change` changes something: a change that leaves the
 * object as it was (or returns undefined) costs no write, no new resourceVersion and no watch
 * event for everyone else. `change` may edit the object it is given. Returns the object as it is afterwards.
 */
export function updateIfChanged<T extends KubeObject>(
  client: KubeClient,
  ref: ObjectRef,
  change: (current: T) => T | undefined,
): Promise<T> {
  return client.update<T>(ref, (current) => {
    // Taken before `change` runs: a change may edit `current` in place and return it.
    const before = canonicalJson(current);
    const next = change(current);
    return next === undefined || canonicalJson(next) === before ? undefined : next;
  });
}
