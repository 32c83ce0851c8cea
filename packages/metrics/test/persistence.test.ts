import { blockFactor } from '@kanary/metrics';
import { gammaSampler, poissonSampler, seededRandom } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';

/** `windows` of a baseline's history: 10,000 requests at 0.5% errors each, the rate multiplied by bursts. */
function history(seed: number, windows: number, burst: { cv: number; hold: number } | undefined) {
  const u = seededRandom(seed);
  const poisson = poissonSampler(u);
  const gamma = gammaSampler(u);
  const phase = burst ? Math.floor(u() * burst.hold) : 0;
  let g = 1;
  return Array.from({ length: windows }, (_, i) => {
    if (burst && (i === 0 || (i + phase) % burst.hold === 0)) g = gamma(1 / burst.cv ** 2) * burst.cv ** 2;
    return { total: 10_000, bad: poisson(50 * g) };
  });
}

const factors = (n: number, burst?: { cv: number; hold: number }, windows = 360) =>
  Array.from({ length: n }, (_, seed) => blockFactor(history(seed + 1, windows, burst)));

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

  it('says 1 where the history has no errors or too few windows to test', () => {
    expect(blockFactor(Array.from({ length: 60 }, () => ({ total: 1_000, bad: 0 })))).toBe(1);
    expect(blockFactor(history(1, 9, { cv: 1, hold: 3 }))).toBe(1);
  });
});
