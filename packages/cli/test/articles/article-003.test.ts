import { EXIT } from '@kanary/cli';
import { type Cluster, type KubeObject, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { kanary, tempWriter, untilSettled } from './support.ts';

/**
 * Article 003 as its reader does it: their own v1 and v2 Deployments (the same image, told apart by
 * `version`), the Service, the DestinationRule with subsets v1/v2 and the VirtualService, released
 * with the `kanary` CLI on the wall clock while users call the mesh host.
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

// The article's objects (apps/v1beta1 Deployments written as apps/v1, which needs a selector).
const ARTICLE = `
apiVersion: v1
kind: Service
metadata: { name: demo4, namespace: test1, labels: { app: demo4 } }
spec:
  ports: [{ port: 80, targetPort: http, protocol: TCP, name: http }]
  selector: { app: demo4 }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: demo4-deployment-v1, namespace: test1 }
spec:
  replicas: 2
  selector: { matchLabels: { app: demo4, version: v1 } }
  template:
    metadata:
      annotations: { sidecar.istio.io/inject: "true" }
      labels: { app: demo4, version: v1 }
    spec:
      containers:
        - name: demo4-v1
          image: mritd/demo
          ports: [{ name: http, containerPort: 80, protocol: TCP }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: demo4-deployment-v2, namespace: test1 }
spec:
  replicas: 2
  selector: { matchLabels: { app: demo4, version: v2 } }
  template:
    metadata:
      labels: { app: demo4, version: v2 }
      annotations: { sidecar.istio.io/inject: "true" }
    spec:
      containers:
        - name: demo4-v2
          image: mritd/demo
          ports: [{ name: http, containerPort: 80, protocol: TCP }]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: { name: demo4-vs, namespace: test1 }
spec:
  hosts: [demo4.a.com]
  gateways: [demo4-gateway]
  http:
    - route:
        - destination: { host: demo4.test1.svc.cluster.local, subset: v1 }
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: { name: demo4, namespace: test1 }
spec:
  host: demo4.test1.svc.cluster.local
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

const write = tempWriter('kanary-article-003-');

const entry = { kind: 'istio' as const, host: 'demo4.a.com', namespace: 'test1' };
async function withUsers<T>(
  c: Cluster,
  work: Promise<T>,
  user: { cookies?: Record<string, string> } = {},
): Promise<{ result: T; shares: number[]; failed: number }> {
  const shares: number[] = [];
  let failed = 0;
  let done = false;
  const users = (async () => {
    while (!done) {
      const seen = c.traffic.sample(entry, 200, { share: 1, ...user });
      for (const [k, n] of seen) if (k.startsWith('status-')) failed += n;
      shares.push((seen.get('demo4-deployment-v2') ?? 0) / 200);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    return { result: await work, shares, failed };
  } finally {
    done = true;
    await users;
  }
}

async function start() {
  cluster = await startCluster({ time: 'real', podReadyAfterMs: 50, namespaces: ['test1'] });
  cluster.apply(...parseAllDocuments(ARTICLE).map((d) => d.toJS() as KubeObject));
  await untilSettled(cluster, 'test1');
  return { c: cluster, kubeconfig: write(`kubeconfig-${Date.now()}`, cluster.kubeConfig.exportConfig()) };
}

const rollout = (strategy: Record<string, unknown>, steps: unknown[]) =>
  stringify({
    rollout: {
      name: 'demo4',
      namespace: 'test1',
      target: { name: 'demo4-deployment-v1', service: 'demo4' },
      strategy,
      steps,
      scaleDownDelay: '0s',
      abortScaleDownDelay: '0s',
    },
    router: {
      istio: {
        virtualService: 'demo4-vs',
        destinationRule: { name: 'demo4', stableSubset: 'v1', canarySubset: 'v2' },
      },
    },
  });

describe('article 003: Istio subsets v1/v2 with the reader’s own Deployments', () => {
  it('10% to v2 by subset weight, then 50%, then promoted: v1 runs v2’s template under its own labels; no failed request; the routing as the reader wrote it', async () => {
    const { c, kubeconfig } = await start();
    const before = {
      vs: structuredClone(c.get('VirtualService', 'test1', 'demo4-vs')?.spec),
      dr: structuredClone(c.get('DestinationRule', 'test1', 'demo4')?.spec),
    };
    const path = write(
      'weights.yaml',
      rollout({ type: 'weighted', canary: { name: 'demo4-deployment-v2', adopt: true } }, [
        { setWeight: 10 },
        { pause: { duration: '1s' } },
        { setWeight: 50 },
        { pause: { duration: '1s' } },
      ]),
    );
    const { result, shares, failed } = await withUsers(
      c,
      kanary(['run', '-f', path, '--kubeconfig', kubeconfig]),
    );
    expect(result.err).toBe('');
    expect(result.code).toBe(EXIT.ok);
    expect(failed).toBe(0);
    // Some looks saw about 10% on v2, some about 50%; never more than the step allowed until promotion.
    expect(shares.some((s) => s > 0.02 && s < 0.2)).toBe(true);
    expect(shares.some((s) => s > 0.35 && s < 0.65)).toBe(true);
    const v1 = c.get('Deployment', 'test1', 'demo4-deployment-v1')!.spec as {
      template: {
        metadata: { labels: Record<string, string> };
        spec: { containers: Array<{ name: string }> };
      };
    };
    expect(v1.template.metadata.labels).toEqual({ app: 'demo4', version: 'v1' });
    expect(v1.template.spec.containers[0]?.name).toBe('demo4-v2');
    expect(c.get('VirtualService', 'test1', 'demo4-vs')?.spec).toEqual(before.vs);
    expect(c.get('DestinationRule', 'test1', 'demo4')?.spec).toEqual(before.dr);
    const after = c.traffic.sample(entry, 200);
    expect([...after.keys()]).toEqual(['demo4-deployment-v1']);
  });

  it('users with the company cookie get v2 half the time, everyone else stays on v1 (the article’s 50/50 match)', async () => {
    const { c, kubeconfig } = await start();
    const path = write(
      'cookie.yaml',
      rollout(
        {
          type: 'headerMatch',
          canary: { name: 'demo4-deployment-v2', adopt: true },
          match: [
            { headers: [{ name: 'cookie', regex: '^(.*?;)?(email=[^;]*@some-company-name.com)(;.*)?$' }] },
          ],
          weight: 50,
        },
        [{ pause: {} }],
      ),
    );
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    const running = kanary(['run', ...k]);
    for (let i = 0; i < 200; i++) {
      if ((await kanary(['status', ...k])).out.includes('paused')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const company = c.traffic.sample(entry, 2_000, {
      share: 1,
      // The article's regex wants `email=` first or right after a ";" with no space, as Istio reads it.
      headers: { cookie: 'email=li@some-company-name.com; lang=zh' },
    });
    const others = c.traffic.sample(entry, 2_000, { share: 1, headers: { cookie: 'email=li@example.com' } });
    expect((company.get('demo4-deployment-v2') ?? 0) / 2_000).toBeGreaterThan(0.4);
    expect((company.get('demo4-deployment-v2') ?? 0) / 2_000).toBeLessThan(0.6);
    expect(others.get('demo4-deployment-v2') ?? 0).toBe(0);
    expect((await kanary(['abort', ...k])).code).toBe(EXIT.ok);
    expect((await running).code).toBe(EXIT.rolledBack);
    expect([
      ...c.traffic
        .sample(entry, 500, { share: 1, headers: { cookie: 'email=li@some-company-name.com' } })
        .keys(),
    ]).toEqual(['demo4-deployment-v1']);
  });
});
