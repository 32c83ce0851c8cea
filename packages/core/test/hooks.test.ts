import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HookContext, HookName } from '@kanary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, SPECS } from './harness.ts';

describe('hooks as async functions', () => {
  it('runs each hook at its point, with the weight about to be set', async () => {
    const calls: string[] = [];
    const record = (name: HookName) => async (ctx: HookContext) => {
      calls.push(
        `${name}${ctx.nextWeight !== undefined ? `:${ctx.nextWeight}` : ''}@${ctx.state.cursor.section}`,
      );
    };
    const names: HookName[] = [
      'confirm-rollout',
      'pre-rollout',
      'step',
      'confirm-traffic-increase',
      'confirm-promotion',
      'post-rollout',
      'rollback',
    ];
    const hooks = Object.fromEntries(names.map((n) => [n, record(n)]));
    const h = harness('weighted', {
      hooks,
      spec: { ...SPECS.weighted, steps: [{ setWeight: 10 }, { setWeight: 40 }] },
    });
    const final = await h.runToEnd();
    expect(final.phase).toBe('succeeded');
    expect(calls).toEqual([
      'confirm-rollout@prelude',
      'pre-rollout@prelude',
      'step@steps',
      'confirm-traffic-increase:10@steps',
      'step@steps',
      'confirm-traffic-increase:40@steps',
      'confirm-promotion@promotion',
      'post-rollout@promotion',
    ]);
  });

  it('a gating hook may block until a human answers (a chat bot awaiting a click)', async () => {
    let approve: () => void = () => {};
    const h = harness('weighted', {
      spec: { ...SPECS.weighted, steps: [{ setWeight: 10 }, { setWeight: 50 }] },
      hooks: {
        'confirm-promotion': () =>
          new Promise<void>((resolve) => {
            approve = resolve;
          }),
      },
    });
    const run = h.clock.run(h.rollout.run());
    while (h.rollout.state?.cursor.section !== 'promotion') await h.clock.advanceToNext();
    await h.clock.advance(3_600_000);
    expect(h.rollout.state?.phase).toBe('promoting');
    expect(h.workload.world.stable.image).toBe('v1');
    approve();
    expect((await run).phase).toBe('succeeded');
  });

  it('a rejecting gating hook aborts the rollout and says why', async () => {
    const h = harness('weighted', {
      hooks: {
        'confirm-traffic-increase': async (ctx) => {
          if ((ctx.nextWeight ?? 0) > 10) throw new Error('change freeze until Monday');
        },
      },
    });
    const final = await h.runToEnd();
    expect(final.phase).toBe('aborted');
    expect(final.abort?.cause).toBe('hook');
    expect(final.abort?.reason).toMatch(/change freeze until Monday/);
    expect(h.router?.current.weight).toBe(0);
  });

  it('rollback and post-rollout hook errors are reported, and change nothing', async () => {
    const reported: string[] = [];
    const h = harness('weighted', {
      gate: { script: { quick: ['failed'] } },
      hooks: {
        rollback: async () => {
          throw new Error('pager unreachable');
        },
        'post-rollout': async () => {
          throw new Error('chat down');
        },
      },
    });
    h.rollout.on('hook', (e) => reported.push(`${e.hook}:${e.outcome}:${e.message}`));
    const final = await h.runToEnd();
    expect(final.phase).toBe('aborted');
    expect(reported).toEqual(['rollback:error:pager unreachable', 'post-rollout:error:chat down']);
  });

  it('abort() cuts short a hook that is waiting for a human', async () => {
    let sawSignal = false;
    const h = harness('weighted', {
      hooks: {
        'confirm-traffic-increase': (ctx) =>
          new Promise<void>((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => {
              sawSignal = true;
              reject(new Error('cancelled'));
            });
          }),
      },
    });
    const run = h.clock.run(h.rollout.run());
    while (h.rollout.state?.cursor.section !== 'steps') await h.clock.advanceToNext();
    await h.clock.advance(1000);
    const t0 = h.clock.now();
    await h.rollout.abort('wrong build');
    const final = await run;
    expect(sawSignal).toBe(true);
    expect(final.phase).toBe('aborted');
    expect(final.abort).toMatchObject({ cause: 'user', reason: 'wrong build' });
    // The abort section began at once: no waiting for the hook's own timeout.
    expect(final.history.find((e) => e.event === 'abort')?.at).toBe(t0);
  });
});

describe('hooks declared in the spec (webhooks)', () => {
  let server: Server;
  let url = '';
  const received: Array<{ path: string; body: Record<string, unknown> }> = [];
  const answer: Record<string, number> = {};

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      received.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
      res.statusCode = answer[req.url ?? ''] ?? 200;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('POSTs the rollout to each hook; 2xx lets it go on, anything else aborts after retries', async () => {
    answer['/gate'] = 200;
    answer['/freeze'] = 503;
    const spec = {
      ...SPECS.weighted,
      steps: [{ setWeight: 10 }, { setWeight: 30 }],
      hooks: [
        { on: 'pre-rollout', url: `${url}/gate`, metadata: { team: 'shop' } },
        { on: 'confirm-promotion', url: `${url}/freeze`, retries: 2 },
      ],
    };
    const h = harness('weighted', { spec });
    const final = await h.runToEnd();
    expect(received[0]).toEqual({
      path: '/gate',
      body: expect.objectContaining({
        name: 'shop',
        namespace: 'shop',
        hook: 'pre-rollout',
        metadata: { team: 'shop' },
      }),
    });
    expect(received.filter((r) => r.path === '/freeze')).toHaveLength(3);
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toMatch(/answered 503/);
  });
});
