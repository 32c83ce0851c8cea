import { normalCdf, normalQuantile } from './normal.ts';

/**
 * The Wilcoxon rank-sum (Mann–Whitney) test with the normal approximation, continuity and tie
 * corrections, a Hodges–Lehmann-type shift estimate and its confidence interval — the
 * conventions of R's `wilcox.test(x, y, conf.int = TRUE, exact = FALSE)`, which Kayenta's
 * judge reproduces: the estimate and the bounds are the shifts μ at which the corrected
 * statistic of (x − μ, y) crosses 0 and ±z.
 */
export interface RankSumResult {
  /** Sum of x's ranks minus its minimum, m(m+1)/2. */
  w: number;
  z: number;
  pValue: number;
  /** Shift of x relative to y. */
  estimate: number;
  ci: [number, number];
}

/** Average ranks (ties share their mean rank) and Σ(t³ − t) over tie groups. */
function ranks(values: readonly number[]): { rank: Float64Array; ties: number } {
  const order = Array.from(values.keys()).sort((a, b) => (values[a] as number) - (values[b] as number));
  const rank = new Float64Array(values.length);
  let ties = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1] as number] === values[order[i] as number]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) rank[order[k] as number] = mean;
    const t = j - i + 1;
    ties += t * t * t - t;
    i = j + 1;
  }
  return { rank, ties };
}

/** The continuity- and tie-corrected z of (x − shift) against y. */
function correctedZ(x: readonly number[], y: readonly number[], shift: number): { w: number; z: number } {
  const m = x.length;
  const n = y.length;
  const { rank, ties } = ranks([...x.map((v) => v - shift), ...y]);
  let sum = 0;
  for (let i = 0; i < m; i++) sum += rank[i] as number;
  const w = sum - (m * (m + 1)) / 2;
  const centred = w - (m * n) / 2;
  const sigma = Math.sqrt(((m * n) / 12) * (m + n + 1 - ties / ((m + n) * (m + n - 1))));
  if (sigma === 0) return { w, z: 0 };
  return { w, z: (centred - Math.sign(centred) * 0.5) / sigma };
}

/**
 * The shift where z(shift) − target changes sign; z is a non-increasing step function of the
 * shift. The continuity correction makes z exactly 0 over a whole interval, so the root is taken
 * as the middle of the set where it holds (R returns wherever its root finder lands).
 */
function solveShift(
  x: readonly number[],
  y: readonly number[],
  target: number,
  lo: number,
  hi: number,
): number {
  const f = (d: number) => correctedZ(x, y, d).z - target;
  if (f(lo) <= 0) return lo;
  if (f(hi) >= 0) return hi;
  const tolerance = Math.max(Math.abs(hi - lo), 1e-300) * 1e-12;
  const boundary = (above: (v: number) => boolean) => {
    let a = lo;
    let b = hi;
    while (b - a > tolerance) {
      const mid = (a + b) / 2;
      if (above(f(mid))) a = mid;
      else b = mid;
    }
    return (a + b) / 2;
  };
  // The last shift still above the target and the first one below it.
  return (boundary((v) => v > 0) + boundary((v) => v >= 0)) / 2;
}

export function rankSumTest(x: readonly number[], y: readonly number[], confidence = 0.95): RankSumResult {
  if (x.length === 0 || y.length === 0) throw new RangeError('rank-sum test needs values on both sides');
  const { w, z } = correctedZ(x, y, 0);
  const pValue = Math.min(1, 2 * Math.min(normalCdf(z), 1 - normalCdf(z)));
  const lo = Math.min(...x) - Math.max(...y);
  const hi = Math.max(...x) - Math.min(...y);
  const zq = normalQuantile(1 - (1 - confidence) / 2);
  return {
    w,
    z,
    pValue,
    estimate: solveShift(x, y, 0, lo, hi),
    ci: [solveShift(x, y, zq, lo, hi), solveShift(x, y, -zq, lo, hi)],
  };
}
