import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { instantQuery, rangeQuery } from '../promql/evaluate.ts';
import { PromqlError, parseDuration } from '../promql/parse.ts';
import type { MetricsRegistry } from './metrics.ts';

/**
 * Serves the simulated data planes' metrics: `/metrics` (text exposition, for a real Prometheus to
 * scrape), `/api/v1/query` and `/api/v1/query_range` (Prometheus' query API, evaluating the PromQL
 * gates use over the registry at the emulator's clock, so gates run in virtual time without a
 * Prometheus; the registry keeps an hour of history, as a range query over it needs).
 */
export async function startMetricsServer(
  registry: MetricsRegistry,
  now: () => number,
  activity: { inflight: number; lastAt: number },
): Promise<{ url: string; queryUrl: string; close(): Promise<void> }> {
  const reply = (res: ServerResponse, status: number, body: string, type: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, value: unknown) =>
    reply(res, status, JSON.stringify(value), 'application/json');
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  const server = createServer((req, res) => {
    activity.inflight += 1;
    activity.lastAt = performance.now();
    res.on('close', () => {
      activity.inflight -= 1;
      activity.lastAt = performance.now();
    });
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/metrics') {
        reply(res, 200, registry.exposition(), 'text/plain; version=0.0.4; charset=utf-8');
        return;
      }
      if (url.pathname !== '/api/v1/query' && url.pathname !== '/api/v1/query_range') {
        json(res, 404, { status: 'error', errorType: 'not_found', error: `${url.pathname}: not served` });
        return;
      }
      const params = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams;
      const query = params.get('query') ?? '';
      /** A time as Prometheus takes it: Unix seconds or RFC 3339. */
      const timeOf = (name: string, text: string) => {
        const at = /^[0-9.]+$/.test(text) ? Number(text) * 1000 : Date.parse(text);
        if (Number.isNaN(at))
          throw new PromqlError(`invalid parameter "${name}": cannot parse "${text}" to a valid timestamp`);
        return at;
      };
      try {
        if (url.pathname === '/api/v1/query_range') {
          const step = params.get('step') ?? '';
          const stepMs = /^[0-9.]+$/.test(step) ? Number(step) * 1000 : parseDuration(step);
          const start = timeOf('start', params.get('start') ?? '');
          const end = Math.min(timeOf('end', params.get('end') ?? ''), now());
          json(res, 200, {
            status: 'success',
            data: rangeQuery(query, registry, { start, end, stepMs }, now()),
          });
          return;
        }
        const time = params.get('time');
        const at = time === null ? now() : /^[0-9.]+$/.test(time) ? Number(time) * 1000 : Date.parse(time);
        if (Number.isNaN(at)) throw new PromqlError(`time "${time}" is neither seconds nor RFC 3339`);
        json(res, 200, {
          status: 'success',
          data: instantQuery(query, registry, Math.min(at, now()), now()),
        });
      } catch (error) {
        if (!(error instanceof PromqlError)) throw error;
        json(res, 400, { status: 'error', errorType: 'bad_data', error: error.message });
      }
    })().catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { status: 'error', errorType: 'internal', error: String(e) });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    queryUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
