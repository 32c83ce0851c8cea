// The gates compared, each seeing the same canary the way its real counterpart would.
import {
  createSequentialLatencyJudge,
  createSequentialRateJudge,
  type MetricData,
  type SequentialLatencyOptions,
  type SequentialRateOptions,
} from '@kanary/metrics';
import { logGamma } from '@kanary/testkit';
import { BUCKETS_MS, histogramQuantile, TICK_S, type Tick, window } from './traffic.ts';

export type Verdict = 'continue' | 'rollback' | 'promote';
export type Metric = 'errors' | 'latency';

export interface Gate {
  label: string;
  /** Canary share during the tick that ends at t (gates that hold the weight on failure differ). */
  share(t: number): number;
  /** Called after every tick with everything so far. */
  step(ticks: Tick[]): Verdict;
  /** The stable side's ticks over the ten minutes before the canary, for gates that read history. */
  history?(ticks: Tick[]): void;
  /**
   * After a rollback: the fraction of the last tick served before the gate decided (a gate that
   * looks after every request stops inside the tick); absent, the whole tick counts.
   */
  within?(): number;
}

/** A release's steps on the clock: the canary's share in the tick ending at t, and when it is promoted. */
export interface Schedule {
  label: string;
  share(t: number): number;
  endS: number;
}

/** Steps of `[share, seconds]`, each held for its seconds, promoted after the last. */
export function stepsOf(label: string, steps: ReadonlyArray<readonly [number, number]>): Schedule {
  const ends: number[] = [];
  let at = 0;
  for (const [, seconds] of steps) {
    at += seconds;
    ends.push(at);
  }
  return {
    label,
    endS: at,
    share: (t) => {
      const i = ends.findIndex((end) => t - TICK_S < end);
      return (steps[i === -1 ? steps.length - 1 : i] as readonly [number, number])[0];
    },
  };
}

/** Argo-style steps: 10% more every 60 s up to 50%, promoted at 360 s, whatever the analysis says meanwhile. */
export const ARGO_STEPS = stepsOf('10% more a minute to 50%, promoted at 6 min', [
  [0.1, 60],
  [0.2, 60],
  [0.3, 60],
  [0.4, 60],
  [0.5, 120],
]);

/**
 * Kanary: a sequential judge, one look per scrape (every 10 s) or per `lookEveryS` (the metric's
 * `interval`, a multiple of 10 s), through @kanary/metrics' public API. The first look is at t = 0,
 * as the real gate's, when the canary has served nothing; the stable side's counters hold its ten
 * minutes of history, and the judges are given that history per look interval as the gate's range
 * queries would give it (`baseline.history`, `baselineHistory`; their step the interval).
 */
export function kanaryGate(
  metric: Metric,
  _rps: number,
  options: SequentialRateOptions & SequentialLatencyOptions = {},
  /** The metric's `initialDelay` (s): the first look, which only records the counters, comes then. */
  initialDelayS = 0,
  schedule: Schedule = ARGO_STEPS,
  lookEveryS = TICK_S,
): Gate {
  const judge =
    metric === 'errors' ? createSequentialRateJudge(options) : createSequentialLatencyJudge(options);
  let state: unknown;
  let before: Tick[] = [];
  const cum = {
    canary: { total: 0, bad: 0, b: BUCKETS_MS.map(() => 0).concat(0) },
    baseline: { total: 0, bad: 0, b: BUCKETS_MS.map(() => 0).concat(0) },
  };
  const look = (t: number, canaryServed: boolean, first = false) => {
    const data: MetricData =
      metric === 'errors'
        ? {
            kind: 'counts',
            canary: canaryServed
              ? {
                  total: [{ labels: {}, value: cum.canary.total }],
                  bad: [{ labels: {}, value: cum.canary.bad }],
                }
              : { total: [], bad: [] },
            baseline: {
              total: [{ labels: {}, value: cum.baseline.total }],
              bad: [{ labels: {}, value: cum.baseline.bad }],
              ...(first && judge.history ? { history: historyWindows(before, lookEveryS) } : {}),
            },
          }
        : {
            kind: 'histogram',
            canary: canaryServed ? series(cum.canary.b) : [],
            baseline: series(cum.baseline.b),
            ...(first && judge.history ? { baselineHistory: bucketWindows(before, lookEveryS) } : {}),
          };
    const out = judge.look(state, data, { at: t * 1000 });
    state = out.state;
    return out.look.phase;
  };
  let looked = false;
  const add = (k: Tick, sides: readonly ('canary' | 'baseline')[]) => {
    for (const side of sides) {
      cum[side].total += k[side].total;
      cum[side].bad += k[side].bad;
      k[side].buckets.forEach((n, i) => {
        cum[side].b[i] = (cum[side].b[i] as number) + n;
      });
    }
  };
  return {
    label: 'Kanary',
    share: schedule.share,
    history(ticks) {
      before = ticks;
      for (const k of ticks) add(k, ['baseline']);
    },
    step(ticks) {
      const k = ticks.at(-1) as Tick;
      // The first look at the start of the tick once the delay is over (t = 0 without one).
      if (!looked && k.t - TICK_S >= initialDelayS) {
        looked = true;
        look(k.t - TICK_S, cum.canary.total > 0, true);
      }
      add(k, ['canary', 'baseline']);
      if (looked && k.t % lookEveryS === 0 && look(k.t, cum.canary.total > 0) === 'failed') return 'rollback';
      return k.t >= schedule.endS ? 'promote' : 'continue';
    },
  };
}

