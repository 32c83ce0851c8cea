import { awaitingDecision, type RolloutState } from '@kanary/core';
import { describe, expect, it } from 'vitest';
import { harness, SPECS } from './harness.ts';

/** A weighted rollout with background analysis only (no inline analysis steps). */
const spec = (noData?: 'inconclusive' | 'fail' | 'pass') => ({
  ...SPECS.weighted,
  steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }, { setWeight: 50 }, { pause: { duration: '5m' } }],
  analysis: {
    name: 'errors',
    metrics: [{ name: 'errors', interval: '30s' }],
    ...(noData ? { noData } : {}),
  },
});

async function runUntilHeldOrEnded(h: ReturnType<typeof harness>) {
  let held: RolloutState | undefined;
  h.rollout.on('state', (s) => {
    if (!held && awaitingDecision(s)) held = s;
  });
  const running = h.rollout.run();
  const final = await h.clock.run(
    Promise.race([
      running,
      new Promise<undefined>((resolve) =>
        h.rollout.on('state', (s) => awaitingDecision(s) && resolve(undefined)),
      ),
    ]),
  );
  return { final, held, running };
}

describe('no evidence is not a pass', () => {
  it('a background analysis that never had data holds for a human before promotion (default)', async () => {
    const h = harness('weighted', { spec: spec(), gate: { script: { errors: ['nodata'] } } });
    const { held, running } = await runUntilHeldOrEnded(h);
    expect(held?.phase).toBe('paused');
    expect(held?.inconclusive?.key).toBe('background');
    expect(held?.background?.message).toMatch(/no evidence is not a pass/);
    // Nothing of the promotion happened: the canary still has the last step's weight.
    expect(h.router?.current.weight).toBe(50);
    expect(h.workload.world.stable.image).toBe('v1');
    await h.rollout.promote();
    const final = await h.clock.run(running);
    expect(final.phase).toBe('succeeded');
    expect(h.workload.world.stable.image).toBe('shop:2');
  });

  it("noData: 'fail' rolls the canary back", async () => {
    const h = harness('weighted', { spec: spec('fail'), gate: { script: { errors: ['nodata'] } } });
    const final = await h.clock.run(h.rollout.run());
    expect(final.phase).toBe('aborted');
    expect(final.abort?.cause).toBe('analysis');
    expect(final.abort?.reason).toMatch(/no evidence is not a pass/);
    expect(h.router?.current.weight).toBe(0);
  });

  it("noData: 'pass' promotes as before, and so does an analysis that had data", async () => {
    for (const [policy, script] of [
      ['pass', ['nodata']],
      [undefined, ['nodata', 'running']],
    ] as const) {
      const h = harness('weighted', { spec: spec(policy), gate: { script: { errors: [...script] } } });
      const paused: string[] = [];
      h.rollout.on('state', (s) => awaitingDecision(s) && paused.push(s.phase));
      const final = await h.clock.run(h.rollout.run());
      expect(final.phase, String(policy)).toBe('succeeded');
      expect(paused).toEqual([]);
      if (policy === 'pass') expect(final.background?.withData ?? 0).toBe(0);
      else expect(final.background?.withData ?? 0).toBeGreaterThan(0);
      // The run ended with the steps, its verdict recorded (it used to stay "running").
      expect(final.background?.phase).toBe('successful');
      expect(final.analyses.background?.phase).toBe('successful');
    }
  });

  it('promoteFull() is a person deciding: it does not wait for evidence', async () => {
    const h = harness('weighted', { spec: spec(), gate: { script: { errors: ['nodata'] } } });
    h.rollout.once('step', () => queueMicrotask(() => void h.rollout.promoteFull()));
    const final = await h.clock.run(h.rollout.run());
    expect(final.phase).toBe('succeeded');
  });
});
