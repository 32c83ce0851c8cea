import type { Clock } from '../ports/clock.ts';
import { createRetryPolicy } from '../retry/policy.ts';
import type { KubeObject } from './client.ts';
import { deepFreeze } from './frozen.ts';

/** A LIST at a resourceVersion: where a watch starts. */
export interface Listed {
  items: KubeObject[];
  resourceVersion: string;
}

/**
 * Opens a watch from `resourceVersion`, or with `initial` one that streams the kind's state first
 * (a streaming list: ADDED events, then a bookmark annotated `k8s.io/initial-events-end`); `done`
 * is called once when it ends (with the error, if any).
 */
export type OpenWatch = (
  resourceVersion: string,
  onEvent: (type: string, object: KubeObject) => void,
  done: (error?: unknown) => void,
  initial?: boolean,
) => Promise<{ abort(): void }>;

/** What a streaming list ends with when the server does not stream lists: LIST, then WATCH. */
export const WATCH_LIST_REFUSED: unique symbol = Symbol('the API server does not stream lists');

/** The annotation on the bookmark that ends a streaming list's initial events. */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

export interface InformerOptions {
  clock: Clock;
  list: () => Promise<Listed>;
  watch: OpenWatch;
  /**
   * Whether to list by a streaming watch (one request instead of a LIST and a WATCH) now; asked at
   * each relist. A refusal (`WATCH_LIST_REFUSED`) falls back to LIST then WATCH at once.
   */
  streams?: () => boolean;
  /**
   * A label selector the LIST and WATCH carry (`''`: every object). With one, a name not in the
   * cache may still exist unselected: `get` answers only hits.
   */
  selector?: string;
  /** Stops after this long without a read (ms of the clock; default 60 s). */
  idleMs?: number;
}

const numeric = (rv: string | undefined) => (rv && /^\d+$/.test(rv) ? BigInt(rv) : undefined);

/** Whether `next` is not older than `current` (resourceVersions compare only when both are numbers). */
function notOlder(next: KubeObject, current: KubeObject | undefined): boolean {
  const a = numeric(next.metadata.resourceVersion);
  const b = numeric(current?.metadata.resourceVersion);
  return a === undefined || b === undefined || a >= b;
}

/**
 * One kind in one namespace, listed once and kept current by a watch: the reads of every rollout
 * in the process are answered from it while its watch is open (`live`), and go to the API server
 * otherwise. A watch that ends is reopened from the last version seen (relisted on 410 Gone), with
 * backoff on the injected clock after failures; the server's own watch timeout (asked for) makes
 * even a silently stalled stream end and relist. Writes the client makes are applied at once from
 * their responses (read-your-writes), never replacing a newer version.
 */
export class Informer {
  readonly #options: InformerOptions;
  #objects = new Map<string, KubeObject>();
  // Bumped on every change: the view of the whole kind is made once per generation.
  #generation = 0;
  #all: { generation: number; items: readonly KubeObject[] } | undefined;
  // client-go's indexers: objects by derived keys (the labels index is built in), kept as objects
  // change, so a lookup walks the few objects under its key, not the whole kind (at a thousand
  // rollouts in a namespace, rebuilding every selector's view on any pod's change was most of the
  // process's allocation). A key's generation moves only when an object under it changes.
  readonly #indexes = new Map<string, Index>([['labels', newIndex(labelPairs)]]);
  #version = '';
  #live = false;
  #stopped = false;
  #started = false;
  #lastRead = 0;
  #current: { abort(): void } | undefined;
  readonly #listeners = new Set<(object?: KubeObject) => void>();
  readonly #wake = new AbortController();
  // Settles once the first list and watch have been tried (live, or failed): readers that arrive
  // while it is pending wait for it instead of asking the server what the LIST is already fetching.
  readonly #firstTry = Promise.withResolvers<void>();

  constructor(options: InformerOptions) {
    this.#options = options;
  }

