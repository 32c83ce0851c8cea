import { type Cluster, startCluster } from '@kanary/testkit';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment, service } from './fixtures.ts';

/** The parsed Status body of a failed client-node call. */
async function failure(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException)
      return { code: e.code, body: JSON.parse(e.body as string) as Record<string, unknown> };
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('API server through @kubernetes/client-node', () => {
  let cluster: Cluster;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;
  let objects: KubernetesObjectApi;

  beforeAll(async () => {
    cluster = await startCluster();
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
    custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    objects = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    await core.createNamespace({ body: { metadata: { name: 'shop' } } });
  });
  afterAll(() => cluster.close());

  it('selects by the fields kube-apiserver supports for the kind, and refuses any other with 400', async () => {
    await core.createNamespacedService({
      namespace: 'shop',
      body: service('fs-a', 'shop', { app: 'a' }) as never,
    });
    await core.createNamespacedService({
      namespace: 'shop',
      body: {
        ...(service('fs-b', 'shop', { app: 'b' }) as object),
        spec: { type: 'NodePort', selector: { app: 'b' }, ports: [{ port: 80 }] },
      } as never,
    });
    const nodePorts = await core.listNamespacedService({
      namespace: 'shop',
      fieldSelector: 'spec.type=NodePort',
    });
    expect(nodePorts.items.map((s) => s.metadata?.name)).toEqual(['fs-b']);
    const byName = await core.listNamespacedService({
      namespace: 'shop',
      fieldSelector: 'metadata.name!=fs-b,spec.type==ClusterIP',
    });
    expect(byName.items.map((s) => s.metadata?.name)).toContain('fs-a');
    expect(byName.items.map((s) => s.metadata?.name)).not.toContain('fs-b');
    const unknown = await failure(
      core.listNamespacedService({ namespace: 'shop', fieldSelector: 'spec.selector=x' }),
    );
    expect(unknown.code).toBe(400);
    expect(unknown.body).toMatchObject({ message: 'field label not supported: spec.selector' });
    // A field selector is equality only.
    const setBased = await failure(
      core.listNamespacedService({ namespace: 'shop', fieldSelector: 'spec.type in (NodePort)' }),
    );
    expect(setBased.code).toBe(400);
    for (const name of ['fs-a', 'fs-b']) await core.deleteNamespacedService({ name, namespace: 'shop' });
  });

  it("pages a list with limit and continue from the first page's snapshot, and expires old tokens with 410", async () => {
    for (let i = 0; i < 5; i++)
      await core.createNamespacedConfigMap({
        namespace: 'shop',
        body: { metadata: { name: `page-${i}`, labels: { paged: 'yes' } }, data: { i: String(i) } },
      });
    const first = await core.listNamespacedConfigMap({
      namespace: 'shop',
      labelSelector: 'paged=yes',
      limit: 2,
    });
    expect(first.items.map((c) => c.metadata?.name)).toEqual(['page-0', 'page-1']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    // Written between pages: not in this list (a consistent snapshot, as etcd serves it).
    await core.createNamespacedConfigMap({
      namespace: 'shop',
      body: { metadata: { name: 'page-2a', labels: { paged: 'yes' } } },
    });
    const second = await core.listNamespacedConfigMap({
      namespace: 'shop',
      labelSelector: 'paged=yes',
      limit: 2,
      _continue: first.metadata?._continue,
    });
    expect(second.items.map((c) => c.metadata?.name)).toEqual(['page-2', 'page-3']);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const last = await core.listNamespacedConfigMap({
      namespace: 'shop',
      labelSelector: 'paged=yes',
      limit: 2,
      _continue: second.metadata?._continue,
    });
    expect(last.items.map((c) => c.metadata?.name)).toEqual(['page-4']);
    expect(last.metadata?._continue).toBeUndefined();
    expect(
      (await failure(core.listNamespacedConfigMap({ namespace: 'shop', _continue: 'nonsense' }))).code,
    ).toBe(400);
    // A token whose snapshot is gone (64 newer chunked lists) is too old: 410 Expired.
    const stale = (await core.listNamespacedConfigMap({ namespace: 'shop', limit: 1 })).metadata?._continue;
    for (let i = 0; i < 64; i++) await core.listNamespacedConfigMap({ namespace: 'shop', limit: 1 });
    const expired = await failure(
      core.listNamespacedConfigMap({ namespace: 'shop', limit: 1, _continue: stale }),
    );
    expect(expired.code).toBe(410);
    expect(expired.body).toMatchObject({ reason: 'Expired' });
  });

  it('watches with watch=True, as the Python client asks (Go reads booleans that way)', async () => {
    const server = cluster.kubeConfig.getCurrentCluster()?.server as string;
    const token = (cluster.kubeConfig.getCurrentUser()?.token ?? '') as string;
    const controller = new AbortController();
    const res = await fetch(
      `${server}/api/v1/namespaces/shop/configmaps?watch=True&labelSelector=paged%3Dyes`,
      {
        signal: controller.signal,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
    );
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    controller.abort();
    const line = JSON.parse(new TextDecoder().decode(value).split('\n')[0] as string) as { type: string };
    expect(line.type).toBe('ADDED');
  });

  it('creates, reads, lists by label selector, replaces and deletes', async () => {
    const created = await core.createNamespacedService({
      namespace: 'shop',
      body: service('web', 'shop', { app: 'web' }) as never,
    });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.spec?.clusterIP).toMatch(/^10\.96\./);
    expect(created.spec?.ports?.[0]?.protocol).toBe('TCP');
    await core.createNamespacedService({
      namespace: 'shop',
      body: {
        ...(service('api', 'shop', { app: 'api' }) as object),
        metadata: { name: 'api', labels: { tier: 'back' } },
      },
    });
    const back = await core.listNamespacedService({ namespace: 'shop', labelSelector: 'tier=back' });
    expect(back.items.map((s) => s.metadata?.name)).toEqual(['api']);
    const notBack = await core.listNamespacedService({
      namespace: 'shop',
      labelSelector: 'tier!=back,app in (web, x)',
    });
    expect(notBack.items.map((s) => s.metadata?.name)).toEqual(['web']);
    const read = await core.readNamespacedService({ name: 'web', namespace: 'shop' });
    read.metadata = { ...read.metadata, labels: { app: 'web', edited: 'yes' } };
    const replaced = await core.replaceNamespacedService({ name: 'web', namespace: 'shop', body: read });
    expect(replaced.metadata?.labels?.edited).toBe('yes');
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata.resourceVersion));
    await core.deleteNamespacedService({ name: 'api', namespace: 'shop' });
    const gone = await failure(core.readNamespacedService({ name: 'api', namespace: 'shop' }));
    expect(gone.code).toBe(404);
    expect(gone.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'NotFound',
      message: 'services "api" not found',
      code: 404,
    });
  });

  it('answers 409 AlreadyExists, 409 Conflict on a stale resourceVersion, and 404 for a missing namespace', async () => {
    await apps.createNamespacedDeployment({
      namespace: 'shop',
      body: deployment('front', 'shop', 'front:1', 2) as never,
    });
    const again = await failure(
      apps.createNamespacedDeployment({
        namespace: 'shop',
        body: deployment('front', 'shop', 'front:1', 2) as never,
      }),
    );
    expect(again).toMatchObject({
      code: 409,
      body: { reason: 'AlreadyExists', message: 'deployments.apps "front" already exists' },
    });
    const stale = await apps.readNamespacedDeployment({ name: 'front', namespace: 'shop' });
    await apps.patchNamespacedDeployment(
      { name: 'front', namespace: 'shop', body: { metadata: { labels: { touched: 'x' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const conflict = await failure(
      apps.replaceNamespacedDeployment({ name: 'front', namespace: 'shop', body: stale }),
    );
    expect(conflict.code).toBe(409);
    expect(conflict.body.reason).toBe('Conflict');
    expect(String(conflict.body.message)).toContain('the object has been modified');
    const noNs = await failure(
      core.createNamespacedConfigMap({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }),
    );
    expect(noNs).toMatchObject({ code: 404, body: { message: 'namespaces "nowhere" not found' } });
  });

  it('applies every patch type with the right content type, and refuses strategic merge on custom resources (415)', async () => {
    const ns = 'shop';
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('patchme', ns, 'p:1', 1) as never,
    });
    // Strategic merge: containers merge by name instead of replacing the list.
    const smp = await apps.patchNamespacedDeployment(
      {
        name: 'patchme',
        namespace: ns,
        body: { spec: { template: { spec: { containers: [{ name: 'patchme', image: 'p:2' }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(smp.spec?.template.spec?.containers[0]).toMatchObject({
      name: 'patchme',
      image: 'p:2',
      ports: [{ containerPort: 80 }],
    });
    expect(smp.metadata?.generation).toBe(2);
    // JSON patch with a passing and a failing test.
    // (Not /metadata/resourceVersion: the controllers update status between our two requests, as on a real cluster.)
    const jp = await apps.patchNamespacedDeployment(
      {
        name: 'patchme',
        namespace: ns,
        body: [
          { op: 'test', path: '/spec/replicas', value: 1 },
          { op: 'replace', path: '/spec/replicas', value: 3 },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect(jp.spec?.replicas).toBe(3);
    const failed = await failure(
      apps.patchNamespacedDeployment(
        {
          name: 'patchme',
          namespace: ns,
          body: [
            { op: 'test', path: '/spec/replicas', value: 1 },
            { op: 'replace', path: '/spec/replicas', value: 9 },
          ],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    expect(failed.code).toBe(422);
    expect(String(failed.body.message)).toContain('test operation does not apply');
    // Custom resources: merge and JSON patch work, strategic merge is 415.
    await custom.createNamespacedCustomObject({
      group: 'networking.istio.io',
      version: 'v1',
      namespace: ns,
      plural: 'virtualservices',
      body: {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'vs' },
        spec: { hosts: ['vs'], http: [{ route: [{ destination: { host: 'vs' } }] }] },
      },
    });
    const merged = (await custom.patchNamespacedCustomObject(
      {
        group: 'networking.istio.io',
        version: 'v1',
        namespace: ns,
        plural: 'virtualservices',
        name: 'vs',
        body: { metadata: { labels: { a: 'b' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { metadata: { labels: Record<string, string> } };
    expect(merged.metadata.labels).toEqual({ a: 'b' });
    const unsupported = await failure(
      custom.patchNamespacedCustomObject(
        {
          group: 'networking.istio.io',
          version: 'v1',
          namespace: ns,
          plural: 'virtualservices',
          name: 'vs',
          body: { metadata: { labels: { a: 'c' } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(unsupported.code).toBe(415);
    expect(unsupported.body.reason).toBe('UnsupportedMediaType');
  });

  it('takes JSON or YAML bodies, and refuses protobuf with 415 naming what it accepts', async () => {
    const post = (type: string, body: string) =>
      fetch(`${cluster.url}/api/v1/namespaces/shop/configmaps`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: 'Bearer admin' },
        body,
      });
    const yaml = await post(
      'application/yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: "1"\n',
    );
    expect(yaml.status).toBe(201);
    expect(cluster.get('ConfigMap', 'shop', 'from-yaml')?.data).toEqual({ a: '1' });
    const proto = await post('application/vnd.kubernetes.protobuf', 'k8s\u0000');
    expect(proto.status).toBe(415);
    expect(((await proto.json()) as { message: string }).message).toMatch(
      /accepted media types include: application\/json, application\/yaml \(got application\/vnd\.kubernetes\.protobuf\)/,
    );
  });

  it('server-side apply: field managers own fields, conflicts answer 409 unless forced', async () => {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'owned', namespace: 'shop' },
      data: { a: '1', b: '2' },
    };
    await objects.patch(cm, undefined, undefined, 'gitops', false, PatchStrategy.ServerSideApply);
    const mine = await objects.patch(
      { ...cm, data: { c: '3' } },
      undefined,
      undefined,
      'kanary',
      false,
      PatchStrategy.ServerSideApply,
    );
    expect((mine as { data: Record<string, string> }).data).toEqual({ a: '1', b: '2', c: '3' });
    const conflict = await failure(
      objects.patch(
        { ...cm, data: { a: 'changed' } },
        undefined,
        undefined,
        'kanary',
        false,
        PatchStrategy.ServerSideApply,
      ),
    );
    expect(conflict.code).toBe(409);
    expect(String(conflict.body.message)).toContain('conflict with "gitops"');
    expect(JSON.stringify(conflict.body.details)).toContain('.data.a');
    const forced = (await objects.patch(
      { ...cm, data: { a: 'changed', c: '3' } },
      undefined,
      undefined,
      'kanary',
      true,
      PatchStrategy.ServerSideApply,
    )) as unknown as {
      data: Record<string, string>;
      metadata: { managedFields: Array<{ manager: string; fieldsV1: Record<string, unknown> }> };
    };
    expect(forced.data.a).toBe('changed');
    const managers = Object.fromEntries(
      forced.metadata.managedFields.map((m) => [m.manager, JSON.stringify(m.fieldsV1)]),
    );
    expect(managers.kanary).toContain('f:a');
    expect(managers.gitops).not.toContain('f:a');
    expect(managers.gitops).toContain('f:b');
    // Dropping a field from the applied config removes it (when nobody else owns it).
    const dropped = (await objects.patch(
      { ...cm, data: { a: 'changed' } },
      undefined,
      undefined,
      'kanary',
      false,
      PatchStrategy.ServerSideApply,
    )) as { data: Record<string, string> };
    expect(dropped.data).toEqual({ a: 'changed', b: '2' });
  });

  it('refuses invalid objects with 422 and the field path, writing nothing', async () => {
    const vs = await failure(
      custom.createNamespacedCustomObject({
        group: 'networking.istio.io',
        version: 'v1',
        namespace: 'shop',
        plural: 'virtualservices',
        body: {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'bad' },
          spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' }, weight: 'ninety' }] }] },
        },
      }),
    );
    expect(vs.code).toBe(422);
    expect(vs.body.reason).toBe('Invalid');
    expect((vs.body.details as { causes: Array<{ field: string }> }).causes[0]?.field).toBe(
      'spec.http[0].route[0].weight',
    );
    const zero = await failure(
      custom.createNamespacedCustomObject({
        group: 'networking.istio.io',
        version: 'v1beta1',
        namespace: 'shop',
        plural: 'virtualservices',
        body: {
          apiVersion: 'networking.istio.io/v1beta1',
          kind: 'VirtualService',
          metadata: { name: 'zero' },
          spec: {
            hosts: ['a'],
            http: [
              {
                route: [
                  { destination: { host: 'a', subset: 'v1' }, weight: 0 },
                  { destination: { host: 'a', subset: 'v2' }, weight: 0 },
                ],
              },
            ],
          },
        },
      }),
    );
    expect(String(zero.body.message)).toContain('total destination weight = 0');
    const ingress = await failure(
      cluster.kubeConfig.makeApiClient(NetworkingV1Api).createNamespacedIngress({
        namespace: 'shop',
        body: {
          metadata: { name: 'bad-ing' },
          spec: {
            rules: [
              {
                host: 'shop.example',
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Sometimes' as never,
                      backend: { service: { name: 'web', port: { number: 80 } } },
                    },
                  ],
                },
              },
            ],
          },
        },
      }),
    );
    expect(ingress.code).toBe(422);
    expect((ingress.body.details as { causes: Array<{ field: string }> }).causes[0]?.field).toBe(
      'spec.rules[0].http.paths[0].pathType',
    );
    const route = await failure(
      custom.createNamespacedCustomObject({
        group: 'gateway.networking.k8s.io',
        version: 'v1',
        namespace: 'shop',
        plural: 'httproutes',
        body: {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'HTTPRoute',
          metadata: { name: 'bad-route' },
          spec: { rules: [{ backendRefs: [{ name: 'web', port: 80, weight: -5 }] }] },
        },
      }),
    );
    expect(route.code).toBe(422);
    expect((route.body.details as { causes: Array<{ field: string }> }).causes[0]?.field).toBe(
      'spec.rules[0].backendRefs[0].weight',
    );
    const selector = await failure(
      apps.createNamespacedDeployment({
        namespace: 'shop',
        body: {
          ...(deployment('mismatch', 'shop', 'm:1') as object),
          spec: {
            ...(deployment('mismatch', 'shop', 'm:1').spec as object),
            selector: { matchLabels: { app: 'other' } },
          } as never,
        },
      }),
    );
    expect(String(selector.body.message)).toContain('`selector` does not match template `labels`');
    expect(cluster.get('VirtualService', 'shop', 'bad', 'networking.istio.io')).toBeUndefined();
    expect(cluster.get('Deployment', 'shop', 'mismatch')).toBeUndefined();
  });

  it('serves discovery for the generic object client and v1/v1beta1 of Istio kinds', async () => {
    const dr = await objects.create({
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'DestinationRule',
      metadata: { name: 'dr', namespace: 'shop' },
      spec: { host: 'web', subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
    });
    expect(dr.apiVersion).toBe('networking.istio.io/v1beta1');
    const asV1 = await objects.read({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'dr', namespace: 'shop' },
    });
    expect(asV1.apiVersion).toBe('networking.istio.io/v1');
    const lease = await cluster.kubeConfig.makeApiClient(CoordinationV1Api).createNamespacedLease({
      namespace: 'shop',
      body: { metadata: { name: 'lock' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    });
    expect(lease.spec?.holderIdentity).toBe('a');
  });

  it('keeps status and spec apart, bumps generation on spec and (for a Deployment) annotation changes, and serves /scale', async () => {
    const ns = 'shop';
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: { ...(deployment('scaled', ns, 's:1', 2) as object), status: { replicas: 99 } } as never,
    });
    const d = await apps.readNamespacedDeployment({ name: 'scaled', namespace: ns });
    expect(d.status?.replicas).not.toBe(99);
    expect(d.metadata?.generation).toBe(1);
    const scale = await apps.readNamespacedDeploymentScale({ name: 'scaled', namespace: ns });
    expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 2 }, status: { selector: 'app=scaled' } });
    await apps.replaceNamespacedDeploymentScale({
      name: 'scaled',
      namespace: ns,
      body: { metadata: { name: 'scaled', namespace: ns }, spec: { replicas: 5 } },
    });
    const after = await apps.readNamespacedDeployment({ name: 'scaled', namespace: ns });
    expect(after.spec?.replicas).toBe(5);
    expect(after.metadata?.generation).toBe(2);
    await apps.patchNamespacedDeployment(
      { name: 'scaled', namespace: ns, body: { metadata: { annotations: { note: 'x' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // A Deployment's annotations are copied to its ReplicaSets, so they bump its generation
    // (PrepareForUpdate in pkg/registry/apps/deployment/strategy.go); its labels do not.
    expect(
      (await apps.readNamespacedDeployment({ name: 'scaled', namespace: ns })).metadata?.generation,
    ).toBe(3);
    await apps.patchNamespacedDeployment(
      { name: 'scaled', namespace: ns, body: { metadata: { labels: { tier: 'x' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(
      (await apps.readNamespacedDeployment({ name: 'scaled', namespace: ns })).metadata?.generation,
    ).toBe(3);
  });

  it('streams watch events in order from a resourceVersion', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: 'shop' });
    const events: string[] = [];
    const watch = new Watch(cluster.kubeConfig);
    const done = new Promise<void>((resolve) => {
      void watch
        .watch(
          '/api/v1/namespaces/shop/configmaps',
          { resourceVersion: list.metadata?.resourceVersion, labelSelector: 'watched=yes' },
          (type, obj: { metadata: { name: string } }) => {
            events.push(`${type} ${obj.metadata.name}`);
            if (events.length === 4) resolve();
          },
          () => resolve(),
        )
        .then((req) => done.then(() => req.abort()));
    });
    await new Promise((r) => setTimeout(r, 50));
    await core.createNamespacedConfigMap({
      namespace: 'shop',
      body: { metadata: { name: 'w1', labels: { watched: 'yes' } }, data: { v: '1' } },
    });
    await core.createNamespacedConfigMap({
      namespace: 'shop',
      body: { metadata: { name: 'ignored', labels: { watched: 'no' } } },
    });
    await core.patchNamespacedConfigMap(
      { name: 'w1', namespace: 'shop', body: { data: { v: '2' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.createNamespacedConfigMap({
      namespace: 'shop',
      body: { metadata: { name: 'w2', labels: { watched: 'yes' } } },
    });
    await core.deleteNamespacedConfigMap({ name: 'w1', namespace: 'shop' });
    await done;
    expect(events).toEqual(['ADDED w1', 'MODIFIED w1', 'ADDED w2', 'DELETED w1']);
  });

  it('sends a bookmark 2 s before the watch ends, when asked for bookmarks, at the newest version', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: 'shop' });
    const watchFor = (allowWatchBookmarks: boolean) =>
      new Promise<Array<{ type: string; rv?: string; kind?: string }>>((resolve) => {
        const seen: Array<{ type: string; rv?: string; kind?: string }> = [];
        void new Watch(cluster.kubeConfig).watch(
          '/api/v1/namespaces/shop/configmaps',
          {
            resourceVersion: list.metadata?.resourceVersion,
            labelSelector: 'quiet=yes',
            timeoutSeconds: 3,
            allowWatchBookmarks,
          },
          (type, obj: { kind?: string; metadata: { resourceVersion?: string } }) =>
            seen.push({ type, rv: obj.metadata.resourceVersion, kind: obj.kind }),
          () => resolve(seen),
        );
      });
    const [withBookmarks, without] = [watchFor(true), watchFor(false)];
    // A write outside the selector moves the version: the quiet watch sees no event, only the bookmark.
    await new Promise((r) => setTimeout(r, 100));
    const written = await core.createNamespacedConfigMap({
      namespace: 'shop',
      body: { metadata: { name: 'unwatched' } },
    });
    const bookmarks = await withBookmarks;
    expect(bookmarks).toEqual([
      { type: 'BOOKMARK', rv: written.metadata?.resourceVersion, kind: 'ConfigMap' },
    ]);
    expect(await without).toEqual([]);
  });
  it('streams a list: the state as ADDED events, a bookmark marking their end at its version, then changes', async () => {
    for (const name of ['s1', 's2'])
      await core.createNamespacedConfigMap({
        namespace: 'shop',
        body: { metadata: { name, labels: { stream: 'yes' } } },
      });
    await core.createNamespacedConfigMap({ namespace: 'shop', body: { metadata: { name: 's-other' } } });
    const seen: Array<{ type: string; name?: string; rv?: string; end?: string }> = [];
    let stop: (() => void) | undefined;
    const third = new Promise<void>((resolve) => {
      void new Watch(cluster.kubeConfig)
        .watch(
          '/api/v1/namespaces/shop/configmaps',
          {
            labelSelector: 'stream=yes',
            sendInitialEvents: true,
            resourceVersionMatch: 'NotOlderThan',
            allowWatchBookmarks: true,
          },
          (
            type,
            obj: {
              metadata: { name?: string; resourceVersion?: string; annotations?: Record<string, string> };
            },
          ) => {
            seen.push({
              type,
              ...(obj.metadata.name ? { name: obj.metadata.name } : {}),
              rv: obj.metadata.resourceVersion,
              ...(type === 'BOOKMARK'
                ? { end: obj.metadata.annotations?.['k8s.io/initial-events-end'] }
                : {}),
            });
            if (seen.length === 4) resolve();
          },
          () => resolve(),
        )
        .then((req) => {
          stop = () => req.abort();
        });
    });
    const state = await core.listNamespacedConfigMap({ namespace: 'shop', labelSelector: 'stream=yes' });
    await new Promise((r) => setTimeout(r, 50));
    const s3 = await core.createNamespacedConfigMap({
      namespace: 'shop',
      body: { metadata: { name: 's3', labels: { stream: 'yes' } } },
    });
    await third;
    stop?.();
    expect(
      seen
        .slice(0, 2)
        .map((e) => `${e.type} ${e.name}`)
        .sort(),
    ).toEqual(['ADDED s1', 'ADDED s2']);
    expect(seen[2]).toEqual({ type: 'BOOKMARK', rv: state.metadata?.resourceVersion, end: 'true' });
    expect(seen[3]).toEqual({ type: 'ADDED', name: 's3', rv: s3.metadata?.resourceVersion });
    // The request is one WATCH, and the emulator records that it streamed a list.
    const last = cluster.requests.filter((r) => r.verb === 'watch' && r.resource === 'configmaps').at(-1);
    expect(last?.sendInitialEvents).toBe(true);
  });

  it('refuses list options kube-apiserver refuses, with 422 naming the field', async () => {
    const ask = async (query: string) => {
      const res = await fetch(`${cluster.url}/api/v1/namespaces/shop/configmaps?${query}`);
      const body = (await res.json()) as {
        message?: string;
        details?: { causes?: Array<{ field?: string }> };
      };
      return { code: res.status, message: body.message, fields: body.details?.causes?.map((c) => c.field) };
    };
    expect(await ask('watch=true&sendInitialEvents=true&allowWatchBookmarks=true')).toEqual({
      code: 422,
      message:
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
      fields: ['resourceVersionMatch'],
    });
    expect(await ask('watch=true&resourceVersionMatch=NotOlderThan')).toMatchObject({
      code: 422,
      fields: ['resourceVersionMatch'],
    });
    expect(await ask('sendInitialEvents=true')).toMatchObject({
      code: 422,
      message:
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list',
    });
    expect(await ask('watch=true&sendInitialEvents=true&resourceVersionMatch=Exact')).toMatchObject({
      code: 422,
      fields: ['resourceVersionMatch', 'resourceVersionMatch'],
    });

    // As 1.33 ships (its WatchList gate off by default): a streaming list is refused.
    const old = await startCluster({ featureGates: { WatchList: false } });
    try {
      const res = await fetch(
        `${old.url}/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
      );
      expect(res.status).toBe(422);
      expect(((await res.json()) as { message: string }).message).toBe(
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
      );
    } finally {
      await old.close();
    }
  });
});
