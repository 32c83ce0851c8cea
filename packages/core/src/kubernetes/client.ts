import {
  HttpMethod,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import pRetry, { AbortError } from 'p-retry';
import { KanaryError } from '../errors/kanary-error.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import { fromKubeError } from './errors.ts';

/** Identifies an object: enough to build its URL. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

export interface KubeObject extends KubernetesObject {
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  [key: string]: unknown;
}

export interface KubeClientOptions {
  /** The host's KubeConfig; defaults to `loadFromDefault()` (KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeConfig?: KubeConfig;
  /** The field manager for server-side apply and updates (default `kanary`). */
  fieldManager?: string;
  /** Attempts for transient faults (default 4 retries). */
  retries?: number;
  clock?: Clock;
}

/** JSON patch on any kind: the generic client only sends object bodies. */
class KanaryObjectApi extends KubernetesObjectApi {
  async jsonPatch(
    ref: KubernetesObject,
    ops: JsonPatchOp[],
    fieldManager: string,
  ): Promise<KubernetesObject> {
    const path = await this.specUriPath(ref, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', PatchStrategy.JsonPatch);
    ctx.setQueryParam('fieldManager', fieldManager);
    ctx.setBody(JSON.stringify(ops));
    return this.requestPromise(ctx);
  }
}

/** A thin, retrying layer over @kubernetes/client-node with the right content type for every patch. */
export interface KubeClient {
  readonly kubeConfig: KubeConfig;
  readonly fieldManager: string;
  /** Returns undefined for 404. */
  get<T extends KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  list<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<T[]>;
  create<T extends KubeObject>(obj: T): Promise<T>;
  /** Replace; a `metadata.resourceVersion` in `obj` makes it compare-and-swap (409 CONFLICT if stale). */
  replace<T extends KubeObject>(obj: T): Promise<T>;
  mergePatch<T extends KubeObject>(ref: ObjectRef, body: Record<string, unknown>): Promise<T>;
  /** JSON patch; put `test` operations first to make it safe against concurrent edits. */
  jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[]): Promise<T>;
  /** Server-side apply as the `kanary` field manager. */
  apply<T extends KubeObject>(obj: T, options?: { force?: boolean }): Promise<T>;
  /** Deletes; a missing object is not an error. */
  delete(ref: ObjectRef): Promise<void>;
  /**
   * Read-modify-write with compare-and-swap: re-reads and re-applies `mutate` on conflicts.
   * `mutate` returns the new object, or undefined to write nothing.
   */
  update<T extends KubeObject>(ref: ObjectRef, mutate: (current: T) => T | undefined): Promise<T>;
}

