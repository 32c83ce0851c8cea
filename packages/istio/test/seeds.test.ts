import {
  createKubeClient,
  createKubernetesRollout,
  createRolloutGroup,
  type RolloutState,
} from '@kanary/core';
import { createScriptedGate } from '@kanary/core/testing';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, deployment, type KubeObject, service, startCluster } from '@kanary/testkit';
import { expectShare } from '@kanary/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';

let cluster: Cluster;
afterEach(() => cluster?.close());
const N = 4000;

describe('seed 003: Istio weights, then a cookie rule for company users', () => {
  const userRules = [
    {
      name: 'static',
      match: [{ uri: { prefix: '/static' } }],
      route: [{ destination: { host: 'demo4.test1.svc.cluster.local', subset: 'v1' } }],
    },
    { name: 'default', route: [{ destination: { host: 'demo4.test1.svc.cluster.local', subset: 'v1' } }] },
  ];
  const setup = async () => {
    cluster = await startCluster({ podReadyAfterMs: 2_000, seed: 9, namespaces: ['test1'] });
    cluster.apply(
      deployment('demo4-deployment-v1', 'test1', 'mritd/demo:v1', 2, { app: 'demo4', version: 'v1' }),
      service('demo4', 'test1', { app: 'demo4' }),
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'demo4', namespace: 'test1' },
        spec: {
          host: 'demo4.test1.svc.cluster.local',
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
        },
      },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'demo4-vs', namespace: 'test1' },
        spec: { hosts: ['demo4.a.com'], gateways: ['demo4-gateway'], http: userRules },
      },
    );
    await cluster.settle('test1');
    return {
      router: createIstioRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        virtualService: 'demo4-vs',
        routes: ['default'],
        destinationRule: { name: 'demo4', stableSubset: 'v1', canarySubset: 'v2' },
      }),
      vs: () =>
        cluster.get('VirtualService', 'test1', 'demo4-vs', 'networking.istio.io') as KubeObject & {
          spec: { http: Array<{ name: string }> };
        },
    };
  };
  const entry = { kind: 'istio' as const, host: 'demo4.a.com', namespace: 'test1' };
  const canaryShare = (user = {}) =>
    cluster.traffic.sample(entry, N, { share: 1, ...user }).get('demo4-canary') ?? 0;

  it('90/10 is observed in traffic; company users get 50/50 and everyone else v1; finishing leaves the user rules byte-identical', async () => {
    const { router, vs } = await setup();
    const original = JSON.stringify(vs().spec);
    const checks: string[] = [];
    const rollout = createKubernetesRollout({
      spec: {
        name: 'demo4',
        namespace: 'test1',
        target: { name: 'demo4-deployment-v1', service: 'demo4' },
        update: { image: 'mritd/demo:v2' },
        strategy: { type: 'weighted', canary: { name: 'demo4-canary' } },
        steps: [
          { setWeight: 10 },
          { pause: {} },
          { setWeight: 0 },
          {
            setHeaderRoute: {
              name: 'company',
              match: [{ cookie: { name: 'email', regex: '[^;]*@some-company-name\\.com' } }],
              weight: 50,
            },
          },
          { pause: {} },
        ],
      },
      router,
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      pollInterval: '1s',
    });
    rollout.on('state', (s: RolloutState) => {
      if (s.phase !== 'paused' || !s.action || s.action.until !== undefined) return;
      if (s.cursor.step === 1) {
        expectShare(canaryShare(), N, 0.1, '90/10');
        checks.push('90/10');
      } else if (s.cursor.step === 4) {
        // Cookie not first, with the browser's space after ';': matched too (unlike the seed's regex).
        expectShare(
          canaryShare({ cookies: { session: 'x', email: 'li@some-company-name.com' } }),
          N,
          0.5,
          'company users',
        );
        expect(canaryShare({ cookies: { email: 'li@example.org' } })).toBe(0);
        expect(canaryShare()).toBe(0);
        // Kanary's rule sits right before the managed route; the user's other rule is untouched.
        expect(vs().spec.http.map((r) => r.name)).toEqual(['static', 'kanary-demo4-company', 'default']);
        checks.push('cookie');
      }
      queueMicrotask(() => rollout.promote().catch(() => undefined));
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('succeeded');
    expect(checks).toEqual(['90/10', 'cookie']);
    expect(JSON.stringify(vs().spec)).toBe(original);
    expect(
      cluster.get('VirtualService', 'test1', 'demo4-vs', 'networking.istio.io')?.metadata.annotations,
    ).toBeUndefined();
    const dr = cluster.get('DestinationRule', 'test1', 'demo4', 'networking.istio.io')!;
    expect((dr.spec as { subsets: unknown }).subsets).toEqual([
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ]);
    // The new version serves everyone through the user's own route.
    expect(cluster.traffic.sample(entry, 200).get('demo4-deployment-v1')).toBe(200);
    const pods = cluster
      .list('Pod', 'test1')
      .filter((p) =>
        ((p.status as { conditions?: Array<{ type: string; status: string }> }).conditions ?? []).some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ),
      );
    expect(
      new Set(pods.map((p) => (p.spec as { containers: Array<{ image: string }> }).containers[0]!.image)),
    ).toEqual(new Set(['mritd/demo:v2']));
  });
});

