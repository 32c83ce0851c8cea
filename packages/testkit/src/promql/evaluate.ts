import type { MetricsRegistry } from '../traffic/metrics.ts';
import { type Expr, PromqlError, parsePromql } from './parse.ts';

// An instant-query evaluator for the PromQL that gates use (rate, increase, sums by label, ratios,
// comparisons, `or vector(0)`, histogram_quantile) over the simulator's series, at the cluster's
// clock. The semantics follow Prometheus' documented behaviour (extrapolated rates, one-to-one
// vector matching, bucket interpolation); see docs/decisions.md for what it leaves out.

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
}
export type QueryValue =
  | { kind: 'scalar'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'vector'; samples: Sample[] }
  | { kind: 'matrix'; series: Array<{ labels: Labels; points: Array<[number, number]> }> };

const withoutName = ({ __name__: _n, ...rest }: Labels): Labels => rest;

function signature(labels: Labels, matching?: { on: boolean; labels: string[] }): string {
  const keys = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .filter((k) => (matching ? matching.on === matching.labels.includes(k) : true))
    .sort();
  return JSON.stringify(keys.map((k) => [k, labels[k]]));
}

/** Prometheus' extrapolated rate/increase/delta over the samples of a range `[start, end]`. */
function extrapolated(
  points: Array<[number, number]>,
  start: number,
  end: number,
  counter: boolean,
  perSecond: boolean,
): number | undefined {
  if (points.length < 2) return undefined;
  const [firstT, firstV] = points[0] as [number, number];
  const [lastT, lastV] = points.at(-1) as [number, number];
  let result = lastV - firstV;
  if (counter) {
    // A counter that went down was reset: what it had counted before still counts.
    for (let i = 1; i < points.length; i++) {
      const prev = (points[i - 1] as [number, number])[1];
      if ((points[i] as [number, number])[1] < prev) result += prev;
    }
  }
  const sampled = (lastT - firstT) / 1000;
  const average = sampled / (points.length - 1);
  let toStart = (firstT - start) / 1000;
  const toEnd = (end - lastT) / 1000;
  if (counter && result > 0 && firstV >= 0) toStart = Math.min(toStart, sampled * (firstV / result));
  const threshold = average * 1.1;
  const interval =
    sampled + (toStart < threshold ? toStart : average / 2) + (toEnd < threshold ? toEnd : average / 2);
  const scaled = result * (interval / sampled);
  return perSecond ? scaled / ((end - start) / 1000) : scaled;
}

/** The φ-quantile of a histogram's cumulative buckets, interpolated linearly inside a bucket. */
function bucketQuantile(q: number, buckets: Array<{ le: number; count: number }>): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  if (sorted.length < 2 || sorted.at(-1)?.le !== Number.POSITIVE_INFINITY) return Number.NaN;
  // Cumulative counts can dip between scrapes of different buckets: take them as monotonic.
  for (let i = 1; i < sorted.length; i++)
    (sorted[i] as { count: number }).count = Math.max(
      (sorted[i] as { count: number }).count,
      (sorted[i - 1] as { count: number }).count,
    );
  const total = (sorted.at(-1) as { count: number }).count;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  const b = sorted.findIndex((x) => x.count >= rank);
  if (b === sorted.length - 1) return (sorted[sorted.length - 2] as { le: number }).le;
  const upper = sorted[b] as { le: number; count: number };
  if (b === 0 && upper.le <= 0) return upper.le;
  const lower = b === 0 ? { le: 0, count: 0 } : (sorted[b - 1] as { le: number; count: number });
  return lower.le + (upper.le - lower.le) * ((rank - lower.count) / (upper.count - lower.count));
}

const ARITHMETIC: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '^': (a, b) => a ** b,
};
const COMPARISON: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
};
const MATH: Record<string, (v: number) => number> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  sqrt: Math.sqrt,
  exp: Math.exp,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
};
const OVER_TIME: Record<string, (values: number[]) => number> = {
  sum_over_time: (v) => v.reduce((a, b) => a + b, 0),
  avg_over_time: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  min_over_time: (v) => Math.min(...v),
  max_over_time: (v) => Math.max(...v),
  count_over_time: (v) => v.length,
  last_over_time: (v) => v.at(-1) as number,
};

