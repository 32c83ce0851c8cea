import { type Clock, systemClock } from '@kanary/core/adapter';
import type { SeriesValue } from '../stats/counters.ts';
import { HttpError, type HttpOptions, httpCall } from './http.ts';

export interface PrometheusClientOptions extends HttpOptions {
  /** Base URL of the server, e.g. `http://prometheus.monitoring:9090`. */
  address: string;
  clock?: Clock;
}

/** An instant query's answer: a scalar or an instant vector. */
export type InstantResult = { type: 'scalar'; value: number } | { type: 'vector'; series: SeriesValue[] };

export interface RangeSeries {
  labels: Record<string, string>;
  points: Array<[number, number]>;
}

export interface PrometheusClient {
  readonly address: string;
  instant(query: string, options?: { time?: number; signal?: AbortSignal }): Promise<InstantResult>;
  range(
    query: string,
    options: { start: number; end: number; stepMs: number; signal?: AbortSignal },
  ): Promise<RangeSeries[]>;
}

interface ApiBody {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown };
  errorType?: string;
  error?: string;
}

/** A client for Prometheus' HTTP API (`/api/v1/query` and `/api/v1/query_range`). */
export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const base = options.address.replace(/\/+$/, '');
  const clock = options.clock ?? systemClock;
  const call = async (path: string, params: Record<string, string>, signal?: AbortSignal) => {
    const body = new URLSearchParams(params).toString();
    const res = await httpCall(
      options,
      {
        url: `${base}${path}`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        ...(signal ? { signal } : {}),
      },
      clock,
    );
    let parsed: ApiBody;
    try {
      parsed = JSON.parse(res.body) as ApiBody;
    } catch {
      throw new HttpError(
        `prometheus answered ${res.status} with a body that is not JSON`,
        res.status,
        false,
        res.body,
      );
    }
    if (parsed.status !== 'success' || !parsed.data) {
      throw new HttpError(
        `prometheus: ${parsed.errorType ?? res.status}: ${parsed.error ?? 'no data'}`,
        res.status,
        false,
        res.body,
      );
    }
    return parsed.data;
  };
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  return {
    address: base,
    async instant(query, o = {}) {
      const data = await call(
        '/api/v1/query',
        { query, ...(o.time !== undefined ? { time: seconds(o.time) } : {}) },
        o.signal,
      );
      if (data.resultType === 'scalar') {
        const [, v] = data.result as [number, string];
        return { type: 'scalar', value: Number(v) };
      }
      if (data.resultType === 'vector') {
        const result = data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
        return {
          type: 'vector',
          series: result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) })),
        };
      }
      throw new HttpError(
        `prometheus returned a ${data.resultType}; an instant query must give a scalar or a vector`,
        200,
        false,
      );
    },
    async range(query, o) {
      const data = await call(
        '/api/v1/query_range',
        { query, start: seconds(o.start), end: seconds(o.end), step: `${Math.max(o.stepMs, 1) / 1000}s` },
        o.signal,
      );
      const result = data.result as Array<{
        metric: Record<string, string>;
        values: Array<[number, string]>;
      }>;
      return result.map((r) => ({
        labels: r.metric,
        points: r.values.map(([t, v]) => [t * 1000, Number(v)] as [number, number]),
      }));
    },
  };
}
