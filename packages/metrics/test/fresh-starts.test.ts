import {
  FRESH_AFTER,
  FRESH_STARTS,
  FRESH_WEIGHT,
  type FreshStartState,
  foldFresh,
  initialFreshStarts,
  observeFresh,
  startsHere,
  TIMED_WEIGHT,
  timedWeight,
  withFreshStarts,
} from '@kanary/metrics';
import { seededRandom } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';

/** Argo-style steps: the canary's share of a window's requests, 10% more every 6 windows up to 50%. */
const shareAt = (i: number) => Math.min(0.5, 0.1 * (1 + Math.floor(i / 6)));
const REQUESTS = 1_000;

/** Window log e-values of one alternative: log-normal of mean 1 (a good canary), `gain` more from `onset`. */
function windows(seed: number, n: number, onset: number, gain: number, sigma = 1): number[] {
  const u = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
  return Array.from(
    { length: n },
    (_, i) => sigma * normal() - (sigma * sigma) / 2 + (i >= onset ? gain : 0),
  );
}

/**
 * The judge's rule on one alternative: the product from the first window and the fresh starts,
 * `fresh` false for the product alone; the first window at which log e reaches log(1/α), or -1.
 */
function crossing(ws: readonly number[], fresh: boolean, alpha = 0.01): number {
  let logP = 0;
  let state: FreshStartState = initialFreshStarts();
  for (let i = 0; i < ws.length; i++) {
    const canary = Math.round(REQUESTS * shareAt(i));
    const start = fresh && startsHere(state, canary, REQUESTS);
    logP += ws[i] as number;
    state = observeFresh(state, [ws[i] as number], canary, REQUESTS, start);
    const logE = fresh ? withFreshStarts(logP, state, [1]) : logP;
    if (logE >= Math.log(1 / alpha)) return i;
  }
  return -1;
}

/**
 * The same rule for a canary held at one share (no step up): the products started at every window
 * after FRESH_AFTER (`foldFresh`), or the product alone.
 */
function heldCrossing(ws: readonly number[], fresh: boolean, alpha = 0.01): number {
  let logP = 0;
  let state: FreshStartState | undefined;
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i] as number;
    logP += w;
    state = foldFresh(state, { canary: 200, total: REQUESTS, windows: i, warming: false }, () => [w]);
    const logE = fresh ? withFreshStarts(logP, state, [1]) : logP;
    if (logE >= Math.log(1 / alpha)) return i;
  }
  return -1;
}

