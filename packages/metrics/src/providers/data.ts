import type { SeriesValue } from '../stats/counters.ts';

/** What a judge needs from a provider. */
export type DataKind = 'scalar' | 'counts' | 'histogram' | 'samples';

/** One value (or Argo's vector as a list) for conditions; `baseline` when a baseline query was given. */
export interface ScalarData {
  kind: 'scalar';
  result: number | number[];
  baseline?: number | number[];
  /**
   * The value as the source gave it (a web provider's JSON: strings stay strings, objects stay
   * objects), for conditions like Argo's `result.major == '1'`; `result` is its numeric reading.
   */
  raw?: unknown;
}

/** The baseline's requests and bad ones in each look interval before the first look, oldest first. */
export type CountsHistory = Array<{ total: number; bad: number }>;

/** Cumulative counters per side, one entry per series; judges take deltas between looks. */
export interface CountsData {
  kind: 'counts';
  canary: { total: SeriesValue[]; bad: SeriesValue[] };
  baseline: { total: SeriesValue[]; bad: SeriesValue[]; history?: CountsHistory };
}

/**
 * The baseline's requests in each look interval before the first look, oldest first: per `le`
 * label (its text, `+Inf` included), the requests at or under that bound in the interval.
 */
export type HistogramHistory = Array<Record<string, number>>;

/** Cumulative `_bucket` series per side, each with its `le` label. */
export interface HistogramData {
  kind: 'histogram';
  canary: SeriesValue[];
  baseline: SeriesValue[];
  /** Asked for at a calibrating judge's first look (`Judge.history`). */
  baselineHistory?: HistogramHistory;
}

/** Time-series points per side over the analysis window (Kayenta's input). */
export interface SamplesData {
  kind: 'samples';
  canary: number[];
  baseline: number[];
}

export type MetricData = ScalarData | CountsData | HistogramData | SamplesData;

/** What a `function` provider may return: like `MetricData`, with plain numbers for counters. */
export type FunctionData =
  | ScalarData
  | {
      kind: 'counts';
      canary: { total: number | SeriesValue[]; bad: number | SeriesValue[] };
      baseline: { total: number | SeriesValue[]; bad: number | SeriesValue[]; history?: CountsHistory };
    }
  | HistogramData
  | SamplesData;

export function asSeries(v: number | SeriesValue[]): SeriesValue[] {
  return typeof v === 'number' ? [{ labels: {}, value: v }] : v;
}

export function normaliseFunctionData(data: FunctionData): MetricData {
  if (data.kind !== 'counts') return data;
  return {
    kind: 'counts',
    canary: { total: asSeries(data.canary.total), bad: asSeries(data.canary.bad) },
    baseline: {
      total: asSeries(data.baseline.total),
      bad: asSeries(data.baseline.bad),
      ...(data.baseline.history ? { history: data.baseline.history } : {}),
    },
  };
}
