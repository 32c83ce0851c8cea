import { createKubeClient, createReplicaRatioRouter, createServiceSelectorRouter } from '@kanary/core';
import type { KubeObject } from '@kanary/testkit';
import { describeRouterConformance, type PersonEdit } from '@kanary/testkit/vitest';
import { deployment, service } from './fixtures.ts';

const SERVICE = { kind: 'Service', namespace: 'default', name: 'app' };
const serviceEdits: PersonEdit[] = [
  {
    does: 'annotates and labels the Service',
    target: SERVICE,
    edit: (svc: KubeObject) => ({
      ...svc,
      metadata: {
        ...svc.metadata,
        labels: { ...svc.metadata.labels, team: 'payments' },
        annotations: { ...svc.metadata.annotations, 'example.com/owner': 'payments' },
      },
    }),
  },
  {
    does: 'adds a port to the Service',
    target: SERVICE,
    edit: (svc: KubeObject) => {
      const spec = structuredClone(svc.spec as { ports: Array<Record<string, unknown>> });
      spec.ports = [
        ...spec.ports.map((p) => ({ name: 'http', ...p })),
        { name: 'metrics', port: 9090, targetPort: 9090, protocol: 'TCP' },
      ];
      return { ...svc, spec };
    },
  },
];

describeRouterConformance({
  name: 'Service selector (blue-green)',
  personEdits: serviceEdits,
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
      restored: [SERVICE],
      raceTarget: { kind: 'Service', namespace: 'default', name: 'app' },
    };
  },
});

describeRouterConformance({
  name: 'replica ratio',
  personEdits: [
    ...serviceEdits,
    {
      does: 'scales the canary to 0 by hand',
      kind: 'zero',
      target: { kind: 'Deployment', namespace: 'default', name: 'app-canary' },
      edit: (d: KubeObject) => ({ ...d, spec: { ...(d.spec as object), replicas: 0 } }),
    },
  ],
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
      restored: [SERVICE],
      raceTarget: { kind: 'Deployment', namespace: 'default', name: 'app-canary' },
    };
  },
});
