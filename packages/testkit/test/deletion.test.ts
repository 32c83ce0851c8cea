import { type Cluster, deployment, service, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// Deletion as kube-apiserver, the garbage collector and the namespace controller do it: the
// foreground policy keeps the owner (marked, holding `foregroundDeletion`) until its dependents
// are gone; background removes the owner at once and its dependents a reconcile later; orphan keeps
// the owner (holding `orphan`) until its dependents no longer name it; pods terminate gracefully
// on the way, and a namespace terminates before it goes.

let cluster: Cluster;
afterEach(() => cluster?.close());

async function del(path: string, body?: object) {
  const res = await fetch(`${cluster.url}${path}`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const preStop = { lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } } };

describe('deletion', () => {
  it('foreground: the Deployment stays marked until its ReplicaSet, and the ReplicaSet until its pods, are gone', async () => {
    cluster = await startCluster({ podReadyAfterMs: 500 });
    const web = deployment('web', 'default', 'web:1', 2) as {
      spec: { template: { spec: { containers: object[] } } };
    };
    web.spec.template.spec.containers = web.spec.template.spec.containers.map((c) => ({ ...c, ...preStop }));
    cluster.apply(web as never);
    await cluster.settle();
    const answer = await del('/apis/apps/v1/namespaces/default/deployments/web', {
      propagationPolicy: 'Foreground',
    });
    expect(answer.status).toBe(200);
    expect((answer.body.metadata as { finalizers: string[] }).finalizers).toEqual(['foregroundDeletion']);
    await cluster.virtualClock!.advance(1_000);
    // The pods terminate (their preStop hook runs 5 s); their ReplicaSet and the Deployment wait.
    const d = cluster.get('Deployment', 'default', 'web');
    expect(d?.metadata.deletionTimestamp).toBeDefined();
    const rs = cluster.list('ReplicaSet', 'default');
    expect(rs).toHaveLength(1);
    expect(rs[0]?.metadata.finalizers).toEqual(['foregroundDeletion']);
    const pods = cluster.list('Pod', 'default');
    expect(pods).toHaveLength(2);
    expect(pods.every((p) => p.metadata.deletionTimestamp)).toBe(true);
    await cluster.until(() => !cluster.get('Deployment', 'default', 'web'), 'the Deployment to go', {
      timeoutMs: 60_000,
    });
    expect(cluster.list('ReplicaSet', 'default')).toEqual([]);
    expect(cluster.list('Pod', 'default')).toEqual([]);
  });

  it('background (the default): the Deployment goes at once, its ReplicaSet when the garbage collector sees it', async () => {
    cluster = await startCluster();
    cluster.apply(deployment('web', 'default', 'web:1', 2));
    await cluster.settle();
    const answer = await del('/apis/apps/v1/namespaces/default/deployments/web');
    expect(answer.status).toBe(200);
    expect(cluster.get('Deployment', 'default', 'web')).toBeUndefined();
    // Right after the request the ReplicaSet is still there, its owner gone (a dangling reference).
    const [rs] = cluster.list('ReplicaSet', 'default');
    expect(rs?.metadata.ownerReferences?.[0]?.name).toBe('web');
    expect(rs?.metadata.deletionTimestamp).toBeUndefined();
    await cluster.until(() => cluster.list('ReplicaSet', 'default').length === 0, 'the ReplicaSet to go');
    await cluster.until(() => cluster.list('Pod', 'default').length === 0, 'its pods to go');
  });

  it('orphan: the Deployment holds `orphan` until its ReplicaSet no longer names it, then goes; the ReplicaSet stays', async () => {
    cluster = await startCluster();
    cluster.apply(deployment('web', 'default', 'web:1', 2));
    await cluster.settle();
    const answer = await del('/apis/apps/v1/namespaces/default/deployments/web', {
      propagationPolicy: 'Orphan',
    });
    expect((answer.body.metadata as { finalizers: string[] }).finalizers).toEqual(['orphan']);
    expect(cluster.get('Deployment', 'default', 'web')?.metadata.deletionTimestamp).toBeDefined();
    await cluster.until(() => !cluster.get('Deployment', 'default', 'web'), 'the Deployment to go');
    const sets = cluster.list('ReplicaSet', 'default');
    expect(sets).toHaveLength(1);
    expect(sets[0]?.metadata.ownerReferences).toBeUndefined();
    await cluster.virtualClock!.advance(5_000);
    expect(cluster.list('Pod', 'default').filter((p) => !p.metadata.deletionTimestamp)).toHaveLength(2);
  });

  it('an object with a finalizer is only marked; removing the last finalizer removes it, and none can be added then', async () => {
    cluster = await startCluster();
    cluster.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'held', namespace: 'default', finalizers: ['example.com/keep'] },
      data: { a: '1' },
    });
    expect((await del('/api/v1/namespaces/default/configmaps/held')).status).toBe(200);
    const marked = cluster.get('ConfigMap', 'default', 'held');
    expect(marked?.metadata.deletionTimestamp).toBeDefined();
    const url = `${cluster.url}/api/v1/namespaces/default/configmaps/held`;
    const patch = (finalizers: string[]) =>
      fetch(url, {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({ metadata: { finalizers } }),
      });
    expect((await patch(['example.com/keep', 'example.com/more'])).status).toBe(422);
    expect((await patch([])).status).toBe(200);
    expect(cluster.get('ConfigMap', 'default', 'held')).toBeUndefined();
  });

  it('a namespace terminates: nothing new may be created in it, its contents go, then it does', async () => {
    cluster = await startCluster({ podReadyAfterMs: 500 });
    cluster.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
      deployment('web', 'shop', 'web:1', 2),
      service('web', 'shop', { app: 'web' }),
    );
    await cluster.settle('shop');
    expect((await del('/api/v1/namespaces/shop')).status).toBe(200);
    expect(
      (cluster.get('Namespace', undefined, 'shop')?.status as { phase: string } | undefined)?.phase,
    ).toBe('Terminating');
    const created = await fetch(`${cluster.url}/api/v1/namespaces/shop/configmaps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' } }),
    });
    expect(created.status).toBe(403);
    expect(((await created.json()) as { message: string }).message).toContain(
      'unable to create new content in namespace shop because it is being terminated',
    );
    await cluster.until(() => !cluster.get('Namespace', undefined, 'shop'), 'the namespace to go', {
      timeoutMs: 120_000,
    });
    for (const kind of ['Deployment', 'ReplicaSet', 'Pod', 'Service', 'Endpoints'])
      expect(cluster.list(kind, 'shop'), kind).toEqual([]);
  });
});
