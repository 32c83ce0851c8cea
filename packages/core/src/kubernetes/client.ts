import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import pRetry, { AbortError } from 'p-retry';
import { isKanaryError, type KanaryError } from '../errors/kanary-error.ts';
import {
  checkEpoch,
  currentFence,
  epochAnnotation,
  epochStamp,
  stampEpoch,
  type WriteFence,
} from '../leadership/fence.ts';
import { isRenewal } from '../leadership/renewal.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import { createRetryPolicy } from '../retry/policy.ts';
import { equalityLabels } from './cached-kinds.ts';
import { type ClusterConnection, defaultConnection, kubeConfigConnection } from './connection.ts';
import { fromKubeError } from './errors.ts';
import { deepFreeze } from './frozen.ts';
import { createLimiter } from './limiter.ts';
import { APPLY_PATCH, JSON_PATCH, MERGE_PATCH, objectApi, refOf } from './object-api.ts';
import { createWatchCache } from './watch-cache.ts';

/** A named way of filing objects under keys, for `KubeClient.listByIndex`; one function per name. */
export interface ObjectIndex {
  name: string;
  keysOf(object: KubeObject): readonly string[];
}

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
  /**
   * Where requests go instead of a KubeConfig: `inClusterConnection()` for a driver in a Pod, which
   * then never loads client-node (see `ClusterConnection`).
   */
  connection?: ClusterConnection;
  /** The field manager for server-side apply and updates (default `kanary`). */
  fieldManager?: string;
  /** Attempts for transient faults (default 4 retries). */
  retries?: number;
  /**
   * Most requests in flight at once (default 16); more wait their turn. With one kept-alive
   * connection pool per server, this also bounds the connections requests open.
   */
  maxInFlight?: number;
  /**
   * Serve reads of the kinds a rollout reads over and over (Deployments, ReplicaSets, Pods,
   * Endpoints, Services, the routing kinds, Kanary's state ConfigMaps) from one watch per kind and
   * namespace, shared by everything using this client (default true). Needs `list` and `watch`
   * beside `get`; without them reads go to the server as before.
   */
  watch?: boolean;
  /**
   * With `watch`, list each kind by a watch that streams its state first (Kubernetes' WatchList,
   * `sendInitialEvents`): one request where a LIST and a WATCH were two, and no large LIST response
   * held whole in memory. A server that refuses it (1.33, whose WatchList gate is off by default;
   * before 1.27) is asked once per API group and listed the old way from then on. Default true.
   */
  watchList?: boolean;
  clock?: Clock;
}

/** A thin, retrying Kubernetes client, with watch caches and the right content type for every patch. */
export interface KubeClient {
  /** Where its requests go, and as whom. */
  readonly connection: ClusterConnection;
  /** The host's KubeConfig, when the client was made from one (or from the default kubeconfig). */
  readonly kubeConfig: KubeConfig | undefined;
  readonly fieldManager: string;
  /** The clock its retries wait on; also what callers use to wait for the cluster to catch up. */
  readonly clock: Clock;
  /**
   * Returns undefined for 404. `fresh` asks the server even when the watch cache could answer:
   * for decisions a stalled watch must not make (whether another driver is still alive).
   */
  get<T extends KubeObject>(ref: ObjectRef, options?: { fresh?: boolean }): Promise<T | undefined>;
  /**
   * Like `get`, without the copy: a frozen object shared with every other reader (the watch
   * cache's own while its watch is live, otherwise the server's answer), as `listView` is to
   * `list`. For code that only looks; to change one, change a copy.
   */
  getView<T extends KubeObject>(ref: ObjectRef): Promise<Readonly<T> | undefined>;
  list<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<T[]>;
  /**
   * Like `list`, without copies: frozen objects shared with every other reader — the watch
   * cache's own while its watch is live, otherwise the server's answer. The same array comes back
   * until the kind changes, so a reader may remember what it derived from one. For code that only
   * looks (readiness, endpoints); to change one, change a copy (`structuredClone`).
   */
  listView<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<ReadonlyArray<T>>;
  /**
   * The objects of a kind that `index.keysOf` files under any of `keys` (client-go's indexers):
   * frozen and shared like `listView`, from an index the watch cache keeps as objects change, so a
   * lookup costs the objects under the keys, not the kind. One list, filtered, while the cache
   * cannot answer.
   */
  listByIndex<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
    index: ObjectIndex,
    keys: readonly string[],
  ): Promise<ReadonlyArray<T>>;
  create<T extends KubeObject>(obj: T): Promise<T>;
  /** Replace; a `metadata.resourceVersion` in `obj` makes it compare-and-swap (409 CONFLICT if stale). */
  replace<T extends KubeObject>(obj: T): Promise<T>;
  mergePatch<T extends KubeObject>(ref: ObjectRef, body: Record<string, unknown>): Promise<T>;
  /** JSON patch; put `test` operations first to make it safe against concurrent edits. */
  jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[]): Promise<T>;
  /** Server-side apply as the `kanary` field manager. */
  apply<T extends KubeObject>(obj: T, options?: { force?: boolean }): Promise<T>;
  /**
   * Deletes; a missing object is not an error. With `resourceVersion`, only that version
   * (CONFLICT when the object has changed since).
   */
  delete(ref: ObjectRef, options?: { resourceVersion?: string }): Promise<void>;
  /**
   * Removes a rollout's epoch annotation (its fencing stamp) once the release has ended, on the
   * version read: objects are left as they were. Missing objects are fine.
   */
  unfence(ref: ObjectRef, rollout: string): Promise<void>;
  /**
   * Read-modify-write with compare-and-swap: re-reads and re-applies `mutate` on conflicts.
   * `mutate` returns the new object, or undefined to write nothing.
   */
  update<T extends KubeObject>(ref: ObjectRef, mutate: (current: T) => T | undefined): Promise<T>;
  /**
   * Calls `listener` whenever the watch of `kind` in `namespace` sees a change (starting that
   * watch if needed); returns how to stop. Nothing is called when the client does not watch.
   */
  onChange(
    apiVersion: string,
    kind: string,
    namespace: string,
    listener: (object: KubeObject | undefined) => void,
  ): () => void;
  /** Whether changes of `kind` in `namespace` are being told now (its watch is open). */
  watching(apiVersion: string, kind: string, namespace: string): boolean;
  /** The resources whose reads come from watches (empty with `watch: false`): they need list and watch. */
  readonly watched: ReadonlyArray<{ apiGroup: string; resource: string }>;
  /** Stops this client's watches and closes its connections; requests after this reconnect. */
  close(): Promise<void>;
}

