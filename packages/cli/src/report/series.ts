import { builtinSource, type PrometheusClient, renderPromQL } from '@kanary/metrics';
import type { SideSeries } from './html.ts';

export interface SeriesQuery {
  client: PrometheusClient;
  /** The router kind the rollout used: its data plane's built-in series are read. */
  router: string;
  namespace: string;
  canary: string;
  stable: string;
  /** ingress-nginx: the stable Ingress whose requests are counted. */
  ingress?: string;
  start: number;
  end: number;
}

const BUILTIN = new Set(['istio', 'nginx', 'gatewayApi']);

/**
 * Each side's error rate and mean latency over the release, from the same built-in queries the
 * analyses use (rendered through the injection-proof template renderer), one point per ~1/120th
 * of the span. Undefined when the router has no built-in series (Service selector, replica ratio).
 */
export async function sideSeries(q: SeriesQuery): Promise<SideSeries | undefined> {
  if (!BUILTIN.has(q.router)) return undefined;
  const router = q.router as 'istio' | 'nginx' | 'gatewayApi';
  const span = Math.max(1_000, q.end - q.start);
  const stepMs = Math.max(1_000, Math.round(span / 120 / 1000) * 1000);
  const vars = {
    namespace: q.namespace,
    canary: q.canary,
    stable: q.stable,
    interval: `${Math.max(30, Math.round((2 * stepMs) / 1000))}s`,
    ...(q.ingress ? { ingress: q.ingress } : {}),
  };
  const read = async (template: string) => {
    const series = await q.client.range(renderPromQL(template, vars), { start: q.start, end: q.end, stepMs });
    return (series[0]?.points ?? []).filter(([, v]) => Number.isFinite(v));
  };
  const errors = builtinSource(router, 'errors', 'samples') as { canary: string; baseline: string };
  const latency = builtinSource(router, 'latency', 'samples', 'mean') as { canary: string; baseline: string };
  const [ec, es, lc, ls] = await Promise.all([
    read(errors.canary),
    read(errors.baseline),
    read(latency.canary),
    read(latency.baseline),
  ]);
  return {
    errorRate: { canary: ec, stable: es },
    latencyMs: { canary: lc, stable: ls },
    source: `${router}'s built-in series from ${q.client.address}, every ${stepMs / 1000}s`,
  };
}
