import { expect } from 'vitest';

/**
 * The statistical tolerance used by routing tests: an observed count of `hits` out of `n`
 * requests is consistent with probability `p` when it lies within 5 binomial standard
 * deviations (plus one request for rounding). With a fixed seed the runs are reproducible;
 * the bound keeps them meaningful if the seed or the generator changes.
 */
export function expectShare(hits: number, n: number, p: number, label = ''): void {
  const sd = Math.sqrt(n * p * (1 - p));
  const bound = 5 * sd + 1;
  expect(
    Math.abs(hits - n * p),
    `${label}: ${hits}/${n} vs p=${p} (±${bound.toFixed(1)})`,
  ).toBeLessThanOrEqual(bound);
}
