import { type Judge, type MetricData, normalCdf } from '@kanary/metrics';
import { seededRandom } from '@kanary/testkit';

/**
 * A canary in virtual time, fed to a judge the way a gate would: cumulative Prometheus-style
 * counters and histograms per side, scraped every `lookEveryS` seconds. Requests are Poisson
 * per side; their outcomes are split by Poisson thinning, which is exact (no normal approximation).
 */

function logGamma(x: number): number {
  // Lanczos (g = 7, n = 9), ample for the Poisson sampler's acceptance test.
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

export interface SideBehaviour {
  errorRate: number;
  /** Log-normal latency in ms. */
  medianMs?: number;
  sigma?: number;
}

export interface Scenario {
  rps: number;
  /** Canary share of requests (0–1) at time t seconds. */
  share: (t: number) => number;
  baseline: SideBehaviour;
  /** Canary behaviour at time t (warm-up can differ). */
  canary: (t: number) => SideBehaviour;
  durationS: number;
  lookEveryS: number;
  /** Requests the stable served before the analysis began (its counters' history). */
  historyS?: number;
  /** Canary counters restart (a pod restart) at these times. */
  resetsAt?: number[];
  /** Round-trip the judge's state through JSON at every look, as a resumed rollout would. */
  persist?: boolean;
}

const ISTIO_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Probability of each bucket (≤ first bound, between bounds, above the last). */
function bucketProbabilities(b: SideBehaviour): number[] {
  const median = b.medianMs ?? 100;
  const sigma = b.sigma ?? 0.6;
  const cdf = ISTIO_BUCKETS_MS.map((le) => normalCdf(Math.log(le / median) / sigma));
  return [
    ...cdf.map((c, i) => c - (i === 0 ? 0 : (cdf[i - 1] as number))),
    1 - (cdf[cdf.length - 1] as number),
  ];
}

interface Side {
  total: number;
  bad: number;
  buckets: number[];
}

export interface RunResult {
  rolledBack: boolean;
  atS?: number;
  /** Errors the canary served before the verdict (or the end). */
  canaryBad: number;
  canaryRequests: number;
}

/** Runs one canary against a judge; stops at the first failed look. */
export function runCanary(judge: Judge, scenario: Scenario, seed: number): RunResult {
  const u = seededRandom(seed);
  const poisson = poissonSampler(u);
  const fresh = (): Side => ({ total: 0, bad: 0, buckets: ISTIO_BUCKETS_MS.map(() => 0).concat(0) });
  const canary = fresh();
  const baseline = fresh();
  const served = { requests: 0, bad: 0 };
  /** Serves one window's requests on a side; returns that window's own counts. */
  const serve = (side: Side, behaviour: SideBehaviour, lambda: number, count: boolean): Side => {
    const window = fresh();
    if (judge.needs === 'histogram') {
      bucketProbabilities(behaviour).forEach((p, i) => {
        window.buckets[i] = poisson(lambda * p);
      });
      window.total = window.buckets.reduce((a, b) => a + b, 0);
    } else {
      window.bad = poisson(lambda * behaviour.errorRate);
      window.total = window.bad + poisson(lambda * (1 - behaviour.errorRate));
    }
    side.total += window.total;
    side.bad += window.bad;
    side.buckets = side.buckets.map((b, i) => b + (window.buckets[i] as number));
    if (count) {
      served.requests += window.total;
      served.bad += window.bad;
    }
    return window;
  };
  // Stable's history before the analysis: its counters are not at zero when we first look.
  serve(baseline, scenario.baseline, scenario.rps * (scenario.historyS ?? 600), false);
  const toData = (): MetricData => {
    if (judge.needs === 'counts') {
      const v = (value: number) => [{ labels: {}, value }];
      return {
        kind: 'counts',
        canary: { total: v(canary.total), bad: v(canary.bad) },
        baseline: { total: v(baseline.total), bad: v(baseline.bad) },
      };
    }
    const series = (s: Side) =>
      [...ISTIO_BUCKETS_MS.map(String), '+Inf'].map((le, i) => ({
        labels: { le },
        value: s.buckets.slice(0, i + 1).reduce((a, b) => a + b, 0),
      }));
    return { kind: 'histogram', canary: series(canary), baseline: series(baseline) };
  };
  let state: unknown;
  for (let t = 0; t <= scenario.durationS; t += scenario.lookEveryS) {
    if (t > 0) {
      const share = scenario.share(t);
      const lambda = scenario.rps * scenario.lookEveryS;
      const window = serve(canary, scenario.canary(t), lambda * share, true);
      serve(baseline, scenario.baseline, lambda * (1 - share), false);
      if (scenario.resetsAt?.some((r) => r > t - scenario.lookEveryS && r <= t)) {
        // A pod restart: its counters start again, holding only what it served since.
        Object.assign(canary, window);
      }
    }
    const out = judge.look(state, toData(), { at: t * 1000 });
    state = scenario.persist ? JSON.parse(JSON.stringify(out.state)) : out.state;
    if (out.look.phase === 'failed')
      return { rolledBack: true, atS: t, canaryBad: served.bad, canaryRequests: served.requests };
  }
  return { rolledBack: false, canaryBad: served.bad, canaryRequests: served.requests };
}

/** Flagger-like canary weights: 10% more every minute up to 50%. */
export const stepShare = (t: number): number => Math.min(0.5, 0.1 * (1 + Math.floor(t / 60)));
