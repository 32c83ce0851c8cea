import { type BuiltinRouter, builtinSource, renderPromQL } from '@kanary/metrics';
import {
  type Cluster,
  deployment,
  type Entry,
  gateway,
  type KubeObject,
  service,
  startCluster,
} from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// The built-in metrics (`istio`, `nginx`, `gatewayApi` providers) are PromQL over the series each
// data plane exports. Here each data plane's series, as the emulator writes them for a 50/50
// split, are read with the built-in queries themselves: each side's requests and errors must be
// exactly what that side served. A label renamed on either side fails here.

let cluster: Cluster;
afterEach(() => cluster?.close());

const NS = 'default';
const vars = { namespace: NS, canary: 'shop-canary', stable: 'shop', ingress: 'shop', interval: '1m' };

const split = (router: BuiltinRouter): { objects: KubeObject[]; entry: Entry } => {
  switch (router) {
    case 'istio':
      return {
        objects: [
          {
            apiVersion: 'networking.istio.io/v1',
            kind: 'VirtualService',
            metadata: { name: 'shop', namespace: NS },
            spec: {
              hosts: ['shop'],
              http: [
                {
                  name: 'primary',
                  route: [
                    { destination: { host: 'shop' }, weight: 50 },
                    { destination: { host: 'shop-canary' }, weight: 50 },
                  ],
                },
              ],
            },
          },
        ],
        entry: { kind: 'istio', host: 'shop', namespace: NS },
      };
    case 'nginx': {
      const ingress = (name: string, backend: string, annotations?: Record<string, string>): KubeObject => ({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name, namespace: NS, ...(annotations ? { annotations } : {}) },
        spec: {
          ingressClassName: 'nginx',
          rules: [
            {
              host: 'shop.example',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: backend, port: { number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      });
      return {
        objects: [
          ingress('shop', 'shop'),
          ingress('shop-canary', 'shop-canary', {
            'nginx.ingress.kubernetes.io/canary': 'true',
            'nginx.ingress.kubernetes.io/canary-weight': '50',
          }),
        ],
        entry: { kind: 'ingress', host: 'shop.example' },
      };
    }
    case 'gatewayApi':
      return {
        objects: [
          ...gateway(),
          {
            apiVersion: 'gateway.networking.k8s.io/v1',
            kind: 'HTTPRoute',
            metadata: { name: 'shop', namespace: NS },
            spec: {
              parentRefs: [{ name: 'public-gateway' }],
              hostnames: ['shop.example'],
              rules: [
                {
                  backendRefs: [
                    { name: 'shop', port: 80, weight: 50 },
                    { name: 'shop-canary', port: 80, weight: 50 },
                  ],
                },
              ],
            },
          },
        ],
        entry: { kind: 'gateway', host: 'shop.example' },
      };
  }
};

const instant = async (q: string): Promise<number> => {
  const res = await fetch(`${cluster.prometheusUrl}/api/v1/query?${new URLSearchParams({ query: q })}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: Array<{ value: [number, string] }> };
  };
  expect(body.status, `${q}: ${body.error ?? ''}`).toBe('success');
  return body.data.result.reduce((s, r) => s + Number(r.value[1]), 0);
};

describe.each<BuiltinRouter>(['istio', 'nginx', 'gatewayApi'])(
  "the %s built-in reads its data plane's series",
  (router) => {
    it("counts each side's requests and errors as served", async () => {
      cluster = await startCluster({ seed: 7, podReadyAfterMs: 10 });
      const { objects, entry } = split(router);
      cluster.apply(
        deployment('shop', NS, 'shop:1', 2),
        deployment('shop-canary', NS, 'shop:2', 2, { app: 'shop-canary' }),
        service('shop', NS, { app: 'shop' }),
        service('shop-canary', NS, { app: 'shop-canary' }),
        ...objects,
      );
      cluster.traffic.setBehavior({ image: 'shop:2', behavior: { errorRate: 0.3 } });
      await cluster.virtualClock?.advance(5_000);
      cluster.traffic.sample(entry, 2_000);

      const served = (workload: string) => cluster.traffic.served.get(workload) ?? { requests: 0, errors: 0 };
      const counts = builtinSource(router, 'errors', 'counts') as {
        canary: { total: string; bad: string };
        baseline: { total: string; bad: string };
      };
      for (const [side, workload] of [
        ['canary', 'shop-canary'],
        ['baseline', 'shop'],
      ] as const) {
        const total = await instant(renderPromQL(counts[side].total, vars));
        const bad = await instant(renderPromQL(counts[side].bad, vars));
        expect({ side, total, bad }).toEqual({
          side,
          total: served(workload).requests,
          bad: served(workload).errors,
        });
      }
      // The split happened, and the canary's errors are the canary's alone.
      expect(served('shop-canary').requests).toBeGreaterThan(800);
      expect(served('shop').requests).toBeGreaterThan(800);
      expect(served('shop-canary').errors).toBeGreaterThan(200);
      expect(served('shop').errors).toBe(0);

      // The latency histogram the latency built-in reads has every request of each side.
      const histogram = builtinSource(router, 'latency', 'histogram') as { canary: string; baseline: string };
      const inf = await instant(`sum(${renderPromQL(histogram.canary, vars).replace('}', ',le="+Inf"}')})`);
      expect(inf).toBe(served('shop-canary').requests);
    });
  },
);
