import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isKanaryError, toKanaryError } from '@kanary/core/adapter';
import { createPrometheusClient, HttpError, selectJsonPath } from '@kanary/metrics';
import { afterEach, describe, expect, it } from 'vitest';

/** A loopback server standing in for Prometheus, answering from a handler and recording requests. */
async function fakeServer(
  handler: (req: IncomingMessage, body: string) => { status: number; body: unknown } | 'hang',
) {
  const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      const answer = handler(req, body);
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  closers.push(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

const vector = (v: number) => ({
  status: 'success',
  data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [1, String(v)] }] },
});

describe('Prometheus client', () => {
  it('sends bearer auth and custom headers, and posts the query form-encoded', async () => {
    const s = await fakeServer(() => ({ status: 200, body: vector(42) }));
    const client = createPrometheusClient({
      address: `${s.url}/`,
      bearerToken: 't0k',
      headers: { 'x-scope-orgid': 'shop' },
    });
    const r = await client.instant('sum(x{a="b"})');
    expect(r).toEqual({ type: 'vector', series: [{ labels: { pod: 'a' }, value: 42 }] });
    expect(s.seen[0]?.url).toBe('/api/v1/query');
    expect(s.seen[0]?.headers.authorization).toBe('Bearer t0k');
    expect(s.seen[0]?.headers['x-scope-orgid']).toBe('shop');
    expect(new URLSearchParams(s.seen[0]?.body).get('query')).toBe('sum(x{a="b"})');
  });

  it('sends basic auth', async () => {
    const s = await fakeServer(() => ({
      status: 200,
      body: { status: 'success', data: { resultType: 'scalar', result: [1, '0.5'] } },
    }));
    const r = await createPrometheusClient({
      address: s.url,
      basicAuth: { username: 'u', password: 'p' },
    }).instant('0.5');
    expect(r).toEqual({ type: 'scalar', value: 0.5 });
    expect(s.seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('retries 503 and 429, then answers', async () => {
    let n = 0;
    const s = await fakeServer(() =>
      ++n < 3 ? { status: n === 1 ? 503 : 429, body: {} } : { status: 200, body: vector(1) },
    );
    await expect(createPrometheusClient({ address: s.url, retries: 2 }).instant('up')).resolves.toMatchObject(
      { type: 'vector' },
    );
    expect(s.seen).toHaveLength(3);
  });

  it('does not retry a bad query, and reports Prometheus’ own error', async () => {
    const s = await fakeServer(() => ({
      status: 400,
      body: { status: 'error', errorType: 'bad_data', error: 'parse error at char 5' },
    }));
    const err = await createPrometheusClient({ address: s.url })
      .instant('sum(')
      .catch((e) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err.message).toMatch(/bad_data: parse error at char 5/);
    expect(s.seen).toHaveLength(1);
    // One error type for every package: a KanaryError of code ANALYSIS, its retryability kept
    // through toKanaryError (a bad query is not worth retrying).
    expect(isKanaryError(err, 'ANALYSIS')).toBe(true);
    expect(toKanaryError(err)).toMatchObject({
      code: 'ANALYSIS',
      retryable: false,
      details: { httpStatus: 400 },
    });
  });

  it('times out a server that never answers, per attempt', async () => {
    const s = await fakeServer(() => 'hang');
    const err = await createPrometheusClient({ address: s.url, timeoutMs: 200, retries: 1 })
      .instant('up')
      .catch((e) => e);
    expect(err.message).toMatch(/within 200ms/);
    expect(s.seen).toHaveLength(2);
  });

  it('reads range queries into points in milliseconds', async () => {
    const s = await fakeServer(() => ({
      status: 200,
      body: {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: {},
              values: [
                [10, '1'],
                [20, '2'],
              ],
            },
          ],
        },
      },
    }));
    const r = await createPrometheusClient({ address: s.url }).range('x', {
      start: 10_000,
      end: 20_000,
      stepMs: 10_000,
    });
    expect(r).toEqual([
      {
        labels: {},
        points: [
          [10_000, 1],
          [20_000, 2],
        ],
      },
    ]);
    const form = new URLSearchParams(s.seen[0]?.body);
    expect([form.get('start'), form.get('end'), form.get('step')]).toEqual(['10.000', '20.000', '10s']);
  });
});

