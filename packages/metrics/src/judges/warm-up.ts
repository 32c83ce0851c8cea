import { parseDuration } from '@kanary/core/adapter';
import { logWeightedSumExp } from '../stats/log-sum-exp.ts';

/** A judge's warm-up allowance: how long, and how much worse the canary may be meanwhile. */
export interface WarmUpOption {
  duration: string | number;
  tolerance: number;
}

/** What a judge keeps in its state to end the allowance on time, also across a resume. */
export interface WarmUpClock {
  /** When the last look that moved the counters was (ms): where the next window starts. */
  lastAt?: number;
  /** When the canary's allowance ends, set by the first window it served in. */
  warmUntil?: number;
}

export const warmUpMs = (option: WarmUpOption | undefined) =>
  option && parseDuration(option.duration, 'warmUp.duration');

/**
 * Whether the window ending now is inside the canary's allowance: the allowance starts with the
 * first window in which the canary served (its start, the last look) and lasts `ms`. A window is
 * warming if it started before the end, so the allowance is never cut short by a late look.
 */
export function warmUpWindow(
  prev: WarmUpClock,
  at: number,
  canaryServed: boolean,
  ms: number | undefined,
): { warming: boolean; warmUntil?: number } {
  const from = prev.lastAt ?? at;
  const warmUntil = prev.warmUntil ?? (ms !== undefined && canaryServed ? from + ms : undefined);
  return {
    warming: ms !== undefined && warmUntil !== undefined && from < warmUntil,
    ...(warmUntil !== undefined ? { warmUntil } : {}),
  };
}

/**
 * The weight of the test over the windows after the allowance, beside the one over every window.
 * A canary within the allowance pulls the first test down while it warms up (its windows are
 * evidence for the null); where the allowance was looser than the warm-up, a regression that shows
 * after it would have to climb back first, and cost more than `initialDelay`, which starts afresh.
 * The second test does start afresh; the average of the two is an e-process too (fixed weights).
 * Chosen with the detection benchmark's tuning seeds (docs/decisions.md, session 53): at 0.2 a
 * matched allowance costs 4% more than without the second test, one looser than the warm-up 9%
 * more than `initialDelay` (31% without it).
 */
export const SETTLED_WEIGHT = 0.2;

/** log of the weighted average of the test over every window and the one over the settled windows. */
export const withSettled = (all: number, settled: number) =>
  logWeightedSumExp([all, settled], [1 - SETTLED_WEIGHT, SETTLED_WEIGHT]);
