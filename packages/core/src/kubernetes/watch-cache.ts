import type { Clock } from '../ports/clock.ts';
import { cacheScope, groupOf, WATCHED_RESOURCES } from './cached-kinds.ts';
import type { KubeObject, ObjectRef } from './client.ts';
import { Informer, type Listed, WATCH_LIST_REFUSED } from './informer.ts';
import { KubeHttpError, type Transport } from './transport.ts';

export interface WatchCacheOptions {
  /** Off: every lookup misses and nothing is watched. */
  enabled: boolean;
  /**
   * List by streaming watches (`sendInitialEvents`, Kubernetes' WatchList): one request per kind
   * instead of a LIST and a WATCH. An API group whose server refuses it is listed the old way
   * from then on. Default true.
   */
  watchList?: boolean;
  clock: Clock;
  transport: Transport;
  /** A LIST through the client (retries, limits), at a resourceVersion. */
  list(apiVersion: string, kind: string, namespace: string, selector: string): Promise<Listed>;
  /** The collection's path (discovery), for the watch. */
  collectionPath(apiVersion: string, kind: string, namespace: string): Promise<string>;
}

/** The client's informers: one per kind and namespace, made on the first read. */
export interface WatchCache {
  /** The informer for a watched kind in a namespace (made, not started), or undefined. */
  informerOf(apiVersion: string, kind: string, namespace: string | undefined): Informer | undefined;
  /**
   * The cached object (starting its informer): the object (a copy, or with `shared` the cache's
   * own frozen one), undefined (absent), or `'miss'`.
   */
  lookup(ref: ObjectRef, shared?: boolean): KubeObject | undefined | 'miss';
  /**
   * Starts the kind's informer and waits for its first list and watch to be tried, so a first
   * read is answered by the LIST already on its way instead of a GET of its own (client-go's
   * WaitForCacheSync). At once for kinds not watched, informers that have been tried, and kinds
   * listed before in this client (a restart's relist is not waited for).
   */
  settle(apiVersion: string, kind: string, namespace: string | undefined): Promise<void>;
  /** An object the server answered goes into the cache at once, so a writer reads its own write. */
  observe<T>(result: T): T;
  readonly watched: ReadonlyArray<{ apiGroup: string; resource: string }>;
  stop(): void;
}

// The server ends each watch after this (relisting a stalled stream); the client's own inactivity
// limit must be longer, or a quiet kind is cut every 30 s.
const WATCH_SECONDS = 300;

export function createWatchCache(options: WatchCacheOptions): WatchCache {
  const { clock } = options;
  const informers = new Map<string, Informer>();
  // Kinds whose informer has been live once in this client (see settle).
  const listedOnce = new Set<string>();
  // API groups whose server refused a streaming list: one server answers for a whole group
  // (kube-apiserver for built-in kinds and CRDs; an aggregated API server has its own gates).
  const refusedGroups = new Set<string>();

  const informerOf = (apiVersion: string, kind: string, namespace: string | undefined) => {
    if (!options.enabled || !namespace) return undefined;
    const selector = cacheScope(apiVersion, kind);
    if (selector === undefined) return undefined;
    const key = `${apiVersion}|${kind}|${namespace}`;
    const known = informers.get(key);
    if (known && !known.stopped) return known;
    const group = groupOf(apiVersion);
    const informer = new Informer({
      clock,
      selector,
      list: () => options.list(apiVersion, kind, namespace, selector),
      streams: () => (options.watchList ?? true) && !refusedGroups.has(group),
      watch: async (resourceVersion, onEvent, done, initial) =>
        options.transport.watch(
          await options.collectionPath(apiVersion, kind, namespace),
          {
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: WATCH_SECONDS,
            labelSelector: selector,
            ...(initial ? { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' } : {}),
          },
          (type, object) => onEvent(type, { apiVersion, kind, ...object } as KubeObject),
          (error) => {
            if (initial && refusesStreaming(error)) {
              refusedGroups.add(group);
              done(WATCH_LIST_REFUSED);
            } else done(error);
          },
          // Longer than the server's own end of the watch, or a quiet kind is cut every time.
          (WATCH_SECONDS + 60) * 1000,
        ),
    });
    informers.set(key, informer);
    return informer;
  };

  return {
    informerOf,
    lookup(ref, shared = false) {
      const informer = informerOf(ref.apiVersion, ref.kind, ref.namespace);
      if (!informer) return 'miss';
      informer.start();
      return shared ? informer.peek(ref.name) : informer.get(ref.name);
    },
    async settle(apiVersion, kind, namespace) {
      const informer = informerOf(apiVersion, kind, namespace);
      if (!informer) return;
      informer.start();
      // Only a kind's first LIST is waited for. An informer restarted after idling relists a kind
      // that may have grown large (a thousand VirtualServices): a reader then asks the server for
      // its one object rather than wait for all of them (measured: setWeight p99 141 → 688 ms at
      // 1,000 rollouts when every reader waited).
      const key = `${apiVersion}|${kind}|${namespace}`;
      if (listedOnce.has(key)) return;
      await informer.settled();
      if (informer.live) listedOnce.add(key);
    },
    observe(result) {
      const o = result as unknown as KubeObject | undefined;
      if (o?.metadata?.name && o.apiVersion && o.kind)
        informers.get(`${o.apiVersion}|${o.kind}|${o.metadata.namespace}`)?.observe(o);
      return result;
    },
    watched: options.enabled ? WATCHED_RESOURCES : [],
    stop() {
      for (const informer of informers.values()) informer.stop();
      informers.clear();
    },
  };
}

/**
 * A server without streaming lists answers 422 Invalid naming `sendInitialEvents` (the WatchList
 * gate off, as 1.33 ships) or `resourceVersionMatch` (servers before 1.27 forbid it on watches).
 */
function refusesStreaming(error: unknown): boolean {
  if (!(error instanceof KubeHttpError) || error.code !== 422) return false;
  return /sendInitialEvents|resourceVersionMatch/.test(error.body);
}
