import {
  type Cluster,
  type KubeObject,
  type PrometheusServer,
  prometheusAvailable,
  startCluster,
  startPrometheus,
} from '@kanary/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Needs Debian's `prometheus` package (scripts/setup.sh --with-prometheus installs it; CI does).
describe.skipIf(!prometheusAvailable())('a real Prometheus scraping the simulator', () => {
  let cluster: Cluster;
  let prometheus: PrometheusServer;

  const deploy = (version: string): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `podinfo-${version}`, namespace: 'test' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'podinfo', version } },
      template: {
        metadata: { labels: { app: 'podinfo', version } },
        spec: { containers: [{ name: 'podinfo', image: `podinfo:${version}` }] },
      },
    },
  });
  const svc = (name: string, selector: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'test' },
    spec: { selector, ports: [{ port: 80 }] },
  });

  beforeAll(async () => {
    cluster = await startCluster({ time: 'real', podReadyAfterMs: 50, seed: 3 });
    cluster.apply(
      deploy('v1'),
      deploy('v2'),
      svc('podinfo', { app: 'podinfo' }),
      svc('podinfo-v1', { app: 'podinfo', version: 'v1' }),
      svc('podinfo-v2', { app: 'podinfo', version: 'v2' }),
    );
    cluster.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: {
        hosts: ['podinfo'],
        http: [
          {
            route: [
              { destination: { host: 'podinfo-v1' }, weight: 50 },
              { destination: { host: 'podinfo-v2' }, weight: 50 },
            ],
          },
        ],
      },
    });
    const A = 'nginx.ingress.kubernetes.io/';
    const ing = (name: string, service: string, annotations: Record<string, string>): KubeObject => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, namespace: 'test', annotations },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'app.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: service, port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    cluster.apply(
      ing('podinfo', 'podinfo-v1', {}),
      ing('podinfo-canary', 'podinfo-v2', { [`${A}canary`]: 'true', [`${A}canary-weight`]: '50' }),
    );
    cluster.traffic.setBehavior({
      image: 'podinfo:v1',
      behavior: { errorRate: 0.01, latency: { medianMs: 40, sigma: 0.4 } },
    });
    cluster.traffic.setBehavior({
      image: 'podinfo:v2',
      behavior: { errorRate: 0.08, latency: { medianMs: 120, sigma: 0.4 } },
    });
    await new Promise((r) => setTimeout(r, 200));
    cluster.traffic.addLoad({
      name: 'mesh-client',
      rps: 1500,
      entry: { kind: 'istio', host: 'podinfo', namespace: 'test' },
    });
    cluster.traffic.addLoad({
      name: 'ingress-client',
      rps: 1500,
      entry: { kind: 'ingress', host: 'app.example.com' },
    });
    prometheus = await startPrometheus({ targets: [cluster.metricsUrl], scrapeInterval: '1s' });
    await prometheus.waitForScrapes(6);
  }, 60_000);

  afterAll(async () => {
    await prometheus?.close();
    await cluster?.close();
  });

  const scalar = async (q: string) => Number((await prometheus.query(q)).result[0]?.value[1]);

  it("answers Flagger's Istio request-success-rate query with the simulated canary's success rate", async () => {
    const sel =
      'reporter="destination",destination_workload_namespace="test",destination_workload=~"podinfo-v2"';
    const rate = await scalar(
      `sum(rate(istio_requests_total{${sel},response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{${sel}}[1m])) * 100`,
    );
    expect(rate).toBeGreaterThan(92 - 2.5);
    expect(rate).toBeLessThan(92 + 2.5);
    const stable = await scalar(
      'sum(rate(istio_requests_total{reporter="destination",destination_workload="podinfo-v1",response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{reporter="destination",destination_workload="podinfo-v1"}[1m])) * 100',
    );
    expect(stable).toBeGreaterThan(99 - 1);
  });

  it('answers Flagger\'s nginx success-rate query for the canary (canary!="")', async () => {
    const sel = 'namespace="test",ingress="podinfo",canary!=""';
    const rate = await scalar(
      `sum(rate(nginx_ingress_controller_requests{${sel},status!~"5.*"}[1m])) / sum(rate(nginx_ingress_controller_requests{${sel}}[1m])) * 100`,
    );
    expect(rate).toBeGreaterThan(92 - 2.5);
    expect(rate).toBeLessThan(92 + 2.5);
  });

  it('exposes latency histograms a P99 query can use', async () => {
    const p50 = await scalar(
      'histogram_quantile(0.5, sum(rate(istio_request_duration_milliseconds_bucket{destination_workload="podinfo-v2"}[1m])) by (le))',
    );
    // Median 120 ms, interpolated inside the 100–250 ms bucket.
    expect(p50).toBeGreaterThan(100);
    expect(p50).toBeLessThan(250);
    const meanMs = await scalar(
      'sum(rate(nginx_ingress_controller_response_duration_seconds_sum{ingress="podinfo",canary!=""}[1m])) / sum(rate(nginx_ingress_controller_response_duration_seconds_count{ingress="podinfo",canary!=""}[1m])) * 1000',
    );
    // Log-normal mean = median · e^(σ²/2) ≈ 130 ms.
    expect(meanMs).toBeGreaterThan(115);
    expect(meanMs).toBeLessThan(145);
  });
});
