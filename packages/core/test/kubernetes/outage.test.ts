import {
  createKubernetesRollout,
  type HookContext,
  type RolloutSpecInput,
  type RolloutState,
} from '@kanary/core';
import { createScriptedGate } from '@kanary/core/testing';
import { type Cluster, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, service } from './fixtures.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

const SPEC: RolloutSpecInput = {
  name: 'web',
  target: { name: 'web', service: 'web' },
  update: { image: 'web:2' },
  strategy: { type: 'replicaRatio', maxSurge: '25%' },
  steps: [
    { setWeight: 25 },
    { pause: { duration: '1m' } },
    { analysis: { name: 'check', metrics: [{ name: 'errors', interval: '30s', count: 3 }] } },
    { setWeight: 50 },
  ],
  scaleDownDelay: '5s',
  abortScaleDownDelay: '5s',
};

type Phase = 'step' | 'pause' | 'analysis' | 'hook waiting' | 'abort';

/**
 * An API outage while the rollout is in `phase`. With nobody else holding the Lease, the driver
 * stops writing when its renewals lapse, rides the outage out, takes the Lease back, and the
 * release ends as it would have without the outage.
 */
async function withOutage(phase: Phase, outageMs: number) {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 5 });
  cluster.apply(deployment('web', 'default', 'web:1', 4), service('web', 'default', { app: 'web' }));
  await cluster.virtualClock!.advance(1_000);
  const clock = cluster.clock;
  let outageEnds = Number.POSITIVE_INFINITY;
  let started = false;
  let abortSent = false;
  const startOutage = () => {
    if (started) return;
    started = true;
    outageEnds = clock.now() + outageMs;
    cluster.faults.outage(outageMs);
  };
  const hookCalls: number[] = [];
  const interrupted: string[] = [];
  // A person who answers one minute after the outage ends (the chat bot's click); at once otherwise.
  const confirm = async (ctx: HookContext) => {
    hookCalls.push(clock.now());
    if (phase === 'hook waiting') startOutage();
    while (phase === 'hook waiting' && clock.now() < outageEnds + 60_000) {
      await clock.sleep(1_000, ctx.signal);
      if (ctx.signal.aborted) {
        interrupted.push('confirm-promotion');
        throw new Error('interrupted');
      }
    }
  };
  const rollout = createKubernetesRollout({
    spec: SPEC,
    kubeConfig: cluster.kubeConfig,
    clock,
    lockTtl: '15s',
    pollInterval: '1s',
    gate: createScriptedGate({ script: { check: ['running', 'running', 'successful'] } }),
    hooks: { 'confirm-promotion': confirm },
  });
  rollout.on('state', (s) => {
    if (phase === 'pause' && s.phase === 'paused') startOutage();
    if (phase === 'analysis' && s.phase === 'analyzing') startOutage();
    if (phase === 'abort' && s.phase === 'paused' && !abortSent) {
      abortSent = true;
      queueMicrotask(() => {
        void rollout.abort('operator').catch(() => undefined);
      });
    }
    if (phase === 'abort' && s.phase === 'aborting') startOutage();
  });
  // A step: the outage begins as the second weight change starts (pods moving between the sides).
  rollout.on('action', ({ action, status }) => {
    if (
      phase === 'step' &&
      status === 'started' &&
      action.type === 'router.setWeight' &&
      action.weight === 50
    )
      startOutage();
  });
  const leadership: string[] = [];
  rollout.on('leadership', (e) => leadership.push(e.status));
  const final: RolloutState = await cluster.run(rollout.run(), { maxMs: 3 * 3_600_000 });
  return { final, hookCalls, interrupted, leadership, outageEnds };
}

describe('an API outage is not a verdict', () => {
  for (const outageMs of [20_000, 120_000, 600_000]) {
    for (const phase of ['step', 'pause', 'analysis', 'hook waiting', 'abort'] as const) {
      it(`${outageMs / 1000}s outage during ${phase}: the driver rides it out and the release ends as it would have`, async () => {
        const { final, hookCalls, interrupted, leadership, outageEnds } = await withOutage(phase, outageMs);
        expect(Number.isFinite(outageEnds)).toBe(true);
        // A step that cannot progress for the whole progress deadline (10m) is rolled back, outage or not.
        const deadline = phase === 'step' && outageMs >= 600_000;
        expect(final.phase).toBe(phase === 'abort' || deadline ? 'aborted' : 'succeeded');
        expect(final.abort?.cause).toBe(phase === 'abort' ? 'user' : deadline ? 'deadline' : undefined);
        expect(final.history.filter((h) => h.event === 'failed')).toEqual([]);
        // Longer than the renew deadline (10s): the driver stopped, then took its Lease back.
        expect(leadership.filter((s) => s === 'lost').length).toBeGreaterThanOrEqual(1);
        expect(leadership.filter((s) => s === 'acquired').length).toBeGreaterThanOrEqual(2);
        if (phase === 'hook waiting') {
          // The hook was interrupted, never turned into a rollback, and asked again by the successor term.
          expect(interrupted).toEqual(['confirm-promotion']);
          expect(hookCalls.length).toBe(2);
          expect(hookCalls[1]).toBeGreaterThanOrEqual(outageEnds);
        }
        expect(cluster.get('Deployment', 'default', 'web')).toBeDefined();
      });
    }
  }
});
