import { rankSumTest } from '../stats/rank-sum.ts';

/**
 * Kayenta's canary judge: a Mann–Whitney classifier per metric and a weighted score over metric
 * groups. It compares time-series points, not requests, and repeats a fixed-horizon test at
 * every look — kept for parity with Spinnaker users, not anytime-valid.
 */

export type Direction = 'increase' | 'decrease' | 'either';
export type Classification = 'Pass' | 'High' | 'Low' | 'Nodata' | 'NodataFailMetric';

export interface MannWhitneyOptions {
  direction?: Direction;
  /** Fraction of |shift estimate| the interval must clear (Kayenta: 0.25). */
  tolerance?: number;
  /** Confidence of the shift's interval (Kayenta: 0.98). */
  confidence?: number;
  nanStrategy?: 'remove' | 'replace';
  outliers?: 'keep' | 'remove';
  critical?: boolean;
  mustHaveData?: boolean;
  effectSize?: {
    measure?: 'meanRatio' | 'cles';
    allowedIncrease?: number;
    allowedDecrease?: number;
    criticalIncrease?: number;
    criticalDecrease?: number;
  };
}

export interface MetricClassification {
  classification: Classification;
  /** Critical metric not passing: the whole score drops to 0. */
  critical: boolean;
  effectSize: number;
  estimate?: number;
  ci?: [number, number];
  pValue?: number;
  reason: string;
}

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** Kayenta's IQR detector (factor 3), widened to the 1st and 99th percentiles. */
function removeOutliers(values: readonly number[]): number[] {
  if (values.length < 4) return [...values];
  const s = [...values].sort((a, b) => a - b);
  const q1 = quantile(s, 0.25);
  const q3 = quantile(s, 0.75);
  const iqr = q3 - q1;
  const lo = Math.min(quantile(s, 0.01), q1 - 3 * iqr);
  const hi = Math.max(quantile(s, 0.99), q3 + 3 * iqr);
  return values.filter((v) => v >= lo && v <= hi);
}

/** Vargha–Delaney A: the probability a canary point exceeds a baseline point (ties count half). */
function cles(experiment: readonly number[], control: readonly number[]): number {
  let wins = 0;
  for (const e of experiment) for (const c of control) wins += e > c ? 1 : e === c ? 0.5 : 0;
  return wins / (experiment.length * control.length);
}

