import { type Cluster, type KubeObject, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { kanary, tempWriter } from './support.ts';

/**
 * Article 000 as its reader does it: `kubectl create deployment nginx01 --image=nginx:1.14
 * --replicas=4` and `kubectl expose … --type=NodePort`, then a rolling update held after a few new
 * pods, the new pods reached on a NodePort Service of their own, and `rollout resume` — here one
 * `kanary run` holding at a pause, and `kanary promote` from a second shell. On the wall clock
 * against the emulator, while users call the reader's Service.
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});
const write = tempWriter('kanary-article-000-');

/** The objects as kubectl creates them (its generators' labels, names and defaults). */
const nginx01 = (image: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'nginx01', namespace: 'wyq', labels: { app: 'nginx01' } },
  spec: {
    replicas: 4,
    selector: { matchLabels: { app: 'nginx01' } },
    template: {
      metadata: { labels: { app: 'nginx01' } },
      spec: { containers: [{ name: 'nginx', image, ports: [{ containerPort: 80 }] }] },
    },
  },
});
const exposed: KubeObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'nginx01', namespace: 'wyq', labels: { app: 'nginx01' } },
  spec: {
    type: 'NodePort',
    selector: { app: 'nginx01' },
    ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
  },
};

/** Which images answered `n` users calling a Service. */
function imagesBehind(c: Cluster, service: string, n = 200): Map<string, number> {
  return c.traffic.sampleBy(
    { kind: 'service', namespace: 'wyq', service },
    n,
    (served) => (served.pod.spec as { containers: Array<{ image: string }> }).containers[0]?.image ?? '?',
  );
}
const phaseOf = (c: Cluster) => {
  const cm = c.get('ConfigMap', 'wyq', 'kanary-nginx01');
  const data = cm?.data as Record<string, string> | undefined;
  return data
    ? (JSON.parse(data['state.json'] ?? '{}') as { phase: string; cursor: { step: number } })
    : undefined;
};
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}
const replicaSets = (c: Cluster) =>
  c
    .list('ReplicaSet', 'wyq')
    .map((rs) => rs.metadata.name)
    .sort();

describe('article 000: a rolling update held part-way, the new pods on a NodePort of their own', () => {
  it('holds with one new pod behind its own NodePort and the reader’s Service on the old pods, then promote finishes the update and leaves the Deployment as kubectl set image would', async () => {
    // Pods ready a second after creation (a container start). The burst's new pod is held
    // unavailable until an old one is retired in its place and the Deployment paused, so no timing
    // lets the controller add a second batch.
    cluster = await startCluster({ time: 'real', podReadyAfterMs: 1_000, namespaces: ['wyq'] });
    const c = cluster;
    c.apply(nginx01('nginx:1.14'), exposed);
    await until(() => imagesBehind(c, 'nginx01', 20).get('nginx:1.14') === 20, 'the reader’s pods');
    const kubeconfig = write('kubeconfig', c.kubeConfig.exportConfig());
    const before = structuredClone(c.get('Deployment', 'wyq', 'nginx01')!.spec) as Record<string, unknown>;
    const path = write(
      'nginx01.yaml',
      stringify({
        rollout: {
          name: 'nginx01',
          namespace: 'wyq',
          target: { name: 'nginx01', service: 'nginx01' },
          update: { image: 'nginx:1.20.1' },
          strategy: {
            type: 'rolling',
            canaryService: { name: 'nginx02', type: 'NodePort', nodePort: 31244 },
          },
          // One pod of four, then held until someone says go on (the article's `rollout pause`).
          steps: [{ setWeight: 25 }, { pause: {} }],
        },
      }),
    );
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    const run = kanary(['run', ...k]);
    await until(() => phaseOf(c)?.phase === 'paused' && phaseOf(c)?.cursor.step === 1, 'the hold');

    // Held: the new pod alone behind the NodePort Service, the reader's Service on the old ones.
    expect([...imagesBehind(c, 'nginx02')]).toEqual([['nginx:1.20.1', 200]]);
    expect([...imagesBehind(c, 'nginx01')]).toEqual([['nginx:1.14', 200]]);
    expect(c.get('Service', 'wyq', 'nginx02')?.spec).toMatchObject({
      type: 'NodePort',
      ports: [{ port: 80, nodePort: 31244 }],
    });
    const pods = c
      .list('Pod', 'wyq')
      .map((p) => (p.spec as { containers: Array<{ image: string }> }).containers[0]?.image);
    expect(pods.filter((i) => i === 'nginx:1.20.1')).toHaveLength(1);
    // One of four pods on the new version: the step's 25% (the article's own pause, typed right after
    // `set image`, caught the controller with every old pod still up, and a second new one).
    expect(pods.filter((i) => i === 'nginx:1.14')).toHaveLength(3);
    const status = await kanary(['status', ...k]);
    expect(status.out).toMatch(
      /paused at step 2\/2 \(pause until promoted\)\n {2}pods +25% on the new version/,
    );

    // `rollout resume`: the reader says go on.
    const promoted = await kanary(['promote', ...k]);
    expect(promoted.code).toBe(0);
    const result = await run;
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect([...imagesBehind(c, 'nginx01')]).toEqual([['nginx:1.20.1', 200]]);
    expect(c.get('Service', 'wyq', 'nginx02')).toBeUndefined();
    expect(c.get('Service', 'wyq', 'nginx01')?.spec).toMatchObject({ selector: { app: 'nginx01' } });

    // The Deployment as `kubectl set image` would have left it: the image, and nothing of Kanary's.
    const after = c.get('Deployment', 'wyq', 'nginx01')!;
    const expected = structuredClone(before) as {
      template: { spec: { containers: Array<{ image: string }> } };
    };
    (expected.template.spec.containers[0] as { image: string }).image = 'nginx:1.20.1';
    expect(after.spec).toEqual(expected);
    expect(Object.keys(after.metadata.annotations ?? {}).filter((a) => a.startsWith('kanary.dev/'))).toEqual(
      [],
    );
    // Re-applying the reader's manifest with the new image changes nothing: no new ReplicaSet, no restart.
    const sets = replicaSets(c);
    c.apply(nginx01('nginx:1.20.1'));
    await new Promise((r) => setTimeout(r, 200));
    expect(replicaSets(c)).toEqual(sets);
  });
});