describe('seed 002: front-end and back-end released together, canary users marked by a header', () => {
  const member = (name: string, gate?: ReturnType<typeof createScriptedGate>) => ({
    name,
    create: (hooks: Record<string, unknown>) =>
      createKubernetesRollout({
        spec: {
          name,
          target: { name, service: name },
          update: { image: `${name}:2` },
          strategy: { type: 'weighted' },
          steps: [
            {
              setHeaderRoute: {
                name: 'x-canary',
                match: [{ headers: [{ name: 'X-Canary', exact: 'true' }] }],
              },
            },
            { analysis: { name: 'errors', metrics: [{ name: 'success-rate', interval: '30s', count: 2 }] } },
            { setWeight: 20 },
            { pause: { duration: '2m' } },
          ],
        },
        router: createIstioRouter({
          client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
          virtualService: name,
        }),
        gate: gate ?? createScriptedGate({ script: { errors: ['running', 'successful'] } }),
        kubeConfig: cluster.kubeConfig,
        clock: cluster.clock,
        pollInterval: '1s',
        hooks,
      }),
  });
  const setup = async () => {
    cluster = await startCluster({ podReadyAfterMs: 2_000, seed: 4 });
    for (const name of ['frontend', 'backend']) {
      cluster.apply(deployment(name, 'default', `${name}:1`, 2), service(name, 'default', { app: name }), {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name, namespace: 'default' },
        spec: { hosts: [name], http: [{ name: 'primary', route: [{ destination: { host: name } }] }] },
      });
    }
    await cluster.settle();
  };
  // The user's request hits the front-end, which calls the back-end carrying the same headers.
  const chain = [
    { kind: 'istio' as const, host: 'frontend', namespace: 'default' },
    { kind: 'istio' as const, host: 'backend', namespace: 'default' },
  ];

  it('marked requests reach the canary of every service; members advance together and promote together', async () => {
    await setup();
    const group = createRolloutGroup({ name: 'shop', members: [member('frontend'), member('backend')] });
    const seen: string[] = [];
    group.members.backend!.on('step', ({ index, state }) => {
      if (index !== 1 || state.analysis) return;
      // Both header routes are in place before either analysis runs (the members advance together).
      const marked = Array.from({ length: 200 }, () =>
        cluster.traffic.send({ name: 'user', entry: chain }, { share: 1, headers: { 'X-Canary': 'true' } }),
      );
      expect(
        marked.every(
          (r) =>
            r.hops.map((h) => (h.outcome.kind === 'backend' ? h.outcome.backend.workload : '-')).join('>') ===
            'frontend-canary>backend-canary',
        ),
      ).toBe(true);
      const plain = Array.from({ length: 200 }, () => cluster.traffic.send({ name: 'user', entry: chain }));
      expect(
        plain.every(
          (r) =>
            r.hops.map((h) => (h.outcome.kind === 'backend' ? h.outcome.backend.workload : '-')).join('>') ===
            'frontend>backend',
        ),
      ).toBe(true);
      seen.push('checked');
    });
    group.on('barrier', ({ point }) => seen.push(point));
    const states = await cluster.run(group.run());
    expect(states.frontend?.phase).toBe('succeeded');
    expect(states.backend?.phase).toBe('succeeded');
    expect(seen).toContain('checked');
    expect(seen.filter((p) => p === 'promotion')).toHaveLength(1);
    expect(seen.filter((p) => p.startsWith('step'))).toEqual(['step 0', 'step 1', 'step 2', 'step 3']);
  });

  it('a failed check in one member aborts both', async () => {
    await setup();
    const failing = createScriptedGate({ script: { errors: ['running', 'failed'] } });
    const group = createRolloutGroup({
      name: 'shop',
      members: [member('frontend'), member('backend', failing)],
    });
    const states = await cluster.run(group.run());
    expect(states.backend?.phase).toBe('aborted');
    expect(states.backend?.abort?.cause).toBe('analysis');
    expect(states.frontend?.phase).toBe('aborted');
    expect(states.frontend?.abort?.reason).toMatch(/backend aborted/);
    for (const name of ['frontend', 'backend']) {
      const vs = cluster.get('VirtualService', 'default', name, 'networking.istio.io') as KubeObject & {
        spec: unknown;
      };
      expect(vs.spec).toEqual({
        hosts: [name],
        http: [{ name: 'primary', route: [{ destination: { host: name } }] }],
      });
      expect(cluster.get('Deployment', 'default', `${name}-canary`)).toBeUndefined();
      expect(
        cluster.traffic
          .sample(chain[name === 'frontend' ? 0 : 1]!, 100, { share: 1, headers: { 'x-canary': 'true' } })
          .get(name),
      ).toBe(100);
    }
  });
});