  /** Listed and watching: reads may be answered from the cache. */
  get live(): boolean {
    return this.#live && !this.#stopped;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Resolves once the informer has been live, or its first list or watch failed, or it stopped:
   * after that, a read either hits the cache or should go to the server. Start it first.
   */
  settled(): Promise<void> {
    return this.#firstTry.promise;
  }

  /** Starts listing and watching, once. */
  start(): void {
    this.#lastRead = this.#options.clock.now();
    if (this.#started) return;
    this.#started = true;
    void this.#run();
  }

  /**
   * The cached object (a copy), `undefined` when the kind is watched whole and it does not exist,
   * or `'miss'` when the cache cannot tell (not live, or a selector that may leave it out).
   */
  get(name: string): KubeObject | undefined | 'miss' {
    const found = this.peek(name);
    return found && found !== 'miss' ? structuredClone(found) : found;
  }

  /** Like `get`, without the copy: the cache's own frozen object, shared by every reader. */
  peek(name: string): KubeObject | undefined | 'miss' {
    this.#lastRead = this.#options.clock.now();
    if (!this.live) return 'miss';
    const found = this.#objects.get(name);
    if (found) return found;
    return this.#options.selector ? 'miss' : undefined;
  }

  /**
   * The cached objects matching every `key=value` themselves (frozen, shared by every reader, not
   * copied), or `'miss'` when not live. The same array comes back until something changes, so a
   * reader may remember what it derived from it (by identity).
   */
  view(labels: Record<string, string>): readonly KubeObject[] | 'miss' {
    this.#lastRead = this.#options.clock.now();
    if (!this.live || this.#options.selector) return 'miss';
    const pairs = Object.keys(labels).map((k) => `${k}=${labels[k]}`);
    if (pairs.length === 0) {
      if (this.#all?.generation !== this.#generation)
        this.#all = { generation: this.#generation, items: Object.freeze([...this.#objects.values()]) };
      return this.#all.items;
    }
    return this.#lookup(this.#indexes.get('labels') as Index, pairs);
  }

  /**
   * The objects `keysOf` files under `key` (frozen, shared; the same array until one of them
   * changes), or `'miss'` when not live. The index is built on first use and kept from then on.
   */
  byIndex(
    name: string,
    keysOf: (object: KubeObject) => readonly string[],
    key: string,
  ): readonly KubeObject[] | 'miss' {
    this.#lastRead = this.#options.clock.now();
    if (!this.live || this.#options.selector) return 'miss';
    let index = this.#indexes.get(name);
    if (!index) {
      index = newIndex(keysOf);
      for (const [n, o] of this.#objects) file(index, n, o);
      this.#indexes.set(name, index);
    }
    return this.#lookup(index, [key]);
  }

  /** The objects under every one of `keys`, cached until one of those keys' generations moves. */
  #lookup(index: Index, keys: readonly string[]): readonly KubeObject[] {
    const id = keys.join('\n');
    const gens = keys.map((k) => index.gens.get(k) ?? 0);
    const known = index.views.get(id);
    if (known?.gens.every((g, i) => g === gens[i])) return known.items;
    let smallest: Set<string> | undefined;
    for (const k of keys) {
      const members = index.members.get(k);
      if (!members) {
        smallest = undefined;
        break;
      }
      if (!smallest || members.size < smallest.size) smallest = members;
    }
    const items: KubeObject[] = [];
    for (const name of smallest ?? []) {
      const o = this.#objects.get(name);
      if (o && keys.every((k) => index.members.get(k)?.has(name))) items.push(o);
    }
    Object.freeze(items);
    if (index.views.size > 4096) index.views.clear();
    index.views.set(id, { gens, items });
    return items;
  }

  /** A write's response: applied unless the cache already has a newer version. */
  observe(object: KubeObject): void {
    if (!this.#started) return;
    const current = this.#objects.get(object.metadata.name);
    if (notOlder(object, current)) this.#put(structuredClone(slim(object)));
  }

  #put(object: KubeObject): void {
    this.#set(object.metadata.name, kept(object));
  }

  /** Every change of an object goes through here: the indexes follow it. */
  #set(name: string, object: KubeObject | undefined): void {
    const before = this.#objects.get(name);
    if (object) this.#objects.set(name, object);
    else this.#objects.delete(name);
    this.#generation++;
    for (const index of this.#indexes.values()) {
      if (before) unfile(index, name, before);
      if (object) file(index, name, object);
    }
  }

  /**
   * Calls `listener` after every change the watch delivers, with the object (none after a relist,
   * which may hide any change); returns how to stop.
   */
  onChange(listener: (object?: KubeObject) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#live = false;
    this.#current?.abort();
    this.#wake.abort();
    this.#firstTry.resolve();
  }

  async #run(): Promise<void> {
    const { clock } = this.#options;
    const backoff = createRetryPolicy({ clock, baseMs: 200, maxMs: 30_000 });
    let failures = 0;
    while (!this.#stopped) {
      // Unread for long and nobody listening: nothing needs it.
      if (this.#listeners.size === 0 && clock.now() - this.#lastRead > (this.#options.idleMs ?? 60_000)) {
        this.stop();
        return;
      }
      let failed = false;
      try {
        if (!this.#version && this.#options.streams?.()) {
          const error = await this.#watchOnce(true);
          // Refused: LIST then WATCH at once, and readers keep waiting for that first list.
          if (error === WATCH_LIST_REFUSED) continue;
          // A stream that ended before its state was whole lists nothing: tried again after a wait.
          failed = error !== undefined || !this.#version;
        } else {
          if (!this.#version) await this.#relist();
          failed = (await this.#watchOnce(false)) !== undefined;
        }
      } catch {
        failed = true;
      }
      this.#live = false;
      this.#firstTry.resolve();
      if (this.#stopped) return;
      failures = failed ? failures + 1 : 0;
      if (failures > 0) await clock.sleep(backoff.delay(failures - 1), this.#wake.signal);
    }
  }

  async #relist(): Promise<void> {
    const listed = await this.#options.list();
    const next = new Map<string, KubeObject>();
    for (const o of listed.items) next.set(o.metadata.name, kept(o));
    this.#install(next, listed.resourceVersion);
  }

  /** The kind's whole state at `resourceVersion` (a LIST's, or a streaming list's) replaces the cache's. */
  #install(next: Map<string, KubeObject>, resourceVersion: string): void {
    const at = numeric(resourceVersion);
    // A write applied after the list's snapshot was taken is newer than what the list returned.
    if (at !== undefined)
      for (const [name, o] of this.#objects) {
        const v = numeric(o.metadata.resourceVersion);
        if (v !== undefined && v > at && notOlder(o, next.get(name))) next.set(name, o);
      }
    this.#objects = next;
    this.#generation++;
    // Rebuilt whole: generations are ticks of one counter, so no view survives the relist wrongly.
    for (const index of this.#indexes.values()) {
      index.members.clear();
      index.gens.clear();
      index.views.clear();
      for (const [n, o] of next) file(index, n, o);
    }
    this.#version = resourceVersion;
    this.#notify();
  }

  /**
   * One watch, until it ends; resolves to its error, if any. With `initial`, a streaming list: the
   * state it sends first is gathered aside and installed whole at the bookmark that ends it, and
   * only then is the cache live.
   */
  #watchOnce(initial: boolean): Promise<unknown> {
    return new Promise((resolve) => {
      let ended = false;
      let gathering = initial ? new Map<string, KubeObject>() : undefined;
      const done = (error?: unknown) => {
        if (ended) return;
        ended = true;
        this.#live = false;
        this.#current = undefined;
        const code = (error as { statusCode?: number; code?: number } | undefined)?.statusCode;
        if (code === 410) this.#version = '';
        resolve(error ?? undefined);
      };
      const onEvent = (type: string, object: KubeObject) => {
        if (type === 'ERROR') {
          // 410 Gone (too old a version): relist, then watch again.
          if ((object as unknown as { code?: number }).code === 410) this.#version = '';
          return;
        }
        if (gathering) {
          if (type === 'BOOKMARK') {
            if (object.metadata?.annotations?.[INITIAL_EVENTS_END] !== 'true') return;
            this.#install(gathering, object.metadata.resourceVersion ?? '');
            gathering = undefined;
            this.#live = !this.#stopped;
            this.#firstTry.resolve();
            return;
          }
          const name = object.metadata?.name;
          if (!name) return;
          if (type === 'DELETED') gathering.delete(name);
          else gathering.set(name, kept(object));
          return;
        }
        if (type === 'BOOKMARK') {
          this.#version = object.metadata?.resourceVersion ?? this.#version;
          return;
        }
        const name = object.metadata?.name;
        if (!name) return;
        const current = this.#objects.get(name);
        if (notOlder(object, current)) {
          if (type === 'DELETED') this.#set(name, undefined);
          else this.#put(object);
        }
        this.#version = object.metadata.resourceVersion ?? this.#version;
        this.#notify(object);
      };
      this.#options.watch(initial ? '' : this.#version, onEvent, done, initial).then(
        (handle) => {
          if (ended) return;
          this.#current = handle;
          if (this.#stopped) handle.abort();
          // The response's headers have arrived: events from the version listed are on their way.
          // (A streaming list is live at the end of its initial events instead.)
          else if (!initial) {
            this.#live = true;
            this.#firstTry.resolve();
          }
        },
        (error: unknown) => done(error ?? new Error('watch failed')),
      );
    });
  }

  #notify(object?: KubeObject): void {
    for (const l of this.#listeners) l(object);
  }
}

/**
 * Without `metadata.managedFields`, as client-go's informers are commonly set up to keep them
 * (`TransformStripManagedFields`): a third or more of a pod's bytes that no reader of the cache
 * uses. A write built from a cached object carries none, and the API server then keeps the
 * object's own (an update changes managedFields only when it sends some).
 */
function slim(object: KubeObject): KubeObject {
  if (!object.metadata?.managedFields) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

/** What the cache holds of an object: slimmed, and frozen for every reader to share. */
const kept = (object: KubeObject): KubeObject => deepFreeze(slim(object));

interface Index {
  keysOf(object: KubeObject): readonly string[];
  /** Key → names of the objects filed under it. */
  members: Map<string, Set<string>>;
  /** Key → when an object under it last changed (a tick of `changes`; absent while nothing is under it). */
  gens: Map<string, number>;
  views: Map<string, { gens: number[]; items: readonly KubeObject[] }>;
}

const newIndex = (keysOf: Index['keysOf']): Index => ({
  keysOf,
  members: new Map(),
  gens: new Map(),
  views: new Map(),
});

function labelPairs(object: KubeObject): string[] {
  const labels = object.metadata.labels ?? {};
  return Object.keys(labels).map((k) => `${k}=${labels[k]}`);
}

// One counter for every index: a key emptied and filled again never returns to a generation a
// cached view recorded.
let changes = 0;

function file(index: Index, name: string, object: KubeObject): void {
  for (const key of new Set(index.keysOf(object))) {
    const members = index.members.get(key) ?? new Set<string>();
    index.members.set(key, members);
    members.add(name);
    index.gens.set(key, ++changes);
  }
}

function unfile(index: Index, name: string, object: KubeObject): void {
  // Each key once: a pod listed in two subsets must not leave a generation behind with no members.
  for (const key of new Set(index.keysOf(object))) {
    const members = index.members.get(key);
    members?.delete(name);
    if (members?.size === 0) {
      index.members.delete(key);
      index.gens.delete(key);
    } else index.gens.set(key, ++changes);
  }
}
