/**
 * "The canary is at most k× slower than the baseline" on histogram buckets, for the latency
 * judge's warm-up allowance.
 *
 * The permutation tests (shape-e-process.ts; the rate test on exceedances) hold when both versions
 * draw from one distribution. A warming canary up to k× slower is not that, but its latencies
 * divided by k are stochastically at most the baseline's. A request in the canary's bucket
 * (b₍ᵢ₋₁₎, bᵢ], divided by k, lies above b₍ᵢ₋₁₎/k: it is moved to the lowest bucket holding values
 * just above that, which is never above the bucket its quotient is really in. The moved canary
 * is then stochastically at most the baseline, bucket for bucket, whatever it looks like inside
 * the buckets. A window's permutation e-value grows with each canary request's score: with e^a
 * that request's term, the numerator grows as e^a and the normalizer (the mean over random draws of
 * the canary's size from the pooled requests) as p·e^a·A + (1 − p)·B, p < 1 the chance a draw
 * holds it. So with scores that never fall from one bucket to the next, moving canary requests
 * down only lowers the e-value: coupled with a canary drawn as the baseline is, whose e-value has
 * mean 1, under the allowance its mean is at most 1.
 * Where k is the ratio of neighbouring bounds the move is exact (Istio's buckets double between
 * most bounds, so k = 2 moves a request one bucket down); elsewhere it gives up the part of a
 * bucket the quotient could be above, which costs power, never the guarantee.
 */

/**
 * For each bucket (finite `bounds` ascending, then +Inf), the bucket its requests are moved to
 * when divided by `k` ≥ 1: the one with b₍ⱼ₋₁₎ ≤ b₍ᵢ₋₁₎/k < bⱼ.
 */
export function fasterBuckets(bounds: readonly number[], k: number): number[] {
  return [...bounds, Number.POSITIVE_INFINITY].map((_, i) => {
    if (i === 0) return 0;
    const below = bounds[i - 1] as number;
    return bounds.filter((b) => b * k <= below).length;
  });
}

/** Per-bucket counts with each bucket's requests moved as `fasterBuckets` says. */
export function moveCounts(counts: readonly number[], to: readonly number[]): number[] {
  const out = counts.map(() => 0);
  counts.forEach((n, i) => {
    const j = to[i] ?? i;
    out[j] = (out[j] as number) + n;
  });
  return out;
}

/**
 * Scores made non-decreasing from bucket to bucket (slower never scores less): the closest such
 * scores in least squares weighted by the reference's requests per bucket, half a request added
 * to each (pool-adjacent-violators). A shape that stretches the tail both ways scores the faster
 * tail high too; moved requests land there, and without this a canary no slower than the baseline
 * would read as a regression (measured: test/warm-up.test.ts).
 */
export function nonDecreasing(scores: readonly number[], reference: readonly number[]): number[] {
  const blocks: Array<{ value: number; weight: number; size: number }> = [];
  scores.forEach((a, k) => {
    let block = { value: a, weight: (reference[k] ?? 0) + 0.5, size: 1 };
    for (let last = blocks.at(-1); last && last.value > block.value; last = blocks.at(-1)) {
      blocks.pop();
      const weight = last.weight + block.weight;
      block = {
        value: (last.value * last.weight + block.value * block.weight) / weight,
        weight,
        size: last.size + block.size,
      };
    }
    blocks.push(block);
  });
  return blocks.flatMap((b) => Array.from({ length: b.size }, () => b.value));
}

/**
 * For the threshold method: the largest of `bounds` at or below τ/k, whose exceedance by the
 * baseline bounds the canary's exceedance of τ under the allowance (P(C > τ) ≤ P(B > τ/k) ≤
 * P(B > τ′)); undefined if none is (then every baseline request counts).
 */
export function boundAtOrBelow(bounds: readonly number[], tau: number, k: number): number | undefined {
  let pick: number | undefined;
  for (const b of bounds) if (b * k <= tau && (pick === undefined || b > pick)) pick = b;
  return pick;
}
