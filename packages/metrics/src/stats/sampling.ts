/**
 * log E[exp(Σ_{i∈S} a_i)] for S a simple random sample (without replacement) of `m` of the items,
 * where `counts[k]` items score `scores[k]`: the exact normalizer of a permutation likelihood ratio
 * (shape-e-process.ts). Exact by a polynomial product while the smaller of the sample and its
 * complement is at most EXACT_UP_TO; beyond, the saddle-point approximation of the same
 * coefficient (Daniels 1954), relative error O(1/m), the two sides' errors cancelling in the ratio.
 */
export function logSampleMoment(counts: readonly number[], scores: readonly number[], m: number): number {
  const n = counts.reduce((s, t) => s + t, 0);
  if (m <= 0 || m >= n) return m <= 0 ? 0 : counts.reduce((s, t, k) => s + t * (scores[k] as number), 0);
  // The sample's complement is a sample too: E[e^{Σ_S a}] = e^{Σ a}·E[e^{−Σ_{S'} a}], |S'| = n − m.
  if (m > n - m) {
    const total = counts.reduce((s, t, k) => s + t * (scores[k] as number), 0);
    return (
      total +
      logSampleMoment(
        counts,
        scores.map((a) => -a),
        n - m,
      )
    );
  }
  return m <= EXACT_UP_TO ? exact(counts, scores, m, n) : saddlePoint(counts, scores, m, n);
}

/** Samples (or complements) up to this size are computed exactly: at most K·m² steps. */
export const EXACT_UP_TO = 40;

/** log e_m(items) − log C(n, m): the elementary symmetric polynomial, by buckets. */
function exact(counts: readonly number[], scores: readonly number[], m: number, n: number): number {
  // Scores centred on their mean over the items (the ratio does not change: e^{m·c} comes back at
  // the end), and every polynomial rescaled by its largest coefficient, so nothing overflows.
  const centre = counts.reduce((s, t, k) => s + t * (scores[k] as number), 0) / n;
  let poly = [1];
  let logScale = 0;
  for (let k = 0; k < counts.length; k++) {
    const t = counts[k] as number;
    if (t <= 0) continue;
    const w = Math.exp((scores[k] as number) - centre);
    const upTo = Math.min(t, m);
    // C(t, j)·w^j, rescaled.
    const bucket = [1];
    let top = 1;
    for (let j = 1; j <= upTo; j++) {
      const v = ((bucket[j - 1] as number) * (t - j + 1) * w) / j;
      bucket.push(v);
      if (v > top) top = v;
    }
    for (let j = 0; j <= upTo; j++) bucket[j] = (bucket[j] as number) / top;
    const size = Math.min(m, poly.length - 1 + upTo);
    const next = new Array<number>(size + 1).fill(0);
    for (let i = 0; i < poly.length; i++) {
      const pi = poly[i] as number;
      if (pi === 0) continue;
      for (let j = 0; j <= upTo && i + j <= size; j++)
        next[i + j] = (next[i + j] as number) + pi * (bucket[j] as number);
    }
    let most = 0;
    for (const v of next) if (v > most) most = v;
    poly = next.map((v) => v / most);
    logScale += Math.log(top) + Math.log(most);
  }
  let logChoose = 0;
  for (let j = 1; j <= m; j++) logChoose += Math.log(n - j + 1) - Math.log(j);
  return Math.log(poly[m] as number) + logScale + m * centre - logChoose;
}

/**
 * The same coefficient by the saddle point: with K(s) = Σ_k T_k·log(1 + e^{a_k + s}), the
 * coefficient of x^m in Π_k (1 + e^{a_k}x)^{T_k} is ≈ exp(K(s*) − m·s*) / √(2π K''(s*)) where
 * K'(s*) = m; C(n, m) is taken the same way (all scores 0) so the approximations' errors cancel.
 */
function saddlePoint(counts: readonly number[], scores: readonly number[], m: number, n: number): number {
  const at = (a: readonly number[]) => {
    // Solve K'(s) = m by Newton from the all-zero scores' root, safeguarded by bisection.
    let s = Math.log(m / (n - m));
    let lo = -50;
    let hi = 50;
    let k1 = 0;
    let k2 = 0;
    for (let it = 0; it < 100; it++) {
      k1 = 0;
      k2 = 0;
      counts.forEach((t, k) => {
        if (t <= 0) return;
        const p = 1 / (1 + Math.exp(-((a[k] as number) + s)));
        k1 += t * p;
        k2 += t * p * (1 - p);
      });
      const f = k1 - m;
      if (Math.abs(f) < 1e-9 * m) break;
      if (f > 0) hi = s;
      else lo = s;
      const step = s - f / k2;
      s = k2 > 0 && step > lo && step < hi ? step : (lo + hi) / 2;
    }
    let value = -m * s;
    counts.forEach((t, k) => {
      if (t > 0) value += t * softplus((a[k] as number) + s);
    });
    return value - 0.5 * Math.log(k2);
  };
  return at(scores) - at(scores.map(() => 0));
}

/** log(1 + e^x) without overflow. */
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
