import { blockFactor, initialDispersion, observeBaseline, withHistory } from '@kanary/metrics';
import { gammaSampler, poissonSampler, seededRandom } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';

/**
 * `windows` of a baseline's history: `requests` a window (10,000: 1,000 a second) at 0.5% errors,
 * the rate multiplied by bursts.
 */
function history(
  seed: number,
  windows: number,
  burst: { cv: number; hold: number } | undefined,
  requests = 10_000,
) {
  const u = seededRandom(seed);
  const poisson = poissonSampler(u);
  const gamma = gammaSampler(u);
  const phase = burst ? Math.floor(u() * burst.hold) : 0;
  let g = 1;
  return Array.from({ length: windows }, (_, i) => {
    if (burst && (i === 0 || (i + phase) % burst.hold === 0)) g = gamma(1 / burst.cv ** 2) * burst.cv ** 2;
    return { total: requests, bad: poisson(requests * 0.005 * g) };
  });
}

const factors = (n: number, burst?: { cv: number; hold: number }, windows = 360, requests = 10_000) =>
  Array.from({ length: n }, (_, seed) => blockFactor(history(seed + 1, windows, burst, requests)));

describe('blockFactor: how many windows the error judge folds as one', () => {
  it('leaves Poisson traffic and bursts that last one window unfolded, nearly always', () => {
    expect(factors(200).filter((f) => f > 1).length).toBeLessThanOrEqual(6);
    expect(factors(200, { cv: 1, hold: 1 }).filter((f) => f > 1).length).toBeLessThanOrEqual(6);
  });

  it('folds at least as long as bursts last, given an hour of 10 s windows', () => {
    for (const hold of [3, 6]) {
      const found = factors(100, { cv: 0.5, hold });
      expect(found.filter((f) => f >= hold).length).toBeGreaterThanOrEqual(95);
    }
  });

  it('from ten minutes of quiet traffic, reads bursts of a minute from the first two lags together', () => {
    // 100 requests/s: 5 errors a window, bursts of CV 0.5 held six windows. The first lag alone
    // (the rule before) found them in 65 of these 100 histories.
    const found = factors(100, { cv: 0.5, hold: 6 }, 60, 1_000);
    expect(found.filter((f) => f > 1).length).toBeGreaterThanOrEqual(78);
  });

  it('from ten minutes, folds a step past where its few batches stopped showing a correlation', () => {
    // Bursts of a minute: folds of a minute still correlate by about 0.2, which 10 batches cannot
    // show (their bar is 0.32); stopping there rolled back 1.4% of good canaries at 1,000/s.
    const found = factors(100, { cv: 1, hold: 6 }, 60);
    expect(found.filter((f) => f >= 12).length).toBeGreaterThanOrEqual(90);
    // An hour's batches (60 of a minute) can show it: bursts of 30 s mostly stay folded at a minute
    // or less (the step taken after every test whose bar is over 0.1 left 30 of 100 there).
    expect(factors(100, { cv: 1, hold: 3 }).filter((f) => f <= 6).length).toBeGreaterThanOrEqual(70);
  });

  it('takes no untested step where the history only barely showed bursts: chance folds stay short', () => {
    // Ten minutes of Poisson traffic: about 1 in 100 histories folds by chance; a fold of two
    // minutes from ten (five batches to bound the allowance with) left ×1.5 canaries promoted.
    const found = factors(2_000, undefined, 60);
    expect(found.filter((f) => f > 1).length).toBeLessThanOrEqual(40);
    expect(Math.max(...found)).toBeLessThanOrEqual(6);
  });

  it('says 1 where the history has no errors or too few windows to test', () => {
    expect(blockFactor(Array.from({ length: 60 }, () => ({ total: 1_000, bad: 0 })))).toBe(1);
    expect(blockFactor(history(1, 9, { cv: 1, hold: 3 }))).toBe(1);
  });
});

describe("observeBaseline: the release's baseline windows, read for bursts the history did not show", () => {
  const feed = (seed: number, burst: { cv: number; hold: number } | undefined, looks: number) => {
    const windows = history(seed, 60 + looks, burst, 1_000);
    let d = withHistory(initialDispersion(), windows.slice(0, 60));
    const before = d.block ?? 1;
    let foundAt: number | undefined;
    for (const [i, w] of windows.slice(60).entries()) {
      d = observeBaseline(d, w);
      if (foundAt === undefined && (d.block ?? 1) > 1) foundAt = i + 1;
    }
    return { before, after: d.block ?? 1, foundAt, series: d.series?.length };
  };

  it('finds, within the release, most of the minute-long bursts ten minutes of history missed', () => {
    const runs = Array.from({ length: 200 }, (_, i) => feed(i + 1, { cv: 0.5, hold: 6 }, 36));
    const missed = runs.filter((r) => r.before === 1);
    expect(missed.length).toBeGreaterThan(10);
    const found = missed.filter((r) => r.after > 1);
    expect(found.length).toBeGreaterThanOrEqual(0.6 * missed.length);
    // Once found, the fold is kept and the windows are no longer read.
    for (const r of found) expect(r.series).toBeUndefined();
  });

  it('rarely folds Poisson traffic, and stops reading once an hour of windows showed nothing', () => {
    const runs = Array.from({ length: 200 }, (_, i) => feed(i + 1, undefined, 36));
    expect(runs.filter((r) => r.after > 1).length).toBeLessThanOrEqual(8);
    const long = feed(7, undefined, 320);
    if (long.after === 1) expect(long.series).toBeUndefined();
    expect(feed(7, undefined, 280).series).toBe(340);
  });

  it('leaves outages and windows without requests out', () => {
    let d = withHistory(initialDispersion(), history(3, 60, undefined, 1_000));
    const n = d.series?.length as number;
    d = observeBaseline(d, { total: 1_000, bad: 80 });
    d = observeBaseline(d, { total: 0, bad: 0 });
    expect(d.series?.length).toBe(n);
    d = observeBaseline(d, { total: 1_000, bad: 5 });
    expect(d.series?.length).toBe(n + 1);
  });
});
