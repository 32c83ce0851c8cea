import {
  createKubeClient,
  createKubernetesRollout,
  type KubernetesRolloutOptions,
  type Rollout,
  type RolloutSpecInput,
} from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, istioApp, startCluster } from '@kanary/testkit';

/** The emulator in virtual time with the Istio app `web` (web:1) running and ready. */
export async function startIstioWeb(seed: number, replicas: number): Promise<Cluster> {
  const cluster = await startCluster({ podReadyAfterMs: 1_000, seed });
  cluster.apply(...istioApp('web', 'default', 'web:1', replicas));
  await cluster.settle();
  return cluster;
}

/**
 * A weighted release of `web` to web:2 through its VirtualService and DestinationRule, on the
 * cluster's clock: `spec` adds to or overrides the release, `options` the rest (a gate, a poll).
 */
export function istioRollout(
  cluster: Cluster,
  spec: Partial<RolloutSpecInput>,
  options: Partial<Omit<KubernetesRolloutOptions, 'spec' | 'client' | 'clock' | 'router'>> = {},
): Rollout {
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  return createKubernetesRollout({
    spec: {
      name: 'web',
      target: { name: 'web', service: 'web' },
      update: { image: 'web:2' },
      strategy: { type: 'weighted' },
      ...spec,
    } as RolloutSpecInput,
    client,
    clock: cluster.clock,
    router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
    ...options,
  });
}
