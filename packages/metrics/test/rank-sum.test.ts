import { readFileSync } from 'node:fs';
import { rankSumTest } from '@kanary/metrics';
import { describe, expect, it } from 'vitest';

interface Case {
  name: string;
  x: number[];
  y: number[];
  confidence: number;
  w: number;
  z: number;
  pValue: number;
  estimate: number;
  ci: [number, number];
}

// Computed independently with SciPy (fixtures/rank-sum-reference.py).
const cases = JSON.parse(
  readFileSync(new URL('./fixtures/rank-sum-reference.json', import.meta.url), 'utf8'),
) as Case[];

describe('rank-sum test against independently computed values', () => {
  it.each(cases)('$name', (c) => {
    const r = rankSumTest(c.x, c.y, c.confidence);
    expect(r.w).toBe(c.w);
    expect(r.z).toBeCloseTo(c.z, 9);
    expect(r.pValue).toBeCloseTo(c.pValue, 9);
    const scale = Math.max(...c.x, ...c.y) - Math.min(...c.x, ...c.y);
    expect(Math.abs(r.ci[0] - c.ci[0])).toBeLessThan(scale * 1e-6);
    expect(Math.abs(r.ci[1] - c.ci[1])).toBeLessThan(scale * 1e-6);
    expect(Math.abs(r.estimate - c.estimate)).toBeLessThan(scale * 1e-6);
  });
});
