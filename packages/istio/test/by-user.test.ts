import { awaitingDecision, isKanaryError, type RolloutState } from '@kanary/core';
import type { Cluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { istioRollout, startIstioWeb } from './support.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

const entry = { kind: 'istio' as const, host: 'web', namespace: 'default' };
/** 1,000 users with numeric ids: every value of the last two digits ten times. */
const users = Array.from({ length: 1_000 }, (_, i) => ({ headers: { 'x-user-id': String(40_000 + i) } }));
const onCanary = (served: string[]) => new Set(served.flatMap((w, i) => (w === 'web-canary' ? [i] : [])));

const byUser = {
  type: 'weighted' as const,
  hashOn: { header: 'x-user-id', keys: 'decimal' as const },
};

function atPause(rollout: ReturnType<typeof istioRollout>, step: number): Promise<RolloutState> {
  return new Promise((resolve) =>
    rollout.on('state', (s) => awaitingDecision(s) && s.cursor.step === step && resolve(s)),
  );
}

describe('weight by user (strategy.hashOn) on Istio', () => {
  it('keeps each user on one side, keeps the users of 20% at 50%, and leaves users without a key on stable', async () => {
    cluster = await startIstioWeb(21, 4);
    const before = structuredClone(cluster.get('VirtualService', 'default', 'web'));
    const rollout = istioRollout(cluster, {
      strategy: byUser,
      steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
      scaleDownDelay: '0s',
    });
    const running = rollout.run();

    const first = await cluster.run(atPause(rollout, 1));
    expect(first.weights.canary).toBe(20);
    const at20 = cluster.traffic.servedPerUser(entry, users);
    expect(at20.filter((w) => w === 'mixed')).toEqual([]);
    // Exactly the users whose ids end in 00–19.
    expect([...onCanary(at20)].map((i) => (40_000 + i) % 100).every((d) => d < 20)).toBe(true);
    expect(onCanary(at20).size).toBe(200);
    expect(cluster.traffic.shareServed(entry, 'web', {}, 1_000)).toBe(1);
    expect(first.weights).toMatchObject({ canary: 20, verified: true, effective: 20 });

    const second = atPause(rollout, 3);
    await cluster.run(rollout.promote());
    await cluster.run(second);
    const at50 = cluster.traffic.servedPerUser(entry, users);
    expect(at50.filter((w) => w === 'mixed')).toEqual([]);
    expect(onCanary(at50).size).toBe(500);
    for (const i of onCanary(at20)) expect(at50[i]).toBe('web-canary');

    await cluster.run(rollout.promote());
    expect((await cluster.run(running)).phase).toBe('succeeded');
    expect(new Set(cluster.traffic.servedPerUser(entry, users.slice(0, 100)))).toEqual(new Set(['web']));
    expect(cluster.get('VirtualService', 'default', 'web')).toMatchObject({ spec: before?.spec });
  });

  it('an abort takes every user back to stable and leaves the VirtualService as it was', async () => {
    cluster = await startIstioWeb(22, 4);
    const before = structuredClone(cluster.get('VirtualService', 'default', 'web'));
    const rollout = istioRollout(cluster, {
      strategy: { ...byUser, hashOn: { cookie: 'uid', keys: 'hex' } },
      steps: [{ setWeight: 20 }, { pause: {} }],
      scaleDownDelay: '0s',
    });
    const running = rollout.run();
    const paused = await cluster.run(atPause(rollout, 1));
    // 20% of 256 groups, rounded down: 51 groups, 19.92% of users (never more than the step).
    expect(paused.weights).toMatchObject({ canary: 20, effective: (51 * 100) / 256 });
    // Two users per group, upper and lower case: 'a1b2…' and 'FFEE…'.
    const hexUsers = Array.from({ length: 512 }, (_, i) => {
      const end = (i % 256).toString(16).padStart(2, '0');
      return { cookies: { uid: i < 256 ? `a1b2${end}` : `FFEE${end.toUpperCase()}` } };
    });
    const served = cluster.traffic.servedPerUser(entry, hexUsers);
    expect(served.filter((w) => w === 'mixed')).toEqual([]);
    // The keys ending in 00–32 (both copies of each).
    expect(onCanary(served).size).toBe(102);
    expect([...onCanary(served)].every((i) => i % 256 < 51)).toBe(true);

    await cluster.run(rollout.abort());
    expect((await cluster.run(running)).phase).toBe('aborted');
    expect(new Set(cluster.traffic.servedPerUser(entry, hexUsers))).toEqual(new Set(['web']));
    const after = cluster.get('VirtualService', 'default', 'web');
    expect(after?.spec).toEqual(before?.spec);
    expect(after?.metadata.annotations ?? {}).toEqual(before?.metadata.annotations ?? {});
  });

  it('refuses a weight that reaches no group of users, naming the step and the smallest weight', async () => {
    cluster = await startIstioWeb(23, 1);
    let error: unknown;
    try {
      istioRollout(cluster, {
        strategy: { ...byUser, hashOn: { header: 'x-user-id', keys: 'decimal' } },
        steps: [{ setWeight: 0.5 }, { setWeight: 50 }],
      });
    } catch (e) {
      error = e;
    }
    expect(isKanaryError(error) && error.code).toBe('UNSUPPORTED_CAPABILITY');
    expect(String((error as Error).message)).toMatch(/setWeight 0\.5% reaches no user.*at least 1%/s);
  });
});
