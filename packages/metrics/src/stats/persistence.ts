/**
 * How long bursts last, read from the baseline's history: how many look windows the rate tests
 * must fold as one so that what they fold is near independent from one fold to the next.
 *
 * Every test of the error judge treats its windows as independent given their means: a window's
 * own burst is a draw of its own (stats/dispersion.ts). A burst that outlasts a window breaks that.
 * A canary pod erring 1.5× for a minute is, to windows of 10 s, six windows in a row that lean the
 * same way, each tempered only for its own share of the variation: the evidence adds up like a
 * regression's (good canaries rolled back a quarter of the time at 1,000 requests/s, bursts of CV
 * 0.5 held a minute; docs/decisions.md). Folded per minute, the same burst is one draw of the gamma
 * model, and the tests hold.
 *
 * The rule is the batch-means method's (Fishman, "Principles of Discrete Event Simulation", 1978):
 * batch the series, test whether neighbouring batches are correlated, and grow the batch while
 * they are. Here the series is each history window's bad events standardised against the history's
 * rate. The first step asks for significance, so Poisson traffic and bursts that last one window
 * stay at 1 — the tests unchanged — in about 99 histories in 100; its statistic is Lo and
 * MacKinlay's variance ratio of three-window sums (the first two lags' autocorrelations weighted
 * 2/3 and 1/3), which sees bursts of a minute among few errors more often than the first lag alone
 * (ten minutes at 100 requests/s, CV 0.5: 82% against 72% of histories). Once bursts are known to
 * outlast a window, the batch grows while the lag-1 correlation of neighbouring batches' sums is
 * over STILL_CORRELATED or one standard error (1/√n for n batches), whichever is more. Where that
 * bar is over twice STILL_CORRELATED (fewer than 25 batches) a fold that passed may still leave
 * its neighbours correlated by 0.2 — a fold as long as the burst does — so the rule takes one step
 * further, untested, as it does past the last factor the history can test at all; both untested
 * steps only where the first step's statistic is beyond doubt (SURE), never on a chance fold.
 * Measured on 300 simulated histories each (10 s windows, 0.5% errors, bursts of CV 0.5 held a
 * minute): folded a minute or more from an hour of history in all 300, at 100 and 1,000 requests/s;
 * from ten minutes in 295 at 1,000 requests/s (two minutes in 276) and 187 at 100 (folded at all:
 * 240). The release's baseline windows are read the same way until they show such bursts or an
 * hour of windows has not (stats/dispersion.ts, `observeBaseline`). The latency judge applies the
 * same rule (`foldFactor`) to its windows' mean scores, for own shifts that outlast a window
 * (stats/own-shift.ts).
 */

/** Windows per fold tried, in order: each a multiple of the one before. */
export const BLOCK_FACTORS: readonly number[] = [1, 2, 3, 6, 12, 18, 36];
/** Fewest batches a factor is tested on. */
const MIN_BATCHES = 10;
/** Fewest batches of the one untested step past the last testable factor. */
const MIN_UNTESTED = 4;
/**
 * The first step's bar on the variance ratio's z statistic, a one-sided 1% normal quantile:
 * Poisson traffic and bursts that last one window start folding in about 1 history in 100.
 */
const Z = 2.33;
/**
 * Untested steps only where bursts outlast a window beyond doubt: the first step's statistic over
 * SURE times its bar (at Z, a normal tail of 2·10⁻⁶; in 2,000 ten-minute Poisson histories, never). A history that
 * barely passed may be chance (slow wander of 60 windows reads as persistence at every factor),
 * and a fold of a fifth of the history, left from chance, costs most of the test's power: 1,000/s
 * canaries erring ×1.5 were promoted in 2 of 1,000 runs folding two minutes from ten of history.
 */
const SURE = 2;
/**
 * The bar once bursts are known to outlast a window, with one standard error (1/√n) if that is
 * more: a fold as long as the burst still leaves neighbouring folds correlated by about a fifth,
 * which the first step's bar on 10–20 batches cannot tell from none — kept there, false rollbacks
 * stayed at 1.5–6% with ten minutes of history.
 */
const STILL_CORRELATED = 0.1;

