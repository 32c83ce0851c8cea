import { KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { Lock, LockLease } from '../ports/lock.ts';

export interface LeaseLockOptions {
  client: KubeClient;
  clock?: Clock;
  /** Prefix of the Lease's name (default `kanary-`). */
  prefix?: string;
}

type Lease = KubeObject & {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
};

/** MicroTime as Kubernetes writes it: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * One driver per rollout through a coordination.k8s.io/v1 Lease, as Kubernetes' own leader
 * election does: hold it while renewing; anyone may take it once renewTime + duration passed.
 */
export function createLeaseLock(options: LeaseLockOptions): Lock {
  const { client } = options;
  const clock = options.clock ?? systemClock;
  const prefix = options.prefix ?? 'kanary-';
  return {
    async acquire(key, { holder, ttlMs, wait, signal }): Promise<LockLease> {
      const ref: ObjectRef = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        namespace: key.namespace,
        name: `${prefix}${key.name}`,
      };
      const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
      const write = async (current: Lease | undefined): Promise<Lease> => {
        const now = clock.now();
        const taking = current?.spec?.holderIdentity !== holder;
        const body: Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: ref.name,
            namespace: key.namespace,
            labels: { 'kanary.dev/rollout': key.name, 'app.kubernetes.io/managed-by': 'kanary' },
            ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}),
          },
          spec: {
            holderIdentity: holder,
            leaseDurationSeconds: seconds,
            acquireTime: taking ? microTime(now) : (current?.spec?.acquireTime ?? microTime(now)),
            renewTime: microTime(now),
            leaseTransitions:
              (current?.spec?.leaseTransitions ?? 0) + (taking && current?.spec?.holderIdentity ? 1 : 0),
          },
        };
        return current ? client.replace(body) : client.create(body);
      };
      const expired = (l: Lease) => {
        const renew = Date.parse(l.spec?.renewTime ?? '');
        return (
          !l.spec?.holderIdentity ||
          !Number.isFinite(renew) ||
          renew + (l.spec?.leaseDurationSeconds ?? 0) * 1000 <= clock.now()
        );
      };
      for (;;) {
        const current = await client.get<Lease>(ref);
        if (!current || current.spec?.holderIdentity === holder || expired(current)) {
          try {
            await write(current);
            break;
          } catch (error) {
            if (!(error instanceof KanaryError && error.code === 'CONFLICT')) throw error;
            continue; // someone else wrote in between: look again
          }
        }
        if (!wait) {
          throw new KanaryError(
            'LOCKED',
            `rollout ${key.namespace}/${key.name} is being driven by ${current.spec?.holderIdentity} (Lease ${ref.name}, renewed ${current.spec?.renewTime})`,
            {
              details: { holder: current.spec?.holderIdentity, lease: ref.name },
            },
          );
        }
        if (signal?.aborted)
          throw new KanaryError('LOCKED', `gave up waiting for the lock on ${key.namespace}/${key.name}`);
        const renew =
          Date.parse(current.spec?.renewTime ?? '') + (current.spec?.leaseDurationSeconds ?? 1) * 1000;
        await clock.sleep(Math.max(100, Math.min(renew - clock.now() + 50, 2_000)), signal);
      }
      return {
        holder,
        async renew() {
          // A conflict means the Lease changed under us: look again. It is lost only if someone else holds it.
          for (let attempt = 0; attempt < 5; attempt++) {
            const current = await client.get<Lease>(ref);
            if (!current || (current.spec?.holderIdentity !== holder && !expired(current))) {
              throw new KanaryError(
                'LOCKED',
                `lost the lock on ${key.namespace}/${key.name} to ${current?.spec?.holderIdentity ?? 'nobody'}`,
              );
            }
            try {
              await write(current);
              return;
            } catch (error) {
              if (!(error instanceof KanaryError && error.code === 'CONFLICT')) throw error;
            }
          }
          throw new KanaryError('KUBERNETES', `could not renew the lock on ${key.namespace}/${key.name}`, {
            retryable: true,
          });
        },
        async release() {
          const current = await client.get<Lease>(ref);
          if (current?.spec?.holderIdentity !== holder) return;
          await client
            .replace<Lease>({
              ...current,
              spec: { ...current.spec, holderIdentity: null, renewTime: microTime(clock.now()) },
            })
            .catch(() => undefined);
        },
      };
    },
  };
}
