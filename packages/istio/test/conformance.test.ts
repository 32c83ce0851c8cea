import { createKubeClient } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import type { KubeObject } from '@kanary/testkit';
import { deployment, service } from '@kanary/testkit';
import { describeRouterConformance, type ObjectId, type PersonEdit } from '@kanary/testkit/vitest';

const virtualService = (http: unknown[]): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'demo4-vs', namespace: 'default' },
  spec: { hosts: ['demo4.a.com'], http },
});

type Route = {
  name?: string;
  match?: unknown[];
  route?: Array<{ destination: Record<string, unknown>; weight?: number }>;
} & Record<string, unknown>;
const routesOf = (vs: KubeObject) => (vs.spec as { http: Route[] }).http;
/** Edits of a VirtualService; `managed` finds the route Kanary splits, `stable` tells its stable destination. */
function vsEdits(
  target: ObjectId,
  managed: (r: Route) => boolean,
  stable: Record<string, unknown>,
  above: Route,
  apiVersion?: string,
): PersonEdit[] {
  const change = (f: (http: Route[]) => Route[]) => (vs: KubeObject) => ({
    ...vs,
    spec: { ...(vs.spec as object), http: f(routesOf(vs)) },
  });
  const edits: PersonEdit[] = [
    { does: 'adds a route above the managed one', target, edit: change((http) => [above, ...http]) },
    {
      does: 'sets a timeout and retries on the managed route',
      target,
      edit: change((http) =>
        http.map((r) => (managed(r) ? { ...r, timeout: '7s', retries: { attempts: 2 } } : r)),
      ),
    },
    {
      does: 'sets the canary to 0% by hand',
      kind: 'zero',
      target,
      edit: change((http) =>
        http.map((r) =>
          managed(r) && (r.route?.length ?? 0) > 1
            ? {
                ...r,
                route: (r.route ?? []).map((d) => ({
                  ...d,
                  weight: Object.entries(stable).every(([k, v]) => d.destination[k] === v) ? 100 : 0,
                })),
              }
            : r,
        ),
      ),
    },
    {
      does: "deletes Kanary's own routes",
      kind: 'dropOwned',
      target,
      edit: change((http) => http.filter((r) => !(r.name ?? '').startsWith('kanary-'))),
    },
  ];
  return edits.map((e) => (apiVersion ? { ...e, apiVersion } : e));
}

const DEMO4 = 'demo4.default.svc.cluster.local';
describeRouterConformance({
  name: 'Istio, subset-level (DestinationRule)',
  personEdits: vsEdits(
    { kind: 'VirtualService', namespace: 'default', name: 'demo4-vs', group: 'networking.istio.io' },
    (r) => r.name === 'primary',
    { host: DEMO4, subset: 'stable' },
    {
      name: 'admin',
      match: [{ headers: { 'x-admin': { exact: '1' } } }],
      route: [{ destination: { host: DEMO4, subset: 'stable' } }],
    },
  ),
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
  // Its managed route has no name: Kanary finds it again by its match, wherever a person moved it.
  personEdits: vsEdits(
    { kind: 'VirtualService', namespace: 'default', name: 'shop', group: 'networking.istio.io' },
    (r) => !r.name && !r.match,
    { host: 'shop' },
    { match: [{ uri: { prefix: '/admin' } }], route: [{ destination: { host: 'shop' } }] },
    'networking.istio.io/v1beta1',
  ),
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
