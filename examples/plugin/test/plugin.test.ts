import { expect, it } from 'vitest';
import { main } from '../src/main.ts';

it("runs through the host's KubeConfig and logger and promotes", async () => {
  const { result, logs, requests, pods } = await main({ print: () => {} });
  expect(result.phase).toBe('succeeded');
  expect(requests).toBeGreaterThan(10);
  expect(logs.filter((l) => l.msg === 'kanary step').map((l) => l.fields?.step)).toEqual([
    'set weight 25%',
    'pause 200ms',
    'set weight 50%',
    'pause 200ms',
    'set weight 100%',
    'pause 200ms',
  ]);
  expect(new Set(pods)).toEqual(new Set(['ledger:8']));
}, 30_000);

it("the host's cancellation rolls the release back instead of leaving it half done", async () => {
  const { result, pods } = await main({ print: () => {}, cancelAfterMs: 150 });
  expect(result).toEqual({ phase: 'aborted', abort: 'cancelled by the host' });
  expect(new Set(pods)).toEqual(new Set(['ledger:7']));
}, 30_000);
