import { createKubernetesRollout, isKanaryError } from '@kanary/core';
import { type Cluster, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { service } from './fixtures.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

const bare = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'bare', namespace: 'default' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'bare' } },
    template: {
      metadata: { labels: { app: 'bare' } },
      spec: { containers: [{ name: 'app', image: 'bare:1' }] },
    },
  },
};
const spec = {
  name: 'bare',
  target: { name: 'bare', service: 'bare' },
  update: { image: 'bare:2' },
  strategy: { type: 'replicaRatio' },
  steps: [{ setWeight: 50 }],
};

describe('preflight checks before anything is changed', () => {
  it('warns about a missing readiness probe, preStop hook and resource requests, then proceeds', async () => {
    cluster = await startCluster({ podReadyAfterMs: 1_000 });
    cluster.apply(bare, service('bare', 'default', { app: 'bare' }));
    await cluster.virtualClock!.advance(1_000);
    const rollout = createKubernetesRollout({
      spec,
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      pollInterval: '1s',
    });
    const warnings: string[] = [];
    rollout.on('warning', ({ message }) => warnings.push(message));
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('succeeded');
    expect(warnings.filter((w) => w.startsWith('preflight:'))).toEqual([
      expect.stringMatching(/no readinessProbe/),
      expect.stringMatching(/no resource requests/),
      expect.stringMatching(/no preStop hook/),
    ]);
  });

  it('refuses to start when a check is configured as an error, writing nothing', async () => {
    cluster = await startCluster({ podReadyAfterMs: 1_000 });
    cluster.apply(bare, service('bare', 'default', { app: 'bare' }));
    await cluster.virtualClock!.advance(1_000);
    const before = cluster.requests.filter((r) =>
      ['create', 'update', 'patch', 'delete'].includes(r.verb),
    ).length;
    const rollout = createKubernetesRollout({
      spec,
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      preflight: { readinessProbe: 'error' },
    });
    const error = await cluster.run(rollout.run()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isKanaryError(error, 'PREFLIGHT')).toBe(true);
    expect((error as Error).message).toMatch(
      /nothing was changed[\s\S]*no readinessProbe[\s\S]*fix: add a readinessProbe/,
    );
    // Only the Lease was taken and released; no workload, Service or state write.
    const writes = cluster.requests
      .filter((r) => ['create', 'update', 'patch', 'delete'].includes(r.verb))
      .slice(before);
    expect(writes.every((w) => w.resource === 'leases')).toBe(true);
    expect(cluster.get('ConfigMap', 'default', 'kanary-bare')).toBeUndefined();
  });

  it('reports a missing Service or container as errors', async () => {
    cluster = await startCluster();
    cluster.apply(bare);
    const rollout = createKubernetesRollout({
      spec: { ...spec, update: { image: 'bare:2', container: 'web' } },
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
    });
    const error = await cluster.run(rollout.run()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isKanaryError(error, 'PREFLIGHT')).toBe(true);
    expect((error as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual([
      'update.container',
      'target.service',
    ]);
  });
});
