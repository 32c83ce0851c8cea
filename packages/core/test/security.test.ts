import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type KanaryError, parseRolloutSpec, REDACTED, redact, redactValue, systemClock } from '@kanary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, SPECS } from './harness.ts';

// What a spec can make Kanary do with credentials and addresses (issue 17): redirects are not
// followed, link-local and metadata addresses are not called, a host allow-list holds, hook
// timeouts are bounded, and credentials never reach a message, an event, the state or the CLI.

/** A loopback server that records every request it receives and answers from a table. */
async function recorder(answers: Record<string, (res: import('node:http').ServerResponse) => void> = {}) {
  const received: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    received.push({ path: req.url ?? '', headers: req.headers, body });
    const answer = answers[(req.url ?? '').split('?')[0] as string];
    if (answer) answer(res);
    else res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('redaction', () => {
  it.each([
    [
      'URL user-info',
      'POST http://ci:s3cret@gate.example/approve failed',
      'http://***@gate.example/approve',
      's3cret',
    ],
    [
      'secret query values',
      'GET https://x.example/q?team=shop&token=abc123&api_key=K9',
      'team=shop&token=***&api_key=***',
      'abc123',
    ],
    [
      'an echoed Authorization header',
      '{"headers":{"Authorization":"Bearer eyJhbGciOi.abc.def"}}',
      '"Authorization":"***"',
      'eyJhbGciOi',
    ],
    [
      'a bearer token in prose',
      'the server said: invalid Bearer sk-live-0123456789',
      'Bearer ***',
      'sk-live',
    ],
    ['cookies', 'Cookie: session=abcdef; theme=dark', 'Cookie: ***', 'abcdef'],
  ])('hides %s', (_what, text, kept, gone) => {
    const out = redact(text);
    expect(out).toContain(kept);
    expect(out).not.toContain(gone);
  });

  it('keeps what tells a person what failed, and redacts inside saved values', () => {
    expect(redact('https://prometheus.example/api/v1/query?query=up answered 503')).toBe(
      'https://prometheus.example/api/v1/query?query=up answered 503',
    );
    expect(redactValue({ reason: 'hook http://u:p@h/x', details: { password: 'pw', n: 3 } })).toEqual({
      reason: `hook http://${REDACTED}@h/x`,
      details: { password: REDACTED, n: 3 },
    });
  });
});

describe('webhooks a spec declares', () => {
  let gate: Awaited<ReturnType<typeof recorder>>;
  let elsewhere: Awaited<ReturnType<typeof recorder>>;
  beforeAll(async () => {
    elsewhere = await recorder();
    gate = await recorder({
      '/deny': (res) => {
        res.writeHead(403);
        res.end();
      },
      '/moved': (res) => {
        res.writeHead(307, { location: `${elsewhere.url}/approve` });
        res.end();
      },
      '/echo': (res) => {
        res.writeHead(500);
        res.end('request had Authorization: Bearer secret-token-123456 and more');
      },
    });
  });
  afterAll(async () => {
    await gate.close();
    await elsewhere.close();
  });

  it('a redirect is a failed call: the body goes nowhere else and the release aborts saying why', async () => {
    const h = harness('weighted', {
      spec: { ...SPECS.weighted, hooks: [{ on: 'pre-rollout', url: `${gate.url}/moved` }] },
    });
    const final = await h.runToEnd();
    expect(gate.received.some((r) => r.path === '/moved')).toBe(true);
    expect(elsewhere.received).toEqual([]);
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toContain('answered 307, a redirect, which hooks do not follow');
  });

  it('a secret in a hook URL appears in no reason, history entry or event; user-info is refused outright', async () => {
    const h = harness('weighted', {
      spec: { ...SPECS.weighted, hooks: [{ on: 'pre-rollout', url: `${gate.url}/deny?token=t0k3n` }] },
    });
    const final = await h.runToEnd();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toContain(`/deny?token=${REDACTED}`);
    // The spec itself is saved as given (a process resuming the release needs it: SECURITY.md);
    // everything Kanary wrote about it is redacted.
    for (const { state } of h.store.history) {
      const { wiring: _spec, ...written } = state;
      expect(JSON.stringify(written)).not.toContain('t0k3n');
    }
    expect(() =>
      parseRolloutSpec({
        ...SPECS.weighted,
        hooks: [{ on: 'step', url: 'http://ci:s3cret@gate.example/x' }],
      }),
    ).toThrow(/hooks\[0\]\.url.*must not carry a user name or password/s);
  });

  it('a link-local or metadata address is refused before the release starts, naming the field', () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://metadata.google.internal/x',
      'http://[fe80::1]/x',
    ]) {
      const h = harness('weighted', { spec: SPECS.weighted });
      let error: KanaryError | undefined;
      try {
        h.restart({ spec: { ...SPECS.weighted, hooks: [{ on: 'step', url }] } });
      } catch (e) {
        error = e as KanaryError;
      }
      expect(error?.code, url).toBe('INVALID_SPEC');
      expect(error?.issues[0]?.path).toBe('hooks[0].url');
      expect(error?.issues[0]?.message).toContain('link-local or cloud metadata address');
    }
    // A program that needs one may allow it.
    const h = harness('weighted', { spec: SPECS.weighted });
    expect(() =>
      h.restart({
        spec: { ...SPECS.weighted, hooks: [{ on: 'step', url: 'http://169.254.10.10/gate' }] },
        webhooks: { allowLinkLocal: true },
      }),
    ).not.toThrow();
  });

  it('with an allow-list, only its hosts may be called', () => {
    const h = harness('weighted', { spec: SPECS.weighted });
    const make = (url: string) =>
      h.restart({
        spec: { ...SPECS.weighted, hooks: [{ on: 'step', url }] },
        webhooks: { allowHosts: ['*.ci.example'] },
      });
    expect(() => make('https://gate.ci.example/approve')).not.toThrow();
    expect(() => make('https://evil.example/approve')).toThrow(/not among the hosts this program allows/);
  });

  it("a failed call's answer is kept short and redacted", async () => {
    const h = harness('weighted', {
      spec: { ...SPECS.weighted, hooks: [{ on: 'pre-rollout', url: `${gate.url}/echo` }] },
    });
    const final = await h.runToEnd();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toContain('answered 500');
    expect(JSON.stringify(final)).not.toContain('secret-token-123456');
  });

  it('hook timeouts are bounded by what the hook does', () => {
    const spec = (on: string, timeout: string) => ({
      ...SPECS.weighted,
      hooks: [{ on, url: 'http://gate/x', timeout }],
    });
    expect(() => parseRolloutSpec(spec('confirm-promotion', '24h'))).not.toThrow();
    expect(() => parseRolloutSpec(spec('confirm-promotion', '25h'))).toThrow(
      /hooks\[0\]\.timeout.*at most 24h/s,
    );
    expect(() => parseRolloutSpec(spec('post-rollout', '2h'))).toThrow(/at most 1h for a post-rollout hook/);
    // Durations past a year are refused everywhere (they overflow timers and dates).
    expect(() =>
      parseRolloutSpec({ ...SPECS.weighted, steps: [{ setWeight: 10 }, { pause: { duration: '9000h' } }] }),
    ).toThrow(/longer than a year/);
  });

  it("the system clock's sleep waits past setTimeout's 2^31 ms limit instead of firing at once", async () => {
    let fired = false;
    const stop = new AbortController();
    void systemClock.sleep(2 ** 31 + 1_000, stop.signal).then(() => {
      fired = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    const early = fired;
    stop.abort();
    expect(early).toBe(false);
  });
});
