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
 * rate, the statistic the lag-1 autocorrelation of the batches' sums (near normal with variance
 * 1/n for n independent batches). The first step asks for significance (Z / √n), so Poisson
 * traffic and bursts that last one window stay at 1 — the tests unchanged — in about 99 histories
 * in 100; once bursts are known to outlast a window, the batch keeps growing while neighbouring
 * batches still correlate by STILL_CORRELATED (a fold as long as a burst leaves them correlated by
 * about a quarter), and one step past the last factor the history can test if they still do.
 * Measured on 300 simulated histories each (10 s windows, 0.5% errors): bursts held a minute are
 * folded at least a minute in all 300 from an hour of history, at 100 and 1,000 requests/s; from
 * ten minutes, in 94% at 1,000 requests/s and 66% at 100 (CV 0.5: fewer errors, weaker evidence).
 */

/** Windows per fold tried, in order: each a multiple of the one before. */
export const BLOCK_FACTORS: readonly number[] = [1, 2, 3, 6, 12, 18, 36];
/** Fewest batches a factor is tested on. */
const MIN_BATCHES = 10;
/** Fewest batches of the one untested step past the last testable factor. */
const MIN_UNTESTED = 4;
/**
 * The first step's bar, a one-sided 1% normal quantile over √n: Poisson traffic and bursts that
 * last one window start folding in about 1 history in 100.
 */
const Z = 2.33;
/**
 * The bar once bursts are known to outlast a window, with one standard error (1/√n) if that is
 * more: a fold as long as the burst still leaves neighbouring folds correlated by about a quarter,
 * which the first step's bar on 10–20 batches cannot tell from none — kept there, false rollbacks
 * stayed at 1.5–6% with ten minutes of history.
 */
const STILL_CORRELATED = 0.1;

/** The look windows per fold the history's bursts call for (1: each window on its own). */
export function blockFactor(history: ReadonlyArray<{ total: number; bad: number }>): number {
  const requests = history.reduce((s, w) => s + w.total, 0);
  const rate = history.reduce((s, w) => s + w.bad, 0) / Math.max(1, requests);
  if (!(rate > 0)) return 1;
  let factor = 1;
  for (const f of BLOCK_FACTORS) {
    const n = Math.floor(history.length / f);
    if (n < MIN_BATCHES) {
      // Bursts still lean on each other at the longest fold the history can test: one step
      // further, untested, rather than folds known to be correlated.
      if (factor > 1 && n >= MIN_UNTESTED) factor = f;
      break;
    }
    factor = f;
    const bar = f === 1 ? Z / Math.sqrt(n) : Math.max(STILL_CORRELATED, 1 / Math.sqrt(n));
    if (!(lagOneCorrelation(batches(history, f, rate)) > bar)) break;
  }
  return factor;
}

/** The newest `f`-window batches' bad events, each standardised against its requests at `rate`. */
const batches = (history: ReadonlyArray<{ total: number; bad: number }>, f: number, rate: number) =>
  sumBlocks(history, f).map(({ total, bad }) => {
    const expected = total * rate;
    return expected > 0 ? (bad - expected) / Math.sqrt(expected) : 0;
  });

function lagOneCorrelation(xs: readonly number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  let square = 0;
  let lagged = 0;
  for (let i = 0; i < xs.length; i++) {
    const d = (xs[i] as number) - mean;
    square += d * d;
    if (i + 1 < xs.length) lagged += d * ((xs[i + 1] as number) - mean);
  }
  return square > 0 ? lagged / square : 0;
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
