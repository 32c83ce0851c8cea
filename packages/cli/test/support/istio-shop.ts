import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cluster, istioApp, startCluster } from '@kanary/testkit';
import { stringify } from 'yaml';

/**
 * The emulator on the wall clock with `web` behind Istio in `shop` (4 pods of web:1), users at
 * 200 requests/s, each image failing at the given rate, and the kubeconfig written to a file —
 * what the CLI's process tests start from.
 */
export async function istioShop(errorRates: Record<string, number>): Promise<{
  cluster: Cluster;
  kubeconfig: string;
  dir: string;
}> {
  const cluster = await startCluster({ time: 'real', podReadyAfterMs: 50, namespaces: ['shop'] });
  cluster.apply(...istioApp('web', 'shop', 'web:1', 4));
  for (const [image, errorRate] of Object.entries(errorRates))
    cluster.traffic.setBehavior({ image, behavior: { errorRate } });
  cluster.traffic.addLoad({
    name: 'users',
    rps: 200,
    entry: { kind: 'istio', host: 'web', namespace: 'shop' },
  });
  const dir = mkdtempSync(join(tmpdir(), 'kanary-cli-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, cluster.kubeConfig.exportConfig());
  return { cluster, kubeconfig, dir };
}

/**
 * A kanary file releasing `image` to `web` by weight through the Istio subsets, its errors judged
 * every second against stable by the sequential test; written to `dir`, its path returned.
 */
export function istioRelease(
  dir: string,
  options: { image: string; steps: unknown[]; prometheusUrl: string; name?: string },
): string {
  const file = join(dir, options.name ?? `${options.image.replace(/[^\w.-]/g, '-')}.yaml`);
  writeFileSync(
    file,
    stringify({
      rollout: {
        name: 'web',
        namespace: 'shop',
        target: { name: 'web', service: 'web' },
        update: { image: options.image },
        strategy: { type: 'weighted' },
        steps: options.steps,
        analysis: {
          metrics: [
            {
              name: 'errors',
              interval: '1s',
              provider: { istio: { metric: 'errors' } },
              judge: { sequentialRate: { alpha: 0.01 } },
            },
          ],
        },
        scaleDownDelay: '0s',
        abortScaleDownDelay: '0s',
      },
      router: { istio: { virtualService: 'web', destinationRule: { name: 'web' } } },
      prometheus: { address: options.prometheusUrl },
    }),
  );
  return file;
}
