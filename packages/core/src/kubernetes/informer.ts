import type { Clock } from '../ports/clock.ts';
import { createRetryPolicy } from '../retry/policy.ts';
import type { KubeObject } from './client.ts';
import { deepFreeze } from './frozen.ts';

/** A LIST at a resourceVersion: where a watch starts. */
export interface Listed {
  items: KubeObject[];
  resourceVersion: string;
}

/** Opens a watch from `resourceVersion`; `done` is called once when it ends (with the error, if any). */
export type OpenWatch = (
  resourceVersion: string,
  onEvent: (type: string, object: KubeObject) => void,
  done: (error?: unknown) => void,
) => Promise<{ abort(): void }>;

export interface InformerOptions {
  clock: Clock;
  list: () => Promise<Listed>;
  watch: OpenWatch;
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
  // Bumped on every change: a view (shared, frozen objects) is made once per generation and selector.
  #generation = 0;
  #views = new Map<string, { generation: number; items: readonly KubeObject[] }>();
  #version = '';
  #live = false;
  #stopped = false;
  #started = false;
  #lastRead = 0;
  #current: { abort(): void } | undefined;
  readonly #listeners = new Set<(object?: KubeObject) => void>();
  readonly #wake = new AbortController();

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
    this.#lastRead = this.#options.clock.now();
    if (!this.live) return 'miss';
    const found = this.#objects.get(name);
    if (found) return structuredClone(found);
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
    const key = JSON.stringify(labels);
    const known = this.#views.get(key);
    if (known?.generation === this.#generation) return known.items;
    const wanted = Object.entries(labels);
    const items: KubeObject[] = [];
    for (const o of this.#objects.values()) {
      const own = o.metadata.labels;
      if (wanted.every(([k, v]) => own?.[k] === v)) items.push(o);
    }
    Object.freeze(items);
    if (this.#views.size > 256) this.#views.clear();
    this.#views.set(key, { generation: this.#generation, items });
    return items;
  }

  /** A write's response: applied unless the cache already has a newer version. */
  observe(object: KubeObject): void {
    if (!this.#started) return;
    const current = this.#objects.get(object.metadata.name);
    if (notOlder(object, current)) this.#put(structuredClone(object));
  }

  #put(object: KubeObject): void {
    this.#objects.set(object.metadata.name, deepFreeze(object));
    this.#generation++;
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
        if (!this.#version) await this.#relist();
        failed = (await this.#watchOnce()) !== undefined;
      } catch {
        failed = true;
      }
      this.#live = false;
      if (this.#stopped) return;
      failures = failed ? failures + 1 : 0;
      if (failures > 0) await clock.sleep(backoff.delay(failures - 1), this.#wake.signal);
    }
  }

  async #relist(): Promise<void> {
    const listed = await this.#options.list();
    const at = numeric(listed.resourceVersion);
    const next = new Map<string, KubeObject>();
    for (const o of listed.items) next.set(o.metadata.name, deepFreeze(o));
    // A write applied after the LIST's snapshot was taken is newer than what the LIST returned.
    if (at !== undefined)
      for (const [name, o] of this.#objects) {
        const v = numeric(o.metadata.resourceVersion);
        if (v !== undefined && v > at && notOlder(o, next.get(name))) next.set(name, o);
      }
    this.#objects = next;
    this.#generation++;
    this.#version = listed.resourceVersion;
    this.#notify();
  }

  /** One watch, until it ends; resolves to its error, if any. */
  #watchOnce(): Promise<unknown> {
    return new Promise((resolve) => {
      let ended = false;
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
        if (type === 'BOOKMARK') {
          this.#version = object.metadata?.resourceVersion ?? this.#version;
          return;
        }
        const name = object.metadata?.name;
        if (!name) return;
        const current = this.#objects.get(name);
        if (notOlder(object, current)) {
          if (type === 'DELETED') {
            this.#objects.delete(name);
            this.#generation++;
          } else this.#put(object);
        }
        this.#version = object.metadata.resourceVersion ?? this.#version;
        this.#notify(object);
      };
      this.#options.watch(this.#version, onEvent, done).then(
        (handle) => {
          if (ended) return;
          this.#current = handle;
          if (this.#stopped) handle.abort();
          // The response's headers have arrived: events from the version listed are on their way.
          else this.#live = true;
        },
        (error: unknown) => done(error ?? new Error('watch failed')),
      );
    });
  }

  #notify(object?: KubeObject): void {
    for (const l of this.#listeners) l(object);
  }
}
