import { createInterface } from 'node:readline';
import { request } from 'undici';
import type { ClusterConnection } from './connection.ts';

/** An API server's answer outside 2xx: its status code, body (a `Status`, as text) and headers. */
export class KubeHttpError extends Error {
  override readonly name = 'KubeHttpError';
  readonly code: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  constructor(code: number, body: string, headers: KubeHttpError['headers']) {
    super(`HTTP ${code}`);
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
  /** What watch callers (client-go style) read. */
  get statusCode(): number {
    return this.code;
  }
}

type Query = Record<string, string | number | boolean | undefined>;

export interface SendOptions {
  query?: Query;
  body?: unknown;
  /** The body's media type (default JSON; patches name their own). */
  contentType?: string;
}

/** Opens a watch; `done` is called once when it ends (with the error, if any). */
export type WatchEvent = (type: string, object: Record<string, unknown>) => void;

/**
 * JSON over HTTP to the API server: client-node's generated API and its object serializer are
 * not on this path (they cost memory and CPU on every response, and Kanary reads plain JSON).
 */
export interface Transport {
  send<T>(method: string, path: string, options?: SendOptions): Promise<T>;
  watch(
    path: string,
    query: Query,
    onEvent: WatchEvent,
    done: (error?: unknown) => void,
    inactivityMs: number,
  ): Promise<{ abort(): void }>;
}

export function createTransport(connection: ClusterConnection): Transport {
  const url = (path: string, query: Query = {}) => {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') search.set(k, String(v));
    const qs = search.toString();
    return `${connection.server}${path}${qs ? `?${qs}` : ''}`;
  };
  return {
    async send<T>(method: string, path: string, options: SendOptions = {}) {
      const { headers, dispatcher } = await connection.prepare();
      const res = await request(url(path, options.query), {
        method: method as 'GET',
        dispatcher,
        headers: {
          ...headers,
          accept: 'application/json',
          ...(options.body !== undefined
            ? { 'content-type': options.contentType ?? 'application/json' }
            : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      const text = await res.body.text();
      if (res.statusCode < 200 || res.statusCode >= 300)
        throw new KubeHttpError(res.statusCode, text, res.headers);
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async watch(path, query, onEvent, done, inactivityMs) {
      // Before the answer, the request is aborted; after it, its body is closed (aborting then
      // throws from undici's abort listener instead of ending the stream quietly).
      const controller = new AbortController();
      let body: { destroy(): void } | undefined;
      let ended = false;
      const end = (error?: unknown) => {
        if (ended) return;
        ended = true;
        if (body) body.destroy();
        else controller.abort();
        done(error);
      };
      try {
        const { headers, dispatcher } = await connection.prepare();
        const res = await request(url(path, { ...query, watch: true }), {
          method: 'GET',
          dispatcher,
          headers: { ...headers, accept: 'application/json' },
          signal: controller.signal,
          // undici's gap allowed between two chunks: a watch silent for longer is cut and
          // reopened (the server is asked to end it sooner, and bookmarks keep it talking).
          bodyTimeout: inactivityMs,
        });
        if (res.statusCode !== 200) {
          const text = await res.body.text().catch(() => '');
          throw new KubeHttpError(res.statusCode, text, res.headers);
        }
        body = res.body;
        if (ended) res.body.destroy();
        res.body.on('error', (e) => end(e));
        const lines = createInterface({ input: res.body, crlfDelay: Number.POSITIVE_INFINITY });
        lines.on('line', (line) => {
          if (ended || !line) return;
          let event: { type?: string; object?: Record<string, unknown> };
          try {
            event = JSON.parse(line);
          } catch {
            return; // a line cut by the connection's end: the watch is reopened from the last version
          }
          if (event.type && event.object) onEvent(event.type, event.object);
        });
        // readline passes its input's errors on (a closed body's included): unhandled, they would throw.
        lines.on('error', (e) => end(e));
        lines.on('close', () => end());
      } catch (error) {
        end(error);
      }
      return { abort: () => end() };
    },
  };
}