/** The look windows per fold the history's bursts call for (1: each window on its own). */
export function blockFactor(history: ReadonlyArray<{ total: number; bad: number }>): number {
  const requests = history.reduce((s, w) => s + w.total, 0);
  const rate = history.reduce((s, w) => s + w.bad, 0) / Math.max(1, requests);
  if (!(rate > 0)) return 1;
  return foldFactor(history.length, (f) => standardised(sumBlocks(history, f), rate));
}

/**
 * The rule itself, for any series of windows: `batches(f)` gives the batches of `f` windows each,
 * standardised (mean about 0, variance about 1 for independent windows), oldest first. `bar` is the
 * first step's (Z, unless a caller asks several series and splits the 1% between them); the
 * untested steps ask for SURE times it.
 */
export function foldFactor(windows: number, batches: (f: number) => number[], bar = Z): number {
  if (windows < MIN_BATCHES) return 1;
  const first = batches(1);
  // Windows that do not vary (a constant series, to rounding) show nothing about persistence.
  if (!(spread(first) > 1e-9)) return 1;
  const z = varianceRatio(first);
  if (!(z > bar)) return 1;
  // Bursts outlast a window: grow the fold while neighbouring folds still correlate.
  const sure = z > SURE * bar;
  const batchesOf = (f: number) => Math.floor(windows / f);
  let factor = 1;
  for (const [i, f] of BLOCK_FACTORS.entries()) {
    if (f === 1) continue;
    const n = batchesOf(f);
    if (n < MIN_BATCHES) {
      // Past the longest fold the history can test: one step further, untested.
      if (sure && n >= MIN_UNTESTED) factor = f;
      break;
    }
    factor = f;
    const bar = Math.max(STILL_CORRELATED, 1 / Math.sqrt(n));
    if (!(lagOneCorrelation(batches(f)) > bar)) {
      // Too few batches to see a correlation of STILL_CORRELATED: one step further, untested,
      // rather than folds that may still lean on each other.
      const next = BLOCK_FACTORS[i + 1];
      if (sure && bar > 2 * STILL_CORRELATED && next !== undefined && batchesOf(next) >= MIN_UNTESTED)
        factor = next;
      break;
    }
  }
  return factor;
}

/** Each window's (or batch's) bad events, standardised against its requests at `rate`. */
const standardised = (windows: ReadonlyArray<{ total: number; bad: number }>, rate: number) =>
  windows.map(({ total, bad }) => {
    const expected = total * rate;
    return expected > 0 ? (bad - expected) / Math.sqrt(expected) : 0;
  });

/**
 * Lo and MacKinlay's variance ratio of three-window sums as a z statistic: the first two lags'
 * autocorrelations weighted 2/3 and 1/3, over their standard error for independent windows.
 */
function varianceRatio(xs: readonly number[]): number {
  const [r1, r2] = autocorrelations(xs, 2) as [number, number];
  return ((2 / 3) * r1 + (1 / 3) * r2) / Math.sqrt(5 / 9 / xs.length);
}

/** The mean squared deviation from the mean. */
function spread(xs: readonly number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
}

const lagOneCorrelation = (xs: readonly number[]) => autocorrelations(xs, 1)[0] as number;

function autocorrelations(xs: readonly number[], lags: number): number[] {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const d = xs.map((x) => x - mean);
  const square = d.reduce((s, v) => s + v * v, 0);
  return Array.from({ length: lags }, (_, k) => {
    let lagged = 0;
    for (let i = 0; i + k + 1 < d.length; i++) lagged += (d[i] as number) * (d[i + k + 1] as number);
    return square > 0 ? lagged / square : 0;
  });
}

/** Sums consecutive windows `f` at a time, the newest batch complete (older leftovers dropped). */
export function sumBlocks<W extends { total: number; bad: number }>(
  windows: readonly W[],
  f: number,
): Array<{ total: number; bad: number }> {
  if (f <= 1) return windows.map((w) => ({ total: w.total, bad: w.bad }));
  const n = Math.floor(windows.length / f);
  const from = windows.length - n * f;
  return Array.from({ length: n }, (_, b) =>
    windows
      .slice(from + b * f, from + (b + 1) * f)
      .reduce((s, w) => ({ total: s.total + w.total, bad: s.bad + w.bad }), { total: 0, bad: 0 }),
  );
}
