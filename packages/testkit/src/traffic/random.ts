import { seededRandom } from '../apiserver/faults.ts';

export interface Random {
  next(): number;
  /** Integer in [1, n], like Lua's math.random(n). */
  int1(n: number): number;
  poisson(lambda: number): number;
  /** Log-normal with the given median and shape. */
  lognormal(median: number, sigma: number): number;
}

export function createRandom(seed: number): Random {
  const next = seededRandom(seed);
  const normal = () => {
    let u = 0;
    while (u === 0) u = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return {
    next,
    int1: (n) => 1 + Math.floor(next() * n),
    poisson(lambda) {
      if (lambda <= 0) return 0;
      if (lambda > 60) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
      const l = Math.exp(-lambda);
      let k = 0;
      let p = 1;
      do {
        k++;
        p *= next();
      } while (p > l);
      return k - 1;
    },
    lognormal: (median, sigma) => median * Math.exp(sigma * normal()),
  };
}
