import { expect, it } from 'vitest';
import { main } from '../src/main.ts';

it('previews green while users stay on blue, then switches every user to green', async () => {
  const { final, seen } = await main(() => {});
  expect(final.phase).toBe('succeeded');
  expect(seen.preview).toEqual([final.targets.canary?.name]);
  expect(seen.activeBefore).toEqual(['py-hello-blue']);
  expect(seen.activeAfter).toEqual([final.targets.canary?.name]);
});
