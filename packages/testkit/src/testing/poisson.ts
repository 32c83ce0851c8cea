// Exact Poisson draws for simulations whose statistics must be right in the tails.

/** log Γ(x) by Lanczos (g = 7, n = 9): ample for the sampler's acceptance test and for likelihoods. */
export function logGamma(x: number): number {
  const c = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
    12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Exact Poisson draws: multiplication for small means, Hörmann's PTRS rejection for large ones. */
export function poissonSampler(u: () => number): (lambda: number) => number {
  return (lambda) => {
    if (lambda <= 0) return 0;
    if (lambda < 10) {
      const l = Math.exp(-lambda);
      let k = 0;
      let p = u();
      while (p > l) {
        k++;
        p *= u();
      }
      return k;
    }
    const slam = Math.sqrt(lambda);
    const loglam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const U = u() - 0.5;
      const V = u();
      const us = 0.5 - Math.abs(U);
      const k = Math.floor(((2 * a) / us + b) * U + lambda + 0.43);
      if (us >= 0.07 && V <= vr) return k;
      if (k < 0 || (us < 0.013 && V > us)) continue;
      if (
        Math.log(V) + Math.log(invalpha) - Math.log(a / (us * us) + b) <=
        -lambda + k * loglam - logGamma(k + 1)
      )
        return k;
    }
  };
}

/**
 * Gamma(shape, 1) draws by Marsaglia and Tsang's method (shape < 1 by the boost u^(1/shape)): the
 * extra variation of a rate beyond Poisson, as a gamma-mixed Poisson (negative binomial) has it.
 */
export function gammaSampler(u: () => number): (shape: number) => number {
  // Box–Muller; 1 - u() keeps the log finite.
  const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const draw = (shape: number): number => {
    if (shape < 1) return draw(shape + 1) * (1 - u()) ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = (1 + c * x) ** 3;
      if (v <= 0) continue;
      const w = 1 - u();
      if (Math.log(w) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  return draw;
}
