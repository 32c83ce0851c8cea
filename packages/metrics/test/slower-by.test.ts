import {
  boundAtOrBelow,
  fasterBuckets,
  moveCounts,
  nonDecreasing,
  shapeLogEValue,
  updateShapeTest,
} from '@kanary/metrics';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/**
 * The pieces of the latency judge's warm-up allowance (stats/slower-by.ts), each against the claim
 * its guarantee rests on: the move never puts a request above the bucket its quotient is in, and
 * moving a canary request down never raises a window's e-value when slower never scores less.
 */
const ISTIO = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const bucketOf = (bounds: readonly number[], x: number) => bounds.filter((b) => b < x).length;

/** Ascending distinct positive bounds. */
const boundsArb = fc
  .uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 2, maxLength: 12 })
  .map((xs) => [...xs].sort((a, b) => a - b).map((x) => x / 10));

describe('the warm-up allowance for latency', () => {
  it('moves a request no further up than its latency divided by k lands', () => {
    fc.assert(
      fc.property(
        boundsArb,
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 0.001, max: 2_000, noNaN: true }),
        (bounds, k, x) => {
          const to = fasterBuckets(bounds, k);
          expect(to[bucketOf(bounds, x)]).toBeLessThanOrEqual(bucketOf(bounds, x / k));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("is exact where k is the ratio of neighbouring bounds (Istio's doubling ones at k = 2)", () => {
    const to = fasterBuckets(ISTIO, 2);
    // (50, 100] ÷ 2 is (25, 50]: one bucket down; (100, 250] ÷ 2 is (50, 125]: rounded to (50, 100].
    expect(to[6]).toBe(5);
    expect(to[7]).toBe(6);
    expect(to.slice(1)).toEqual(ISTIO.map((_, i) => i));
    expect(moveCounts([1, 2, 3, 4], [0, 0, 1, 2])).toEqual([3, 3, 4, 0]);
  });

  it('makes scores non-decreasing, and leaves non-decreasing ones alone', () => {
    const scoresArb = fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 14 });
    fc.assert(
      fc.property(scoresArb, fc.array(fc.nat(1_000), { minLength: 14, maxLength: 14 }), (a, reference) => {
        const m = nonDecreasing(a, reference);
        expect(m).toHaveLength(a.length);
        for (let k = 1; k < m.length; k++)
          expect(m[k] as number).toBeGreaterThanOrEqual((m[k - 1] as number) - 1e-12);
        const sorted = [...a].sort((x, y) => x - y);
        expect(nonDecreasing(sorted, reference)).toEqual(sorted);
      }),
      { numRuns: 1_000 },
    );
  });

  it("never raises a window's e-value by moving a canary request down, with such scores", () => {
    const window = fc.integer({ min: 2, max: 7 }).chain((n) =>
      fc.record({
        raw: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n }),
        canary: fc.array(fc.nat(30), { minLength: n, maxLength: n }),
        baseline: fc.array(fc.nat(30), { minLength: n, maxLength: n }),
        pick: fc.nat(),
      }),
    );
    fc.assert(
      fc.property(window, ({ raw, canary, baseline, pick }) => {
        const from = canary.map((c, k) => (k > 0 && c > 0 ? k : -1)).filter((k) => k > 0);
        fc.pre(from.length > 0 && baseline.some((b) => b > 0));
        const i = from[pick % from.length] as number;
        const lower = canary.map((c, k) => (k === i ? c - 1 : k === i - 1 ? c + 1 : c));
        const scores = [nonDecreasing(raw, baseline)];
        const before = shapeLogEValue(updateShapeTest([0], scores, canary, baseline));
        const after = shapeLogEValue(updateShapeTest([0], scores, lower, baseline));
        expect(after).toBeLessThanOrEqual(before + 1e-9);
      }),
      { numRuns: 2_000 },
    );
  });

  it('holds a canary slower than τ against the baseline slower than a bound at or below τ/k', () => {
    fc.assert(
      fc.property(boundsArb, fc.double({ min: 1, max: 10, noNaN: true }), fc.nat(11), (bounds, k, j) => {
        const tau = bounds[Math.min(j, bounds.length - 1)] as number;
        const below = boundAtOrBelow(bounds, tau, k);
        if (below === undefined) expect(bounds.every((b) => b * k > tau)).toBe(true);
        else {
          expect(below * k).toBeLessThanOrEqual(tau);
          expect(bounds.filter((b) => b > below && b * k <= tau)).toEqual([]);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
