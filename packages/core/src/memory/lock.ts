import { KanaryError } from '../errors/kanary-error.ts';
import { createElectedLock } from '../leadership/elector.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { LeaseBackend, LeaseRecord, Lock, VersionedLease } from '../ports/lock.ts';

/** Leases in memory, with the same leader-election semantics as the Kubernetes Lease lock. */
export function createMemoryLock(options: { clock?: Clock; backend?: LeaseBackend } = {}): Lock {
  return createElectedLock(options.backend ?? createMemoryLeaseBackend(), {
    clock: options.clock ?? systemClock,
  });
}

/**
 * Lease records in memory. Several locks over one backend behave like several processes sharing
 * a cluster (give each its own clock to simulate a process that froze).
 */
export function createMemoryLeaseBackend(): LeaseBackend {
  const leases = new Map<string, { record: LeaseRecord; version: number }>();
  let versions = 0;
  const id = (key: { namespace: string; name: string }) => `${key.namespace}/${key.name}`;
  const copy = (r: LeaseRecord): LeaseRecord => ({
    ...r,
    ...(r.liveness ? { liveness: { ...r.liveness } } : {}),
  });
  const out = (v: { record: LeaseRecord; version: number }): VersionedLease => ({
    record: copy(v.record),
    version: String(v.version),
  });
  return {
    describe: (key) => `lease ${id(key)} (memory)`,
    async get(key) {
      const v = leases.get(id(key));
      return v ? out(v) : undefined;
    },
    async create(key, record) {
      if (leases.has(id(key))) throw new KanaryError('CONFLICT', `lease ${id(key)} already exists`);
      const v = { record: copy(record), version: ++versions };
      leases.set(id(key), v);
      return out(v);
    },
    async update(key, record, version) {
      const current = leases.get(id(key));
      if (!current || String(current.version) !== version)
        throw new KanaryError('CONFLICT', `lease ${id(key)} was changed`, { retryable: true });
      const v = { record: copy(record), version: ++versions };
      leases.set(id(key), v);
      return out(v);
    },
    async delete(key, version) {
      const current = leases.get(id(key));
      if (!current) return;
      if (String(current.version) !== version)
        throw new KanaryError('CONFLICT', `lease ${id(key)} was changed`, { retryable: true });
      leases.delete(id(key));
    },
  };
}
