import { EXACT_UP_TO, logSampleMoment } from '@kanary/metrics';
import { describe, expect, it } from 'vitest';

/** log E[exp(Σ of a random m-subset)] by enumerating every subset: the definition. */
function enumerate(counts: number[], scores: number[], m: number): number {
  const items = counts.flatMap((t, k) => Array.from({ length: t }, () => scores[k] as number));
  let sum = 0;
  let subsets = 0;
  const walk = (from: number, left: number, acc: number) => {
    if (left === 0) {
      sum += Math.exp(acc);
      subsets++;
      return;
    }
    for (let i = from; i <= items.length - left; i++) walk(i + 1, left - 1, acc + (items[i] as number));
  };
  walk(0, m, 0);
  return Math.log(sum / subsets);
}

/** The same for larger sets: the elementary symmetric polynomial, item by item, in logs. */
function itemByItem(counts: number[], scores: number[], m: number): number {
  const items = counts.flatMap((t, k) => Array.from({ length: t }, () => scores[k] as number));
  const lse = (x: number, y: number) =>
    x === -Infinity ? y : y === -Infinity ? x : Math.max(x, y) + Math.log1p(Math.exp(-Math.abs(x - y)));
  let e = [0, ...Array.from({ length: m }, () => -Infinity)];
  for (const a of items) e = e.map((v, j) => (j === 0 ? v : lse(v, (e[j - 1] as number) + a)));
  let logChoose = 0;
  for (let j = 1; j <= m; j++) logChoose += Math.log(items.length - j + 1) - Math.log(j);
  return (e[m] as number) - logChoose;
}

describe('logSampleMoment: the mean of exp(Σ a) over draws without replacement', () => {
  it('is exact for small samples and their complements', () => {
    const counts = [3, 4, 5];
    const scores = [0.5, -1, 2];
    for (const m of [0, 1, 4, 9, 12]) {
      expect(logSampleMoment(counts, scores, m)).toBeCloseTo(enumerate(counts, scores, m), 10);
    }
  });

  it('is within 0.5% of the exact value where the saddle point takes over, and scores of zero give 0', () => {
    // A window of 1,000 requests over Istio-like buckets, scores of a moderate alternative.
    const counts = [0, 0, 0, 2, 80, 300, 400, 180, 30, 5, 1, 0, 0, 0];
    const scores = counts.map((_, k) => (k - 6) * 0.05);
    for (const m of [EXACT_UP_TO + 1, 100, 300]) {
      const exact = itemByItem(counts, scores, m);
      expect(Math.abs(logSampleMoment(counts, scores, m) - exact)).toBeLessThan(0.005);
    }
    expect(
      logSampleMoment(
        counts,
        counts.map(() => 0),
        300,
      ),
    ).toBeCloseTo(0, 10);
  });

  it('is below the draw-with-replacement bound (Hoeffding) and shift-invariant as a ratio', () => {
    const counts = [10, 50, 30, 10];
    const scores = [-0.4, 0, 0.3, 1.2];
    const n = 100;
    for (const m of [20, 50, 80]) {
      const mean = counts.reduce((s, t, k) => s + t * Math.exp(scores[k] as number), 0) / n;
      expect(logSampleMoment(counts, scores, m)).toBeLessThanOrEqual(m * Math.log(mean) + 1e-9);
      const shifted = logSampleMoment(
        counts,
        scores.map((a) => a + 0.7),
        m,
      );
      expect(shifted - logSampleMoment(counts, scores, m)).toBeCloseTo(0.7 * m, 8);
    }
  });
});
