import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  createKubeClient,
  inClusterConnection,
  isKanaryError,
  type KanaryError,
  type KubeObject,
} from '@kanary/core';
import { createVirtualClock } from '@kanary/core/testing';
import { type Cluster, deployment, startCluster, TESTKIT_CA } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'shop' };

/** A service account's mounted files, as the kubelet writes them into a Pod. */
function serviceAccount(token: string) {
  const directory = mkdtempSync(join(tmpdir(), 'kanary-sa-'));
  writeFileSync(join(directory, 'token'), token);
  writeFileSync(join(directory, 'ca.crt'), TESTKIT_CA);
  writeFileSync(join(directory, 'namespace'), 'default');
  return directory;
}
const envOf = (url: string) => {
  const u = new URL(url);
  return { KUBERNETES_SERVICE_HOST: u.hostname, KUBERNETES_SERVICE_PORT: u.port };
};

describe('inClusterConnection: a Pod’s service account, without client-node', () => {
  let cluster: Cluster | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reads over TLS with the mounted CA and token, and reads the token again after a minute', async () => {
    // RBAC on: the token decides what is allowed, so which token went out is visible.
    cluster = await startCluster({ time: 'real', tls: true, rbac: {} });
    cluster.apply(deployment('shop', 'default', 'shop:1', 1));
    const directory = serviceAccount('testkit');
    dirs.push(directory);
    const clock = createVirtualClock(0);
    const connection = inClusterConnection({ directory, env: envOf(cluster.url), clock });
    expect(connection.server).toBe(cluster.url.replace(/\/$/, ''));
    expect(connection.user).toBe('serviceaccount:default');
    const client = createKubeClient({ connection, clock, watch: false, retries: 0 });
    expect((await client.get(ref))?.metadata.name).toBe('shop');
    // The kubelet rotates the token: the old one is used until the next re-read…
    writeFileSync(join(directory, 'token'), 'mallory');
    expect((await client.get(ref))?.metadata.name).toBe('shop');
    // …a minute on, the new one goes out (this one is bound to nothing: the server refuses it).
    await clock.advance(60_000);
    const refused = await client.get(ref).catch((e: unknown) => e as KanaryError);
    expect(isKanaryError(refused) && refused.details.httpStatus).toBe(403);
    await client.close();
  });

  it('writes and watches through it: created objects are read back from the watch cache', async () => {
    cluster = await startCluster({ time: 'real', tls: true });
    const directory = serviceAccount('testkit');
    dirs.push(directory);
    const client = createKubeClient({
      connection: inClusterConnection({ directory, env: envOf(cluster.url) }),
    });
    await client.create(deployment('cart', 'default', 'cart:1', 1) as KubeObject);
    await client.mergePatch({ ...ref, name: 'cart' }, { metadata: { labels: { tier: 'web' } } });
    const seen = await client.list('apps/v1', 'Deployment', 'default');
    expect(seen.map((d) => [d.metadata.name, d.metadata.labels?.tier])).toEqual([['cart', 'web']]);
    for (let i = 0; i < 100 && cluster.watches < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(client.watching('apps/v1', 'Deployment', 'default')).toBe(true);
    // HTTP/2, as with a kubeconfig: the requests and the watch share one connection.
    expect(cluster.connections).toBe(1);
    await client.close();
  });

  it('outside a Pod, says what is missing and how to fix it', () => {
    let error: KanaryError | undefined;
    try {
      inClusterConnection({ env: {} });
    } catch (e) {
      error = e as KanaryError;
    }
    expect(error?.issues[0]).toMatchObject({ path: 'server', hint: expect.stringMatching(/kubeConfig/) });
  });

  it('an unreadable token fails the request with the file named, sending nothing', async () => {
    cluster = await startCluster({ time: 'real', tls: true });
    const before = cluster.requests.length;
    const client = createKubeClient({
      connection: inClusterConnection({ directory: '/nonexistent/sa', env: envOf(cluster.url) }),
      watch: false,
    });
    const error = (await client.get(ref).then(
      () => undefined,
      (e: unknown) => e,
    )) as KanaryError;
    expect(error.issues[0]).toMatchObject({ path: 'directory' });
    expect(error.message).toMatch(/token in \/nonexistent\/sa/);
    expect(cluster.requests.length).toBe(before);
  });

  it('a process driving with it never loads @kubernetes/client-node', async () => {
    cluster = await startCluster({ time: 'real', tls: true });
    cluster.apply(deployment('shop', 'default', 'shop:1', 1));
    const directory = serviceAccount('testkit');
    dirs.push(directory);
    const script = fileURLToPath(new URL('./in-cluster-process.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--no-warnings', script], {
      env: { ...process.env, ...envOf(cluster.url), KANARY_SA: directory },
    });
    const report = JSON.parse(stdout) as { name: string; clientNode: string[] };
    expect(report.name).toBe('shop');
    expect(report.clientNode).toEqual([]);
  });
});
