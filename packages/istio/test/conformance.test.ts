import { createKubeClient } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { describeRouterConformance, type KubeObject } from '@kanary/testkit';
import { deployment, service } from '../../core/test/kubernetes/fixtures.ts';

const virtualService = (http: unknown[]): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'demo4-vs', namespace: 'default' },
  spec: { hosts: ['demo4.a.com'], http },
});

describeRouterConformance({
  name: 'Istio, subset-level (DestinationRule)',
  setup(cluster) {
    cluster.apply(
      deployment('demo4', 'default', 'demo4:1', 2, { app: 'demo4' }),
      deployment('demo4-canary', 'default', 'demo4:2', 2, { app: 'demo4' }),
      service('demo4', 'default', { app: 'demo4' }),
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'demo4', namespace: 'default' },
        spec: {
          host: 'demo4.default.svc.cluster.local',
          subsets: [{ name: 'stable', labels: { app: 'demo4' } }],
        },
      },
      virtualService([
        {
          name: 'api',
          match: [{ uri: { prefix: '/api' } }],
          route: [{ destination: { host: 'demo4.default.svc.cluster.local', subset: 'stable' } }],
        },
        {
          name: 'primary',
          route: [{ destination: { host: 'demo4.default.svc.cluster.local', subset: 'stable' } }],
        },
      ]),
    );
    return {
      router: createIstioRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        virtualService: 'demo4-vs',
        routes: ['primary'],
        destinationRule: { name: 'demo4' },
      }),
      spec: {
        name: 'demo4',
        target: { name: 'demo4', service: 'demo4' },
        strategy: { type: 'weighted', canary: { name: 'demo4-canary', adopt: true } },
      },
      entry: { kind: 'istio', host: 'demo4.a.com', namespace: 'default' },
      stableWorkload: 'demo4',
      canaryWorkload: 'demo4-canary',
      restored: [
        { kind: 'VirtualService', namespace: 'default', name: 'demo4-vs', group: 'networking.istio.io' },
        { kind: 'DestinationRule', namespace: 'default', name: 'demo4', group: 'networking.istio.io' },
      ],
      raceTarget: {
        kind: 'VirtualService',
        namespace: 'default',
        name: 'demo4-vs',
        group: 'networking.istio.io',
      },
    };
  },
});

describeRouterConformance({
  name: 'Istio, host-level (two Services), on an Istio that serves only v1beta1',
  setup(cluster) {
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2, { app: 'shop' }),
      deployment('shop-canary', 'default', 'shop:2', 2, { app: 'shop' }),
      service('shop', 'default', { app: 'shop' }),
      {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'VirtualService',
        metadata: { name: 'shop', namespace: 'default' },
        spec: { hosts: ['shop'], http: [{ route: [{ destination: { host: 'shop' } }] }] },
      },
    );
    return {
      router: createIstioRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        virtualService: 'shop',
      }),
      spec: {
        name: 'shop',
        target: { name: 'shop', service: 'shop' },
        strategy: { type: 'weighted', canary: { name: 'shop-canary', adopt: true } },
      },
      entry: { kind: 'istio', host: 'shop', namespace: 'default' },
      stableWorkload: 'shop',
      canaryWorkload: 'shop-canary',
      restored: [
        { kind: 'VirtualService', namespace: 'default', name: 'shop', group: 'networking.istio.io' },
        { kind: 'Service', namespace: 'default', name: 'shop' },
      ],
      raceTarget: {
        kind: 'VirtualService',
        namespace: 'default',
        name: 'shop',
        group: 'networking.istio.io',
      },
    };
  },
  clusterOptions: { servedVersions: { 'networking.istio.io': ['v1beta1'] } },
});
