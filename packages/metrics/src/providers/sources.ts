import { type Clock, formatDuration, KanaryError, parseDuration } from '@kanary/core/adapter';
import { builtinOf, builtinSource } from '../builtins/queries.ts';
import type { PrometheusSource, ProviderSpec } from '../gate/metric-spec.ts';
import { counterDelta, type SeriesValue } from '../stats/counters.ts';
import {
  type CountsHistory,
  type DataKind,
  type FunctionData,
  type HistogramHistory,
  type MetricData,
  normaliseFunctionData,
} from './data.ts';
import { type HttpOptions, httpCall } from './http.ts';
import { selectJsonPath } from './json-path.ts';
import { createPrometheusClient, type PrometheusClient, type RangeSeries } from './prometheus.ts';
import {
  isUnder,
  joinUrl,
  type PrometheusServer,
  type PrometheusServers,
  resolvePrometheus,
  resolveWeb,
  type WebOptions,
  type WebServer,
} from './servers.ts';
import { renderPromQL, renderUrl, type TemplateVars } from './template.ts';

/** Hosts' own data: called with what the judge needs, returns it. */
export type MetricFunction = (request: {
  metric: string;
  needs: DataKind;
  vars: TemplateVars;
  window: { start: number; end: number };
  /** Set at a calibrating judge's first look: return `baseline.history` (counts per step before now) if you can. */
  history?: { windows: number; stepMs: number };
  signal: AbortSignal;
}) => Promise<FunctionData> | FunctionData;

export interface SourceOptions {
  /** The Prometheus servers `prometheus` and built-in metrics may read, by name. */
  prometheus: PrometheusServers;
  /** `web` metrics: timing defaults and the servers they may call. */
  web?: WebOptions;
  /** Further addresses a spec may name, called without credentials. */
  allowAddresses: readonly string[];
  functions?: Record<string, MetricFunction>;
  clock: Clock;
}

export interface MeasureRequest {
  metric: string;
  provider: ProviderSpec;
  needs: DataKind;
  vars: TemplateVars;
  /** Analysis start and now: range queries for samples cover this window. */
  window: { start: number; end: number };
  intervalMs: number | undefined;
  /** At a judge's first look: the baseline's counts per `stepMs` over the `windows` before now. */
  history?: { windows: number; stepMs: number };
  signal: AbortSignal;
}

/**
 * Per-window sums of counter increases over a range query's steps, read exactly as the judges read
 * counters between looks (`counterDelta`: restarts, series born later, gaps); a step at which no
 * series has a point is left out.
 */
function increases(
  series: RangeSeries[],
  start: number,
  stepMs: number,
  windows: number,
): Array<number | undefined> {
  const atStep = Array.from({ length: windows + 1 }, (): SeriesValue[] => []);
  for (const s of series)
    for (const [t, value] of s.points)
      atStep[Math.round((t - start) / stepMs)]?.push({ labels: s.labels, value });
  let memory = counterDelta(undefined, atStep[0] ?? []).memory;
  return atStep.slice(1).map((values) => {
    if (values.length === 0) return undefined;
    const d = counterDelta(memory, values);
    memory = d.memory;
    return d.delta;
  });
}

/** A provider was asked something it cannot answer, or answered with nothing usable. */
/** A measurement that cannot be made as configured (no Prometheus, an address refused): code ANALYSIS. */
export class MeasureError extends KanaryError {
  override readonly name: string = 'MeasureError';
  constructor(message: string) {
    super('ANALYSIS', message);
  }
}

const isClient = (p: PrometheusServer): p is PrometheusClient =>
  typeof (p as PrometheusClient).instant === 'function';

