import type { MetricsRegistry } from '../metrics.ts';
import type { RequestRecord, SeriesWriter } from './plane.ts';

// The emulator's pods run Istio sidecars: whichever way a request arrived (through a
// VirtualService or straight at a Service), the serving pod's sidecar reports it.

const ISTIO_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

export function declareSidecarSeries(metrics: MetricsRegistry): void {
  metrics.counter('istio_requests_total', 'Requests reported by the destination sidecar (simulated).');
  metrics.histogram(
    'istio_request_duration_milliseconds',
    'Request duration in ms (simulated).',
    ISTIO_BUCKETS,
  );
}

/**
 * What the serving pod's sidecar reports (reporter="destination"), mirrored copies included: the
 * sidecar sees them as requests. Its labels come from the pod's (`version`, the canonical names).
 */
export function recordSidecar(out: SeriesWriter, { backend, code, latencyMs, source }: RequestRecord): void {
  if (!backend) return;
  const labels = backend.pod.metadata.labels ?? {};
  const version = labels.version;
  const canonical = labels['service.istio.io/canonical-name'] ?? labels.app ?? backend.workload;
  const revision = labels['service.istio.io/canonical-revision'] ?? version ?? 'latest';
  const h = out.series(
    `istio\u0000${source.workload}\u0000${source.namespace}\u0000${backend.workload}\u0000${backend.namespace}\u0000${backend.service}\u0000${version ?? '\u0002'}\u0000${canonical}\u0000${revision}\u0000${code}`,
    () => {
      const destination = {
        reporter: 'destination',
        source_workload: source.workload,
        source_workload_namespace: source.namespace,
        destination_workload: backend.workload,
        destination_workload_namespace: backend.namespace,
        destination_service: `${backend.service}.${backend.namespace}.svc.cluster.local`,
        destination_service_name: backend.service,
        destination_service_namespace: backend.namespace,
        destination_version: version ?? 'unknown',
        destination_canonical_service: canonical,
        destination_canonical_revision: revision,
        request_protocol: 'http',
        response_code: code,
        response_flags: '-',
        connection_security_policy: 'mutual_tls',
      };
      return [
        out.metrics.handle('istio_requests_total', destination),
        out.metrics.handle('istio_request_duration_milliseconds', destination),
      ];
    },
  );
  h[0]?.inc();
  h[1]?.observe(latencyMs);
}
