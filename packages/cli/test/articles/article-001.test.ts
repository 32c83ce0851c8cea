import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Cluster, type KubeObject, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { kanary, tempWriter, untilSettled } from './support.ts';

/**
 * Article 001 as its reader does it: their own blue and green Deployments and their own Service
 * (with its `color` label), released with the `kanary` CLI and a YAML file, on the wall clock
 * against the emulator, while users keep calling the Service.
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const here = join(import.meta.dirname, '001');
const manifest = (name: string, edit: (o: { spec: { replicas: number } }) => void = () => {}): KubeObject => {
  const o = parse(readFileSync(join(here, name), 'utf8'));
  edit(o);
  return { ...o, metadata: { namespace: 'default', ...o.metadata } } as KubeObject;
};
const write = tempWriter('kanary-article-001-');

const entry = { kind: 'service' as const, namespace: 'default', service: 'py-hello-service' };
/** Users calling the Service every 20 ms while `work` runs: what they got, by image or status. */
async function withUsers<T>(c: Cluster, work: Promise<T>): Promise<{ result: T; seen: Map<string, number> }> {
  const seen = new Map<string, number>();
  let done = false;
  const users = (async () => {
    while (!done) {
      for (const [backend, n] of c.traffic.sample(entry, 20)) seen.set(backend, (seen.get(backend) ?? 0) + n);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    return { result: await work, seen };
  } finally {
    done = true;
    await users;
  }
}
const failures = (seen: Map<string, number>) =>
  [...seen].filter(([k]) => k.startsWith('status-')).reduce((n, [, v]) => n + v, 0);
const selector = (c: Cluster) =>
  (c.get('Service', 'default', 'py-hello-service')!.spec as { selector: Record<string, string> }).selector;
const annotations = (c: Cluster, kind: string, name: string) =>
  Object.keys(c.get(kind, 'default', name)?.metadata.annotations ?? {}).filter((k) =>
    k.startsWith('kanary.dev/'),
  );
const replicas = (c: Cluster, name: string) =>
  (c.get('Deployment', 'default', name)!.spec as { replicas: number }).replicas;
const images = (c: Cluster) => {
  const out = new Map<string, number>();
  for (const [backend, n] of c.traffic.sample(entry, 200)) out.set(backend, (out.get(backend) ?? 0) + n);
  return out;
};

async function start(greenReplicas: number, colour = true) {
  cluster = await startCluster({ time: 'real', podReadyAfterMs: 50 });
  cluster.apply(
    manifest('blue.yaml'),
    manifest('green.yaml', (o) => {
      o.spec.replicas = greenReplicas;
    }),
    // The gray release's Service selects both colours (`app: hello` only); the blue-green one adds `color`.
    manifest('service.yaml', (o) => {
      if (!colour) delete (o.spec as unknown as { selector: Record<string, string> }).selector.color;
    }),
  );
  await untilSettled(cluster, 'default');
  return { cluster, kubeconfig: write(`kubeconfig-${Date.now()}`, cluster.kubeConfig.exportConfig()) };
}

const release = (stable: string, green: string, extra: Record<string, unknown> = {}) =>
  write(
    `release-${stable}-${Date.now()}.yaml`,
    stringify({
      rollout: {
        name: 'py-hello',
        target: { name: stable, service: 'py-hello-service' },
        strategy: {
          type: 'blueGreen',
          activeService: 'py-hello-service',
          green: { name: green, adopt: true },
          autoPromotionSeconds: 1,
          scaleDownDelaySeconds: 1,
        },
        ...extra,
      },
    }),
  );

describe('article 001: blue-green by switching the Service selector, with the reader’s own objects', () => {
  for (const greenReplicas of [1, 0]) {
    it(`switches the reader’s Service from blue to their green (${greenReplicas} replica${greenReplicas === 1 ? '' : 's'} at the start) with no failed request, and leaves the Service as the reader would: color: green`, async () => {
      const { cluster: c, kubeconfig } = await start(greenReplicas);
      const { result, seen } = await withUsers(
        c,
        kanary(['run', '-f', release('py-hello-blue', 'py-hello-green'), '--kubeconfig', kubeconfig]),
      );
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
      expect(failures(seen)).toBe(0);
      expect(seen.get('py-hello-green')).toBeGreaterThan(0);
      // What the reader would have written by hand after the switch, and nothing of Kanary's.
      expect(selector(c)).toEqual({ app: 'hello', color: 'green' });
      expect(annotations(c, 'Service', 'py-hello-service')).toEqual([]);
      expect(replicas(c, 'py-hello-green')).toBe(1);
      expect(replicas(c, 'py-hello-blue')).toBe(0);
      expect([...images(c).keys()]).toEqual(['py-hello-green']);
      // The reader's green as they wrote it: nothing of Kanary's in its template.
      const green = c.get('Deployment', 'default', 'py-hello-green')!;
      expect(
        (green.spec as { template: { metadata: { labels: unknown } } }).template.metadata.labels,
      ).toEqual({
        app: 'hello',
        color: 'green',
      });
    });
  }

  it('gray release by replica ratio with the reader’s green: blue and green pods behind one Service, then blue runs v2 and keeps its own labels', async () => {
    const { cluster: c, kubeconfig } = await start(0, false);
    // Two pods of blue, so a 50% step is one pod of each colour.
    const blue = c.get('Deployment', 'default', 'py-hello-blue')!;
    (blue.spec as { replicas: number }).replicas = 2;
    c.apply(blue);
    await untilSettled(c, 'default');
    const path = write(
      `gray-${Date.now()}.yaml`,
      stringify({
        rollout: {
          name: 'py-hello',
          target: { name: 'py-hello-blue', service: 'py-hello-service' },
          strategy: { type: 'replicaRatio', canary: { name: 'py-hello-green', adopt: true } },
          steps: [{ setWeight: 50 }, { pause: { duration: '1s' } }],
          scaleDownDelay: '1s',
        },
      }),
    );
    const { result, seen } = await withUsers(c, kanary(['run', '-f', path, '--kubeconfig', kubeconfig]));
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(failures(seen)).toBe(0);
    // Both colours served during the step; at the end blue serves v2 with its own colour label.
    expect(seen.get('py-hello-green')).toBeGreaterThan(0);
    expect([...images(c).keys()]).toEqual(['py-hello-blue']);
    const after = c.get('Deployment', 'default', 'py-hello-blue')!.spec as {
      replicas: number;
      template: { metadata: { labels: unknown }; spec: { containers: Array<{ image: string }> } };
    };
    expect(after.template.spec.containers[0]?.image).toBe('localhost:5001/py-http:2');
    expect(after.template.metadata.labels).toEqual({ app: 'hello', color: 'blue' });
    expect(after.replicas).toBe(2);
    expect(replicas(c, 'py-hello-green')).toBe(0);
    expect(c.get('Deployment', 'default', 'py-hello-green')).toBeDefined();
    expect(selector(c)).toEqual({ app: 'hello' });
    expect(annotations(c, 'Service', 'py-hello-service')).toEqual([]);
    expect(annotations(c, 'Deployment', 'py-hello-blue')).toEqual([]);
  });

  it('the next release switches back to blue as a normal release, and an ordinary `kubectl set image` afterwards does not empty the Service', async () => {
    const { cluster: c, kubeconfig } = await start(1);
    expect(
      (await kanary(['run', '-f', release('py-hello-blue', 'py-hello-green'), '--kubeconfig', kubeconfig]))
        .code,
    ).toBe(0);
    const { result, seen } = await withUsers(
      c,
      kanary([
        'run',
        '-f',
        release('py-hello-green', 'py-hello-blue', { update: { image: 'localhost:5001/py-http:3' } }),
        '--kubeconfig',
        kubeconfig,
      ]),
    );
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(failures(seen)).toBe(0);
    expect(selector(c)).toEqual({ app: 'hello', color: 'blue' });
    expect([...images(c).keys()]).toEqual(['py-hello-blue']);
    // The spec's update went onto the adopted Deployment (it once served the old image, "promoted").
    const served = c.get('Deployment', 'default', 'py-hello-blue')!.spec as {
      template: { spec: { containers: Array<{ image: string }> } };
    };
    expect(served.template.spec.containers[0]?.image).toBe('localhost:5001/py-http:3');
    // The reader's next change by hand, on the colour that serves.
    const blue = c.get('Deployment', 'default', 'py-hello-blue')!;
    const spec = blue.spec as { template: { spec: { containers: Array<{ image: string }> } } };
    (spec.template.spec.containers[0] as { image: string }).image = 'localhost:5001/py-http:4';
    c.apply(blue);
    const after = await withUsers(c, new Promise((r) => setTimeout(r, 1_000)));
    expect(failures(after.seen)).toBe(0);
  });
});