/** A seeded generator for the tiny jitter Kayenta adds when both arms are constant. */
function jitter(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function classifyMetric(
  control: readonly number[],
  experiment: readonly number[],
  options: MannWhitneyOptions = {},
): MetricClassification {
  const direction = options.direction ?? 'either';
  const tolerance = options.tolerance ?? 0.25;
  const measure = options.effectSize?.measure ?? 'meanRatio';
  const neutral = measure === 'cles' ? 0.5 : 1;
  const allowedIncrease = options.effectSize?.allowedIncrease ?? neutral;
  const allowedDecrease = options.effectSize?.allowedDecrease ?? neutral;
  const criticalIncrease = options.effectSize?.criticalIncrease ?? neutral;
  const criticalDecrease = options.effectSize?.criticalDecrease ?? neutral;
  const clean = (v: readonly number[]) => {
    const kept =
      options.nanStrategy === 'replace'
        ? v.map((x) => (Number.isNaN(x) ? 0 : x))
        : v.filter((x) => !Number.isNaN(x));
    return options.outliers === 'remove' ? removeOutliers(kept) : kept;
  };
  let c = clean(control);
  let e = clean(experiment);
  if (c.length === 0 || e.length === 0) {
    const fail = options.mustHaveData === true && options.critical !== true;
    return {
      classification: fail ? 'NodataFailMetric' : 'Nodata',
      critical: options.critical === true,
      effectSize: Number.NaN,
      reason: `no data for the ${e.length === 0 ? 'canary' : 'baseline'}`,
    };
  }
  const sortedC = [...c].sort((a, b) => a - b);
  const sortedE = [...e].sort((a, b) => a - b);
  const distinct = new Set([...c, ...e]);
  if (
    distinct.size <= 1 ||
    (sortedC.length === sortedE.length && sortedC.every((v, i) => v === sortedE[i]))
  ) {
    return {
      classification: 'Pass',
      critical: false,
      effectSize: neutral,
      reason: 'both sides are the same',
    };
  }
  if (new Set(c).size === 1 && new Set(e).size === 1) {
    // Both constant but different: a rank test cannot form an interval, so add tiny noise.
    const noise = jitter(c.length * 31 + e.length);
    c = c.map((v) => v + noise() * Math.abs(v) * 1e-5);
    e = e.map((v) => v + noise() * Math.abs(v) * 1e-5);
  }
  const test = rankSumTest(e, c, options.confidence ?? 0.98);
  const effectSize = measure === 'cles' ? cles(e, c) : mean(e) / mean(c);
  const bound = tolerance * Math.abs(test.estimate);
  const detail = { estimate: test.estimate, ci: test.ci, pValue: test.pValue };
  const effectOk = (ok: boolean) => Number.isNaN(effectSize) || ok;
  if (
    (direction === 'increase' || direction === 'either') &&
    test.ci[0] > bound &&
    effectOk(effectSize >= allowedIncrease)
  ) {
    return {
      classification: 'High',
      critical: options.critical === true && effectOk(effectSize >= criticalIncrease),
      effectSize,
      ...detail,
      reason: `canary is higher (shift ${test.estimate.toPrecision(4)}, interval [${test.ci.map((v) => v.toPrecision(4)).join(', ')}])`,
    };
  }
  if (
    (direction === 'decrease' || direction === 'either') &&
    test.ci[1] < -bound &&
    effectOk(effectSize <= allowedDecrease)
  ) {
    return {
      classification: 'Low',
      critical: options.critical === true && effectOk(effectSize <= criticalDecrease),
      effectSize,
      ...detail,
      reason: `canary is lower (shift ${test.estimate.toPrecision(4)}, interval [${test.ci.map((v) => v.toPrecision(4)).join(', ')}])`,
    };
  }
  return { classification: 'Pass', critical: false, effectSize, ...detail, reason: 'no significant shift' };
}

export interface ScoredMetric {
  name: string;
  group?: string;
  muted?: boolean;
  result: MetricClassification;
}

export interface CanaryScore {
  score: number;
  verdict: 'pass' | 'marginal' | 'fail';
  groups: Record<string, number>;
  reason: string;
}

/**
 * Kayenta's weighted-sum scorer: per group, the share of classified metrics that passed; groups
 * weighted (unweighted groups share what is left of 100); zero when a critical metric fails or
 * when half or more of the metrics have no data.
 */
export function scoreCanary(
  metrics: readonly ScoredMetric[],
  options: { groupWeights?: Record<string, number>; pass?: number; marginal?: number } = {},
): CanaryScore {
  const pass = options.pass ?? 95;
  const marginal = options.marginal ?? 75;
  const live = metrics.filter((m) => !m.muted);
  const verdictOf = (score: number): CanaryScore['verdict'] =>
    score >= pass ? 'pass' : score >= marginal ? 'marginal' : 'fail';
  const critical = live.find((m) => m.result.critical);
  if (critical) {
    return {
      score: 0,
      verdict: 'fail',
      groups: {},
      reason: `critical metric ${critical.name}: ${critical.result.reason}`,
    };
  }
  const nodata = live.filter((m) => m.result.classification === 'Nodata').length;
  if (live.length > 0 && nodata / live.length >= 0.5) {
    return {
      score: 0,
      verdict: 'fail',
      groups: {},
      reason: `${nodata} of ${live.length} metrics have no data`,
    };
  }
  const byGroup = new Map<string, ScoredMetric[]>();
  for (const m of live) byGroup.set(m.group ?? 'default', [...(byGroup.get(m.group ?? 'default') ?? []), m]);
  const groups: Record<string, number> = {};
  for (const [group, list] of byGroup) {
    const counted = list.filter((m) => m.result.classification !== 'Nodata');
    const passed = counted.filter((m) => m.result.classification === 'Pass').length;
    groups[group] = counted.length === 0 ? 100 : (100 * passed) / counted.length;
  }
  const weights = options.groupWeights ?? {};
  const names = Object.keys(groups);
  const explicit = names.filter((g) => weights[g] !== undefined);
  const rest = names.length - explicit.length;
  const left = Math.max(0, 100 - explicit.reduce((s, g) => s + (weights[g] as number), 0));
  let score = 0;
  for (const g of names) {
    const w = weights[g] ?? (rest > 0 ? left / rest : 0);
    score += ((groups[g] as number) * w) / 100;
  }
  score = Math.round(score * 100) / 100;
  const failing = live.filter((m) => m.result.classification === 'High' || m.result.classification === 'Low');
  return {
    score,
    verdict: verdictOf(score),
    groups,
    reason: failing.length
      ? failing.map((m) => `${m.name}: ${m.result.reason}`).join('; ')
      : 'every metric passed',
  };
}
