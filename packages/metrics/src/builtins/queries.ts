import type { PrometheusSource, ProviderSpec } from '../gate/metric-spec.ts';
import type { DataKind } from '../providers/data.ts';

/**
 * Built-in queries over the series real data planes export, for each side of the comparison.
 * Every value goes through the template renderer, so names cannot alter the queries.
 */

export type BuiltinRouter = 'istio' | 'nginx' | 'gatewayApi';

export interface BuiltinConfig {
  metric: 'errors' | 'latency';
  statistic?: number | 'mean';
  server?: string;
  address?: string;
  step?: string | number;
  ingress?: string;
  route?: string;
}

/** The built-in a provider names (`istio`, `nginx` or `gatewayApi`), or undefined for the others. */
export function builtinOf(p: ProviderSpec): { router: BuiltinRouter; config: BuiltinConfig } | undefined {
  if ('istio' in p) return { router: 'istio', config: p.istio };
  if ('nginx' in p) return { router: 'nginx', config: p.nginx };
  if ('gatewayApi' in p) return { router: 'gatewayApi', config: p.gatewayApi };
  return undefined;
}

interface Family {
  /** Label matchers selecting one side's requests. */
  select(side: 'canary' | 'baseline'): string;
  requests: string;
  /** Matcher for a 5xx answer. */
  bad: string;
  duration: string;
  /** Multiplier from the histogram's unit to milliseconds (threshold queries report ms). */
  toMs: number;
}

const FAMILIES: Record<BuiltinRouter, Family> = {
  // Istio's standard metrics as the destination sidecar reports them (Flagger reads the same).
  istio: {
    select: (side) =>
      `reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload="{{${side === 'canary' ? 'canary' : 'stable'}}}"`,
    requests: 'istio_requests_total',
    bad: 'response_code=~"5.."',
    duration: 'istio_request_duration_milliseconds',
    toMs: 1,
  },
  // ingress-nginx labels requests served by the canary Ingress with canary="<service>".
  nginx: {
    select: (side) =>
      `namespace="{{namespace}}",ingress="{{ingress}}",canary${side === 'canary' ? '!=' : '='}""`,
    requests: 'nginx_ingress_controller_requests',
    bad: 'status=~"5.."',
    duration: 'nginx_ingress_controller_response_duration_seconds',
    toMs: 1000,
  },
  // Gateway API implementations export different series; this reads the common application-side
  // convention (`http_requests_total` by workload). Override with `prometheus` queries for yours.
  gatewayApi: {
    select: (side) => `namespace="{{namespace}}",workload="{{${side === 'canary' ? 'canary' : 'stable'}}}"`,
    requests: 'http_requests_total',
    bad: 'code=~"5.."',
    duration: 'http_request_duration_seconds',
    toMs: 1000,
  },
};

/** The Prometheus queries a built-in metric stands for, given what the judge needs. */
export function builtinSource(
  router: BuiltinRouter,
  metric: 'errors' | 'latency',
  needs: DataKind,
  statistic: number | 'mean' = 0.99,
): PrometheusSource {
  const f = FAMILIES[router];
  const sel = f.select;
  const rate = (name: string, side: 'canary' | 'baseline', extra = '') =>
    `sum(rate(${name}{${sel(side)}${extra}}[{{interval}}]))`;
  const successRate = (side: 'canary' | 'baseline') =>
    `100 * (1 - (${rate(f.requests, side, `,${f.bad}`)} or vector(0)) / ${rate(f.requests, side)})`;
  const errorRatio = (side: 'canary' | 'baseline') =>
    `(${rate(f.requests, side, `,${f.bad}`)} or vector(0)) / ${rate(f.requests, side)}`;
  const latency = (side: 'canary' | 'baseline') =>
    statistic === 'mean'
      ? `${f.toMs} * ${rate(`${f.duration}_sum`, side)} / ${rate(`${f.duration}_count`, side)}`
      : `${f.toMs} * histogram_quantile(${statistic}, sum by (le) (rate(${f.duration}_bucket{${sel(side)}}[{{interval}}])))`;
  if (metric === 'errors') {
    switch (needs) {
      case 'counts':
        return {
          canary: {
            total: `${f.requests}{${sel('canary')}}`,
            bad: `${f.requests}{${sel('canary')},${f.bad}}`,
          },
          baseline: {
            total: `${f.requests}{${sel('baseline')}}`,
            bad: `${f.requests}{${sel('baseline')},${f.bad}}`,
          },
        };
      case 'samples':
        return { canary: errorRatio('canary'), baseline: errorRatio('baseline') };
      case 'scalar':
        return { query: successRate('canary'), baseline: successRate('baseline') };
      case 'histogram':
        throw new RangeError('the errors metric has no histogram; use sequentialRate');
    }
  }
  switch (needs) {
    case 'histogram':
      return {
        canary: `${f.duration}_bucket{${sel('canary')}}`,
        baseline: `${f.duration}_bucket{${sel('baseline')}}`,
      };
    case 'samples':
      return { canary: latency('canary'), baseline: latency('baseline') };
    case 'scalar':
      return { query: latency('canary'), baseline: latency('baseline') };
    case 'counts':
      throw new RangeError('the latency metric has no counts; use sequentialLatency');
  }
}
