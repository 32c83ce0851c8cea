import { cappedWindow, stallCap } from '@kanary/metrics';
import { describe, expect, it } from 'vitest';

describe('stall cap: how much one window may count where a side stalls now and then', () => {
  it('caps nothing without stalls', () => {
    expect(stallCap(3, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(cappedWindow(42, stallCap(3, 0), 0)).toBe(42);
  });

  it('never lets one window move the test by log(1/p) or more, nor by more than its own evidence', () => {
    for (const rate of [0.001, 0.008, 0.03, 0.1])
      for (const growth of [0.001, 0.05, 0.5, 5, 50, 500])
        for (const logE of [-8, -1, 0, 0.5, 3, 20, 400]) {
          const capped = cappedWindow(logE, stallCap(growth, rate), rate);
          expect(capped).toBeLessThan(Math.log(1 / rate));
          expect(capped).toBeLessThanOrEqual(logE);
        }
  });

  it('holds windows that could decide alone to a few nats, and leaves small ones almost whole', () => {
    const rate = 0.008;
    // A window whose alternative expects 40 nats counts at most log(1/p) ≈ 4.8.
    expect(cappedWindow(60, stallCap(40, rate), rate)).toBeGreaterThan(4);
    // One expecting 0.5 nats and getting them keeps most of them (its cap far above, its divisor small).
    const small = cappedWindow(0.5, stallCap(0.5, rate), rate);
    expect(small).toBeGreaterThan(0.4);
    // Caps rise with what a window can carry.
    const caps = [0.01, 0.1, 1, 10, 100].map((g) => stallCap(g, rate));
    caps.slice(1).forEach((c, i) => {
      expect(c).toBeGreaterThanOrEqual(caps[i] as number);
    });
  });
});
