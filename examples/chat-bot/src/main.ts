// Runs the bot against the emulator (on the wall clock, as a bot would) and plays a short chat:
// start a canary, ask for status, promote it; the channel receives every step and the outcome.
import { createKubeClient } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { deployment, service, startCluster } from '@kanary/testkit';
import { createBot } from './bot.ts';

export async function main(log: (line: string) => void = console.log) {
  const cluster = await startCluster({ time: 'real', podReadyAfterMs: 100, namespaces: ['shop'] });
  const channel: string[] = [];
  try {
    cluster.apply(
      deployment('shop-frontend', 'shop', 'shop-frontend:1.4.2', 3),
      service('shop-frontend', 'shop', { app: 'shop-frontend' }),
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'shop-frontend', namespace: 'shop' },
        spec: {
          hosts: ['shop.example.com'],
          http: [{ route: [{ destination: { host: 'shop-frontend.shop.svc.cluster.local' } }] }],
        },
      },
    );
    const bot = createBot({
      kubeConfig: cluster.kubeConfig,
      notify: (text) => {
        channel.push(text);
        log(`[#releases] ${text}`);
      },
      apps: {
        'shop-frontend': {
          spec: (image) => ({
            name: 'shop-frontend',
            namespace: 'shop',
            target: { name: 'shop-frontend', service: 'shop-frontend' },
            update: { image },
            strategy: { type: 'weighted' },
            steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }],
            scaleDownDelay: '0s',
          }),
          router: (kubeConfig) =>
            createIstioRouter({ client: createKubeClient({ kubeConfig }), virtualService: 'shop-frontend' }),
        },
      },
    });
    const { url, server } = await bot.listen();
    const slash = async (text: string) => {
      log(`> /canary ${text}`);
      const res = await fetch(`${url}/slash`, { method: 'POST', body: new URLSearchParams({ text }) });
      const answer = (await res.json()) as Record<string, unknown>;
      log(`< ${res.status} ${JSON.stringify(answer)}`);
      return { status: res.status, answer };
    };
    const replies = [await slash('start shop-frontend shop-frontend:1.5.0')];
    // Wait until the bot says it is paused, as a person in the channel would.
    for (let i = 0; i < 300 && !channel.some((m) => m.includes('paused at 20%')); i++)
      await new Promise((r) => setTimeout(r, 20));
    replies.push(await slash('status shop-frontend'));
    replies.push(await slash('promote shop-frontend'));
    const final = await bot.finished('shop-frontend');
    server.close();
    return { final, channel, replies };
  } finally {
    await cluster.close();
  }
}

if (import.meta.main) await main();
