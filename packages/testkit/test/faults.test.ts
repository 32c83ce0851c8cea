import { type Cluster, startCluster } from '@kanary/testkit';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectShare } from './tolerance.ts';

describe('fault injection', () => {
  let cluster: Cluster;
  let core: CoreV1Api;
  beforeAll(async () => {
    cluster = await startCluster({ seed: 11 });
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  });
  afterAll(() => cluster.close());

  const codeOf = async (p: Promise<unknown>): Promise<number | string> => {
    try {
      await p;
      return 200;
    } catch (e) {
      if (e instanceof ApiException) return e.code;
      return (e as Error).name === 'FetchError' ||
        /socket|ECONNRESET|closed|terminated/i.test(String((e as Error).message) + String((e as Error).cause))
        ? 'dropped'
        : String(e);
    }
  };

  it('answers a configured share of writes with 409/429/500/503, shaped like kube-apiserver', async () => {
    cluster.faults.set([{ verbs: ['create'], resources: ['configmaps'], rate: 0.3, status: 503 }]);
    const codes: Array<number | string> = [];
    for (let i = 0; i < 200; i++)
      codes.push(
        await codeOf(
          core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `cm-${i}` } } }),
        ),
      );
    expectShare(codes.filter((c) => c === 503).length, 200, 0.3, '503s');
    expect(codes.filter((c) => c !== 503 && c !== 200)).toEqual([]);
    // Reads are untouched by a rule for creates.
    expect(await codeOf(core.listNamespacedConfigMap({ namespace: 'default' }))).toBe(200);
    cluster.faults.set([{ verbs: ['get'], rate: 1, status: 429 }]);
    try {
      await core.readNamespacedConfigMap({ name: 'cm-1', namespace: 'default' });
      expect.unreachable();
    } catch (e) {
      const err = e as ApiException<string>;
      expect(err.code).toBe(429);
      expect(err.headers['retry-after']).toBe('1');
      expect(JSON.parse(err.body)).toMatchObject({
        kind: 'Status',
        reason: 'TooManyRequests',
        details: { retryAfterSeconds: 1 },
      });
    }
    cluster.faults.set([{ rate: 1, status: 409 }]);
    expect(await codeOf(core.readNamespacedConfigMap({ name: 'cm-1', namespace: 'default' }))).toBe(409);
    cluster.faults.set([{ rate: 1, status: 500 }]);
    expect(await codeOf(core.readNamespacedConfigMap({ name: 'cm-1', namespace: 'default' }))).toBe(500);
    cluster.faults.clear();
  });

  it('adds latency and drops connections', async () => {
    cluster.faults.set([{ verbs: ['list'], rate: 1, latencyMs: 120 }]);
    const t0 = performance.now();
    await core.listNamespacedConfigMap({ namespace: 'default' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
    cluster.faults.set([{ verbs: ['get'], rate: 1, drop: true }]);
    expect(await codeOf(core.readNamespacedConfigMap({ name: 'cm-1', namespace: 'default' }))).toBe(
      'dropped',
    );
    cluster.faults.clear();
    expect(cluster.faults.injected).toMatchObject({ latency: 1, drop: 1 });
  });

  it('makes the whole server unavailable for a period of clock time', async () => {
    cluster.faults.outage(30_000);
    expect(await codeOf(core.listNamespacedConfigMap({ namespace: 'default' }))).toBe(503);
    await cluster.virtualClock!.advance(30_000);
    expect(await codeOf(core.listNamespacedConfigMap({ namespace: 'default' }))).toBe(200);
    cluster.faults.outage(10_000, { drop: true });
    expect(await codeOf(core.listNamespacedConfigMap({ namespace: 'default' }))).toBe('dropped');
    cluster.faults.clear();
  });
});