/** How far back an instant selector looks for a sample, as Prometheus' default lookback delta. */
const LOOKBACK_MS = 300_000;

/**
 * Evaluates at `at`. `past`: `at` is before the present, so instant selectors read the scraped
 * history (the last sample within the lookback) instead of the live value.
 */
export function evaluate(expr: Expr, registry: MetricsRegistry, at: number, past = false): QueryValue {
  const vectorOf = (e: Expr, what: string): Sample[] => {
    const v = evaluate(e, registry, at, past);
    if (v.kind !== 'vector') throw new PromqlError(`${what} needs an instant vector, got a ${v.kind}`);
    return v.samples;
  };
  const scalarOf = (e: Expr, what: string): number => {
    const v = evaluate(e, registry, at, past);
    if (v.kind !== 'scalar') throw new PromqlError(`${what} needs a scalar, got a ${v.kind}`);
    return v.value;
  };
  const matrixOf = (e: Expr, what: string) => {
    if (e.type !== 'matrix') throw new PromqlError(`${what} needs a range vector like metric[5m]`);
    const start = at - e.rangeMs;
    return {
      start,
      series: registry
        .series(e.name, e.matchers)
        .map((s) => ({ labels: s.labels, points: s.samples(start, at) }))
        .filter((s) => s.points.length > 0),
    };
  };

  switch (expr.type) {
    case 'number':
      return { kind: 'scalar', value: expr.value };
    case 'string':
      return { kind: 'string', value: expr.value };
    case 'selector':
      return {
        kind: 'vector',
        samples: registry.series(expr.name, expr.matchers).flatMap((s) => {
          if (!past) return [{ labels: s.labels, value: s.current }];
          const last = s.samples(at - LOOKBACK_MS, at).at(-1);
          return last ? [{ labels: s.labels, value: last[1] }] : [];
        }),
      };
    case 'matrix': {
      const m = matrixOf(expr, 'a range query');
      return { kind: 'matrix', series: m.series };
    }
    case 'negate': {
      const v = evaluate(expr.expr, registry, at, past);
      if (v.kind === 'scalar') return { kind: 'scalar', value: -v.value };
      if (v.kind !== 'vector') throw new PromqlError('unary minus needs a scalar or an instant vector');
      return {
        kind: 'vector',
        samples: v.samples.map((s) => ({ labels: withoutName(s.labels), value: -s.value })),
      };
    }
    case 'call':
      return call(expr.fn, expr.args);
    case 'aggregate':
      return aggregate(expr);
    case 'binary':
      return binary(expr);
  }

  function call(fn: string, args: Expr[]): QueryValue {
    const arg = (i: number) => {
      const a = args[i];
      if (!a) throw new PromqlError(`${fn}() needs ${i + 1} argument(s)`);
      return a;
    };
    const rangeFn = (counter: boolean, perSecond: boolean): QueryValue => {
      const m = matrixOf(arg(0), `${fn}()`);
      const samples: Sample[] = [];
      for (const s of m.series) {
        const value = extrapolated(s.points, m.start, at, counter, perSecond);
        if (value !== undefined) samples.push({ labels: withoutName(s.labels), value });
      }
      return { kind: 'vector', samples };
    };
    switch (fn) {
      case 'rate':
        return rangeFn(true, true);
      case 'increase':
        return rangeFn(true, false);
      case 'delta':
        return rangeFn(false, false);
      case 'irate': {
        const m = matrixOf(arg(0), 'irate()');
        const samples: Sample[] = [];
        for (const s of m.series) {
          if (s.points.length < 2) continue;
          const [t1, v1] = s.points.at(-2) as [number, number];
          const [t2, v2] = s.points.at(-1) as [number, number];
          samples.push({
            labels: withoutName(s.labels),
            value: ((v2 < v1 ? v2 : v2 - v1) * 1000) / (t2 - t1),
          });
        }
        return { kind: 'vector', samples };
      }
      case 'histogram_quantile': {
        const q = scalarOf(arg(0), 'histogram_quantile()');
        const groups = new Map<string, { labels: Labels; buckets: Array<{ le: number; count: number }> }>();
        for (const s of vectorOf(arg(1), 'histogram_quantile()')) {
          const le = s.labels.le;
          if (le === undefined) continue;
          const { le: _le, ...rest } = withoutName(s.labels);
          const key = signature(rest);
          const g = groups.get(key) ?? { labels: rest, buckets: [] };
          g.buckets.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: s.value });
          groups.set(key, g);
        }
        return {
          kind: 'vector',
          samples: [...groups.values()].map((g) => ({
            labels: g.labels,
            value: bucketQuantile(q, g.buckets),
          })),
        };
      }
      case 'vector':
        return { kind: 'vector', samples: [{ labels: {}, value: scalarOf(arg(0), 'vector()') }] };
      case 'scalar': {
        const v = vectorOf(arg(0), 'scalar()');
        return { kind: 'scalar', value: v.length === 1 ? (v[0] as Sample).value : Number.NaN };
      }
      case 'time':
        return { kind: 'scalar', value: at / 1000 };
      case 'absent': {
        if (vectorOf(arg(0), 'absent()').length > 0) return { kind: 'vector', samples: [] };
        const a = arg(0);
        const labels: Labels = {};
        if (a.type === 'selector') for (const m of a.matchers) if (m.op === '=') labels[m.label] = m.value;
        return { kind: 'vector', samples: [{ labels, value: 1 }] };
      }
      case 'clamp_min':
      case 'clamp_max': {
        const bound = scalarOf(arg(1), `${fn}()`);
        const pick = fn === 'clamp_min' ? Math.max : Math.min;
        return {
          kind: 'vector',
          samples: vectorOf(arg(0), `${fn}()`).map((s) => ({
            labels: withoutName(s.labels),
            value: pick(s.value, bound),
          })),
        };
      }
      default: {
        const math = MATH[fn];
        if (math)
          return {
            kind: 'vector',
            samples: vectorOf(arg(0), `${fn}()`).map((s) => ({
              labels: withoutName(s.labels),
              value: math(s.value),
            })),
          };
        const over = OVER_TIME[fn];
        if (over) {
          const m = matrixOf(arg(0), `${fn}()`);
          return {
            kind: 'vector',
            samples: m.series.map((s) => ({
              labels: withoutName(s.labels),
              value: over(s.points.map((p) => p[1])),
            })),
          };
        }
        throw new PromqlError(`the emulator does not evaluate ${fn}(); run a real Prometheus for it`);
      }
    }
  }

  function aggregate(e: Extract<Expr, { type: 'aggregate' }>): QueryValue {
    const samples = vectorOf(e.expr, `${e.op}()`);
    const keep = (labels: Labels): Labels => {
      const g = e.grouping;
      if (!g) return {};
      return Object.fromEntries(
        Object.entries(labels).filter(([k]) => k !== '__name__' && g.by === g.labels.includes(k)),
      );
    };
    const groups = new Map<string, { labels: Labels; members: Sample[] }>();
    for (const s of samples) {
      const labels = keep(s.labels);
      const key = signature(labels);
      const g = groups.get(key) ?? { labels, members: [] };
      g.members.push(s);
      groups.set(key, g);
    }
    const param = e.param ? scalarOf(e.param, `${e.op}()`) : undefined;
    const out: Sample[] = [];
    for (const g of groups.values()) {
      const values = g.members.map((m) => m.value);
      switch (e.op) {
        case 'sum':
          out.push({ labels: g.labels, value: values.reduce((a, b) => a + b, 0) });
          break;
        case 'avg':
          out.push({ labels: g.labels, value: values.reduce((a, b) => a + b, 0) / values.length });
          break;
        case 'min':
          out.push({ labels: g.labels, value: Math.min(...values) });
          break;
        case 'max':
          out.push({ labels: g.labels, value: Math.max(...values) });
          break;
        case 'count':
          out.push({ labels: g.labels, value: values.length });
          break;
        case 'group':
          out.push({ labels: g.labels, value: 1 });
          break;
        case 'quantile': {
          const sorted = [...values].sort((a, b) => a - b);
          const rank = (param ?? Number.NaN) * (sorted.length - 1);
          const lo = Math.max(0, Math.floor(rank));
          const hi = Math.min(sorted.length - 1, lo + 1);
          const w = rank - Math.floor(rank);
          out.push({
            labels: g.labels,
            value: (sorted[lo] as number) * (1 - w) + (sorted[hi] as number) * w,
          });
          break;
        }
        case 'topk':
        case 'bottomk': {
          const order = e.op === 'topk' ? -1 : 1;
          const ranked = [...g.members].sort((a, b) => order * (a.value - b.value));
          out.push(...ranked.slice(0, Math.max(0, Math.floor(param ?? 0))));
          break;
        }
        default:
          throw new PromqlError(`the emulator does not evaluate ${e.op}(); run a real Prometheus for it`);
      }
    }
    return { kind: 'vector', samples: out };
  }

  function binary(e: Extract<Expr, { type: 'binary' }>): QueryValue {
    const lhs = evaluate(e.lhs, registry, at, past);
    const rhs = evaluate(e.rhs, registry, at, past);
    const arithmetic = ARITHMETIC[e.op];
    const comparison = COMPARISON[e.op];
    if (e.op === 'and' || e.op === 'or' || e.op === 'unless') {
      if (lhs.kind !== 'vector' || rhs.kind !== 'vector')
        throw new PromqlError(`${e.op} needs instant vectors on both sides`);
      const right = new Set(rhs.samples.map((s) => signature(s.labels, e.matching)));
      if (e.op === 'and')
        return {
          kind: 'vector',
          samples: lhs.samples.filter((s) => right.has(signature(s.labels, e.matching))),
        };
      if (e.op === 'unless')
        return {
          kind: 'vector',
          samples: lhs.samples.filter((s) => !right.has(signature(s.labels, e.matching))),
        };
      const left = new Set(lhs.samples.map((s) => signature(s.labels, e.matching)));
      return {
        kind: 'vector',
        samples: [...lhs.samples, ...rhs.samples.filter((s) => !left.has(signature(s.labels, e.matching)))],
      };
    }
    if (!arithmetic && !comparison)
      throw new PromqlError(`the emulator does not evaluate the operator ${e.op}`);
    const apply = (a: number, b: number): number | undefined => {
      if (arithmetic) return arithmetic(a, b);
      const holds = (comparison as (x: number, y: number) => boolean)(a, b);
      if (e.bool) return holds ? 1 : 0;
      return holds ? a : undefined;
    };
    if (lhs.kind === 'scalar' && rhs.kind === 'scalar') {
      if (comparison && !e.bool) throw new PromqlError('comparisons between scalars must use bool');
      return { kind: 'scalar', value: apply(lhs.value, rhs.value) as number };
    }
    const keepName = comparison !== undefined && !e.bool;
    if (lhs.kind === 'vector' && rhs.kind === 'scalar') {
      const samples: Sample[] = [];
      for (const s of lhs.samples) {
        const v = apply(s.value, rhs.value);
        if (v !== undefined) samples.push({ labels: keepName ? s.labels : withoutName(s.labels), value: v });
      }
      return { kind: 'vector', samples };
    }
    if (lhs.kind === 'scalar' && rhs.kind === 'vector') {
      const samples: Sample[] = [];
      for (const s of rhs.samples) {
        const v = apply(lhs.value, s.value);
        // A filtering comparison keeps the vector's own value.
        if (v !== undefined)
          samples.push({
            labels: keepName ? s.labels : withoutName(s.labels),
            value: keepName ? s.value : v,
          });
      }
      return { kind: 'vector', samples };
    }
    if (lhs.kind !== 'vector' || rhs.kind !== 'vector')
      throw new PromqlError(`${e.op} needs scalars or instant vectors`);
    const right = new Map<string, Sample>();
    for (const s of rhs.samples) {
      const key = signature(s.labels, e.matching);
      if (right.has(key))
        throw new PromqlError(
          `many-to-many matching: several series on the right of ${e.op} share the labels ${key}; aggregate them (sum by …) first`,
        );
      right.set(key, s);
    }
    const seen = new Set<string>();
    const samples: Sample[] = [];
    for (const s of lhs.samples) {
      const key = signature(s.labels, e.matching);
      const other = right.get(key);
      if (!other) continue;
      if (seen.has(key))
        throw new PromqlError(
          `many-to-many matching: several series on the left of ${e.op} share the labels ${key}; aggregate them first`,
        );
      seen.add(key);
      const v = apply(s.value, other.value);
      if (v === undefined) continue;
      let labels = keepName ? s.labels : withoutName(s.labels);
      // One-to-one matching keeps the `on` labels only, or drops the `ignoring` ones.
      if (e.matching && !keepName)
        labels = Object.fromEntries(
          Object.entries(labels).filter(
            ([k]) => (e.matching as { on: boolean; labels: string[] }).on === e.matching?.labels.includes(k),
          ),
        );
      samples.push({ labels, value: v });
    }
    return { kind: 'vector', samples };
  }
}

