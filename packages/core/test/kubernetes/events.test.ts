import {
  createKubernetesRollout,
  type KubernetesRolloutOptions,
  type Rollout,
  type RolloutState,
} from '@kanary/core';
import { type Cluster, startCluster } from '@kanary/testkit';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, service } from './fixtures.ts';

// Kubernetes Events on the target Deployment, read as `kubectl describe deployment` reads them:
// by involvedObject name, namespace, kind and uid.

let cluster: Cluster;
afterEach(() => cluster?.close());

const spec = {
  name: 'shop',
  target: { name: 'shop', service: 'shop' },
  update: { image: 'shop:2' },
  strategy: { type: 'replicaRatio', maxSurge: 1 },
  steps: [{ setWeight: 25 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: {} }],
  scaleDownDelay: '5s',
};

const reached = (rollout: Rollout, ok: (s: RolloutState) => boolean) =>
  new Promise<void>((resolve) => {
    rollout.on('state', (s) => {
      if (ok(s)) resolve();
    });
  });

async function setup() {
  cluster = await startCluster({ podReadyAfterMs: 1_000 });
  cluster.apply(deployment('shop', 'default', 'shop:1', 4), service('shop', 'default', { app: 'shop' }));
  await cluster.settle();
}

/** A process of its own on the shop's release (`holder`), polling every second. */
const processAs = (holder: string, extra: Partial<KubernetesRolloutOptions> = {}) =>
  createKubernetesRollout({
    spec,
    kubeConfig: cluster.kubeConfig,
    clock: cluster.clock,
    holder,
    pollInterval: '1s',
    ...extra,
  });

async function eventsOf(name: string) {
  const uid = cluster.get('Deployment', 'default', name)?.metadata.uid;
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const list = await core.listNamespacedEvent({
    namespace: 'default',
    fieldSelector: `involvedObject.name=${name},involvedObject.namespace=default,involvedObject.kind=Deployment,involvedObject.uid=${uid}`,
  });
  return list.items
    .filter((e) => e.source?.component === 'kanary')
    .map((e) => ({ type: e.type, reason: e.reason, message: e.message ?? '', by: e.reportingInstance }));
}

describe('Kubernetes Events for each transition', () => {
  it('tells the release step by step on the target, once each, from the process that saved it', async () => {
    await setup();
    const driver = processAs('driver');
    const person = processAs('person');
    const paused = reached(driver, (s) => s.phase === 'paused' && s.cursor.step === 3);
    const run = driver.run();
    await cluster.run(paused);
    // A person promotes from another process: the driver carries it out and says so once.
    await cluster.run(person.promote());
    const final = await cluster.run(run);
    expect(final.phase).toBe('succeeded');
    await cluster.run(cluster.clock.sleep(1_000)); // the last Event goes out after the last save
    const events = await eventsOf('shop');
    const reasons = events.map((e) => e.reason);
    expect(reasons[0]).toBe('ReleaseStarted');
    expect(reasons.filter((r) => r === 'Succeeded')).toHaveLength(1);
    expect(reasons.at(-1)).toBe('Succeeded');
    const weights = events.filter((e) => e.reason === 'WeightChanged').map((e) => e.message);
    expect(weights.slice(0, 2)).toEqual([
      'step 1 of 4: set weight 25%: canary 25%, stable 75%',
      'step 3 of 4: set weight 50%: canary 50%, stable 50%',
    ]);
    expect(weights).toContain('canary 100%, stable 0%');
    // A weight step or a pause has one Event (its WeightChanged, its Paused), not a StepStarted too;
    // the promotion here follows the person's PromoteRequested.
    expect(reasons.filter((r) => r === 'StepStarted')).toEqual([]);
    expect(events.filter((e) => e.reason === 'Paused').map((e) => e.message)).toEqual([
      'paused at step 2 of 4: pause 10s',
      'paused at step 4 of 4: pause until promoted',
    ]);
    expect(reasons.filter((r) => r === 'PromoteRequested')).toHaveLength(1);
    expect(events.every((e) => e.type === 'Normal')).toBe(true);
    // Each Event comes from the process that saved its transition: the person's control from theirs.
    expect(events.filter((e) => e.by === 'person').map((e) => e.reason)).toEqual(['PromoteRequested']);
    await cluster.run(Promise.all([driver.close(), person.close()]));
  });

  it('an abort is a Warning with its reason, then RolledBack; events: false writes none', async () => {
    await setup();
    const rollout = processAs('driver');
    const paused = reached(rollout, (s) => s.phase === 'paused' && s.cursor.step === 1);
    const run = rollout.run();
    await cluster.run(paused);
    await cluster.run(rollout.abort('checkout errors in the canary'));
    expect((await cluster.run(run)).phase).toBe('aborted');
    await cluster.run(cluster.clock.sleep(1_000));
    const events = await eventsOf('shop');
    const aborted = events.find((e) => e.reason === 'Aborted');
    expect(aborted?.type).toBe('Warning');
    expect(aborted?.message).toContain('checkout errors in the canary');
    expect(events.at(-1)?.reason).toBe('RolledBack');
    await cluster.run(rollout.close());

    const quiet = processAs('quiet', { spec: { ...spec, name: 'quiet' }, events: false });
    const before = (await eventsOf('shop')).length;
    const quietPaused = reached(quiet, (s) => s.phase === 'paused' && s.cursor.step === 1);
    const q = quiet.run();
    await cluster.run(quietPaused);
    await cluster.run(quiet.abort('stop'));
    await cluster.run(q);
    expect((await eventsOf('shop')).length).toBe(before);
    await cluster.run(quiet.close());
  });
});