/** The stable side's ticks summed per look interval, the last window ending at the canary's start. */
function historyWindows(ticks: Tick[], everyS: number): Array<{ total: number; bad: number }> {
  const per = everyS / TICK_S;
  const out: Array<{ total: number; bad: number }> = [];
  for (let end = ticks.length; end - per >= 0; end -= per) {
    const group = ticks.slice(end - per, end);
    out.unshift({
      total: group.reduce((s, k) => s + k.baseline.total, 0),
      bad: group.reduce((s, k) => s + k.baseline.bad, 0),
    });
  }
  return out;
}

/** The stable side's buckets per look interval, as the gate's range query per `le` gives them. */
function bucketWindows(ticks: Tick[], everyS: number): Array<Record<string, number>> {
  const per = everyS / TICK_S;
  const out: Array<Record<string, number>> = [];
  for (let end = ticks.length; end - per >= 0; end -= per) {
    const sum = BUCKETS_MS.map(() => 0).concat(0);
    for (const k of ticks.slice(end - per, end))
      k.baseline.buckets.forEach((n, i) => {
        sum[i] = (sum[i] as number) + n;
      });
    out.unshift(Object.fromEntries(series(sum).map((s) => [s.labels.le, s.value])));
  }
  return out;
}

const LES = [...BUCKETS_MS.map(String), '+Inf'];
function series(buckets: number[]) {
  let acc = 0;
  return LES.map((le, i) => {
    acc += buckets[i] as number;
    return { labels: { le }, value: acc };
  });
}

/** The canary's value over a window: success rate (0–1) for errors, P99 (ms) for latency. */
function value(metric: Metric, ticks: Tick[], t: number, windowS: number): number {
  const w = window(ticks, t, windowS);
  if (w.total === 0) return Number.NaN;
  return metric === 'errors' ? 1 - w.bad / w.total : histogramQuantile(0.99, w.buckets);
}
const passes = (metric: Metric, v: number, limit: number) => (metric === 'errors' ? v >= limit : v <= limit);

/**
 * Flagger: every 60 s, the canary's success rate (or P99) over the last 1m against a fixed bound;
 * a failed check holds the weight and counts toward `threshold` (cumulative); no data is a failed
 * check; each passed check adds 10% up to 50%, and a passed check at 50% promotes. Like Flagger's
 * scheduler, the failed-check count is compared with the threshold at the start of a tick, so the
 * rollback comes one interval after the threshold-th failure, the canary serving meanwhile.
 */
export function flaggerGate(metric: Metric, limit: number, threshold = 5): Gate {
  let weight = 0.1;
  let failed = 0;
  return {
    label: `Flagger ${metric === 'errors' ? `≥${(limit * 100).toFixed(1)}%` : `P99≤${limit}ms`}`,
    share: () => weight,
    step(ticks) {
      const t = (ticks.at(-1) as Tick).t;
      if (t % 60 !== 0) return 'continue';
      if (failed >= threshold) return 'rollback';
      const v = value(metric, ticks, t, 60);
      if (Number.isNaN(v) || !passes(metric, v, limit)) {
        failed++;
        return 'continue';
      }
      if (weight >= 0.5) return 'promote';
      weight = Math.min(0.5, weight + 0.1);
      return 'continue';
    },
  };
}

