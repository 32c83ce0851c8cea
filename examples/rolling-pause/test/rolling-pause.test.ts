import { expect, it } from 'vitest';
import { main } from '../src/main.ts';

it('rolls half the pods, holds with the Deployment paused for checks, then finishes on promote', async () => {
  const lines: string[] = [];
  const { final, checks, images } = await main((l) => lines.push(l));
  expect(final.phase).toBe('succeeded');
  expect(checks).toEqual({ newPods: 100, deploymentPaused: 1 });
  expect(new Set(images)).toEqual(new Set(['nginx:1.20.1']));
  expect(lines).toContain('step: roll 50% of pods');
});
