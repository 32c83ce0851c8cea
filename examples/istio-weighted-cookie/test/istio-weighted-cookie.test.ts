import { expectShare } from '@kanary/testkit/vitest';
import { expect, it } from 'vitest';
import { main } from '../src/main.ts';

it('10% of everyone, then half of the company by cookie and nobody else', async () => {
  const { final, checks } = await main(() => {});
  expect(final.phase).toBe('succeeded');
  expectShare(Math.round((checks.everyone ?? 0) * 4_000), 4_000, 0.1, 'everyone at 10%');
  expectShare(Math.round((checks.company ?? 0) * 4_000), 4_000, 0.5, 'company at 50%');
  expect(checks.others).toBe(0);
});
