import { createKubeClient } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { deployment, service, startCluster } from '@kanary/testkit';
import { expect, it } from 'vitest';
import { createBot } from '../src/bot.ts';
import { main } from '../src/main.ts';

it('start, status and promote from chat; the channel hears each step, the pause and the outcome', async () => {
  const { final, channel, replies } = await main(() => {});
  expect(final.phase).toBe('succeeded');
  expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
  expect(replies[0]?.answer).toMatchObject({ started: 'shop-frontend', image: 'shop-frontend:1.5.0' });
  expect(replies[1]?.answer).toMatchObject({ phase: 'paused', canaryWeight: 20 });
  expect(channel[0]).toBe('shop-frontend: step 1/3 — set weight 20%');
  expect(channel).toContain(
    'shop-frontend: paused at 20% — reply `/canary promote shop-frontend` or `/canary abort shop-frontend`',
  );
  expect(channel.at(-1)).toMatch(/^shop-frontend: shop-frontend:1\.5\.0 promoted in \d+/);
}, 30_000);

it('REST: abort rolls back and is announced; bad requests get clear errors', async () => {
  const cluster = await startCluster({ time: 'real', podReadyAfterMs: 100 });
  try {
    cluster.apply(deployment('web', 'default', 'web:1', 2), service('web', 'default', { app: 'web' }), {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        hosts: ['web'],
        http: [{ route: [{ destination: { host: 'web.default.svc.cluster.local' } }] }],
      },
    });
    const channel: string[] = [];
    const bot = createBot({
      kubeConfig: cluster.kubeConfig,
      notify: (t) => void channel.push(t),
      apps: {
        web: {
          spec: (image) => ({
            name: 'web',
            target: { name: 'web', service: 'web' },
            update: { image },
            strategy: { type: 'weighted' },
            steps: [{ setWeight: 30 }, { pause: {} }],
            abortScaleDownDelay: '0s',
          }),
          router: (kubeConfig) =>
            createIstioRouter({ client: createKubeClient({ kubeConfig }), virtualService: 'web' }),
        },
      },
    });
    const { url, server } = await bot.listen();
    const post = (path: string, body?: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', ...(body ? { body: JSON.stringify(body) } : {}) });
    expect((await post('/canary/web/promote')).status).toBe(404);
    expect((await post('/canary/web/start', {})).status).toBe(400);
    expect((await post('/canary/nope/start', { image: 'x:1' })).status).toBe(404);
    expect((await post('/canary/web/start', { image: 'web:2' })).status).toBe(202);
    expect((await post('/canary/web/start', { image: 'web:3' })).status).toBe(409);
    for (let i = 0; i < 300 && !channel.some((m) => m.includes('paused')); i++)
      await new Promise((r) => setTimeout(r, 20));
    const aborted = await post('/canary/web/abort', { reason: 'error budget burning' });
    expect(aborted.status).toBe(200);
    const final = await bot.finished('web');
    expect(final.phase).toBe('aborted');
    expect(channel).toContain('web: rolling back (user): error budget burning');
    expect(channel.at(-1)).toMatch(/web: web:2 rolled back/);
    const status = (await (await fetch(`${url}/canary/web`)).json()) as {
      phase: string;
      canaryWeight: number;
    };
    expect(status).toMatchObject({ phase: 'aborted', canaryWeight: 0 });
    server.close();
  } finally {
    await cluster.close();
  }
}, 30_000);
