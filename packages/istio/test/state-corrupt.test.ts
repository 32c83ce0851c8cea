import {
  createKubeClient,
  createKubernetesRollout,
  isKanaryError,
  type RolloutSpecInput,
  type RolloutState,
} from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, istioApp, type KubeObject, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

let cluster: Cluster;
afterEach(() => cluster?.close());

const SPEC: RolloutSpecInput = {
  name: 'web',
  target: { name: 'web', service: 'web' },
  update: { image: 'web:2' },
  strategy: { type: 'weighted' },
  steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 60 }],
  abortScaleDownDelay: '5s',
};
/** The VirtualService as the user wrote it. */
const VS_SPEC = istioApp('web', 'default', 'web:1', 4)[3].spec;

function rollout(spec: RolloutSpecInput = SPEC) {
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  return createKubernetesRollout({
    spec,
    client,
    clock: cluster.clock,
    lockTtl: '15s',
    pollInterval: '1s',
    router: createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
  });
}

async function midRollout() {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 8 });
  cluster.apply(...istioApp('web', 'default', 'web:1', 4));
  await cluster.settle();
  const driver = rollout();
  const running = driver.run();
  running.catch(() => undefined);
  const paused = new Promise<void>((resolve) =>
    driver.on('state', (s) => s.phase === 'paused' && s.weights.canary === 30 && resolve()),
  );
  await cluster.run(paused);
  await cluster.run(driver.close());
  const vs = cluster.get('VirtualService', 'default', 'web', 'networking.istio.io') as KubeObject & {
    spec: { http: Array<{ route: unknown[] }> };
  };
  expect(vs.spec.http[0]?.route.length).toBe(2);
}

const setState = (text: string | undefined) => {
  const cm = cluster.get('ConfigMap', 'default', 'kanary-web') as KubeObject & {
    data?: Record<string, string>;
  };
  cluster.apply({ ...cm, data: text === undefined ? {} : { 'state.json': text } });
};

const canaryTraffic = () => {
  let canary = 0;
  for (const [backend, n] of cluster.traffic.sample(
    { kind: 'istio', host: 'web', namespace: 'default' },
    1_000,
  ))
    if (backend !== 'web') canary += n;
  return canary;
};

async function expectRestoredFromSnapshots(reason: string, force: boolean) {
  const final = await cluster.run(rollout().abort(reason, { force }));
  expect(final.phase).toBe('aborted');
  expect(final.abort?.reason).toBe(reason);
  const vs = cluster.get('VirtualService', 'default', 'web', 'networking.istio.io') as KubeObject;
  expect(vs.spec).toEqual(VS_SPEC);
  expect(vs.metadata.annotations ?? {}).toEqual({});
  expect(canaryTraffic()).toBe(0);
  expect(cluster.list('Deployment', 'default').map((d) => d.metadata.name)).toEqual(['web']);
  // The fresh state is sound: the next release starts from it.
  expect((await cluster.run(rollout({ ...SPEC, update: { image: 'web:3' } }).load())).phase).toBe('pending');
}

describe('the saved state is checked, never trusted', () => {
  const CORRUPT: Record<string, () => void> = {
    truncated: () => {
      const cm = cluster.get('ConfigMap', 'default', 'kanary-web') as KubeObject & {
        data: Record<string, string>;
      };
      setState((cm.data['state.json'] as string).slice(0, 200));
    },
    garbage: () => setState('\u0000\u00ffnot json at all'),
    'an empty object': () => setState('{}'),
    'no state.json': () => setState(undefined),
    'a forged "succeeded"': () => {
      const cm = cluster.get('ConfigMap', 'default', 'kanary-web') as KubeObject & {
        data: Record<string, string>;
      };
      setState(JSON.stringify({ ...JSON.parse(cm.data['state.json'] as string), phase: 'succeeded' }));
    },
  };
  for (const [what, corrupt] of Object.entries(CORRUPT)) {
    it(`${what}: drivers and controls refuse with STATE_CORRUPT naming the fix; abort --force restores stable`, async () => {
      await midRollout();
      corrupt();
      for (const attempt of [() => rollout().run(), () => rollout().abort('x'), () => rollout().promote()]) {
        const error = await cluster.run(attempt()).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isKanaryError(error, 'STATE_CORRUPT'), String(error)).toBe(true);
        expect((error as Error).message).toMatch(/default\/web/);
        expect((error as { issues: Array<{ hint?: string }> }).issues[0]?.hint).toMatch(
          /abort\(\{ force: true \}\)/,
        );
      }
      expect(canaryTraffic()).toBeGreaterThan(200);
      await expectRestoredFromSnapshots('state lost', true);
    });
  }

  it('deleted: abort() restores stable from the routing objects snapshots', async () => {
    await midRollout();
    const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
    await cluster.run(
      client.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'kanary-web' }),
    );
    await expectRestoredFromSnapshots('state deleted', false);
  });

  it('from another release in flight: load() refuses with the fix; abort --force restores stable', async () => {
    await midRollout();
    const other = rollout({ ...SPEC, update: { image: 'web:9' } });
    await expect(cluster.run(other.load())).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expectRestoredFromSnapshots('wrong release', true);
  });

  it('from another release in flight: run() rolls that release back with its own saved spec, then starts the new one', async () => {
    await midRollout();
    expect(canaryTraffic()).toBeGreaterThan(200);
    const other = rollout({ ...SPEC, update: { image: 'web:9' } });
    const warnings: string[] = [];
    other.on('warning', (w) => warnings.push(w.message));
    const atFirstPause = new Promise<RolloutState>((resolve) =>
      other.on('state', (s) => s.phase === 'paused' && s.weights.canary === 30 && resolve(s)),
    );
    const running = other.run();
    const paused = await cluster.run(atFirstPause);
    expect(paused.abort).toBeUndefined();
    expect(warnings.join('\n')).toMatch(
      /supersedes the release in flight \(paused\): rolling that one back first/,
    );
    const canary = cluster.get('Deployment', 'default', 'web-canary') as KubeObject & {
      spec: { template: { spec: { containers: Array<{ image: string }> } } };
    };
    expect(canary.spec.template.spec.containers[0]?.image).toBe('web:9');
    await cluster.run(other.abort('done'));
    expect((await cluster.run(running)).phase).toBe('aborted');
  });
});