/** Prometheus' text for a sample value. */
export const formatValue = (v: number): string =>
  Number.isNaN(v)
    ? 'NaN'
    : v === Number.POSITIVE_INFINITY
      ? '+Inf'
      : v === Number.NEGATIVE_INFINITY
        ? '-Inf'
        : String(v);

/** An instant query as Prometheus' HTTP API answers it (`data` of /api/v1/query). */
export function instantQuery(
  query: string,
  registry: MetricsRegistry,
  at: number,
  now = at,
): { resultType: string; result: unknown } {
  const value = evaluate(parsePromql(query), registry, at, at < now);
  const t = at / 1000;
  switch (value.kind) {
    case 'scalar':
      return { resultType: 'scalar', result: [t, formatValue(value.value)] };
    case 'string':
      return { resultType: 'string', result: [t, value.value] };
    case 'vector':
      return {
        resultType: 'vector',
        result: value.samples.map((s) => ({ metric: s.labels, value: [t, formatValue(s.value)] })),
      };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: value.series.map((s) => ({
          metric: s.labels,
          values: s.points.map(([pt, v]) => [pt / 1000, formatValue(v)]),
        })),
      };
  }
}

/** Prometheus refuses range queries of more points per series than this. */
export const MAX_RANGE_POINTS = 11_000;

