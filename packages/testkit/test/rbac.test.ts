// The emulator authorizes with RBAC when asked (kube-apiserver's --authorization-mode=RBAC): a token
// may do what the Roles bound to it allow and nothing else, answered 403 in the API server's words,
// through the real client-node. (kubectl sends no bearer token over plain HTTP, so against the
// emulator it is always anonymous and cannot be the subject of these tests.)
import { AppsV1Api, AuthorizationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, deployment, startCluster } from '../src/index.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const rbac = 'rbac.authorization.k8s.io/v1';
const bind = (
  kind: 'RoleBinding' | 'ClusterRoleBinding',
  name: string,
  role: string,
  user: string,
  namespace?: string,
) => ({
  apiVersion: rbac,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  roleRef: {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: role.startsWith('cluster:') ? 'ClusterRole' : 'Role',
    name: role.replace(/^cluster:/, ''),
  },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
});

async function start() {
  cluster = await startCluster({ rbac: {}, namespaces: ['shop', 'other'] });
  cluster.apply(
    deployment('web', 'shop', 'web:1', 1),
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'shop' }, data: {} },
    {
      apiVersion: rbac,
      kind: 'Role',
      metadata: { name: 'reader', namespace: 'shop' },
      rules: [
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
        { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch'], resourceNames: ['web'] },
      ],
    },
    bind('RoleBinding', 'alice-reads', 'reader', 'alice', 'shop'),
    {
      apiVersion: rbac,
      kind: 'ClusterRole',
      metadata: { name: 'pod-lister' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }],
    },
    // A ClusterRole bound in one namespace grants it there only.
    bind('RoleBinding', 'alice-pods', 'cluster:pod-lister', 'alice', 'shop'),
    bind('ClusterRoleBinding', 'bob-pods', 'cluster:pod-lister', 'bob'),
  );
  return cluster;
}

/** The HTTP status and Status message of a client-node call. */
async function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => '200',
    (e: { code?: number; body?: string }) => `${e.code} ${JSON.parse(e.body ?? '{}').message ?? ''}`,
  );
}

describe('RBAC in the emulator', () => {
  it('allows what the bound rules allow and answers 403 otherwise, worded as kube-apiserver words it', async () => {
    const c = await start();
    const core = c.kubeConfigFor('alice').makeApiClient(CoreV1Api);
    const apps = c.kubeConfigFor('alice').makeApiClient(AppsV1Api);
    expect(await outcome(core.readNamespacedConfigMap({ name: 'settings', namespace: 'shop' }))).toBe('200');
    expect(await outcome(core.listNamespacedConfigMap({ namespace: 'shop' }))).toBe('200');
    expect(await outcome(core.listNamespacedPod({ namespace: 'shop' }))).toBe('200');
    expect(
      await outcome(
        core.createNamespacedConfigMap({ namespace: 'shop', body: { metadata: { name: 'x' }, data: {} } }),
      ),
    ).toBe(
      '403 configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "shop"',
    );
    expect(await outcome(apps.readNamespacedDeployment({ name: 'web', namespace: 'shop' }))).toBe(
      '403 deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" in API group "apps" in the namespace "shop"',
    );
    // A subresource is its own resource; resourceNames limit a rule to those objects.
    expect(await outcome(apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' }))).toBe('200');
    expect(
      await outcome(apps.patchNamespacedDeployment({ name: 'web', namespace: 'shop', body: [] })),
    ).not.toMatch(/^403/);
    expect(
      await outcome(apps.patchNamespacedDeployment({ name: 'api', namespace: 'shop', body: [] })),
    ).toMatch(/^403 deployments.apps "api" is forbidden: User "alice" cannot patch/);
    // Elsewhere, and across namespaces: not granted by a RoleBinding.
    expect(await outcome(core.listNamespacedPod({ namespace: 'other' }))).toMatch(
      /^403 .*in the namespace "other"/,
    );
    expect(await outcome(core.listPodForAllNamespaces())).toBe(
      '403 pods is forbidden: User "alice" cannot list resource "pods" in API group "" at the cluster scope',
    );
    // A ClusterRoleBinding grants everywhere; nothing else.
    const bob = c.kubeConfigFor('bob').makeApiClient(CoreV1Api);
    expect(await outcome(bob.listPodForAllNamespaces())).toBe('200');
    expect(await outcome(bob.listNamespacedConfigMap({ namespace: 'shop' }))).toMatch(/^403/);
    // The default kubeConfig is system:masters; a token with no binding may do nothing.
    expect(await outcome(c.kubeConfig.makeApiClient(CoreV1Api).listPodForAllNamespaces())).toBe('200');
    expect(
      await outcome(
        c.kubeConfigFor('mallory').makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'shop' }),
      ),
    ).toMatch(/^403/);
    // Discovery needs no grant (system:discovery).
    const discovery = await fetch(`${c.url}/apis/apps/v1`, { headers: { authorization: 'Bearer mallory' } });
    expect(discovery.status).toBe(200);
  });

  it('a SelfSubjectAccessReview answers what the caller may do (what `kubectl auth can-i` asks)', async () => {
    const c = await start();
    const auth = c.kubeConfigFor('alice').makeApiClient(AuthorizationV1Api);
    const canI = async (resourceAttributes: Record<string, string>) =>
      (await auth.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes } } })).status?.allowed;
    expect(await canI({ verb: 'get', resource: 'configmaps', namespace: 'shop' })).toBe(true);
    expect(await canI({ verb: 'create', resource: 'configmaps', namespace: 'shop' })).toBe(false);
    expect(
      await canI({ verb: 'patch', group: 'apps', resource: 'deployments', name: 'web', namespace: 'shop' }),
    ).toBe(true);
    expect(
      await canI({ verb: 'patch', group: 'apps', resource: 'deployments', name: 'api', namespace: 'shop' }),
    ).toBe(false);
    expect(
      await canI({
        verb: 'get',
        group: 'apps',
        resource: 'deployments',
        subresource: 'scale',
        namespace: 'shop',
      }),
    ).toBe(true);
    // A review is only ever created: nothing is stored to read back.
    const read = await fetch(`${c.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
      headers: { authorization: 'Bearer testkit' },
    });
    expect(read.status).toBe(405);
  });
});
