import { awaitingDecision, type RolloutState } from '@kanary/core';
import type { Cluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { istioRollout, startIstioWeb } from './support.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

/**
 * Article 004's mixed strategy, through the SDK as its reader (who writes code, not manifests) would:
 * users of a chosen version group (a header) get the new version, everyone else by weight — a share
 * of users, each user staying with the version chosen for them (2.2's `selected_users`) — widened
 * step by step, then promoted: weights and versions combined (2.2–2.4 of the article).
 */
it('article 004: a version group by header gets the new version while a growing share of users follows, then everyone', async () => {
  cluster = await startIstioWeb(11, 4);
  const rollout = istioRollout(cluster, {
    strategy: { type: 'weighted', hashOn: { header: 'x-user-id', keys: 'decimal' } },
    steps: [
      { setHeaderRoute: { name: 'beta', match: [{ headers: [{ name: 'x-user-group', exact: 'beta' }] }] } },
      { setWeight: 20 },
      { pause: {} },
      { setWeight: 50 },
      { pause: {} },
    ],
    scaleDownDelay: '0s',
  });
  const entry = { kind: 'istio' as const, host: 'web', namespace: 'default' };
  const beta = { headers: { 'x-user-group': 'beta' } };
  const users = Array.from({ length: 500 }, (_, i) => ({ headers: { 'x-user-id': String(1_000 + i) } }));
  const chosen = () => {
    const served = cluster.traffic.servedPerUser(entry, users);
    expect(served.filter((w) => w === 'mixed')).toEqual([]);
    return new Set(served.flatMap((w, i) => (w === 'web-canary' ? [i] : [])));
  };
  const atPause = (step: number) =>
    new Promise<RolloutState>((resolve) =>
      rollout.on('state', (s) => awaitingDecision(s) && s.cursor.step === step && resolve(s)),
    );
  const running = rollout.run();

  await cluster.run(atPause(2));
  expect(cluster.traffic.shareServed(entry, 'web-canary', beta, 1_000)).toBe(1);
  const at20 = chosen();
  expect(at20.size).toBe(100);

  const second = atPause(4);
  await cluster.run(rollout.promote());
  await cluster.run(second);
  expect(cluster.traffic.shareServed(entry, 'web-canary', beta, 1_000)).toBe(1);
  const at50 = chosen();
  expect(at50.size).toBe(250);
  expect([...at20].filter((u) => !at50.has(u))).toEqual([]);

  await cluster.run(rollout.promote());
  expect((await cluster.run(running)).phase).toBe('succeeded');
  // Everyone, beta or not, on the new version, served by the reader's own Deployment.
  const after = cluster.traffic.sample(entry, 1_000, { share: 1, ...beta });
  expect([...after.keys()]).toEqual(['web']);
  expect(new Set(cluster.traffic.servedPerUser(entry, users.slice(0, 50)))).toEqual(new Set(['web']));
  const image = (
    cluster.get('Deployment', 'default', 'web')!.spec as {
      template: { spec: { containers: Array<{ image: string }> } };
    }
  ).template.spec.containers[0]?.image;
  expect(image).toBe('web:2');
});
