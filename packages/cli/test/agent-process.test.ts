import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Agent, createAgent } from '@kanary/cli';
import type { Cluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { istioRelease, istioShop } from './support/istio-shop.ts';

/**
 * The agent against a real process: `kanary run` (the built bin) is SIGKILLed mid-pause with a
 * bad canary; the agent adopts the rollout once its Lease has been silent for its duration and
 * rolls it back on the analysis verdict. Wall clock, real HTTP.
 */
let cluster: Cluster | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.close();
  await cluster?.close();
});

it('a SIGKILLed `kanary run` is adopted by the agent within TTL + one look, and its bad canary rolled back', async () => {
  const shop = await istioShop({ 'web:1': 0.01, 'web:2': 0.06 });
  cluster = shop.cluster;
  const c = cluster;
  const { kubeconfig } = shop;
  const file = istioRelease(shop.dir, {
    image: 'web:2',
    prometheusUrl: c.prometheusUrl,
    steps: [{ setWeight: 20 }, { pause: {} }],
  });
  const bin = join(import.meta.dirname, '../dist/bin.js');
  const driver = spawn(
    process.execPath,
    [bin, 'run', '-f', file, '--kubeconfig', kubeconfig, '--lease-duration', '2s'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  await new Promise<void>((resolve) =>
    driver.stdout.on('data', (d) => {
      out += d;
      if (out.includes('waiting for a human')) resolve();
    }),
  );
  driver.kill('SIGKILL');
  const killedAt = Date.now();
  await new Promise((resolve) => driver.on('exit', resolve));
  const state = () =>
    JSON.parse(
      (c.get('ConfigMap', 'shop', 'kanary-web') as unknown as { data: Record<string, string> }).data[
        'state.json'
      ] as string,
    );
  expect(state().phase).toBe('paused');

  agent = createAgent({ kubeConfig: c.kubeConfig, lockTtl: '2s', pollInterval: '250ms' });
  let adoptedAt = 0;
  agent.on('adopted', (e) => {
    adoptedAt = Date.now();
    expect(e.policy).toBe('continue');
  });
  void agent.run();
  for (let i = 0; i < 400 && state().phase !== 'aborted'; i++) await new Promise((r) => setTimeout(r, 50));
  const final = state();
  expect(final.phase).toBe('aborted');
  expect(final.abort.cause).toBe('analysis');
  expect(adoptedAt - killedAt).toBeLessThanOrEqual(2_000 + 250 + 1_500);
  const vs = c.get('VirtualService', 'shop', 'web', 'networking.istio.io') as unknown as {
    spec: { http: Array<{ route: unknown[] }> };
  };
  expect(vs.spec.http[0]?.route).toHaveLength(1);
}, 60_000);
