import { type Judge, type MetricData, normalCdf } from '@kanary/metrics';
import { gammaSampler, poissonSampler, seededRandom } from '@kanary/testkit';

/**
 * A canary in virtual time, fed to a judge the way a gate would: cumulative Prometheus-style
 * counters and histograms per side, scraped every `lookEveryS` seconds. Requests are Poisson
 * per side; their outcomes are split by Poisson thinning, which is exact (no normal approximation).
 */

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
  /**
   * Error rates (for a latency judge, median latencies) that vary beyond Poisson: each look
   * interval a side's rate is multiplied by a gamma draw of mean 1 and this CV, one per side or (`shared`) one for both — times, with `own`, one
   * per side of that CV on top of the shared one. With `holdLooks`, each draw is held for that
   * many look intervals (a burst that outlasts a look), from a random phase. With `canaryCv`
   * (not shared), the canary's own draws have that CV instead (a canary on fewer pods). With
   * `stall`, each look interval each side is also `factor` times slower (or erring) on its own
   * with that `probability`, history included (a pod's rare long pause). With `tail`, a latency
   * judge's draws multiply each side's log-normal σ instead of its median (its tail alone moves).
   */
  variation?: {
    cv: number;
    shared: boolean;
    own?: number;
    holdLooks?: number;
    canaryCv?: number;
    stall?: { probability: number; factor: number };
    tail?: boolean;
  };
  /** Give the judge the stable side's history per look interval at its first look, as the gate's range query does. */
  history?: boolean;
  /**
   * Outages on both sides: `extra` error rate added to stable and canary alike for `lengthS` every
   * `everyS`, counted from the start of the history (a downstream dependency failing).
   */
  outage?: { everyS: number; lengthS: number; extra: number };
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

/** A side's buckets as Prometheus's cumulative `le` series. */
const cumulative = (s: Side) =>
  [...ISTIO_BUCKETS_MS.map(String), '+Inf'].map((le, i) => ({
    labels: { le },
    value: s.buckets.slice(0, i + 1).reduce((a, b) => a + b, 0),
  }));

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
  const gamma = gammaSampler(u);
  const draw = (cv: number) => (cv > 0 ? gamma(1 / (cv * cv)) * cv * cv : 1);
  const own = scenario.variation?.shared ? (scenario.variation.own ?? 0) : 0;
  const hold = scenario.variation?.holdLooks ?? 1;
  const phase = hold > 1 ? Math.floor(u() * hold) : 0;
  /** A stream of draws, each kept for `hold` calls (a fresh one every call without `holdLooks`). */
  const held = <T>(make: () => T): (() => T) => {
    let value: T | undefined;
    let calls = phase;
    return () => {
      if (value === undefined || calls % hold === 0) value = make();
      calls++;
      return value;
    };
  };
  const stall = scenario.variation?.stall;
  /** A side's stall this interval: its factor with the stall's probability, else 1. */
  const stalled = () => (stall && u() < stall.probability ? stall.factor : 1);
  const heldFactor = held(() => draw(scenario.variation?.cv ?? 0) * draw(own));
  const factor = () => heldFactor() * stalled();
  const fresh = (): Side => ({ total: 0, bad: 0, buckets: ISTIO_BUCKETS_MS.map(() => 0).concat(0) });
  const canary = fresh();
  const baseline = fresh();
  const served = { requests: 0, bad: 0 };
  /** Serves one window's requests on a side; returns that window's own counts. */
  const serve = (side: Side, behaviour: SideBehaviour, lambda: number, count: boolean, g = 1): Side => {
    const window = fresh();
    if (judge.needs === 'histogram') {
      const moved = scenario.variation?.tail
        ? { ...behaviour, sigma: (behaviour.sigma ?? 0.6) * g }
        : { ...behaviour, medianMs: (behaviour.medianMs ?? 100) * g };
      bucketProbabilities(moved).forEach((p, i) => {
        window.buckets[i] = poisson(lambda * p);
      });
      window.total = window.buckets.reduce((a, b) => a + b, 0);
    } else {
      const rate = Math.min(1, behaviour.errorRate * g);
      window.bad = poisson(lambda * rate);
      window.total = window.bad + poisson(lambda * (1 - rate));
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
  const history: Array<{ total: number; bad: number }> = [];
  const bucketHistory: Array<Record<string, number>> = [];
  const historyS = scenario.historyS ?? 600;
  const o = scenario.outage;
  /** A side's behaviour in the interval ending at t (t from the history's start), an outage added. */
  const at = (b: SideBehaviour, t: number): SideBehaviour =>
    o && (t - scenario.lookEveryS) % o.everyS < o.lengthS
      ? { ...b, errorRate: Math.min(1, b.errorRate + o.extra) }
      : b;
  if (scenario.history) {
    for (let t = scenario.lookEveryS; t <= historyS; t += scenario.lookEveryS) {
      const w = serve(
        baseline,
        at(scenario.baseline, t),
        scenario.rps * scenario.lookEveryS,
        false,
        factor(),
      );
      history.push({ total: w.total, bad: w.bad });
      bucketHistory.push(Object.fromEntries(cumulative(w).map((s) => [s.labels.le, s.value])));
    }
  } else serve(baseline, scenario.baseline, scenario.rps * historyS, false);
  const toData = (): MetricData => {
    if (judge.needs === 'counts') {
      const v = (value: number) => [{ labels: {}, value }];
      return {
        kind: 'counts',
        canary: { total: v(canary.total), bad: v(canary.bad) },
        baseline: {
          total: v(baseline.total),
          bad: v(baseline.bad),
          ...(first && history.length ? { history } : {}),
        },
      };
    }
    return {
      kind: 'histogram',
      canary: cumulative(canary),
      baseline: cumulative(baseline),
      ...(first && bucketHistory.length ? { baselineHistory: bucketHistory } : {}),
    };
  };
  const sides = held(() => {
    const g = draw(scenario.variation?.cv ?? 0);
    const canaryCv = scenario.variation?.shared ? undefined : scenario.variation?.canaryCv;
    return {
      gc: canaryCv === undefined ? g * draw(own) : draw(canaryCv),
      gb: scenario.variation?.shared ? g * draw(own) : draw(scenario.variation?.cv ?? 0),
    };
  });
  let state: unknown;
  let first = true;
  for (let t = 0; t <= scenario.durationS; t += scenario.lookEveryS) {
    if (t > 0) {
      const share = scenario.share(t);
      const lambda = scenario.rps * scenario.lookEveryS;
      const drawn = sides();
      const gc = drawn.gc * stalled();
      const gb = drawn.gb * stalled();
      const window = serve(canary, at(scenario.canary(t), historyS + t), lambda * share, true, gc);
      serve(baseline, at(scenario.baseline, historyS + t), lambda * (1 - share), false, gb);
      if (scenario.resetsAt?.some((r) => r > t - scenario.lookEveryS && r <= t)) {
        // A pod restart: its counters start again, holding only what it served since.
        Object.assign(canary, window);
      }
    }
    const out = judge.look(state, toData(), { at: t * 1000 });
    first = false;
    state = scenario.persist ? JSON.parse(JSON.stringify(out.state)) : out.state;
    if (out.look.phase === 'failed')
      return { rolledBack: true, atS: t, canaryBad: served.bad, canaryRequests: served.requests };
  }
  return { rolledBack: false, canaryBad: served.bad, canaryRequests: served.requests };
}

/** Flagger-like canary weights: 10% more every minute up to 50%. */
export const stepShare = (t: number): number => Math.min(0.5, 0.1 * (1 + Math.floor(t / 60)));