/**
 * Argo Rollouts, as its docs' success-rate template is typically used: background analysis every
 * 30 s over the last 30 s (the template's irate reads the last two scrapes); Failed when
 * failed > failureLimit; an empty result is an Error, and more than 4 in a row abort too.
 * Steps advance on the clock (Argo does not hold weights on a failed measurement).
 * `documented` is the docs' template as written: every 5m, `result[0] >= 0.95` on an irate (the
 * last scrape interval, 10 s here), failureLimit 3.
 */
export function argoGate(
  metric: Metric,
  limit: number,
  failureLimit = 2,
  cadence: { intervalS: number; windowS: number } = { intervalS: 30, windowS: 30 },
  schedule: Schedule = ARGO_STEPS,
): Gate {
  let failed = 0;
  let errors = 0;
  return {
    label: `Argo ${metric === 'errors' ? `≥${(limit * 100).toFixed(1)}%` : `P99≤${limit}ms`}`,
    share: schedule.share,
    step(ticks) {
      const t = (ticks.at(-1) as Tick).t;
      if (t % cadence.intervalS === 0) {
        const v = value(metric, ticks, t, cadence.windowS);
        if (Number.isNaN(v)) errors++;
        else {
          errors = 0;
          if (!passes(metric, v, limit)) failed++;
        }
        if (failed > failureLimit || errors > 4) return 'rollback';
      }
      return t >= schedule.endS ? 'promote' : 'continue';
    },
  };
}

/** Argo's documented success-rate template, as written in its docs (see `argoGate`). */
export const argoDocumentedGate = () => argoGate('errors', 0.95, 3, { intervalS: 300, windowS: 10 });

/**
 * Wald's SPRT with the true parameters known in advance (an oracle no real gate has): the
 * canary's bad-request probability p0 (the baseline's) against p1 (the regression's), rejecting
 * at log(1/α). It bounds how few bad requests any test at this α can get away with.
 */
export function sprtGate(p0: number, p1: number, alpha = 0.01, schedule: Schedule = ARGO_STEPS): Gate {
  const up = Math.log(p1 / p0);
  const down = Math.log((1 - p1) / (1 - p0));
  const bound = Math.log(1 / alpha);
  let llr = 0;
  return {
    label: 'SPRT (oracle)',
    share: schedule.share,
    step(ticks) {
      const k = ticks.at(-1) as Tick;
      llr += k.canary.bad * up + (k.canary.total - k.canary.bad) * down;
      if (llr >= bound) return 'rollback';
      return k.t >= schedule.endS ? 'promote' : 'continue';
    },
  };
}

/** The canary's share of a look's events when its rate is `ratio` times the baseline's and it serves ρ of requests. */
const shareAt = (rho: number, ratio: number) => (rho * ratio) / (rho * ratio + 1 - rho);
/** log likelihood ratio of c canary and b baseline events landing where they did: share θ against ρ. */
const landed = (c: number, b: number, theta: number, rho: number) =>
  c * Math.log(theta / rho) + b * Math.log((1 - theta) / (1 - rho));

/**
 * An oracle adding each tick's log likelihood ratio of where its requests land, rolling back at
 * 1/α at a look: every tick, or every `lookEveryS` (a tick's ratio is linear in its counts, so
 * summing ticks is the ratio of the interval's counts while the share holds).
 */
function splitOracle(
  label: string,
  logRatio: (k: Tick, rho: number) => number,
  alpha: number,
  schedule: Schedule,
  lookEveryS = TICK_S,
  /** Told the regression starts at this second: ticks before it carry no evidence either way. */
  fromS = 0,
): Gate {
  const bound = Math.log(1 / alpha);
  let llr = 0;
  return {
    label,
    share: schedule.share,
    step(ticks) {
      const k = ticks.at(-1) as Tick;
      const n = k.canary.total + k.baseline.total;
      if (n > 0 && k.canary.total > 0 && k.t > fromS) llr += logRatio(k, k.canary.total / n);
      if (llr >= bound && k.t % lookEveryS === 0) return 'rollback';
      return k.t >= schedule.endS ? 'promote' : 'continue';
    },
  };
}

