import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type KanaryError, parseRolloutSpec, redact, systemClock } from '@kanary/core';
import { backtrackingProblem, REDACTED, redactValue } from '@kanary/core/adapter';
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

/** The issues `parseRolloutSpec` reports for a spec, as `path: message`. */
function problems(spec: unknown): string[] {
  try {
    parseRolloutSpec(spec);
    return [];
  } catch (error) {
    return (error as KanaryError).issues.map((i) => `${i.path}: ${i.message}`);
  }
}
const matching = (match: unknown) => ({
  ...SPECS.weighted,
  steps: [{ setHeaderRoute: { name: 'testers', match } }, { setWeight: 10 }],
});

describe("validation matches the cluster's and the data plane's limits", () => {
  it('header values no request can carry are refused: CR, LF, NUL, control characters, spaces at the ends, 4 KiB+', () => {
    for (const [value, why] of [
      ['a\r\nX-Admin: 1', /control character U\+000D at 1/],
      ['a\nb', /control character U\+000A/],
      ['a\u0000', /control character U\+0000/],
      ['\u007fx', /control character U\+007F/],
      [' padded', /white space/],
      ['x'.repeat(4097), /longer than 4096/],
    ] as const) {
      const found = problems(matching([{ headers: [{ name: 'x-canary', exact: value }] }]));
      expect(found.join('\n'), JSON.stringify(value)).toMatch(why);
      expect(found[0]).toMatch(/^steps\[0\]\.setHeaderRoute\.match\[0\]\.headers\[0\]\.exact: /);
    }
    expect(problems(matching([{ headers: [{ name: 'x-canary', prefix: 'v\n' }] }])).join()).toMatch(
      /U\+000A/,
    );
    expect(problems(matching([{ headers: [{ name: 'x'.repeat(257), exact: 'y' }] }])).join()).toMatch(
      /longer than 256/,
    );
    expect(problems(matching([{ headers: [{ name: 'x-canary', exact: 'a\tb' }] }]))).toEqual([]);
  });

  it('header regexes must be RE2, which Istio and Gateway API run: what JavaScript accepts and RE2 refuses is caught', () => {
    for (const pattern of ['a{1001}', '\\Z', '\\u0041', '\\e']) {
      const found = problems(matching([{ headers: [{ name: 'x-canary', regex: pattern }] }]));
      expect(found.join('\n'), pattern).toMatch(
        /regex: is not valid RE2 syntax, which Istio and Gateway API use/,
      );
    }
    expect(
      problems(matching([{ headers: [{ name: 'x-canary', regex: '^(?:v[0-9]+|canary-[a-z]{1,8})$' }] }])),
    ).toEqual([]);
  });

  it('replica counts are int32, progressDeadline is above zero, and a template carries labels the API server accepts', () => {
    const canary = (replicas: number) => ({
      ...SPECS.weighted,
      strategy: { ...SPECS.weighted.strategy, canary: { replicas } },
    });
    expect(problems(canary(2 ** 31)).join()).toMatch(/strategy\.canary\.replicas: is more than an int32/);
    expect(problems(canary(2 ** 31 - 1))).toEqual([]);
    expect(problems({ ...SPECS.weighted, progressDeadline: 0 }).join()).toMatch(
      /progressDeadline: must be longer than zero/,
    );
    const template = (metadata: unknown) => ({ ...SPECS.weighted, update: { template: { metadata } } });
    expect(problems(template({ labels: { version: 'v2 beta' } }))).toEqual([
      'update.template.metadata.labels.version: must be empty, or start and end with a letter or digit and hold only letters, digits, "-", "_" and "."',
    ]);
    expect(problems(template({ labels: { 'Example.com/v': 'x' } })).join()).toMatch(
      /prefix that is not a DNS subdomain/,
    );
    expect(problems(template({ labels: { v: 'x'.repeat(64) } })).join()).toMatch(/longer than 63/);
    expect(problems(template({ labels: { v: 2 } })).join()).toMatch(
      /is number, and label values are strings/,
    );
    expect(problems(template({ annotations: { 'a/b/c': 'x' } })).join()).toMatch(/more than one "\/"/);
    expect(
      problems(
        template({
          labels: { 'app.kubernetes.io/version': 'v2.1_rc-1' },
          annotations: { note: 'any text: ok' },
        }),
      ),
    ).toEqual([]);
  });

  it('colorLabel, which nothing read, is refused as an unknown field', () => {
    const spec = {
      ...SPECS.weighted,
      strategy: { type: 'blueGreen', activeService: 'shop', colorLabel: 'color' },
      steps: [],
    };
    expect(problems(spec).join()).toMatch(/strategy.*colorLabel/);
  });

  it("a Kubernetes Status message is redacted before it becomes Kanary's error", async () => {
    const { ApiException } = await import('@kubernetes/client-node');
    const { fromKubeError } = await import('@kanary/core/adapter');
    const body = JSON.stringify({
      kind: 'Status',
      status: 'Failure',
      reason: 'BadRequest',
      code: 400,
      message:
        'admission webhook "policy" denied: request had Authorization: Bearer s3cr3t-t0ken and url http://u:pw@h/x?token=abc',
    });
    const error = fromKubeError(new ApiException(400, 'Bad Request', body, {}), 'update deployments/shop');
    const all = JSON.stringify(error.toJSON()) + error.message;
    expect(error.message).toMatch(/admission webhook "policy" denied/);
    for (const secret of ['s3cr3t-t0ken', 'pw@', 'token=abc']) expect(all).not.toContain(secret);
  });
});

