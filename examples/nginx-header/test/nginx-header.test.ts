import { expectShare } from '@kanary/testkit/vitest';
import { expect, it } from 'vitest';
import { main } from '../src/main.ts';

it('QA by header at 0%, then 10% of everyone with QA still pinned to the canary', async () => {
  const { final, checks } = await main(() => {});
  expect(final.phase).toBe('succeeded');
  expect(checks.map((c) => [c.weight, c.qa])).toEqual([
    [0, 1],
    [10, 1],
  ]);
  expect(checks[0]?.everyone).toBe(0);
  expectShare(Math.round((checks[1]?.everyone ?? 0) * 4_000), 4_000, 0.1, '10%');
});
