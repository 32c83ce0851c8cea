import { type Matcher, matches } from './selector.ts';

/** A small Prometheus registry: counters and histograms with label sets, rendered as text. */
type Labels = Record<string, string>;

/** A series' values at one scrape: the count (a counter's value), and a histogram's sum and buckets. */
interface Point {
  t: number;
  value: number;
  sum?: number;
  counts?: number[];
}
interface Series {
  labels: Labels;
  value: number;
  /** A histogram's observations per bucket, not cumulative (one increment per observation). */
  hits?: number[];
  sum?: number;
  /** Its values at each scrape where they changed (a step function), oldest first. */
  history: Point[];
}

/** A series found once and written many times: what the traffic simulator records per request. */
export interface SeriesHandle {
  inc(by?: number): void;
  observe(value: number): void;
}

/** A histogram's cumulative bucket counts (`le` semantics) from its per-bucket hits. */
function cumulative(hits: number[]): number[] {
  const out = new Array<number>(hits.length);
  let running = 0;
  for (let i = 0; i < hits.length; i++) {
    running += hits[i] as number;
    out[i] = running;
  }
  return out;
}
interface Family {
  help: string;
  type: 'counter' | 'histogram';
  buckets?: number[];
  series: Map<string, Series>;
}

/** One series as a query sees it: its labels, its value now, and its value at each past scrape. */
export interface SeriesView {
  labels: Labels;
  /** The value now (an instant selector answers as if scraped at the query). */
  current: number;
  /** The scraped samples with `from < t <= to`, one per scrape interval since the series appeared. */
  samples(from: number, to: number): Array<[number, number]>;
}

export interface RegistryOptions {
  /** How often the registry is "scraped" for range queries (default 5 s of the clock, as a tight Prometheus). */
  scrapeMs?: number;
  /** How long scraped samples are kept (default 1 h). */
  retentionMs?: number;
}

const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels) =>
  Object.entries(l)
    .map(([k, v]) => `${k}="${escapeValue(v)}"`)
    .join(',');
/** The series' identity in its family: cheaper than the rendered text, which is made once per series. */
const seriesKey = (l: Labels) => {
  let key = '';
  for (const name in l) key += `${name}\u0000${l[name]}\u0001`;
  return key;
};
const formatNumber = (n: number) => (Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12))));

export class MetricsRegistry {
  #families = new Map<string, Family>();
  readonly #now: () => number;
  readonly #scrapeMs: number;
  readonly #retentionMs: number;
  #scrapedAt = Number.NEGATIVE_INFINITY;
  /** Moves at every `reset()`, so handles find their series again. */
  #generation = 0;

  /** `now` is the clock samples are stamped with (the emulator's, so range queries work in virtual time). */
  constructor(now: () => number = Date.now, options: RegistryOptions = {}) {
    this.#now = now;
    this.#scrapeMs = options.scrapeMs ?? 5_000;
    this.#retentionMs = options.retentionMs ?? 3_600_000;
  }