describe('plan warnings: legal but risky choices, returned by plan()', () => {
  const warningsOf = (spec: Record<string, unknown>) => {
    const h = harness('weighted', { spec: SPECS.weighted });
    return (h.restart({ spec }).plan().warnings ?? []).map((w) => `${w.path}: ${w.message}`);
  };

  it('no steps, weights down then up, steps after 100%, analyses that cannot fail, hooks to internal addresses', () => {
    expect(warningsOf({ ...SPECS.weighted, steps: [] })).toEqual([
      'steps: is empty: the canary takes every user in one move, with nothing checked before',
    ]);
    expect(
      warningsOf({ ...SPECS.weighted, steps: [{ setWeight: 50 }, { setWeight: 20 }, { setWeight: 60 }] }),
    ).toEqual([
      'steps[2].setWeight: raises the weight to 60% after steps[1] lowered it to 20%: users move back and forth between versions',
    ]);
    expect(
      warningsOf({ ...SPECS.weighted, steps: [{ setWeight: 100 }, { pause: { duration: '1m' } }] }),
    ).toEqual([
      'steps[1]: comes after steps[0] sent every user to the canary: from there on, a failure rolls all of them back',
    ]);
    const metric = { name: 'm', provider: { function: 'f' }, successCondition: 'result > 0' };
    const found = warningsOf({
      ...SPECS.weighted,
      steps: [
        { setWeight: 10 },
        { analysis: { metrics: [{ ...metric, dryRun: true }] } },
        { analysis: { metrics: [{ ...metric, failureLimit: -1, consecutiveSuccessLimit: 1 }] } },
        { analysis: { metrics: [metric] } },
      ],
      hooks: [
        { on: 'step', url: 'http://127.0.0.1:9000/gate' },
        { on: 'rollback', url: 'http://kubernetes.default.svc/api' },
        { on: 'step', url: 'https://gate.example.com/ok' },
      ],
    });
    expect(found).toEqual([
      'steps[1].analysis: can never fail the release: every metric is dryRun',
      'steps[2].analysis: can never fail the release: every metric is dryRun or has failureLimit -1, so no measured value can fail it (only errors can)',
      'hooks[0].url: calls 127.0.0.1, an address inside the cluster or on this machine: whoever may write specs can make Kanary call it',
      'hooks[1].url: calls kubernetes.default.svc, an address inside the cluster or on this machine: whoever may write specs can make Kanary call it',
    ]);
    // A plain spec has none.
    expect(warningsOf(SPECS.weighted)).toEqual([]);
  });
});

describe('regexes a backtracking engine (PCRE: ingress-nginx) cannot run in time', () => {
  it('refuses nested repeats, repeated alike alternatives and three wildcard repeats; admits ordinary patterns', () => {
    const slow = [
      '(a+)+$',
      '(a*)*b',
      '(a|a)*',
      '(.*a){20}',
      '(\\w+\\s?)+$',
      '^(([a-z])+.)+[A-Z]([a-z])+$',
      '.*a.*b.*c',
      '(a|ab)*c',
      '(\\d|x)+y',
      '^(?:a+)+$',
      '(?<n>x+)*',
    ];
    const fine = [
      '^canary-(alpha|beta)$',
      '^user-[0-9]+$',
      '^(foo|bar)+$',
      '.*canary.*',
      '[a-z]{1,8}',
      'always',
      '^(a|b)?c$',
      '^x{2,5}$',
      '^[^;]+;[^;]+$',
      '(ab)+',
      'a\\.b+',
    ];
    expect(slow.filter((p) => backtrackingProblem(p) === undefined)).toEqual([]);
    expect(fine.filter((p) => backtrackingProblem(p) !== undefined)).toEqual([]);
  });
});
