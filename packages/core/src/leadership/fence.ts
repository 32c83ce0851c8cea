import { AsyncLocalStorage } from 'node:async_hooks';
import { KanaryError } from '../errors/kanary-error.ts';

/**
 * A driver's fencing token. Every object a rollout writes carries its epoch in the annotation
 * `kanary.dev/epoch.<rollout>`; a write is made only on a version read in the same call whose
 * epoch is not newer than ours, and is conditional on that version (resourceVersion), so the API
 * server itself refuses a stale driver's write that raced a newer driver's (409), and the re-read
 * shows the newer epoch (FENCED).
 */
export interface WriteFence {
  rollout: string;
  epoch: number;
  /** Throws when this process may no longer write for the rollout (the lease's local check). */
  assertHeld(): void;
  /** Told of every object stamped, so the stamps can be removed once the release has ended. */
  onWrite?(ref: FencedObject): void;
}

/** An object that carries a rollout's epoch annotation. */
export interface FencedObject {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export const EPOCH_ANNOTATION_PREFIX = 'kanary.dev/epoch.';
export const epochAnnotation = (rollout: string) => `${EPOCH_ANNOTATION_PREFIX}${rollout}`;

const storage = new AsyncLocalStorage<WriteFence>();

/**
 * Runs `fn` with `fence` as the token of every Kubernetes write it makes through Kanary's client,
 * however deep in a router or workload driver the write is.
 */
export function runFenced<T>(fence: WriteFence | undefined, fn: () => Promise<T>): Promise<T> {
  return fence ? storage.run(fence, fn) : fn();
}

export function currentFence(): WriteFence | undefined {
  return storage.getStore();
}

interface Annotated {
  metadata?: { annotations?: Record<string, string> | undefined; name?: string } | undefined;
  kind?: string | undefined;
}

/** The epoch a rollout's driver last wrote on an object (0 when none). */
export function epochOn(obj: Annotated | undefined, rollout: string): number {
  const raw = obj?.metadata?.annotations?.[epochAnnotation(rollout)];
  const n = raw === undefined ? 0 : Number(raw);
  return Number.isFinite(n) ? n : 0;
}

/** Refuses to write over a newer driver's work. */
export function checkEpoch(fence: WriteFence, obj: Annotated | undefined, what: string): void {
  fence.assertHeld();
  const seen = epochOn(obj, fence.rollout);
  if (seen > fence.epoch) {
    throw new KanaryError(
      'FENCED',
      `${what}: a newer driver of ${fence.rollout} (epoch ${seen}) has written it; this driver (epoch ${fence.epoch}) stops`,
      { details: { epoch: fence.epoch, newer: seen } },
    );
  }
}

/** The annotation that carries our epoch. */
export const epochStamp = (fence: WriteFence): Record<string, string> => ({
  [epochAnnotation(fence.rollout)]: String(fence.epoch),
});

/** A copy of `obj` carrying our epoch. */
export function stampEpoch<T extends Annotated>(fence: WriteFence, obj: T): T {
  const o = obj as Annotated & { apiVersion?: string; metadata?: { namespace?: string } };
  if (o.apiVersion && o.kind && o.metadata?.name) {
    fence.onWrite?.({
      apiVersion: o.apiVersion,
      kind: o.kind,
      name: o.metadata.name,
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    });
  }
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...(obj.metadata?.annotations ?? {}), ...epochStamp(fence) },
    },
  };
}
