import { createKubeClient, createReplicaRatioRouter, createServiceSelectorRouter } from '@kanary/core';
import { describeRouterConformance } from '@kanary/testkit';
import { deployment, service } from './fixtures.ts';

describeRouterConformance({
  name: 'Service selector (blue-green)',
  setup(cluster) {
    cluster.apply(
      deployment('app-blue', 'default', 'app:1', 2, { app: 'app' }),
      deployment('app-green', 'default', 'app:2', 2, { app: 'app' }),
      service('app', 'default', { app: 'app' }),
    );
    return {
      router: createServiceSelectorRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
      }),
      spec: {
        name: 'app',
        target: { name: 'app-blue', service: 'app' },
        strategy: { type: 'blueGreen', activeService: 'app', green: { name: 'app-green', adopt: true } },
      },
      entry: { kind: 'service', namespace: 'default', service: 'app' },
      stableWorkload: 'app-blue',
      canaryWorkload: 'app-green',
      raceTarget: { kind: 'Service', namespace: 'default', name: 'app' },
    };
  },
});

describeRouterConformance({
  name: 'replica ratio',
  setup(cluster) {
    cluster.apply(
      deployment('app', 'default', 'app:1', 4, { app: 'app' }),
      service('app', 'default', { app: 'app' }),
    );
    cluster.apply({ ...deployment('app-canary', 'default', 'app:2', 0, { app: 'app' }) });
    return {
      router: createReplicaRatioRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
      }),
      spec: {
        name: 'app',
        target: { name: 'app', service: 'app' },
        strategy: { type: 'replicaRatio', maxSurge: 1, canary: { name: 'app-canary', adopt: true } },
      },
      entry: { kind: 'service', namespace: 'default', service: 'app' },
      stableWorkload: 'app',
      canaryWorkload: 'app-canary',
      raceTarget: { kind: 'Deployment', namespace: 'default', name: 'app-canary' },
    };
  },
});
