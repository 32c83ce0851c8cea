import { seededRandom } from '../apiserver/faults.ts';
import { poissonSampler } from '../testing/poisson.ts';

export interface Random {
  next(): number;
  /** Integer in [1, n], like Lua's math.random(n). */
  int1(n: number): number;
  /** An exact Poisson draw (the one sampler the detection benchmark and the gate tests use too). */
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
    // Exact draws at every rate (a normal approximation above 60 a tick used to thin the tails).
    poisson: poissonSampler(next),
    lognormal: (median, sigma) => median * Math.exp(sigma * normal()),
  };
}