/**
 * A range query as Prometheus' HTTP API answers it (`data` of /api/v1/query_range): the query
 * evaluated at every step from `start` to `end` (ms), one series per label set.
 */
export function rangeQuery(
  query: string,
  registry: MetricsRegistry,
  range: { start: number; end: number; stepMs: number },
  now = range.end,
): {
  resultType: 'matrix';
  result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
} {
  const { start, end, stepMs } = range;
  if (!(stepMs > 0)) throw new PromqlError('zero or negative query resolution step widths are not accepted');
  if (end < start) throw new PromqlError('end timestamp must not be before start time');
  if ((end - start) / stepMs > MAX_RANGE_POINTS)
    throw new PromqlError(
      `exceeded maximum resolution of ${MAX_RANGE_POINTS.toLocaleString('en')} points per timeseries. Try decreasing the query resolution (?step=XX)`,
    );
  const expr = parsePromql(query);
  const series = new Map<string, { metric: Record<string, string>; values: Array<[number, string]> }>();
  for (let at = start; at <= end; at += stepMs) {
    const value = evaluate(expr, registry, at, at < now);
    const samples =
      value.kind === 'scalar'
        ? [{ labels: {}, value: value.value }]
        : value.kind === 'vector'
          ? value.samples
          : [];
    if (value.kind === 'string' || value.kind === 'matrix')
      throw new PromqlError(
        `invalid expression type "${value.kind === 'string' ? 'string' : 'range vector'}" for range query, must be Scalar or instant Vector`,
      );
    for (const s of samples) {
      const key = JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
      let entry = series.get(key);
      if (!entry) {
        entry = { metric: s.labels, values: [] };
        series.set(key, entry);
      }
      entry.values.push([at / 1000, formatValue(s.value)]);
    }
  }
  return { resultType: 'matrix', result: [...series.values()] };
}