describe('JSONPath for web metrics', () => {
  const doc = { data: { ratio: 0.99, series: [{ v: 1 }, { v: 2 }], 'odd key': 3 } };
  it('selects fields, indexes and wildcards', () => {
    expect(selectJsonPath(doc, '$.data.ratio')).toBe(0.99);
    expect(selectJsonPath(doc, '$.data.series[-1].v')).toBe(2);
    expect(selectJsonPath(doc, "$.data['odd key']")).toBe(3);
    expect(selectJsonPath(doc, '$.data.series[*].v')).toEqual([1, 2]);
    expect(selectJsonPath(doc, '$.data.missing')).toBeUndefined();
    expect(selectJsonPath(doc, '$.data.constructor')).toBeUndefined();
    expect(() => selectJsonPath(doc, 'data.ratio')).toThrow(/starts with "\$"/);
  });
});

describe('web provider through the gate', () => {
  it('fetches a URL with percent-encoded variables and judges the JSONPath value', async () => {
    const { createMetricGate } = await import('@kanary/metrics');
    const { parseRolloutSpec } = await import('@kanary/core');
    const s = await fakeServer(() => ({ status: 200, body: { data: { ok: '0.97' } } }));
    const spec = parseRolloutSpec({
      name: 'shop',
      target: { name: 'shop', service: 'shop' },
      update: { image: 'shop:2' },
      strategy: { type: 'weighted' },
      steps: [
        {
          analysis: {
            args: { env: 'prod&eu' },
            metrics: [
              {
                name: 'ok',
                provider: {
                  web: { url: `${s.url}/ratio?w={{canary}}&env={{args.env}}`, jsonPath: '$.data.ok' },
                },
                successCondition: 'result >= 0.99',
              },
            ],
          },
        },
      ],
    });
    const analysis = (
      spec.steps[0] as unknown as {
        analysis: Parameters<ReturnType<typeof createMetricGate>['evaluate']>[0]['analysis'];
      }
    ).analysis;
    // The spec names a full URL: the host allows that server (with no credentials).
    const r = await createMetricGate({ allowAddresses: [s.url] }).evaluate({
      key: 'steps[0]',
      analysis,
      state: undefined,
      startedAt: 0,
      now: 0,
      ctx: {
        key: { namespace: 'default', name: 'shop' },
        spec,
        targets: { canary: { name: 'shop-canary', podLabels: {} } },
        state: {} as never,
        signal: new AbortController().signal,
      },
    });
    expect(s.seen[0]?.url).toBe('/ratio?w=shop-canary&env=prod%26eu');
    expect(r.phase).toBe('failed');
    expect(r.measurements[0]?.value).toBe(0.97);
  });
});

// openssl makes the test's certificate; scripts/setup.sh --with-prometheus installs it (CI does).
const hasOpenssl = (await import('node:child_process')).spawnSync('openssl', ['version']).status === 0;
describe.skipIf(!hasOpenssl)('Prometheus over TLS', () => {
  it('trusts a server by the given CA, refuses an unknown one, and skips verification only when told', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createServer: createHttps } = await import('node:https');
    const dir = mkdtempSync(join(tmpdir(), 'kanary-tls-'));
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    expect(made.status).toBe(0);
    const cert = readFileSync(join(dir, 'cert.pem'));
    const server = createHttps({ cert, key: readFileSync(join(dir, 'key.pem')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(vector(7)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await expect(createPrometheusClient({ address, tls: { ca: cert } }).instant('up')).resolves.toMatchObject(
      { type: 'vector' },
    );
    await expect(createPrometheusClient({ address, retries: 0 }).instant('up')).rejects.toThrow(
      /self[- ]signed/i,
    );
    await expect(
      createPrometheusClient({ address, tls: { insecureSkipVerify: true } }).instant('up'),
    ).resolves.toMatchObject({ type: 'vector' });
  });
});
