import { expectShare } from '@kanary/testkit/vitest';
import { expect, it } from 'vitest';
import { main } from '../src/main.ts';

it('turns 20% and 60% into 1 and 3 of 5 pods, and traffic follows', async () => {
  const { final, observed } = await main(() => {});
  expect(final.phase).toBe('succeeded');
  expect(observed.map((o) => o.weight)).toEqual([20, 60]);
  for (const o of observed)
    expectShare(Math.round(o.canaryShare * 5_000), 5_000, o.weight / 100, `${o.weight}%`);
});