  /**
   * Takes the scrape of the latest interval boundary if it has not been taken: called before every
   * change and every query, so the values it records are exactly those at the boundary (nothing
   * changed between the boundary and now, or the first change would have taken it).
   */
  #scrape(): void {
    const at = Math.floor(this.#now() / this.#scrapeMs) * this.#scrapeMs;
    if (at <= this.#scrapedAt) return;
    this.#scrapedAt = at;
    const cut = at - this.#retentionMs;
    for (const f of this.#families.values())
      for (const s of f.series.values()) {
        const last = s.history.at(-1);
        // A histogram's buckets move only with its count, so count and sum tell a change.
        const changed = !last || last.value !== s.value || last.sum !== s.sum;
        if (changed)
          s.history.push({
            t: at,
            value: s.value,
            ...(s.sum !== undefined ? { sum: s.sum } : {}),
            ...(s.hits ? { counts: cumulative(s.hits) } : {}),
          });
        // Old samples go, but the one in force at the cut stays (a step function needs its start).
        while (s.history.length > 1 && (s.history[1] as Point).t <= cut) s.history.shift();
      }
  }

  counter(name: string, help: string): void {
    if (!this.#families.has(name)) this.#families.set(name, { help, type: 'counter', series: new Map() });
  }

  histogram(name: string, help: string, buckets: number[]): void {
    if (!this.#families.has(name))
      this.#families.set(name, { help, type: 'histogram', buckets, series: new Map() });
  }

  inc(name: string, labels: Labels, by = 1): void {
    this.handle(name, labels).inc(by);
  }

  observe(name: string, labels: Labels, value: number): void {
    this.handle(name, labels).observe(value);
  }

  /**
   * The series of `name` with exactly these labels, to write many times without finding it again
   * (the simulator records several series per request). It follows `reset()`.
   */
  handle(name: string, labels: Labels): SeriesHandle {
    const f = this.#families.get(name);
    if (!f) throw new Error(`unknown metric ${name}`);
    const key = seriesKey(labels);
    const buckets = f.buckets;
    let s: Series | undefined;
    let generation = -1;
    const series = (): Series => {
      if (s && generation === this.#generation) return s;
      generation = this.#generation;
      s = f.series.get(key);
      if (!s) {
        s = { labels, value: 0, history: [], ...(buckets ? { hits: buckets.map(() => 0), sum: 0 } : {}) };
        f.series.set(key, s);
      }
      return s;
    };
    return {
      inc: (by = 1) => {
        this.#scrape();
        series().value += by;
      },
      observe: (value) => {
        if (!buckets) throw new Error(`unknown histogram ${name}`);
        this.#scrape();
        const target = series();
        target.value += 1;
        target.sum = (target.sum ?? 0) + value;
        // One hit in the first bucket that holds it; above the last, only the count (+Inf) moves.
        for (let i = 0; i < buckets.length; i++)
          if (value <= (buckets[i] as number)) {
            (target.hits as number[])[i] = ((target.hits as number[])[i] as number) + 1;
            break;
          }
      },
    };
  }

  /** Sum of a counter's series matching `match` (all given labels equal). */
  total(name: string, match: Labels = {}): number {
    const f = this.#families.get(name);
    let sum = 0;
    for (const s of f?.series.values() ?? []) {
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }

  /** The current samples of every series a selector picks, as an instant query would return them. */
  select(name: string, matchers: Matcher[]): Array<{ labels: Labels; value: number }> {
    return this.series(name, matchers).map((s) => ({ labels: s.labels, value: s.current }));
  }

  /** Every series a selector picks (a counter, or a histogram's `_bucket`, `_sum` and `_count`), with its past. */
  series(name: string, matchers: Matcher[]): SeriesView[] {
    this.#scrape();
    const out: SeriesView[] = [];
    const step = this.#scrapeMs;
    const pick = (labels: Labels, s: Series, read: (p: Point | Series) => number) => {
      if (!matches(labels, matchers)) return;
      out.push({
        labels,
        current: read(s),
        samples(from, to) {
          const first = s.history[0];
          if (!first) return [];
          const result: Array<[number, number]> = [];
          let i = 0;
          const start = Math.max(first.t, (Math.floor(from / step) + 1) * step);
          for (let t = start; t <= to; t += step) {
            while (i + 1 < s.history.length && (s.history[i + 1] as Point).t <= t) i++;
            const p = s.history[i] as Point;
            if (p.t <= t) result.push([t, read(p)]);
          }
          return result;
        },
      });
    };
    for (const [family, f] of this.#families) {
      if (f.type === 'counter') {
        if (family !== name) continue;
        for (const s of f.series.values()) pick({ __name__: name, ...s.labels }, s, (p) => p.value);
        continue;
      }
      const part = name.startsWith(family) ? name.slice(family.length) : undefined;
      if (part !== '_bucket' && part !== '_sum' && part !== '_count') continue;
      for (const s of f.series.values()) {
        const labels = { __name__: name, ...s.labels };
        if (part === '_sum') pick(labels, s, (p) => p.sum ?? 0);
        else if (part === '_count') pick(labels, s, (p) => p.value);
        else {
          const now = cumulative(s.hits ?? []);
          for (const [i, b] of (f.buckets as number[]).entries())
            pick({ ...labels, le: formatNumber(b) }, s, (p) =>
              p === s ? (now[i] ?? 0) : ((p as Point).counts?.[i] ?? 0),
            );
          pick({ ...labels, le: '+Inf' }, s, (p) => p.value);
        }
      }
    }
    return out;
  }

  reset(): void {
    this.#generation++;
    for (const f of this.#families.values()) f.series.clear();
  }

  exposition(): string {
    const lines: string[] = [];
    for (const [name, f] of this.#families) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const s of f.series.values()) {
        const base = labelText(s.labels);
        if (f.type === 'counter') lines.push(`${name}{${base}} ${formatNumber(s.value)}`);
        else {
          const buckets = f.buckets as number[];
          const counts = cumulative(s.hits ?? []);
          for (const [i, b] of buckets.entries()) {
            lines.push(`${name}_bucket{${base},le="${formatNumber(b)}"} ${counts[i] ?? 0}`);
          }
          lines.push(`${name}_bucket{${base},le="+Inf"} ${s.value}`);
          lines.push(`${name}_sum{${base}} ${formatNumber(s.sum ?? 0)}`);
          lines.push(`${name}_count{${base}} ${s.value}`);
        }
      }
    }
    return `${lines.join('\n')}\n`;
  }
}
