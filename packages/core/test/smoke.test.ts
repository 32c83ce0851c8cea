import { describe, expect, it } from 'vitest';
import { harness } from './harness.ts';

describe('smoke', () => {
  for (const strategy of ['weighted', 'headerMatch', 'rolling', 'blueGreen', 'replicaRatio'] as const) {
    it(`${strategy} runs to success`, async () => {
      const h = harness(strategy);
      const final = await h.runToEnd();
      expect(final.phase).toBe('succeeded');
      expect(final.outcome).toBe('promoted');
    });
  }
});
