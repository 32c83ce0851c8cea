// A held release reacts to another process's control through its watch of the state ConfigMap
// (the client's watch cache), not at its next look: virtual time, so a minute's poll costs nothing.
import { createKubeClient, createKubernetesRollout } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { istioApp, startCluster } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';

describe("a held rollout and another process's control", () => {
  /** Virtual seconds from another process's abort to every user back on stable. */
  async function abortLatency(watch: boolean): Promise<number> {
    const cluster = await startCluster({ podReadyAfterMs: 1_000 });
    try {
      cluster.apply(...istioApp('web', 'default', 'web:1', 2));
      const made = (holder: string) => {
        const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock, watch });
        return createKubernetesRollout({
          spec: {
            name: 'web',
            namespace: 'default',
            target: { name: 'web', service: 'web' },
            update: { image: 'web:2' },
            strategy: { type: 'weighted' },
            steps: [{ setWeight: 50 }, { pause: {} }],
            scaleDownDelay: '0s',
            abortScaleDownDelay: '0s',
          },
          client,
          holder,
          clock: cluster.clock,
          router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
          pollInterval: '60s',
          syncInterval: '60s',
        });
      };
      const driver = made('driver');
      const paused = new Promise<void>((resolve) =>
        driver.on('state', (s) => s.phase === 'paused' && resolve()),
      );
      const backOnStable = new Promise<number>((resolve) =>
        driver.on('state', (s) => {
          if (s.phase === 'aborting' && s.weights.canary === 0 && s.weights.verified)
            resolve(cluster.clock.now());
        }),
      );
      const running = cluster.run(driver.run());
      await paused;
      const operator = made('operator');
      const sent = cluster.clock.now();
      await operator.abort('from another process', { wait: false });
      const back = await backOnStable;
      await running;
      await operator.close();
      return (back - sent) / 1000;
    } finally {
      await cluster.close();
    }
  }

  it('wakes on the watch of its state ConfigMap, not at its next look (a minute later)', async () => {
    expect(await abortLatency(true)).toBeLessThan(5);
    // Without the watch the same control waits for the driver's next look.
    expect(await abortLatency(false)).toBeGreaterThan(30);
  }, 120_000);
});
