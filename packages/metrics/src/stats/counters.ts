/**
 * Deltas of Prometheus counters between two looks, per series, so a pod restart (its counter
 * back to zero) is not read as a negative count and no extrapolation (`increase()`) makes
 * counts fractional.
 */

/** One series of an instant vector. */
export interface SeriesValue {
  labels: Record<string, string>;
  value: number;
}

/** Last value seen per series fingerprint; JSON, kept in the gate's state. */
export type CounterMemory = Record<string, number>;

/** Beyond this many series a selector is almost surely too wide (every path, every client...). */
export const MAX_SERIES = 5_000;

/** A short, stable name for a label set (FNV-1a over the sorted pairs). */
export function fingerprint(labels: Record<string, string>): string {
  let h = 0x811c9dc5;
  for (const key of Object.keys(labels).sort()) {
    if (key === '__name__') continue;
    const pair = `${key}\u0000${labels[key]}\u0001`;
    for (let i = 0; i < pair.length; i++) {
      h ^= pair.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h.toString(36);
}

export interface DeltaResult {
  delta: number;
  memory: CounterMemory;
  resets: number;
}

/**
 * Sum of increases since the previous look. On the first look (`memory` undefined) everything is
 * remembered and the delta is 0. A series first seen later started after the first look, so all
 * of its value is new. A series whose value went down was reset: its new value is the increase.
 * Series missing from one answer (a scrape gap) are kept, so their return is not double counted.
 */
export function counterDelta(memory: CounterMemory | undefined, series: readonly SeriesValue[]): DeltaResult {
  const next: CounterMemory = { ...(memory ?? {}) };
  let delta = 0;
  let resets = 0;
  for (const s of series) {
    if (!Number.isFinite(s.value) || s.value < 0) continue;
    const id = fingerprint(s.labels);
    const last = next[id];
    if (memory !== undefined) {
      if (last === undefined) delta += s.value;
      else if (s.value >= last) delta += s.value - last;
      else {
        delta += s.value;
        resets += 1;
      }
    }
    next[id] = s.value;
  }
  if (Object.keys(next).length > MAX_SERIES) {
    throw new RangeError(
      `the query returns more than ${MAX_SERIES} series; aggregate it (sum by ...) or narrow its selector`,
    );
  }
  return { delta, memory: next, resets };
}