const describeRef = (verb: string, r: ObjectRef) =>
  `${verb} ${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
/** The error a missing object gives, as the API server's 404 would. */
const notFound = (what: string) => fromKubeError({ code: 404, body: { reason: 'NotFound' } }, what);
const asSpec = (r: ObjectRef): KubernetesObject => ({
  apiVersion: r.apiVersion,
  kind: r.kind,
  metadata: { name: r.name, ...(r.namespace ? { namespace: r.namespace } : {}) },
});

export function createKubeClient(options: KubeClientOptions = {}): KubeClient {
  const connection =
    options.connection ??
    (options.kubeConfig ? kubeConfigConnection(options.kubeConfig) : defaultConnection());
  const api = objectApi(connection);
  const fieldManager = options.fieldManager ?? 'kanary';
  const clock = options.clock ?? systemClock;
  const retries = options.retries ?? 4;
  const backoff = createRetryPolicy({ clock, baseMs: 50, maxMs: 2_000 });
  const slot = createLimiter(options.maxInFlight ?? 16);
  // Writes ended, counted, and when each kind's last one ended (on that count).
  let writes = 0;
  const lastWrite = new Map<string, number>();
  // LISTs of the same kind, namespace and selector in flight at once are one request: while a
  // watch cache relists (after a 410, say), every reader of the kind would otherwise send its own
  // LIST of the whole kind — measured at 5,000 rollouts, ~160 LISTs of 5,000 Endpoints a minute
  // queued ahead of the informer's own, which then took longer than the run to get through. A
  // reader joins a LIST only if it was sent after this client's last write of the kind ended, so
  // it still reads its own writes.
  const flights = new Map<string, { sentAfter: number; result: ReturnType<typeof api.list> }>();
  const sharedList = (apiVersion: string, kind: string, namespace?: string, selector?: string) => {
    const key = `${apiVersion}|${kind}|${namespace ?? ''}|${selector ?? ''}`;
    const known = flights.get(key);
    if (known && (lastWrite.get(kind) ?? 0) <= known.sentAfter) return known.result;
    const flight = {
      sentAfter: writes,
      result: call(`list ${kind}`, () => api.list(apiVersion, kind, namespace, selector)).finally(() => {
        if (flights.get(key) === flight) flights.delete(key);
      }),
    };
    flights.set(key, flight);
    return flight.result;
  };
  const cache = createWatchCache({
    enabled: options.watch ?? true,
    watchList: options.watchList ?? true,
    clock,
    transport: api.transport,
    list: async (apiVersion, kind, namespace, selector) => {
      const listed = await sharedList(apiVersion, kind, namespace, selector);
      return {
        items: listed.items.map((i) => ({ apiVersion, kind, ...i }) as KubeObject),
        resourceVersion: listed.metadata?.resourceVersion ?? '',
      };
    },
    collectionPath: (apiVersion, kind, namespace) => api.paths.collectionPath(apiVersion, kind, namespace),
  });

  /** Runs a call with retries for transient faults: network, 429 (honouring Retry-After), 5xx. */
  const call = <T>(what: string, fn: () => Promise<T>, retryConflicts = false): Promise<T> => {
    // `what` is "<verb> <Kind> …": a write of the kind ends when this call does, however it ends
    // (a write that timed out may still have landed).
    const [verb, kind = ''] = what.split(' ', 2);
    // A lease's renewal goes ahead of every request waiting for a slot.
    const urgent = isRenewal();
    const wrote = () => {
      if (verb !== 'get' && verb !== 'list') lastWrite.set(kind, ++writes);
    };
    return pRetry(
      async () => {
        try {
          // One slot per attempt, not per retry loop: a backoff wait holds no slot. What the
          // server answered is the newest version there is: the cache takes it (read-your-writes).
          return cache.observe(await slot(fn, urgent));
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
          const delay =
            typeof after === 'number' && after > 0 ? after * 1000 : backoff.delay(attemptNumber - 1);
          await clock.sleep(delay);
        },
      },
    )
      .catch((e: unknown) => {
        throw isKanaryError(e) ? e : fromKubeError(e, what);
      })
      .finally(wrote);
  };

  const read = <T extends KubeObject>(ref: ObjectRef) => api.read(ref) as Promise<T>;
  const readOrUndefined = async <T extends KubeObject>(ref: ObjectRef): Promise<T | undefined> => {
    try {
      return await read<T>(ref);
    } catch (raw) {
      const error = fromKubeError(raw, describeRef('get', ref));
      if (error.code === 'NOT_FOUND') return undefined;
      throw raw;
    }
  };

  /**
   * A fenced write (inside a driver's port call): read, refuse if a newer epoch wrote the object,
   * then write on that version only, carrying our epoch. Conflicts re-read, so a newer driver's
   * write that lands in between is seen and refused.
   */
  const fenced = <T>(
    what: string,
    ref: ObjectRef,
    fence: WriteFence,
    write: (current: KubeObject | undefined) => Promise<T>,
  ): Promise<T> => {
    let attempt = 0;
    return call(
      what,
      async () => {
        const current = await readForWrite<KubeObject>(ref, attempt++);
        if (current) checkEpoch(fence, current, what);
        else fence.assertHeld();
        return write(current);
      },
      true,
    );
  };
  /**
   * The version a conditional write starts from: on the first attempt the watch cache's, when it
   * has the object — every write sends that resourceVersion back, so a stale copy only costs a
   * 409, after which the retry reads the server. A cache that says "absent" is never trusted here.
   */
  const readForWrite = async <T extends KubeObject>(ref: ObjectRef, attempt: number) => {
    if (attempt === 0) {
      await cache.settle(ref.apiVersion, ref.kind, ref.namespace);
      const hit = cache.lookup(ref);
      if (hit && hit !== 'miss') return hit as T;
    }
    return readOrUndefined<T>(ref);
  };
  const rvOf = (obj: KubeObject | undefined) => obj?.metadata.resourceVersion as string;
  /** The watch cache's shared objects for an equality selector, when its watch can answer. */
  const cachedView = async (apiVersion: string, kind: string, namespace?: string, labelSelector?: string) => {
    const informer = cache.informerOf(apiVersion, kind, namespace);
    const labels = equalityLabels(labelSelector ?? '');
    if (!informer || !labels) return undefined;
    await cache.settle(apiVersion, kind, namespace);
    const hit = informer.view(labels);
    return hit === 'miss' ? undefined : hit;
  };
  const listFromServer = async <T extends KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ) => {
    // The items' fields are shared with every reader of the same LIST (and frozen by some).
    const result = await sharedList(apiVersion, kind, namespace, labelSelector);
    return result.items.map((i) => ({ apiVersion, kind, ...i }) as T);
  };

  const client: KubeClient = {
    clock,
    connection,
    kubeConfig: connection.kubeConfig,
    fieldManager,
    async get<T extends KubeObject>(ref: ObjectRef, options?: { fresh?: boolean }) {
      if (!options?.fresh) await cache.settle(ref.apiVersion, ref.kind, ref.namespace);
      const hit = options?.fresh ? 'miss' : cache.lookup(ref);
      if (hit !== 'miss') return hit as T | undefined;
      try {
        return (await call(describeRef('get', ref), () => read<T>(ref))) as T;
      } catch (e) {
        if (isKanaryError(e, 'NOT_FOUND')) return undefined;
        throw e;
      }
    },
    async getView<T extends KubeObject>(ref: ObjectRef) {
      await cache.settle(ref.apiVersion, ref.kind, ref.namespace);
      const hit = cache.lookup(ref, true);
      if (hit !== 'miss') return hit as T | undefined;
      const served = await client.get<T>(ref);
      return served && deepFreeze(served);
    },
    async list<T extends KubeObject>(
      apiVersion: string,
      kind: string,
      namespace?: string,
      labelSelector?: string,
    ) {
      const hit = await cachedView(apiVersion, kind, namespace, labelSelector);
      const found = hit ?? (await listFromServer<T>(apiVersion, kind, namespace, labelSelector));
      return found.map((o) => structuredClone(o)) as T[];
    },
    async listView<T extends KubeObject>(
      apiVersion: string,
      kind: string,
      namespace?: string,
      labelSelector?: string,
    ) {
      const hit = await cachedView(apiVersion, kind, namespace, labelSelector);
      if (hit) return hit as ReadonlyArray<T>;
      return deepFreeze(await listFromServer<T>(apiVersion, kind, namespace, labelSelector));
    },
    async listByIndex<T extends KubeObject>(
      apiVersion: string,
      kind: string,
      namespace: string,
      index: ObjectIndex,
      keys: readonly string[],
    ) {
      const informer = cache.informerOf(apiVersion, kind, namespace);
      await cache.settle(apiVersion, kind, namespace);
      const hits = informer
        ? keys.map((k) => informer.byIndex(index.name, index.keysOf, k))
        : ['miss' as const];
      if (!hits.includes('miss')) {
        const found = hits as unknown as ReadonlyArray<ReadonlyArray<T>>;
        return found.length === 1 ? (found[0] as ReadonlyArray<T>) : [...new Set(found.flat())];
      }
      const all = await client.listView<T>(apiVersion, kind, namespace);
      return all.filter((o) => index.keysOf(o).some((k) => keys.includes(k)));
    },
    create<T extends KubeObject>(obj: T) {
      const fence = currentFence();
      fence?.assertHeld();
      const body = fence ? stampEpoch(fence, obj) : obj;
      return call(describeRef('create', refOf(obj)), () => api.create(body, fieldManager)) as Promise<T>;
    },
    replace<T extends KubeObject>(obj: T) {
      const fence = currentFence();
      const what = describeRef('replace', refOf(obj));
      if (!fence) return call(what, () => api.replace(obj, fieldManager)) as Promise<T>;
      if (obj.metadata.resourceVersion) {
        // Conditional already: the body is the version the caller read.
        checkEpoch(fence, obj, what);
        return call(what, () => api.replace(stampEpoch(fence, obj), fieldManager)) as Promise<T>;
      }
      return fenced(what, refOf(obj), fence, async (current) => {
        const body = stampEpoch(fence, {
          ...obj,
          metadata: { ...obj.metadata, ...(current ? { resourceVersion: rvOf(current) } : {}) },
        });
        return (await api.replace(body, fieldManager)) as T;
      });
    },
    mergePatch<T extends KubeObject>(ref: ObjectRef, body: Record<string, unknown>) {
      const send = (extra: Record<string, unknown> | undefined) => {
        const metadata = { ...((body.metadata as object) ?? {}), ...(extra ?? {}), ...asSpec(ref).metadata };
        return api.patch(ref, { ...body, ...asSpec(ref), metadata }, MERGE_PATCH, {
          fieldManager,
        }) as Promise<T>;
      };
      const fence = currentFence();
      const what = describeRef('patch', ref);
      if (!fence) return call(what, () => send(undefined));
      return fenced(what, ref, fence, (current) => {
        if (!current) throw notFound(what);
        const annotations = {
          ...((body.metadata as { annotations?: object } | undefined)?.annotations ?? {}),
          ...epochStamp(fence),
        };
        fence.onWrite?.(ref);
        return send({ resourceVersion: rvOf(current), annotations });
      });
    },
    jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[]) {
      const fence = currentFence();
      const what = describeRef('patch', ref);
      if (!fence) return call(what, () => api.patch(ref, ops, JSON_PATCH, { fieldManager })) as Promise<T>;
      return fenced(what, ref, fence, async (current) => {
        if (!current) throw notFound(what);
        const stamped = epochStamp(fence);
        fence.onWrite?.(ref);
        const epochOps: JsonPatchOp[] = current.metadata.annotations
          ? Object.entries(stamped).map(([k, v]) => ({
              op: 'add' as const,
              path: annotationPointer(k),
              value: v,
            }))
          : [{ op: 'add', path: '/metadata/annotations', value: stamped }];
        return (await api.patch(
          ref,
          [{ op: 'test', path: '/metadata/resourceVersion', value: rvOf(current) }, ...ops, ...epochOps],
          JSON_PATCH,
          { fieldManager },
        )) as T;
      });
    },
    apply<T extends KubeObject>(obj: T, opts: { force?: boolean } = {}) {
      const send = (config: KubernetesObject) =>
        api.patch(refOf(obj), config, APPLY_PATCH, {
          fieldManager,
          force: opts.force ?? false,
        }) as Promise<T>;
      const fence = currentFence();
      const what = describeRef('apply', refOf(obj));
      if (!fence) return call(what, () => send(stripServerFields(obj)));
      return fenced(what, refOf(obj), fence, (current) => {
        const config = stripServerFields(stampEpoch(fence, obj));
        // An applied config may carry resourceVersion: the API server then treats it as a precondition.
        if (current) config.metadata = { ...config.metadata, resourceVersion: rvOf(current) };
        return send(config);
      });
    },
    async delete(ref: ObjectRef, options?: { resourceVersion?: string }) {
      const fence = currentFence();
      const what = describeRef('delete', ref);
      try {
        if (!fence) {
          const version = options?.resourceVersion;
          await call(what, () => api.delete(ref, version));
          return;
        }
        await fenced(what, ref, fence, async (current) => {
          if (!current) return;
          await api.delete(ref, rvOf(current));
        });
      } catch (e) {
        if (!isKanaryError(e, 'NOT_FOUND')) throw e;
      }
    },
    async unfence(ref: ObjectRef, rollout: string) {
      const key = epochAnnotation(rollout);
      const pointer = annotationPointer(key);
      // Removes our stamp only if it is still the one seen: a newer driver's stamp (a test that
      // fails) is left alone, and whatever else changed since is not touched.
      const unstamp = (current: KubeObject | undefined) => {
        const value = current?.metadata.annotations?.[key];
        if (value === undefined) return Promise.resolve(undefined);
        const only = Object.keys(current?.metadata.annotations ?? {}).length === 1;
        return api.patch(
          ref,
          only
            ? [
                { op: 'test', path: '/metadata/annotations', value: { [key]: value } },
                { op: 'remove', path: '/metadata/annotations' },
              ]
            : [
                { op: 'test', path: pointer, value },
                { op: 'remove', path: pointer },
              ],
          JSON_PATCH,
          { fieldManager },
        );
      };
      // First from the watch cache (every object we stamped went through it); a stale copy (its
      // test fails, or the object has other annotations by now) falls back to the server's.
      await cache.settle(ref.apiVersion, ref.kind, ref.namespace);
      const hit = cache.lookup(ref, true);
      if (hit !== 'miss') {
        try {
          await call(describeRef('patch', ref), () => unstamp(hit));
          return;
        } catch (e) {
          if (isKanaryError(e, 'NOT_FOUND')) return;
        }
      }
      await call(
        describeRef('patch', ref),
        async () => unstamp(await readOrUndefined<KubeObject>(ref)),
        true,
      );
    },
    watched: cache.watched,
    watching(apiVersion, kind, namespace) {
      return cache.informerOf(apiVersion, kind, namespace)?.live ?? false;
    },
    onChange(apiVersion, kind, namespace, listener) {
      const informer = cache.informerOf(apiVersion, kind, namespace);
      if (!informer) return () => {};
      informer.start();
      return informer.onChange(listener);
    },
    async close() {
      cache.stop();
      await connection.close();
    },
    async update<T extends KubeObject>(ref: ObjectRef, mutate: (current: T) => T | undefined) {
      const fence = currentFence();
      const what = describeRef('update', ref);
      let attempt = 0;
      return call(
        what,
        async () => {
          const current = await readForWrite<T>(ref, attempt++);
          if (!current) throw notFound(what);
          if (fence) checkEpoch(fence, current, what);
          const mutated = mutate(structuredClone(current));
          if (!mutated) return current;
          const next = fence ? stampEpoch(fence, mutated) : mutated;
          return (await api.replace(
            { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion } },
            fieldManager,
          )) as T;
        },
        true,
      );
    },
  };
  return client;
}

/** The JSON pointer to an annotation (RFC 6901: `~` and `/` in the key escaped). */
const annotationPointer = (key: string) =>
  `/metadata/annotations/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

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
