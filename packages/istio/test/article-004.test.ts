import { awaitingDecision, type RolloutState } from '@kanary/core';
import { type Cluster, expectShare } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { istioRollout, startIstioWeb } from './support.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

/**
 * Article 004's mixed strategy, through the SDK as its reader (who writes code, not manifests) would:
 * users of a chosen version group (a header) get the new version, everyone else by weight, widened
 * step by step, then promoted — weights and versions combined (2.2–2.4 of the article).
 */
it('article 004: a version group by header gets the new version while the rest move by weight, then everyone', async () => {
  cluster = await startIstioWeb(11, 4);
  const rollout = istioRollout(cluster, {
    strategy: {
      type: 'headerMatch',
      match: [{ headers: [{ name: 'x-user-group', exact: 'beta' }] }],
      weight: 100,
    },
    steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
    scaleDownDelay: '0s',
  });
  const entry = { kind: 'istio' as const, host: 'web', namespace: 'default' };
  const beta = { headers: { 'x-user-group': 'beta' } };
  const atPause = (step: number) =>
    new Promise<RolloutState>((resolve) =>
      rollout.on('state', (s) => awaitingDecision(s) && s.cursor.step === step && resolve(s)),
    );
  const running = rollout.run();

  // Step 0 is the version group's route; the pauses are steps 2 and 4.
  await cluster.run(atPause(2));
  expect(cluster.traffic.shareServed(entry, 'web-canary', beta, 1_000)).toBe(1);
  expectShare(cluster.traffic.sample(entry, 4_000).get('web-canary') ?? 0, 4_000, 0.2, 'the rest at 20%');

  const second = atPause(4);
  await cluster.run(rollout.promote());
  await cluster.run(second);
  expect(cluster.traffic.shareServed(entry, 'web-canary', beta, 1_000)).toBe(1);
  expectShare(cluster.traffic.sample(entry, 4_000).get('web-canary') ?? 0, 4_000, 0.5, 'the rest at 50%');

  await cluster.run(rollout.promote());
  expect((await cluster.run(running)).phase).toBe('succeeded');
  // Everyone, beta or not, on the new version, served by the reader's own Deployment.
  const after = cluster.traffic.sample(entry, 1_000, { share: 1, ...beta });
  expect([...after.keys()]).toEqual(['web']);
  const image = (
    cluster.get('Deployment', 'default', 'web')!.spec as {
      template: { spec: { containers: Array<{ image: string }> } };
    }
  ).template.spec.containers[0]?.image;
  expect(image).toBe('web:2');
});
