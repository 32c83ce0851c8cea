import { KanaryError } from '../errors/kanary-error.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { Lock, LockLease } from '../ports/lock.ts';

/** A lease lock in memory, with the same expiry semantics as the Kubernetes Lease one. */
export function createMemoryLock(options: { clock?: Clock } = {}): Lock {
  const clock = options.clock ?? systemClock;
  const leases = new Map<string, { holder: string; expiresAt: number }>();
  return {
    async acquire(key, { holder, ttlMs, wait, signal }): Promise<LockLease> {
      const id = `${key.namespace}/${key.name}`;
      for (;;) {
        const current = leases.get(id);
        const now = clock.now();
        if (!current || current.expiresAt <= now || current.holder === holder) break;
        if (!wait) {
          throw new KanaryError(
            'LOCKED',
            `rollout ${id} is being driven by ${current.holder} (lease until ${new Date(current.expiresAt).toISOString()})`,
            { details: { holder: current.holder, expiresAt: current.expiresAt } },
          );
        }
        if (signal?.aborted) throw new KanaryError('LOCKED', `gave up waiting for the lock on ${id}`);
        await clock.sleep(Math.min(1000, current.expiresAt - now), signal);
      }
      leases.set(id, { holder, expiresAt: clock.now() + ttlMs });
      return {
        holder,
        async renew() {
          const current = leases.get(id);
          if (!current || (current.holder !== holder && current.expiresAt > clock.now())) {
            throw new KanaryError('LOCKED', `lost the lock on ${id} to ${current?.holder ?? 'nobody'}`);
          }
          leases.set(id, { holder, expiresAt: clock.now() + ttlMs });
        },
        async release() {
          if (leases.get(id)?.holder === holder) leases.delete(id);
        },
      };
    },
  };
}