export function createSources(options: SourceOptions) {
  /** By server name, or by allow-listed address (those have no credentials). */
  const clients = new Map<string, PrometheusClient>();
  const prometheus = (source: {
    server?: string | undefined;
    address?: string | undefined;
  }): PrometheusClient => {
    // Resolved again on every look: validation refused the same, but a spec can reach a gate unvalidated.
    const r = resolvePrometheus(options.prometheus, options.allowAddresses, source, 'provider');
    if (!r)
      throw new MeasureError('no Prometheus is configured: pass prometheus: { address } to createMetricGate');
    if (r.kind === 'refused') throw new MeasureError(`${r.field} ${r.message}`);
    const key = r.kind === 'server' ? `server:${r.name}` : `address:${r.address}`;
    let client = clients.get(key);
    if (!client) {
      client =
        r.kind === 'allowed'
          ? createPrometheusClient({ clock: options.clock, address: r.address })
          : isClient(r.server)
            ? r.server
            : createPrometheusClient({ clock: options.clock, ...r.server });
      clients.set(key, client);
    }
    return client;
  };

  const scalar = async (client: PrometheusClient, query: string, signal: AbortSignal) => {
    const r = await client.instant(query, { signal });
    return r.type === 'scalar' ? r.value : r.series.map((s) => s.value);
  };
  const vector = async (
    client: PrometheusClient,
    query: string,
    signal: AbortSignal,
  ): Promise<SeriesValue[]> => {
    const r = await client.instant(query, { signal });
    if (r.type === 'scalar')
      throw new MeasureError(`"${query}" gave a scalar; counters need a vector of series`);
    return r.series;
  };

  async function fromPrometheus(
    source: PrometheusSource,
    req: MeasureRequest,
    unwrap: boolean,
  ): Promise<MetricData> {
    const client = prometheus(source);
    const render = (q: string) => renderPromQL(q, req.vars);
    const { signal } = req;
    const need = <T>(v: T | undefined, what: string): T => {
      if (v === undefined)
        throw new MeasureError(`metric ${req.metric}: prometheus needs ${what} for this judge`);
      return v;
    };
    switch (req.needs) {
      case 'scalar': {
        const first = (v: number | number[]) =>
          unwrap && Array.isArray(v) && v.length === 1 ? (v[0] as number) : v;
        const result = first(await scalar(client, render(need(source.query, 'query')), signal));
        const b =
          typeof source.baseline === 'string'
            ? first(await scalar(client, render(source.baseline), signal))
            : undefined;
        return { kind: 'scalar', result, ...(b !== undefined ? { baseline: b } : {}) };
      }
      case 'counts': {
        const c = need(
          typeof source.canary === 'object' ? source.canary : undefined,
          'canary: { total, bad }',
        );
        const b = need(
          typeof source.baseline === 'object' ? source.baseline : undefined,
          'baseline: { total, bad }',
        );
        const [ct, cb, bt, bb] = await Promise.all(
          [c.total, c.bad, b.total, b.bad].map((q) => vector(client, render(q), signal)),
        );
        const history = req.history ? await baselineHistory(client, render(b.total), render(b.bad), req) : [];
        return {
          kind: 'counts',
          canary: { total: ct as SeriesValue[], bad: cb as SeriesValue[] },
          baseline: {
            total: bt as SeriesValue[],
            bad: bb as SeriesValue[],
            ...(history.length ? { history } : {}),
          },
        };
      }
      case 'histogram': {
        const c = need(
          typeof source.canary === 'string' ? source.canary : undefined,
          'canary: a _bucket selector',
        );
        const b = need(
          typeof source.baseline === 'string' ? source.baseline : undefined,
          'baseline: a _bucket selector',
        );
        const [cs, bs, history] = await Promise.all([
          vector(client, render(c), signal),
          vector(client, render(b), signal),
          req.history ? bucketHistory(client, render(b), req) : [],
        ]);
        return {
          kind: 'histogram',
          canary: cs,
          baseline: bs,
          ...(history.length ? { baselineHistory: history } : {}),
        };
      }
      case 'samples': {
        const c = need(typeof source.canary === 'string' ? source.canary : undefined, 'canary: a query');
        const b = need(
          typeof source.baseline === 'string' ? source.baseline : undefined,
          'baseline: a query',
        );
        const stepMs =
          source.step !== undefined ? parseDuration(source.step, 'step') : (req.intervalMs ?? 60_000);
        const start = Math.min(req.window.start, req.window.end - stepMs);
        const points = async (q: string) =>
          (await client.range(render(q), { start, end: req.window.end, stepMs, signal }))
            .flatMap((s) => s.points.map(([, v]) => v))
            .filter((v) => Number.isFinite(v));
        const [cs, bs] = await Promise.all([points(c), points(b)]);
        return { kind: 'samples', canary: cs, baseline: bs };
      }
    }
  }

  /**
   * The baseline's windows before the first look, for judges that calibrate on them: `read` gets
   * a range query over the history's windows and each series' increases per window. Optional
   * evidence: a server that refuses the range query (or has no history yet) gives none, and the
   * judge starts from its prior instead of failing the look.
   */
  async function historyOf<T>(
    client: PrometheusClient,
    req: MeasureRequest,
    read: (
      range: (query: string) => Promise<RangeSeries[]>,
      perWindow: (series: RangeSeries[]) => Array<number | undefined>,
    ) => Promise<T[]>,
  ): Promise<T[]> {
    const h = req.history;
    if (!h || h.windows < 2) return [];
    const end = req.window.end;
    const start = end - h.windows * h.stepMs;
    try {
      return await read(
        (q) => client.range(q, { start, end, stepMs: h.stepMs, signal: req.signal }),
        (series) => increases(series, start, h.stepMs, h.windows),
      );
    } catch (error) {
      if (req.signal.aborted) throw error;
      return [];
    }
  }

  /** The baseline's requests and bad ones per window before the first look. */
  const baselineHistory = (client: PrometheusClient, total: string, bad: string, req: MeasureRequest) =>
    historyOf<CountsHistory[number]>(client, req, async (range, perWindow) => {
      const [t, b] = await Promise.all([range(total), range(bad)]);
      const bads = perWindow(b);
      return perWindow(t).flatMap((n, i) =>
        n !== undefined && n > 0 ? [{ total: n, bad: Math.min(n, bads[i] ?? 0) }] : [],
      );
    });

  /**
   * The baseline's buckets per window before the first look, for the latency judge's allowance for
   * own shifts: per `le`, the increases of its series summed. A window missing its `+Inf` bucket is
   * left out.
   */
  const bucketHistory = (client: PrometheusClient, selector: string, req: MeasureRequest) =>
    historyOf<HistogramHistory[number]>(client, req, async (range, perWindow) => {
      const byLe = new Map<string, RangeSeries[]>();
      for (const s of await range(selector)) {
        const le = s.labels.le;
        if (le !== undefined) byLe.set(le, [...(byLe.get(le) ?? []), s]);
      }
      const perLe = [...byLe].map(([le, group]) => [le, perWindow(group)] as const);
      const windows = perLe[0]?.[1].length ?? 0;
      return Array.from({ length: windows }, (_, i) => {
        const w: Record<string, number> = {};
        for (const [le, inc] of perLe) {
          const n = inc[i];
          if (n !== undefined) w[le] = n;
        }
        return w;
      }).filter((w) => (w['+Inf'] ?? 0) > 0);
    });

  return {
    async measure(req: MeasureRequest): Promise<MetricData> {
      const p = req.provider;
      const intervalVar = formatDuration(Math.max(req.intervalMs ?? 60_000, 10_000)).replace(/\s/g, '');
      const vars: TemplateVars = { interval: intervalVar, ...req.vars };
      const withVars = { ...req, vars };
      if ('prometheus' in p) return fromPrometheus(p.prometheus, withVars, false);
      const builtin = builtinOf(p);
      if (builtin) {
        const { router, config: b } = builtin;
        if (router !== 'nginx' && vars.canary !== undefined && vars.canary === vars.stable) {
          throw new MeasureError(
            `the built-in ${router} metrics tell the sides apart by workload, and canary and stable are both ${vars.canary}; give provider.prometheus queries that separate them`,
          );
        }
        const source = builtinSource(router, b.metric, req.needs, b.statistic);
        const extra: TemplateVars = {
          ...(b.ingress ? { ingress: b.ingress } : {}),
          ...(b.route ? { route: b.route } : {}),
        };
        return fromPrometheus(
          {
            ...source,
            ...(b.address ? { address: b.address } : {}),
            ...(b.server ? { server: b.server } : {}),
            ...(b.step !== undefined ? { step: b.step } : {}),
          },
          { ...withVars, vars: { ...vars, ...extra } },
          true,
        );
      }
      if ('web' in p) {
        if (req.needs !== 'scalar')
          throw new MeasureError(
            `metric ${req.metric}: a web provider gives one value; use it with a threshold judge`,
          );
        const w = p.web;
        const r = resolveWeb(options.web, options.allowAddresses, w, 'provider.web');
        if (r.kind === 'refused') throw new MeasureError(`${r.field} ${r.message}`);
        const { url: base, ...credentials }: Partial<WebServer> = r.kind === 'server' ? r.server : {};
        const url =
          w.server !== undefined && base ? joinUrl(base, renderUrl(w.url, vars)) : renderUrl(w.url, vars);
        // The rendered URL, parsed as the request will be: still under the server (or the allowed address).
        const within =
          r.kind === 'server' && base
            ? isUnder(url, base)
            : options.allowAddresses.some((a) => isUnder(url, a));
        if (!within)
          throw new MeasureError(
            `provider.web.url rendered as ${url}, which leaves the server it was checked against`,
          );
        const { timeoutMs, retries } = options.web ?? {};
        const http: HttpOptions = {
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          ...(retries !== undefined ? { retries } : {}),
          ...credentials,
          ...(w.headers ? { headers: { ...credentials.headers, ...w.headers } } : {}),
          ...(w.timeout !== undefined ? { timeoutMs: parseDuration(w.timeout, 'timeout') } : {}),
        };
        const res = await httpCall(
          http,
          {
            url,
            method: w.method ?? 'GET',
            ...(w.body !== undefined
              ? { body: w.body, headers: { 'content-type': 'application/json' } }
              : {}),
            signal: req.signal,
          },
          options.clock,
        );
        if (res.status >= 400) throw new MeasureError(`${w.url} answered ${res.status}`);
        const value = selectJsonPath(JSON.parse(res.body), w.jsonPath);
        const toNumber = (v: unknown) =>
          typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
        return {
          kind: 'scalar',
          result: Array.isArray(value) ? value.map(toNumber) : value === undefined ? [] : toNumber(value),
          ...(value !== undefined ? { raw: value } : {}),
        };
      }
      if (!('function' in p)) throw new MeasureError(`metric ${req.metric}: unknown provider`);
      const fn = options.functions?.[p.function];
      if (!fn)
        throw new MeasureError(`no function "${p.function}" was given to createMetricGate({ functions })`);
      const data = normaliseFunctionData(
        await fn({
          metric: req.metric,
          needs: req.needs,
          vars,
          window: req.window,
          ...(req.history ? { history: req.history } : {}),
          signal: req.signal,
        }),
      );
      if (data.kind !== req.needs)
        throw new MeasureError(
          `function ${p.function} returned ${data.kind} data; this judge needs ${req.needs}`,
        );
      return data;
    },
  };
}

export type Sources = ReturnType<typeof createSources>;
