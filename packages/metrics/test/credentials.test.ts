// Credentials stay with their servers: a spec picks a server the host configured, or names an
// address the host allowed (called bare); anything else is refused before the rollout starts,
// and no request ever reaches it. Loopback servers record what they receive.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AnalysisSpec,
  createRollout,
  isKanaryError,
  parseRolloutSpec,
  type RolloutState,
} from '@kanary/core';
import type { PortContext } from '@kanary/core/adapter';
import { createMemoryRouter, createMemoryWorkload } from '@kanary/core/testing';
import { createMetricGate, type MetricGateOptions } from '@kanary/metrics';
import { afterEach, describe, expect, it } from 'vitest';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** Answers a Prometheus vector or `{ ratio: 0.99 }`, and records every request. */
async function recorder(): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const body = req.url?.startsWith('/api/v1/query')
        ? { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '0.99'] }] } }
        : { ratio: 0.99 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const base = {
  name: 'shop',
  namespace: 'shop',
  target: { name: 'shop', service: 'shop' },
  update: { image: 'shop:2' },
  strategy: { type: 'weighted' },
};
const specWith = (provider: Record<string, unknown>, args?: Record<string, string>) => ({
  ...base,
  steps: [
    { setWeight: 10 },
    {
      analysis: {
        ...(args ? { args } : {}),
        metrics: [
          {
            name: 'ok',
            provider,
            successCondition: 'web' in provider ? 'result >= 0.9' : 'result[0] >= 0.9',
          },
        ],
      },
    },
  ],
});

/** createRollout validates the spec with the gate: the refusal, or undefined when accepted. */
function refusal(options: MetricGateOptions, provider: Record<string, unknown>) {
  try {
    createRollout({
      spec: specWith(provider),
      workload: createMemoryWorkload(),
      router: createMemoryRouter(),
      gate: createMetricGate(options),
    });
    return undefined;
  } catch (error) {
    if (!isKanaryError(error, 'INVALID_SPEC')) throw error;
    return error.issues.map((i) => `${i.path}: ${i.message} (fix: ${i.hint})`).join('\n');
  }
}

/** One look of the gate at a metric, unvalidated (a spec can reach a gate without createRollout). */
async function look(
  options: MetricGateOptions,
  provider: Record<string, unknown>,
  args?: Record<string, string>,
) {
  const spec = parseRolloutSpec(specWith(provider, args));
  const analysis = (spec.steps[1] as unknown as { analysis: AnalysisSpec }).analysis;
  const r = await createMetricGate(options).evaluate({
    key: 'steps[1]',
    analysis,
    state: undefined,
    startedAt: 0,
    now: 0,
    ctx: {
      key: { namespace: 'shop', name: 'shop' },
      spec,
      targets: { stable: { name: 'shop', podLabels: {} } },
      state: {} as RolloutState,
      signal: new AbortController().signal,
    } as PortContext,
  });
  return r.measurements[0];
}

describe('Prometheus credentials go to their own server only', () => {
  it('a spec naming another address is refused, naming the field, and nothing reaches it', async () => {
    const [main, elsewhere] = await Promise.all([recorder(), recorder()]);
    const options = { prometheus: { address: main.url, bearerToken: 'main-secret' } };
    const provider = { prometheus: { address: elsewhere.url, query: 'vector(1)' } };
    const refused = refusal(options, provider);
    expect(refused).toMatch(
      /steps\[1\]\.analysis\.metrics\[0\]\.provider\.prometheus\.address: is http:\/\/127\.0\.0\.1:\d+, which is not a server the host configured or allowed/,
    );
    expect(refused).toMatch(/allowAddresses/);
    // Unvalidated, the gate refuses it at the look, too.
    const m = await look(options, provider);
    expect(m?.phase).toBe('error');
    expect(m?.message).toMatch(/not a server the host configured/);
    expect(elsewhere.seen).toEqual([]);
    expect(main.seen).toEqual([]);
  });

  it('an allow-listed address is called without any of the gate credentials', async () => {
    const [main, elsewhere] = await Promise.all([recorder(), recorder()]);
    const options = {
      prometheus: { address: main.url, bearerToken: 'main-secret', headers: { 'x-scope-orgid': 'team-a' } },
      allowAddresses: [elsewhere.url],
    };
    const provider = { prometheus: { address: `${elsewhere.url}/`, query: 'vector(1)' } };
    expect(refusal(options, provider)).toBeUndefined();
    expect(await look(options, provider)).toMatchObject({ phase: 'successful' });
    expect(elsewhere.seen).toHaveLength(1);
    expect(elsewhere.seen[0]?.headers.authorization).toBeUndefined();
    expect(elsewhere.seen[0]?.headers['x-scope-orgid']).toBeUndefined();
  });

  it('named servers: a metric picks one by name and only that one gets its credentials', async () => {
    const [main, eu] = await Promise.all([recorder(), recorder()]);
    const options: MetricGateOptions = {
      prometheus: {
        servers: {
          main: { address: main.url, bearerToken: 'main-secret' },
          eu: { address: eu.url, basicAuth: { username: 'eu', password: 'eu-secret' } },
        },
        default: 'main',
      },
    };
    expect(refusal(options, { prometheus: { server: 'eu', query: 'vector(1)' } })).toBeUndefined();
    expect(await look(options, { prometheus: { server: 'eu', query: 'vector(1)' } })).toMatchObject({
      phase: 'successful',
    });
    expect(await look(options, { prometheus: { query: 'vector(1)' } })).toMatchObject({
      phase: 'successful',
    });
    // The address of a configured server is that server, credentials included.
    expect(await look(options, { prometheus: { address: `${eu.url}/`, query: 'vector(1)' } })).toMatchObject({
      phase: 'successful',
    });
    expect(eu.seen.map((s) => s.headers.authorization)).toEqual([
      `Basic ${Buffer.from('eu:eu-secret').toString('base64')}`,
      `Basic ${Buffer.from('eu:eu-secret').toString('base64')}`,
    ]);
    expect(main.seen.map((s) => s.headers.authorization)).toEqual(['Bearer main-secret']);
    expect(refusal(options, { prometheus: { server: 'us', query: 'vector(1)' } })).toMatch(
      /provider\.prometheus\.server: names "us", which is not a Prometheus server the host configured \(fix: use one of "main", "eu"\)/,
    );
    expect(refusal(options, { prometheus: { server: 'eu', address: eu.url, query: 'vector(1)' } })).toMatch(
      /names both a server and an address/,
    );
    // Built-in metrics pick servers the same way.
    expect(refusal(options, { istio: { metric: 'errors', address: 'http://prometheus.evil:9090' } })).toMatch(
      /provider\.istio\.address: is http:\/\/prometheus\.evil:9090/,
    );
  });

  it('with no default, a metric that names no server is told which ones there are', () => {
    const options: MetricGateOptions = {
      prometheus: { servers: { a: { address: 'http://a:9090' }, b: { address: 'http://b:9090' } } },
    };
    expect(refusal(options, { prometheus: { query: 'vector(1)' } })).toMatch(
      /reads Prometheus, and no server is configured for it \(fix: name one with server: "a" or "b"/,
    );
  });
});

describe('web credentials go to their own server only', () => {
  it('credentials for every web metric are refused when the gate is made, saying where they belong', () => {
    let error: unknown;
    try {
      createMetricGate({ web: { bearerToken: 'x' } as never });
    } catch (e) {
      error = e;
    }
    expect(isKanaryError(error, 'INVALID_SPEC')).toBe(true);
    expect((error as { issues: Array<{ path: string; hint: string }> }).issues[0]).toMatchObject({
      path: 'web.bearerToken',
      hint: expect.stringMatching(/web: \{ servers: \{ name: \{ url/),
    });
    expect(() => createMetricGate({ allowAddresses: ['http://user:pw@host/'] })).toThrow(
      /allowAddresses\[0\]/,
    );
  });

  it("a relative URL goes to the named server with its token; an absolute one under a server's URL gets it too", async () => {
    const [api, elsewhere] = await Promise.all([recorder(), recorder()]);
    const options: MetricGateOptions = {
      web: { servers: { ratios: { url: `${api.url}/v1/`, bearerToken: 'api-secret' } } },
    };
    const relative = { web: { server: 'ratios', url: 'teams/{{args.team}}/ratio', jsonPath: '$.ratio' } };
    expect(refusal(options, relative)).toBeUndefined();
    expect(await look(options, relative, { team: 'a b' })).toMatchObject({ phase: 'successful' });
    const absolute = { web: { url: `${api.url}/v1/ratio`, jsonPath: '$.ratio' } };
    expect(await look(options, absolute)).toMatchObject({ phase: 'successful' });
    expect(api.seen.map((s) => [s.url, s.headers.authorization])).toEqual([
      ['/v1/teams/a%20b/ratio', 'Bearer api-secret'],
      ['/v1/ratio', 'Bearer api-secret'],
    ]);
    // Outside the server's path, on another host, or stepping out with "..": refused, nothing sent.
    for (const [provider, field, why] of [
      [
        { web: { url: `${api.url}/admin`, jsonPath: '$.ratio' } },
        'provider.web.url',
        /not a web server the host configured or allowed/,
      ],
      [
        { web: { url: `${elsewhere.url}/v1/ratio`, jsonPath: '$.ratio' } },
        'provider.web.url',
        /not a web server/,
      ],
      [
        { web: { server: 'ratios', url: '../admin', jsonPath: '$.ratio' } },
        'provider.web.url',
        /leaves the server's URL/,
      ],
      [
        { web: { server: 'ratios', url: `${api.url}/v1/x`, jsonPath: '$.ratio' } },
        'provider.web.url',
        /is absolute, and a server is named/,
      ],
      [
        { web: { url: 'v1/ratio', jsonPath: '$.ratio' } },
        'provider.web.url',
        /is relative, and no server is named/,
      ],
      [
        { web: { server: 'other', url: 'x', jsonPath: '$.ratio' } },
        'provider.web.server',
        /use one of "ratios"/,
      ],
    ] as const) {
      expect(refusal(options, provider)).toMatch(new RegExp(`${field.replace(/\./g, '\\.')}: `));
      expect(refusal(options, provider)).toMatch(why);
      expect((await look(options, provider))?.phase).toBe('error');
    }
    expect(api.seen).toHaveLength(2);
    expect(elsewhere.seen).toEqual([]);
  });

  it('an allow-listed web address is called bare; a placeholder cannot lengthen a path out of it', async () => {
    const status = await recorder();
    const options: MetricGateOptions = {
      web: { servers: { ratios: { url: 'http://ratios.internal/', bearerToken: 'api-secret' } } },
      allowAddresses: [`${status.url}/public`],
    };
    const ok = { web: { url: `${status.url}/public/{{args.team}}`, jsonPath: '$.ratio' } };
    expect(refusal(options, ok)).toBeUndefined();
    expect(await look(options, ok, { team: 'a' })).toMatchObject({ phase: 'successful' });
    expect(status.seen[0]?.headers.authorization).toBeUndefined();
    // `/public{{x}}` could render `/publicity`: only the part up to the last fixed "/" is trusted.
    expect(
      refusal(options, { web: { url: `${status.url}/public{{args.team}}`, jsonPath: '$.ratio' } }),
    ).toMatch(/provider\.web\.url: is under http:\/\/127\.0\.0\.1:\d+, which is not a web server/);
  });
});