/**
 * The two-sample oracle: the likelihood ratio of where each look's bad events land (the canary's
 * share of them, given its share of requests), told the true ratio of the two rates in advance but
 * not the baseline's rate — the best any canary-against-baseline test looking every 10 s can do at
 * α = 0.01 against that one alternative.
 */
export const twoSampleOracleGate = (
  ratio: number,
  alpha = 0.01,
  schedule: Schedule = ARGO_STEPS,
  lookEveryS = TICK_S,
  fromS = 0,
): Gate =>
  splitOracle(
    'two-sample oracle',
    (k, rho) => landed(k.canary.bad, k.baseline.bad, shareAt(rho, ratio), rho),
    alpha,
    schedule,
    lookEveryS,
    fromS,
  );

/**
 * The two-sample oracle told each look's true ratio of the two rates (`ratioAt` of the tick's end):
 * for outages on both sides, which add the same errors to each and so pull the ratio towards 1
 * while they last. A good canary's ratio is 1 throughout, so it holds α there; told when the
 * outages are and what they add, it is the bound for a judge that must find them from the counts.
 */
export const informedOracleGate = (
  ratioAt: (t: number) => number,
  alpha = 0.01,
  schedule: Schedule = ARGO_STEPS,
): Gate =>
  splitOracle(
    'informed oracle',
    (k, rho) => landed(k.canary.bad, k.baseline.bad, shareAt(rho, ratioAt(k.t)), rho),
    alpha,
    schedule,
  );

/**
 * log P(x | n) for x = 0..n: where n bad events split between two Poisson counts of means mc and mb
 * whose rates each vary by their own gamma of CV `cv` (independent negative binomials; binomial at
 * CV 0). Each NB term follows from the one before, NB(y + 1) / NB(y) = (y + k) / (y + 1) · p.
 */
function splitLaw(n: number, mc: number, mb: number, cv: number): number[] {
  if (cv === 0) {
    const rho = mc / (mc + mb);
    return Array.from(
      { length: n + 1 },
      (_, x) => logChoose(n, x) + x * Math.log(rho) + (n - x) * Math.log(1 - rho),
    );
  }
  const k = 1 / (cv * cv);
  const logNb = (m: number) => {
    const step = Math.log(m / (k + m));
    const out = [k * Math.log(k / (k + m))];
    for (let y = 0; y < n; y++) out.push((out[y] as number) + Math.log((y + k) / (y + 1)) + step);
    return out;
  };
  const c = logNb(mc);
  const b = logNb(mb);
  const terms = c.map((l, x) => l + (b[n - x] as number));
  const top = Math.max(...terms);
  const total = top + Math.log(terms.reduce((a, t) => a + Math.exp(t - top), 0));
  return terms.map((t) => t - total);
}

const logChoose = (n: number, k: number) => logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);

/**
 * The two-sample oracle for bursty traffic: the likelihood ratio of where each look's bad events
 * land, the regression (`ratio`, each side's own bursts of CV `altCv`) against a good canary whose
 * own bursts have CV `nullCv` — told the baseline's rate and each tick's shared multiplier, so both
 * laws of the split given the look's bad events are exact (two independent negative binomials).
 * Under that null it is a test martingale, so it holds α there, and against the regression it is
 * the log-optimal test for that null. A test that must hold α for every own CV up to 1 is a level-α
 * test for each of them, so it cannot beat the largest of their costs: their maximum over the CVs
 * is a floor for such a test, where the plain two-sample oracle assumes the canary never bursts on
 * its own (and rolls back good canaries that do).
 */
export function ownBurstOracleGate(
  ratio: number,
  nullCv: number,
  altCv: number,
  baseRate: number,
  alpha = 0.01,
  schedule: Schedule = ARGO_STEPS,
): Gate {
  // One alternative over one null: the likelihood ratio itself.
  return {
    ...universalSplitOracleGate([{ ratio, ownCv: altCv, weight: 1 }], [nullCv], baseRate, alpha, schedule),
    label: `two-sample oracle against own CV ${nullCv}`,
  };
}