describe('fresh starts where the canary share steps up (stats/fresh-starts.ts)', () => {
  it('starts at steps up of the share, not at a chance share, and at most FRESH_STARTS times', () => {
    let state = initialFreshStarts();
    const startsAt: number[] = [];
    const u = seededRandom(3);
    for (let i = 0; i < 60; i++) {
      // Each window's canary count a binomial-ish draw around its share (±3%).
      const canary = Math.round(REQUESTS * shareAt(i) * (0.97 + 0.06 * u()));
      const start = startsHere(state, canary, REQUESTS);
      if (start) startsAt.push(i);
      state = observeFresh(state, [0], canary, REQUESTS, start);
    }
    // The steps to 20, 30, 40 and 50% (windows 6, 12, 18, 24); never at the first window.
    expect(startsAt).toEqual([6, 12, 18, 24]);
    expect(state.starts).toBe(FRESH_STARTS);
    // A step down starts nothing; nor does a window with no requests.
    const settled = observeFresh(initialFreshStarts(), [0], 300, REQUESTS, false);
    expect(startsHere(settled, 100, REQUESTS)).toBe(false);
    expect(startsHere(settled, 0, 0)).toBe(false);
    // A share 15% up but within the draw's own noise (100 requests a window): no start.
    const small = observeFresh(initialFreshStarts(), [0], 30, 100, false);
    expect(startsHere(small, 36, 100)).toBe(false);
    expect(startsHere(small, 60, 100)).toBe(true);
  });

  it('costs a regression from the first window only the fresh starts weight', () => {
    const ws = [2, 2, 2];
    const state = ws.reduce((s, w) => observeFresh(s, [w], 100, REQUESTS, false), initialFreshStarts());
    // Before any start, the starts to come weigh 1 each: a judge that has seen nothing reads 1.
    expect(withFreshStarts(0, initialFreshStarts(), [1])).toBeCloseTo(0, 12);
    // A judge that keeps no fresh starts (or has tested nothing yet) is its product alone.
    expect(withFreshStarts(3, undefined, [1])).toBe(3);
    expect(withFreshStarts(6, state, [1])).toBeCloseTo(
      Math.log((1 - FRESH_WEIGHT - TIMED_WEIGHT) * Math.exp(6) + FRESH_WEIGHT + TIMED_WEIGHT),
      12,
    );
    // A start carries its weight times the windows' product from there.
    const started = observeFresh(state, [1.5], 300, REQUESTS, true);
    expect(started.logR?.[0]).toBeCloseTo(Math.log(FRESH_WEIGHT / FRESH_STARTS) + 1.5, 12);
  });

  it('reaches 1/α on at most α of good runs, looked at every window', () => {
    // 4,000 runs of 36 windows of mean-1 e-values (σ 1): Ville's bound is 1%.
    let product = 0;
    let fresh = 0;
    for (let seed = 1; seed <= 4_000; seed++) {
      const ws = windows(seed, 36, 36, 0);
      if (crossing(ws, false) >= 0) product++;
      if (crossing(ws, true) >= 0) fresh++;
    }
    // Measured: 23 runs with the fresh starts, 24 without.
    expect(fresh).toBeLessThanOrEqual(40);
    expect(product).toBeLessThanOrEqual(40);
  });

  it('starts timed products where no step comes, weighing TIMED_WEIGHT together however many', () => {
    let state: FreshStartState | undefined;
    for (let i = 0; i < 400; i++)
      state = foldFresh(state, { canary: 200, total: REQUESTS, windows: i, warming: false }, () => [0]);
    // One a window from FRESH_AFTER, none at a step.
    expect(state?.timed).toBe(400 - FRESH_AFTER);
    expect(state?.starts).toBe(0);
    // Each started product of no evidence still weighs its start: with the starts to come they sum to
    // TIMED_WEIGHT, so the judge reads 1 as before any start.
    expect(withFreshStarts(0, state, [1])).toBeCloseTo(0, 12);
    expect(timedWeight(1)).toBeCloseTo(TIMED_WEIGHT / 2, 15);
    // A warming canary starts none.
    const warming = foldFresh(undefined, { canary: 200, total: REQUESTS, windows: 50, warming: true }, () => [
      0,
    ]);
    expect(warming.timed).toBeUndefined();
  });

  it('catches a regression arriving late in a held release sooner, and keeps α', () => {
    // 4,000 good runs of 60 windows (a 10-minute hold), σ 1 and σ 3: Ville's bound is 1%.
    let good = 0;
    let large = 0;
    for (let seed = 1; seed <= 4_000; seed++) {
      if (heldCrossing(windows(seed, 60, 60, 0), true) >= 0) good++;
      if (heldCrossing(windows(seed, 60, 60, 0, 3), true) >= 0) large++;
    }
    // Measured: 22 and 7.
    expect(good).toBeLessThanOrEqual(40);
    expect(large).toBeLessThanOrEqual(40);
    // Windows that carry much (σ 3: a good one sinks 4.5 nats on average, as a large alternative's
    // does at 1,000 requests/s), from window 36 each gaining 15 nats: the product has sunk about 160
    // nats by then.
    const timed: number[] = [];
    const product: number[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const ws = windows(seed, 60, 36, 15, 3);
      timed.push(heldCrossing(ws, true) - 36);
      product.push(heldCrossing(ws, false) - 36);
    }
    const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)] as number;
    // Measured: the window after the onset with timed starts, the 15th without.
    expect(median(timed)).toBeLessThanOrEqual(2);
    expect(median(product)).toBeGreaterThanOrEqual(10);
  });

  it('catches a regression that starts at a step up sooner than the product that sank before it', () => {
    // A good canary for 24 windows (its product sinks by σ²/2 a window), then each window gains 1.5
    // nats on average: the product climbs out of about −12 first.
    const later: number[] = [];
    const product: number[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const ws = windows(seed, 60, 24, 1.5);
      later.push(crossing(ws, true) - 24);
      product.push(crossing(ws, false) - 24);
    }
    const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)] as number;
    // Before the onset, as often as the product alone (3 of 200, the good canary's α).
    expect(later.filter((d) => d < 0).length).toBeLessThanOrEqual(product.filter((d) => d < 0).length);
    // Measured: 7 windows after the onset with fresh starts, 16 without.
    expect(median(later)).toBeLessThanOrEqual(8);
    expect(median(product)).toBeGreaterThanOrEqual(13);
  });
});
