import { formatStatus } from '@kanary/cli';
import type { RolloutState } from '@kanary/core';
import { initialState } from '@kanary/core/testing';
import { expect, it } from 'vitest';

it('status says verdicts in words, held reasons in commands, and routes with their match', () => {
  const base = initialState({ namespace: 'shop', name: 'web' }, 'digest', 0);
  const state: RolloutState = {
    ...base,
    phase: 'paused',
    cursor: { section: 'steps', step: 1, action: 0 },
    held: {
      at: 0,
      kind: 'unready',
      side: 'canary',
      reason: 'the canary has no ready pods; resume() once it has ready pods, or abort()',
      restart: false,
    },
    headerRoutes: {
      qa: { name: 'qa', weight: 100, match: [{ headers: [{ name: 'x-qa', prefix: 'yes' }] }] },
    },
    analysis: {
      key: 'steps[1]',
      startedAt: 0,
      phase: 'running',
      measurements: [
        { metric: 'errors', phase: 'successful', at: 0 },
        { metric: 'latency', phase: 'nodata', at: 0 },
      ],
    },
  };
  const text = formatStatus(state, undefined, 0);
  expect(text).toMatch(
    /analysis\s+steps\[1\] running \(errors no sign of regression, latency waiting for data\)/,
  );
  expect(text).toMatch(
    /held\s+unready: the canary has no ready pods; `kanary resume` once it has ready pods, or `kanary abort`/,
  );
  expect(text).toMatch(/route\s+qa: header x-qa starts with "yes" → 100% to the canary/);
  expect(text).not.toMatch(/\w\(\)/);
});