/**
 * Wald's test told the bursts: the likelihood ratio of the canary's bad events alone, told the
 * traffic, the baseline's rate, which ticks each held burst spans (`Tick.burst`) and the bursts'
 * CV — within a burst the canary's bad events so far are negative binomial (Poisson at the burst's
 * gamma draw), the ratio multiplying its mean. The ratio of those laws over the ticks seen is a test martingale
 * for a good canary, so it holds α at every tick; knowing the baseline's rate, it is a one-sample
 * bound (as the SPRT is for Poisson traffic) that no canary-against-baseline test can reach, and
 * so a floor under what any judge can catch when bursts outlast a look.
 */
export function burstSprtGate(
  ratio: number,
  cv: number,
  rps: number,
  baseRate: number,
  alpha = 0.01,
  schedule: Schedule = ARGO_STEPS,
): Gate {
  const bound = Math.log(1 / alpha);
  const shape = 1 / (cv * cv);
  let done = 0;
  let current: { burst: number; expected: number; bad: number } | undefined;
  /** log NB(x; ratio·m) − log NB(x; m) for the bursts' gamma shape. */
  const burstLogRatio = (x: number, m: number) =>
    shape * Math.log((shape + m) / (shape + ratio * m)) +
    x * Math.log((ratio * (shape + m)) / (shape + ratio * m));
  return {
    label: 'SPRT told the bursts (oracle)',
    share: schedule.share,
    step(ticks) {
      const k = ticks.at(-1) as Tick;
      const burst = k.burst ?? k.t;
      if (current && current.burst !== burst) {
        done += burstLogRatio(current.bad, current.expected);
        current = undefined;
      }
      current = {
        burst,
        expected: (current?.expected ?? 0) + rps * TICK_S * k.share * baseRate,
        bad: (current?.bad ?? 0) + k.canary.bad,
      };
      if (done + burstLogRatio(current.bad, current.expected) >= bound) return 'rollback';
      return k.t >= schedule.endS ? 'promote' : 'continue';
    },
  };
}

/** An alternative of the universal-inference oracle: the rates' ratio, the canary's own bursts, a weight. */
export interface SplitAlternative {
  ratio: number;
  ownCv: number;
  weight: number;
}

/**
 * A split test valid at every own-burst CV of a grid the way Kanary's split test is (universal
 * inference: the alternatives' weighted likelihood over the likeliest null, each null one CV for
 * the whole run), but told what a real judge is not: each look's exact split law (the baseline's
 * rate and the tick's shared multiplier, as the floor is) and, given `[{ ratio, ownCv, weight: 1 }]`,
 * the regression itself. Where the floor prices not knowing the own CV at its dearest single
 * value, this prices holding α at all of them at once with one test; with Kanary's grid of
 * alternatives it prices not knowing the regression's size too — what is left to Kanary is its
 * own approximations (docs/decisions.md, "Where the rest of the 100/s gap is").
 */
export function universalSplitOracleGate(
  alternatives: readonly SplitAlternative[],
  nullCvs: readonly number[],
  baseRate: number,
  alpha = 0.01,
  schedule: Schedule = ARGO_STEPS,
): Gate {
  const bound = Math.log(1 / alpha);
  const alt = alternatives.map(() => 0);
  const logWeights = alternatives.map((a) => Math.log(a.weight));
  const nulls = nullCvs.map(() => 0);
  return {
    label: 'universal-inference split oracle',
    share: schedule.share,
    step(ticks) {
      const k = ticks.at(-1) as Tick;
      const x = k.canary.bad;
      const n = x + k.baseline.bad;
      if (n > 0 && k.canary.total > 0 && k.baseline.total > 0) {
        const mc = k.canary.total * baseRate * k.sharedMultiplier;
        const mb = k.baseline.total * baseRate * k.sharedMultiplier;
        alternatives.forEach((a, i) => {
          alt[i] = (alt[i] as number) + (splitLaw(n, a.ratio * mc, mb, a.ownCv)[x] as number);
        });
        nullCvs.forEach((c, i) => {
          nulls[i] = (nulls[i] as number) + (splitLaw(n, mc, mb, c)[x] as number);
        });
      }
      const terms = alt.map((l, i) => l + (logWeights[i] as number));
      const top = Math.max(...terms);
      const numerator = top + Math.log(terms.reduce((s, t) => s + Math.exp(t - top), 0));
      if (numerator - Math.max(...nulls) >= bound) return 'rollback';
      return k.t >= schedule.endS ? 'promote' : 'continue';
    },
  };
}

