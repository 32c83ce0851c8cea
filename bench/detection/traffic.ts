// Canary traffic in virtual time, 10 s at a time: Poisson requests per side, split exactly into
// errors and Istio latency buckets (Poisson thinning), as Prometheus counters would record them.
import { normalCdf } from '@kanary/metrics';
import { gammaSampler, poissonSampler, seededRandom } from '@kanary/testkit';

export const TICK_S = 10;
/** Istio's standard `istio_request_duration_milliseconds` bounds (ms); a last bucket for +Inf. */
export const BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** A request slower than this counts as a bad one in latency cells (Flagger's default P99 bound). */
export const SLOW_MS = 500;

export interface Behaviour {
  errorRate: number;
  medianMs: number;
  sigma: number;
}

export const BASELINE: Behaviour = { errorRate: 0.005, medianMs: 100, sigma: 0.6 };

export interface Counts {
  total: number;
  bad: number;
  /** Requests per bucket (not cumulative); only filled in latency cells. */
  buckets: number[];
}

export interface Tick {
  t: number;
  share: number;
  canary: Counts;
  baseline: Counts;
  /** The error-rate multiplier both sides shared this tick (1 without shared variation); only oracles read it. */
  sharedMultiplier: number;
  /** With held bursts: which draw this tick's multipliers are (ticks of one burst share it); only oracles read it. */
  burst?: number;
}

export function bucketProbabilities(b: Behaviour): number[] {
  const cdf = BUCKETS_MS.map((le) => normalCdf(Math.log(le / b.medianMs) / b.sigma));
  return [...cdf.map((c, i) => c - (i === 0 ? 0 : (cdf[i - 1] as number))), 1 - (cdf.at(-1) as number)];
}

export const slowProbability = (b: Behaviour) => 1 - normalCdf(Math.log(SLOW_MS / b.medianMs) / b.sigma);
const SLOW_FROM = BUCKETS_MS.indexOf(SLOW_MS) + 1;

/**
 * Extra variation of the error rate beyond Poisson (bursts, noisy neighbours, retries): each tick
 * the rate is multiplied by a gamma draw of mean 1 and coefficient of variation `cv`, one per side
 * (`independent`) or one for both (`shared`, a downstream blip that hits stable and canary alike).
 * In latency cells the draw multiplies the side's median latency instead (a pod slower for a while).
 */
export interface Overdispersion {
  cv: number;
  shared: boolean;
  /** With `shared`: each side's own variation on top of the shared one, as a CV (default 0). */
  own?: number;
  /**
   * How long a burst lasts (s): the multipliers are drawn at the start of every `holdS` and held
   * (default: one tick, each 10 s independent of the last).
   */
  holdS?: number;
  /**
   * Without `shared`: the canary's own CV where it differs from the baseline's `cv` (a canary on
   * fewer pods averages fewer pods' wobbles). Default `cv`.
   */
  canaryCv?: number;
  /**
   * Without `shared`: stalls on top of the draws — each tick each side's multiplier is also
   * multiplied by `factor` with probability `probability`, on its own (a pod's rare long pause: a
   * heavy right tail the gamma draws do not have).
   */
  stall?: { probability: number; factor: number };
  /** Latency cells: the draws multiply each side's log-normal σ (its tail alone) instead of its median. */
  tail?: boolean;
}

/** Draws one tick of traffic for both sides. */
export function createTraffic(seed: number, latency: boolean, noise?: Overdispersion) {
  const random = seededRandom(seed);
  const poisson = poissonSampler(random);
  const gamma = gammaSampler(random);
  const gammaOf = (cv: number) => {
    const shape = 1 / (cv * cv);
    return cv > 0 ? gamma(shape) / shape : 1;
  };
  const factor = () => gammaOf(noise?.cv ?? 0);
  const probabilities = new Map<Behaviour, number[]>();
  const draw = (b: Behaviour, lambda: number, g = 1): Counts => {
    if (!latency) {
      const rate = Math.min(1, b.errorRate * g);
      const bad = poisson(lambda * rate);
      return { total: bad + poisson(lambda * (1 - rate)), bad, buckets: [] };
    }
    let p =
      g === 1
        ? probabilities.get(b)
        : bucketProbabilities(
            noise?.tail ? { ...b, sigma: b.sigma * g } : { ...b, medianMs: b.medianMs * g },
          );
    if (!p) {
      p = bucketProbabilities(b);
      probabilities.set(b, p);
    }
    const buckets = p.map((q) => poisson(lambda * q));
    let total = 0;
    let slow = 0;
    for (let i = 0; i < buckets.length; i++) {
      total += buckets[i] as number;
      if (i >= SLOW_FROM) slow += buckets[i] as number;
    }
    return { total, bad: slow, buckets };
  };
  const own = noise?.shared ? (noise.own ?? 0) : undefined;
  const stall = noise?.shared ? undefined : noise?.stall;
  const stalled = () => (stall && random() < stall.probability ? stall.factor : 1);
  const multipliers = () => {
    const g = factor();
    const gc =
      own === undefined ? (noise?.canaryCv === undefined ? g : gammaOf(noise.canaryCv)) : g * gammaOf(own);
    const gb = own === undefined ? factor() : g * gammaOf(own);
    return stall ? { g, gc: gc * stalled(), gb: gb * stalled() } : { g, gc, gb };
  };
  let held: { g: number; gc: number; gb: number; until: number; burst: number } | undefined;
  // Bursts start at a random phase, not on the look grid.
  const phase = noise?.holdS === undefined ? 0 : random() * noise.holdS;
  return (t: number, rps: number, share: number, canary: Behaviour, baseline = BASELINE): Tick => {
    let m: { g: number; gc: number; gb: number };
    if (noise?.holdS === undefined) m = multipliers();
    else {
      // The tick ending at t starts at t - TICK_S; a new burst at every multiple of holdS.
      if (!held || t - TICK_S >= held.until) {
        const from = Math.floor((t - TICK_S - phase) / noise.holdS) * noise.holdS + phase;
        held = { ...multipliers(), until: from + noise.holdS, burst: (held?.burst ?? -1) + 1 };
      }
      m = held;
    }
    const { g, gc, gb } = m;
    return {
      t,
      share,
      canary: draw(canary, rps * TICK_S * share, gc),
      baseline: draw(baseline, rps * TICK_S * (1 - share), gb),
      sharedMultiplier: own === undefined ? 1 : g,
      ...(held ? { burst: held.burst } : {}),
    };
  };
}

/** Sum of the canary's counts over the ticks in (t - windowS, t]. */
export function window(ticks: Tick[], t: number, windowS: number): Counts {
  const sum: Counts = { total: 0, bad: 0, buckets: [] };
  for (let i = ticks.length - 1; i >= 0; i--) {
    const k = ticks[i] as Tick;
    if (k.t <= t - windowS) break;
    sum.total += k.canary.total;
    sum.bad += k.canary.bad;
    k.canary.buckets.forEach((n, j) => {
      sum.buckets[j] = (sum.buckets[j] ?? 0) + n;
    });
  }
  return sum;
}

/** Prometheus' histogram_quantile over non-cumulative bucket counts (linear within a bucket). */
export function histogramQuantile(q: number, buckets: number[]): number {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] as number;
    if (below + n >= rank) {
      if (i >= BUCKETS_MS.length) return BUCKETS_MS.at(-1) as number;
      const lower = i === 0 ? 0 : (BUCKETS_MS[i - 1] as number);
      const upper = BUCKETS_MS[i] as number;
      return lower + (upper - lower) * ((rank - below) / n);
    }
    below += n;
  }
  return BUCKETS_MS.at(-1) as number;
}
