import { expect } from 'vitest';

/**
 * The statistical tolerance of routing checks: `hits` out of `n` requests agree with
 * probability `p` when within 5 binomial standard deviations (plus one request for rounding).
 * Runs are seeded and reproducible; the bound keeps them meaningful if a seed changes.
 */
export function expectShare(hits: number, n: number, p: number, label = ''): void {
  const bound = 5 * Math.sqrt(n * p * (1 - p)) + 1;
  expect(
    Math.abs(hits - n * p),
    `${label}: ${hits}/${n} vs p=${p} (±${bound.toFixed(1)})`,
  ).toBeLessThanOrEqual(bound);
}
