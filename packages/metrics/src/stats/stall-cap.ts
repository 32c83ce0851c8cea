import { normalCdf } from './normal.ts';

/**
 * How much one window may count where a side stalls now and then.
 *
 * The shape test's window e-value e has mean at most 1 when the sides' own shifts are the
 * Gaussian the allowance pays for (own-shift.ts). A stall — the canary's whole window slower by
 * an unknown, possibly large factor, with chance p — is not: e then grows without bound. Capped
 * at C and divided by what a stall could make of the cap,
 *   e' = min(e, C) / (1 − p + p·C)
 * has mean at most 1 whatever the stall's size: without one, E[min(e, C)] ≤ E[e] ≤ 1 (a stalled
 * baseline only makes the canary look faster); with one, min(e, C) ≤ C. A window then moves the
 * test by at most log C − log(1 − p + p·C) < log(1/p): a regression needs more than one window where
 * a single stall could have made it, and none of its windows is weighed less than that.
 *
 * C is chosen per window before its requests, from what the shape's alternative would make of it:
 * log e is then about normal with mean G = λ·n_eff·v/2 and variance 2G (v a request's score
 * variance, λ the allowance's bet), and C minimises the growth it gives up, the part of log e above
 * log C plus the divisor's log. Small windows keep a cap far above what they can reach and pay
 * about p·(C − 1); a window that could decide alone is held to a few nats. C is at most 1/p: the
 * divisor is paid by every window, a good canary's too, and above 1/p it grows as fast as the cap
 * (at C = e¹⁴ a shape lost 10 nats a window under the null, and a regression starting after thirty
 * windows took many more to climb out).
 */

/** Caps tried, in nats: fine where windows carry little, up to log(1/p) at most. */
const CAPS = Array.from({ length: 48 }, (_, i) => 0.02 * 1.15 ** i);

/** log C for one window: `growth` the alternative's expected log e (G), `rate` the stall chance p. */
export function stallCap(growth: number, rate: number): number {
  if (!(rate > 0)) return Number.POSITIVE_INFINITY;
  const g = Math.max(growth, 1e-9);
  const sd = Math.sqrt(2 * g);
  let best = Number.POSITIVE_INFINITY;
  let cap = Number.POSITIVE_INFINITY;
  const most = Math.log(1 / rate);
  for (const c of CAPS) {
    if (c > most) break;
    // E[(X − c)+] for X ~ N(G, 2G), plus the divisor's log.
    const d = (c - g) / sd;
    const above = (sd * Math.exp((-d * d) / 2)) / Math.sqrt(2 * Math.PI) - (c - g) * (1 - normalCdf(d));
    const loss = above + stallDivisor(c, rate);
    if (loss < best) {
      best = loss;
      cap = c;
    }
  }
  return cap;
}

/** log(1 − p + p·C) for log C = `cap`. */
export const stallDivisor = (cap: number, rate: number): number => Math.log1p(rate * Math.expm1(cap));

/** A window's log e-value capped at `cap` (log C) and divided by what a stall could make of it. */
export const cappedWindow = (logE: number, cap: number, rate: number): number =>
  cap === Number.POSITIVE_INFINITY ? logE : Math.min(logE, cap) - stallDivisor(cap, rate);