/**
 * The two-sample oracle looking after every bad event instead of every 10 s: the same likelihood
 * ratio, with each tick's bad events taken in their expected order (each side's spread evenly over
 * the tick, merged by time), so it rolls back at the event that crosses the bound and is charged
 * only for the part of the tick before it (the k-th of n events of a Poisson tick comes, on
 * average, k/(n+1) of the way through). The bound for a test that may stop at any request.
 */
export function perRequestOracleGate(ratio: number, alpha = 0.01, schedule: Schedule = ARGO_STEPS): Gate {
  const bound = Math.log(1 / alpha);
  let llr = 0;
  let within = 1;
  return {
    label: 'two-sample oracle, per request',
    share: schedule.share,
    within: () => within,
    step(ticks) {
      const k = ticks.at(-1) as Tick;
      const n = k.canary.total + k.baseline.total;
      if (n > 0 && k.canary.total > 0) {
        const rho = k.canary.total / n;
        const theta = shareAt(rho, ratio);
        const up = Math.log(theta / rho);
        const down = Math.log((1 - theta) / (1 - rho));
        const c = k.canary.bad;
        const b = k.baseline.bad;
        const events = [
          ...Array.from({ length: c }, (_, i) => ({ at: (i + 0.5) / c, d: up })),
          ...Array.from({ length: b }, (_, i) => ({ at: (i + 0.5) / b, d: down })),
        ].sort((x, y) => x.at - y.at);
        for (let i = 0; i < events.length; i++) {
          llr += (events[i] as { d: number }).d;
          if (llr >= bound) {
            within = (i + 1) / (events.length + 1);
            return 'rollback';
          }
        }
      }
      return k.t >= schedule.endS ? 'promote' : 'continue';
    },
  };
}

/**
 * The histogram oracle for latency: the two-sample oracle over every bucket, told both versions'
 * true bucket probabilities — where each look's requests of each bucket land between canary and
 * baseline. Every boundary of the histogram is evidence, so no latency judge reading these
 * buckets can need fewer bad requests at α = 0.01 against that alternative.
 */
export const histogramOracleGate = (
  baseline: number[],
  canary: number[],
  alpha = 0.01,
  schedule: Schedule = ARGO_STEPS,
  lookEveryS = TICK_S,
  fromS = 0,
): Gate =>
  splitOracle(
    'histogram oracle',
    (k, rho) =>
      baseline.reduce((sum, q0, j) => {
        const q1 = canary[j] as number;
        if (q0 <= 0 || q1 <= 0) return sum;
        return sum + landed(k.canary.buckets[j] ?? 0, k.baseline.buckets[j] ?? 0, shareAt(rho, q1 / q0), rho);
      }, 0),
    alpha,
    schedule,
    lookEveryS,
    fromS,
  );

/**
 * The oracle for a canary that warms up: the two-sample oracle (errors) or the histogram oracle
 * (latency) whose null is the good canary as it really is — worse for its first `warmS` — so it
 * holds α on warming canaries, and whose alternative is the bad canary warming up the same way.
 * Per bucket (errors: the bad events), the canary's probability over the baseline's, for the good
 * and the bad canary, warm and settled. The bound for a judge that must let a warming good canary
 * through: in the warm-up it can still tell a bad canary from a good one, by how much worse it is.
 */
export function warmUpOracleGate(
  metric: Metric,
  warmS: number,
  ratios: { warm: { good: number[]; bad: number[] }; settled: { good: number[]; bad: number[] } },
  alpha = 0.01,
  schedule: Schedule = ARGO_STEPS,
): Gate {
  return splitOracle(
    'warm-up oracle',
    (k, rho) => {
      const { good, bad } = k.t <= warmS ? ratios.warm : ratios.settled;
      const counts = (side: Tick['canary']) => (metric === 'errors' ? [side.bad] : side.buckets);
      const c = counts(k.canary);
      const b = counts(k.baseline);
      return good.reduce((sum, r0, j) => {
        const r1 = bad[j] as number;
        if (!(r0 > 0) || !(r1 > 0) || !Number.isFinite(r0) || !Number.isFinite(r1)) return sum;
        const t0 = shareAt(rho, r0);
        const t1 = shareAt(rho, r1);
        return sum + (c[j] ?? 0) * Math.log(t1 / t0) + (b[j] ?? 0) * Math.log((1 - t1) / (1 - t0));
      }, 0);
    },
    alpha,
    schedule,
  );
}
