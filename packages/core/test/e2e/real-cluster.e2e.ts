import { createKubeClient, createKubernetesRollout, type KubeObject } from '@kanary/core';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The seed scenarios that need no mesh, against a real cluster: opt in with KANARY_E2E_KUBECONFIG
// (a kind cluster is enough; see packages/testkit/README.md). Real time, real controllers, public
// images. Each run works in a namespace of its own and deletes it at the end.

const kubeconfigPath = process.env.KANARY_E2E_KUBECONFIG;
const reason = kubeconfigPath
  ? `against ${kubeconfigPath}`
  : 'skipped: set KANARY_E2E_KUBECONFIG to a cluster Kanary may write to';

describe.skipIf(!kubeconfigPath)(`Kanary on a real cluster (${reason})`, () => {
  const ns = `kanary-e2e-${Date.now().toString(36)}`;
  const kubeConfig = new KubeConfig();
  let core: CoreV1Api;
  let apps: AppsV1Api;

  const deployment = (name: string, image: string, labels: Record<string, string>): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'web',
              image,
              ports: [{ containerPort: 80 }],
              readinessProbe: { httpGet: { path: '/', port: 80 }, periodSeconds: 2 },
              lifecycle: { preStop: { exec: { command: ['sleep', '3'] } } },
            },
          ],
        },
      },
    },
  });
  const service = (name: string, selector: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: { selector, ports: [{ port: 80, targetPort: 80 }] },
  });
  const waitAvailable = async (name: string) => {
    for (let i = 0; i < 120; i++) {
      const d = await apps.readNamespacedDeployment({ name, namespace: ns });
      if ((d.status?.availableReplicas ?? 0) === d.spec?.replicas) return;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    throw new Error(`Deployment ${name} did not become available in 2 minutes`);
  };

  beforeAll(async () => {
    kubeConfig.loadFromFile(kubeconfigPath as string);
    core = kubeConfig.makeApiClient(CoreV1Api);
    apps = kubeConfig.makeApiClient(AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
  }, 60_000);
  afterAll(async () => {
    await core?.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('seed 001: blue-green switches the Service in one write, keeps blue for the delay, and hands the selectors back', async () => {
    const client = createKubeClient({ kubeConfig });
    await client.create(deployment('hello-blue', 'nginx:1.27', { app: 'hello', color: 'blue' }));
    await client.create(service('hello', { app: 'hello' }));
    await client.create(service('hello-preview', { app: 'hello' }));
    await waitAvailable('hello-blue');
    const rollout = createKubernetesRollout({
      spec: {
        name: 'hello',
        namespace: ns,
        target: { name: 'hello-blue', service: 'hello' },
        update: { image: 'nginx:1.27-alpine' },
        strategy: {
          type: 'blueGreen',
          activeService: 'hello',
          previewService: 'hello-preview',
          autoPromotionSeconds: 10,
          scaleDownDelaySeconds: 10,
        },
      },
      kubeConfig,
      pollInterval: '2s',
    });
    const final = await rollout.run();
    await rollout.close();
    expect(final.phase).toBe('succeeded');
    const active = await core.readNamespacedService({ name: 'hello', namespace: ns });
    expect(active.spec?.selector).toEqual({ app: 'hello' });
    const blue = await apps.readNamespacedDeployment({ name: 'hello-blue', namespace: ns });
    expect(blue.spec?.replicas).toBe(0);
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'source=kanary' });
    expect(events.items.map((e) => e.reason)).toContain('Succeeded');
  }, 300_000);

  it('replica ratio: a 50% step by pod counts behind one Service, then promotion and the old pods gone', async () => {
    const client = createKubeClient({ kubeConfig });
    await client.create(deployment('shop', 'nginx:1.27', { app: 'shop' }));
    await client.create(service('shop', { app: 'shop' }));
    await waitAvailable('shop');
    const rollout = createKubernetesRollout({
      spec: {
        name: 'shop',
        namespace: ns,
        target: { name: 'shop', service: 'shop' },
        update: { image: 'nginx:1.27-alpine' },
        strategy: { type: 'replicaRatio', maxSurge: 1 },
        steps: [{ setWeight: 50 }, { pause: { duration: '5s' } }],
        scaleDownDelay: '5s',
      },
      kubeConfig,
      pollInterval: '2s',
    });
    const final = await rollout.run();
    await rollout.close();
    expect(final.phase).toBe('succeeded');
    const shop = await apps.readNamespacedDeployment({ name: 'shop', namespace: ns });
    expect(shop.spec?.template.spec?.containers[0]?.image).toBe('nginx:1.27-alpine');
    const canary = await apps
      .readNamespacedDeployment({ name: 'shop-canary', namespace: ns })
      .catch(() => undefined);
    expect(canary).toBeUndefined();
  }, 300_000);
});
