import { parseDuration } from '@kanary/core/adapter';

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
