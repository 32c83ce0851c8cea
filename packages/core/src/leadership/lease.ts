import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';
import { ownedLabels } from '../kubernetes/labels.ts';
import type { Clock } from '../ports/clock.ts';
import type { LeaseBackend, LeaseRecord, Liveness, Lock, VersionedLease } from '../ports/lock.ts';
import type { RolloutKey } from '../ports/refs.ts';
import { createElectedLock } from './elector.ts';

export interface LeaseLockOptions {
  client: KubeClient;
  clock?: Clock;
  /** Prefix of the Lease's name (default `kanary-`). */
  prefix?: string;
}

/** A rollout Lease's pointer to its holder's heartbeat Lease (JSON of `Liveness`). */
export const LIVENESS_ANNOTATION = 'kanary.dev/liveness';

const parseLiveness = (text: string | undefined): Liveness | undefined => {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<Liveness>;
    return typeof v.holder === 'string' &&
      typeof v.transitions === 'number' &&
      typeof v.lease === 'string' &&
      typeof v.epoch === 'number'
      ? { holder: v.holder, transitions: v.transitions, lease: v.lease, epoch: v.epoch }
      : undefined;
  } catch {
    // Unreadable (a hand edit): the Lease is judged by its own renewals.
    return undefined;
  }
};

type Lease = KubeObject & {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
};

/** MicroTime as Kubernetes writes it: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const parseTime = (s: string | null | undefined) => {
  const ms = Date.parse(s ?? '');
  return Number.isFinite(ms) ? ms : undefined;
};

/**
 * One driver per rollout through a coordination.k8s.io/v1 Lease, with client-go's leader-election
 * semantics (see `createElectedLock`). The Lease's `leaseTransitions` is the holder's epoch.
 */
export function createLeaseLock(options: LeaseLockOptions): Lock {
  return createElectedLock(createLeaseBackend(options), options.clock ? { clock: options.clock } : {});
}

export function createLeaseBackend(options: LeaseLockOptions): LeaseBackend {
  const { client } = options;
  const prefix = options.prefix ?? 'kanary-';
  const ref = (key: RolloutKey): ObjectRef => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    namespace: key.namespace,
    name: `${prefix}${key.name}`,
  });
  const toVersioned = (lease: Lease): VersionedLease => {
    const spec = lease.spec ?? {};
    const renew = parseTime(spec.renewTime);
    const acquire = parseTime(spec.acquireTime);
    // The API server stamps the writer's managedFields entry with its own time (whole seconds).
    const mine = lease.metadata.managedFields?.find((m) => m.manager === client.fieldManager);
    const at = parseTime(mine?.time as unknown as string | undefined);
    const liveness = parseLiveness(lease.metadata.annotations?.[LIVENESS_ANNOTATION]);
    return {
      record: {
        holder: spec.holderIdentity || undefined,
        durationMs: (spec.leaseDurationSeconds ?? 0) * 1000,
        ...(renew !== undefined ? { renewTime: renew } : {}),
        ...(acquire !== undefined ? { acquireTime: acquire } : {}),
        transitions: spec.leaseTransitions ?? 0,
        ...(liveness ? { liveness } : {}),
      },
      version: lease.metadata.resourceVersion as string,
      ...(at !== undefined ? { writtenAt: { manager: client.fieldManager, at, precisionMs: 1000 } } : {}),
    };
  };
  const body = (key: RolloutKey, record: LeaseRecord, version?: string): Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: ref(key).name,
      namespace: key.namespace,
      labels: ownedLabels(key.name),
      ...(record.liveness ? { annotations: { [LIVENESS_ANNOTATION]: JSON.stringify(record.liveness) } } : {}),
      ...(version ? { resourceVersion: version } : {}),
    },
    spec: {
      holderIdentity: record.holder ?? null,
      leaseDurationSeconds: Math.max(1, Math.ceil(record.durationMs / 1000)),
      acquireTime: record.acquireTime !== undefined ? microTime(record.acquireTime) : null,
      renewTime: record.renewTime !== undefined ? microTime(record.renewTime) : null,
      leaseTransitions: record.transitions,
    },
  });
  const { server: cluster, user } = client.connection;
  return {
    describe: (key) => `Lease ${key.namespace}/${ref(key).name}`,
    scope: `${cluster}|${user}|${prefix}`,
    async get(key) {
      const lease = await client.get<Lease>(ref(key), { fresh: true });
      return lease ? toVersioned(lease) : undefined;
    },
    async peek(key) {
      // Every holder peeks at its lease every few seconds: the cache's frozen object, not a copy.
      const lease = await client.getView<Lease>(ref(key));
      return lease ? toVersioned(lease) : undefined;
    },
    async delete(key, version) {
      await client.delete(ref(key), { resourceVersion: version });
    },
    async create(key, record) {
      return toVersioned(await client.create<Lease>(body(key, record)));
    },
    async update(key, record, version) {
      return toVersioned(await client.replace<Lease>(body(key, record, version)));
    },
  };
}