const describeRef = (verb: string, r: ObjectRef) =>
  `${verb} ${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
const asSpec = (r: ObjectRef): KubernetesObject => ({
  apiVersion: r.apiVersion,
  kind: r.kind,
  metadata: { name: r.name, ...(r.namespace ? { namespace: r.namespace } : {}) },
});

export function createKubeClient(options: KubeClientOptions = {}): KubeClient {
  const kubeConfig =
    options.kubeConfig ??
    (() => {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      return kc;
    })();
  const api = kubeConfig.makeApiClient(KanaryObjectApi);
  const fieldManager = options.fieldManager ?? 'kanary';
  const clock = options.clock ?? systemClock;
  const retries = options.retries ?? 4;

  /** Runs a call with retries for transient faults: network, 429 (honouring Retry-After), 5xx. */
  const call = <T>(what: string, fn: () => Promise<T>, retryConflicts = false): Promise<T> =>
    pRetry(
      async () => {
        try {
          return await fn();
        } catch (raw) {
          const error = fromKubeError(raw, what);
          const transient = error.retryable && (error.code !== 'CONFLICT' || retryConflicts);
          throw transient ? error : new AbortError(error);
        }
      },
      {
        retries,
        // p-retry runs the loop; the waiting happens on the injected clock (virtual in tests),
        // so a backoff never lets simulated time run ahead of a client that is waiting.
        minTimeout: 0,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft <= 0 || error instanceof AbortError) return;
          const after = (error as KanaryError).details?.retryAfterSeconds;
          const backoff = Math.min(50 * 2 ** (attemptNumber - 1), 2_000);
          // Full jitter, so many clients retrying after one fault do not come back in step.
          const delay =
            typeof after === 'number' && after > 0
              ? after * 1000
              : backoff / 2 + Math.random() * (backoff / 2);
          await clock.sleep(delay);
        },
      },
    ).catch((e: unknown) => {
      throw e instanceof KanaryError ? e : fromKubeError(e, what);
    });

  const client: KubeClient = {
    kubeConfig,
    fieldManager,
    async get<T extends KubeObject>(ref: ObjectRef) {
      try {
        return (await call(describeRef('get', ref), () => api.read(asSpec(ref) as never))) as T;
      } catch (e) {
        if (e instanceof KanaryError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      }
    },
    async list<T extends KubeObject>(
      apiVersion: string,
      kind: string,
      namespace?: string,
      labelSelector?: string,
    ) {
      const result = (await call(`list ${kind}`, () =>
        api.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector),
      )) as KubernetesListObject<KubernetesObject>;
      return result.items.map((i) => ({ apiVersion, kind, ...i }) as T);
    },
    create: <T extends KubeObject>(obj: T) =>
      call(describeRef('create', refOf(obj)), () =>
        api.create(obj, undefined, undefined, fieldManager),
      ) as Promise<T>,
    replace: <T extends KubeObject>(obj: T) =>
      call(describeRef('replace', refOf(obj)), () =>
        api.replace(obj, undefined, undefined, fieldManager),
      ) as Promise<T>,
    mergePatch: <T extends KubeObject>(ref: ObjectRef, body: Record<string, unknown>) =>
      call(describeRef('patch', ref), () =>
        api.patch(
          {
            ...body,
            ...asSpec(ref),
            metadata: { ...((body.metadata as object) ?? {}), ...asSpec(ref).metadata },
          } as KubernetesObject,
          undefined,
          undefined,
          fieldManager,
          undefined,
          PatchStrategy.MergePatch,
        ),
      ) as Promise<T>,
    jsonPatch: <T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[]) =>
      call(describeRef('patch', ref), () => api.jsonPatch(asSpec(ref), ops, fieldManager)) as Promise<T>,
    apply: <T extends KubeObject>(obj: T, opts: { force?: boolean } = {}) =>
      call(describeRef('apply', refOf(obj)), () =>
        api.patch(
          stripServerFields(obj),
          undefined,
          undefined,
          fieldManager,
          opts.force ?? false,
          PatchStrategy.ServerSideApply,
        ),
      ) as Promise<T>,
    async delete(ref: ObjectRef) {
      try {
        await call(describeRef('delete', ref), () => api.delete(asSpec(ref)));
      } catch (e) {
        if (!(e instanceof KanaryError && e.code === 'NOT_FOUND')) throw e;
      }
    },
    async update<T extends KubeObject>(ref: ObjectRef, mutate: (current: T) => T | undefined) {
      return call(
        describeRef('update', ref),
        async () => {
          const current = (await api.read(asSpec(ref) as never)) as T;
          const next = mutate(structuredClone(current));
          if (!next) return current;
          return (await api.replace(
            { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion } },
            undefined,
            undefined,
            fieldManager,
          )) as T;
        },
        true,
      );
    },
  };
  return client;
}

export function refOf(obj: KubernetesObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion as string,
    kind: obj.kind as string,
    name: obj.metadata?.name as string,
    ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
  };
}

/** An applied config must not carry server-managed fields. */
function stripServerFields<T extends KubernetesObject>(obj: T): T {
  const {
    resourceVersion: _r,
    uid: _u,
    creationTimestamp: _c,
    managedFields: _m,
    generation: _g,
    ...metadata
  } = obj.metadata ?? {};
  const { status: _s, ...rest } = obj as T & { status?: unknown };
  return { ...rest, metadata } as T;
}
