import { expectShare } from '@kanary/testkit/vitest';
import { expect, it } from 'vitest';
import { main } from '../src/main.ts';

it('80/20 by backendRef weight, testers always on the canary, route restored at the end', async () => {
  const { final, checks, restored } = await main(() => {});
  expect(final.phase).toBe('succeeded');
  expectShare(Math.round((checks.everyone ?? 0) * 4_000), 4_000, 0.2, '20%');
  expect(checks.testers).toBe(1);
  expect(restored).toBe(true);
});
