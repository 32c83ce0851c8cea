// The seeds' shop: a front-end Deployment behind Istio (a VirtualService with a DestinationRule),
// served 200 requests per second by the emulator's traffic simulator. No cluster needed.
import type { Cluster, KubeObject, VersionBehavior } from '@kanary/testkit';
import { startCluster } from '@kanary/testkit';

export const NAMESPACE = 'shop';
export const APP = 'shop-frontend';
export const HOST = 'shop.example.com';
export const STABLE_IMAGE = 'registry.example.com/shop-frontend:1.4.2';
export const RPS = 200;

/** How each release behaves once it serves traffic. */
export const RELEASES: Record<string, VersionBehavior> = {
  [STABLE_IMAGE]: { errorRate: 0.005, latency: { medianMs: 60, sigma: 0.4 } },
  'registry.example.com/shop-frontend:1.5.0': { errorRate: 0.005, latency: { medianMs: 58, sigma: 0.4 } },
  // The bad release: three times the baseline's error rate, latency unchanged.
  'registry.example.com/shop-frontend:1.6.0': { errorRate: 0.015, latency: { medianMs: 60, sigma: 0.4 } },
};

const labels = { app: APP };

function objects(): KubeObject[] {
  const probe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, namespace: NAMESPACE, labels },
      spec: {
        replicas: 6,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'web',
                image: STABLE_IMAGE,
                ports: [{ containerPort: 8080 }],
                readinessProbe: probe,
                lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
                resources: { requests: { cpu: '100m', memory: '128Mi' } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: APP, namespace: NAMESPACE },
      spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: APP, namespace: NAMESPACE },
      spec: {
        host: `${APP}.${NAMESPACE}.svc.cluster.local`,
        subsets: [{ name: 'stable', labels }],
      },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: APP, namespace: NAMESPACE },
      spec: {
        hosts: [HOST],
        http: [
          {
            name: 'primary',
            route: [{ destination: { host: `${APP}.${NAMESPACE}.svc.cluster.local`, subset: 'stable' } }],
          },
        ],
      },
    },
  ];
}

/** Starts the emulator in virtual time with the shop deployed, its users, and the releases' behaviour. */
export async function startShop(seed = 2026): Promise<Cluster> {
  const cluster = await startCluster({
    seed,
    namespaces: [NAMESPACE],
    podReadyAfterMs: 8_000,
    startTime: Date.UTC(2026, 10, 22, 9, 0, 0),
  });
  cluster.apply(...objects());
  for (const [image, behavior] of Object.entries(RELEASES)) cluster.traffic.setBehavior({ image, behavior });
  cluster.traffic.addLoad({
    name: 'shoppers',
    rps: RPS,
    entry: { kind: 'istio', host: HOST, namespace: NAMESPACE },
  });
  // The shop has been serving for ten minutes when the first release begins: its metrics have a
  // history, as a real service's do, and the error judge calibrates on it.
  await cluster.virtualClock?.advance(10 * 60_000);
  return cluster;
}
