import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, createAgent } from '@kanary/cli';
import { type Cluster, istioApp, startCluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { stringify } from 'yaml';

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
  cluster = await startCluster({ time: 'real', podReadyAfterMs: 50, namespaces: ['shop'] });
  const c = cluster;
  c.apply(...istioApp('web', 'shop', 'web:1', 4));
  c.traffic.setBehavior({ image: 'web:1', behavior: { errorRate: 0.01 } });
  c.traffic.setBehavior({ image: 'web:2', behavior: { errorRate: 0.06 } });
  c.traffic.addLoad({ name: 'users', rps: 200, entry: { kind: 'istio', host: 'web', namespace: 'shop' } });
  const dir = mkdtempSync(join(tmpdir(), 'kanary-agent-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, c.kubeConfig.exportConfig());
  const file = join(dir, 'web.yaml');
  writeFileSync(
    file,
    stringify({
      rollout: {
        name: 'web',
        namespace: 'shop',
        target: { name: 'web', service: 'web' },
        update: { image: 'web:2' },
        strategy: { type: 'weighted' },
        steps: [{ setWeight: 20 }, { pause: {} }],
        analysis: {
          metrics: [
            {
              name: 'errors',
              interval: '2s',
              provider: { istio: { metric: 'errors' } },
              judge: { sequentialRate: { alpha: 0.01 } },
            },
          ],
        },
        scaleDownDelay: '0s',
        abortScaleDownDelay: '0s',
      },
      router: { istio: { virtualService: 'web', destinationRule: { name: 'web' } } },
      prometheus: { address: c.prometheusUrl },
    }),
  );
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
