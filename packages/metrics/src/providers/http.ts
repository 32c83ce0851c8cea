import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { bodyExcerpt, type Clock, createRetryPolicy, KanaryError } from '@kanary/core/adapter';

/** Authentication, TLS and timing shared by the HTTP-based providers. */
export interface HttpOptions {
  /** `Authorization: Bearer <token>`. */
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  headers?: Record<string, string>;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; insecureSkipVerify?: boolean };
  /** Per attempt (default 10s). */
  timeoutMs?: number;
  /** Further attempts after a network error, 429 or 5xx (default 2). */
  retries?: number;
}

/** A metrics server that failed or could not be reached: code ANALYSIS, `retryable` kept. */
export class HttpError extends KanaryError {
  override readonly name: string = 'HttpError';
  readonly status: number | undefined;
  readonly body: string | undefined;
  constructor(message: string, status: number | undefined, retryable: boolean, body?: string) {
    super('ANALYSIS', message, {
      retryable,
      ...(status !== undefined ? { details: { httpStatus: status } } : {}),
    });
    this.status = status;
    this.body = body;
  }
}

export interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

function once(
  options: HttpOptions,
  req: HttpRequest,
  clock: Clock,
): Promise<{ status: number; body: string }> {
  const url = new URL(req.url);
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers, ...req.headers };
  if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;
  if (options.basicAuth) {
    const { username, password } = options.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeout = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const r = send(
      url,
      {
        method: req.method ?? 'GET',
        headers,
        ...(url.protocol === 'https:'
          ? {
              ca: options.tls?.ca,
              cert: options.tls?.cert,
              key: options.tls?.key,
              rejectUnauthorized: options.tls?.insecureSkipVerify !== true,
            }
          : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    // The attempt's deadline runs on the injected clock, like every wait in Kanary.
    const settled = new AbortController();
    void clock.sleep(timeout, settled.signal).then(() => {
      if (!settled.signal.aborted)
        r.destroy(new HttpError(`no answer from ${url.host} within ${timeout}ms`, undefined, true));
    });
    r.on('close', () => settled.abort());
    r.on('error', (e) =>
      reject(
        e instanceof HttpError ? e : new HttpError(`${url.host}: ${(e as Error).message}`, undefined, true),
      ),
    );
    r.end(req.body);
  });
}

/**
 * One request with retries on network errors, 429 and 5xx; backoff waits on the given clock so
 * virtual time in tests never runs ahead of a provider that is waiting.
 */
export async function httpCall(
  options: HttpOptions,
  req: HttpRequest,
  clock: Clock,
): Promise<{ status: number; body: string }> {
  const attempts = 1 + (options.retries ?? 2);
  const backoff = createRetryPolicy({ clock, baseMs: 100, maxMs: 2_000, jitter: 'none' });
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await backoff.wait(attempt - 1, req.signal);
    if (req.signal?.aborted) break;
    try {
      const res = await once(options, req, clock);
      if (res.status === 429 || res.status >= 500) {
        last = new HttpError(
          `${new URL(req.url).host} answered ${res.status}: ${bodyExcerpt(res.body)}`,
          res.status,
          true,
          res.body,
        );
        continue;
      }
      return res;
    } catch (error) {
      last = error;
      if (error instanceof HttpError && !error.retryable) break;
    }
  }
  throw last ?? new HttpError('request aborted', undefined, false);
}
