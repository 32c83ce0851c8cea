import { type Matcher, matches } from './selector.ts';

/** A small Prometheus registry: counters and histograms with label sets, rendered as text. */
type Labels = Record<string, string>;

interface Family {
  help: string;
  type: 'counter' | 'histogram';
  buckets?: number[];
  series: Map<string, { labels: Labels; value: number; counts?: number[]; sum?: number }>;
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

  counter(name: string, help: string): void {
    if (!this.#families.has(name)) this.#families.set(name, { help, type: 'counter', series: new Map() });
  }

  histogram(name: string, help: string, buckets: number[]): void {
    if (!this.#families.has(name))
      this.#families.set(name, { help, type: 'histogram', buckets, series: new Map() });
  }

  inc(name: string, labels: Labels, by = 1): void {
    const f = this.#families.get(name);
    if (!f) throw new Error(`unknown metric ${name}`);
    const key = seriesKey(labels);
    const s = f.series.get(key);
    if (s) s.value += by;
    else f.series.set(key, { labels, value: by });
  }

  observe(name: string, labels: Labels, value: number): void {
    const f = this.#families.get(name);
    if (!f?.buckets) throw new Error(`unknown histogram ${name}`);
    const key = seriesKey(labels);
    let s = f.series.get(key);
    if (!s) {
      s = { labels, value: 0, counts: f.buckets.map(() => 0), sum: 0 };
      f.series.set(key, s);
    }
    s.value += 1;
    s.sum = (s.sum ?? 0) + value;
    const counts = s.counts as number[];
    for (let i = 0; i < f.buckets.length; i++)
      if (value <= (f.buckets[i] as number)) counts[i] = (counts[i] as number) + 1;
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
    const out: Array<{ labels: Labels; value: number }> = [];
    const pick = (labels: Labels, value: number) => {
      if (matches(labels, matchers)) out.push({ labels, value });
    };
    for (const [family, f] of this.#families) {
      if (f.type === 'counter') {
        if (family !== name) continue;
        for (const s of f.series.values()) pick({ __name__: name, ...s.labels }, s.value);
        continue;
      }
      const part = name.startsWith(family) ? name.slice(family.length) : undefined;
      if (part !== '_bucket' && part !== '_sum' && part !== '_count') continue;
      for (const s of f.series.values()) {
        const labels = { __name__: name, ...s.labels };
        if (part === '_sum') pick(labels, s.sum ?? 0);
        else if (part === '_count') pick(labels, s.value);
        else {
          for (const [i, b] of (f.buckets as number[]).entries())
            pick({ ...labels, le: formatNumber(b) }, s.counts?.[i] ?? 0);
          pick({ ...labels, le: '+Inf' }, s.value);
        }
      }
    }
    return out;
  }

  reset(): void {
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
          for (const [i, b] of buckets.entries()) {
            lines.push(`${name}_bucket{${base},le="${formatNumber(b)}"} ${s.counts?.[i] ?? 0}`);
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
