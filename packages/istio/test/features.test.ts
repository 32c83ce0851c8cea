import { createDeploymentDriver, createKubeClient, parseRolloutSpec } from '@kanary/core';
import { digest, type PortContext } from '@kanary/core/adapter';
import { initialState } from '@kanary/core/testing';
import { cookieRegex, createIstioRouter } from '@kanary/istio';
import { type Cluster, deployment, service, startCluster } from '@kanary/testkit';
import { expectShare } from '@kanary/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';

let cluster: Cluster;
afterEach(() => cluster?.close());

async function setup(
  strategy: Record<string, unknown> = { type: 'weighted', canary: { name: 'web-canary', adopt: true } },
) {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 12 });
  cluster.apply(
    deployment('web', 'default', 'web:1', 2),
    deployment('web-canary', 'default', 'web:2', 2, { app: 'web' }),
    service('web', 'default', { app: 'web' }),
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'web', namespace: 'default' },
      spec: { host: 'web', subsets: [{ name: 'stable', labels: { app: 'web' } }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        hosts: ['web'],
        http: [{ name: 'primary', route: [{ destination: { host: 'web', subset: 'stable' } }] }],
      },
    },
  );
  await cluster.settle();
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  const router = createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } });
  const spec = parseRolloutSpec({ name: 'web', target: { name: 'web', service: 'web' }, strategy });
  const state = initialState({ namespace: 'default', name: 'web' }, digest(spec), cluster.clock.now());
  const described = await cluster.run(
    createDeploymentDriver({ client }).describe({
      key: state.key,
      spec,
      state,
      targets: {},
      signal: new AbortController().signal,
    }),
  );
  const ctx: PortContext = {
    key: state.key,
    spec,
    state,
    targets: described,
    signal: new AbortController().signal,
  };
  return { router, ctx };
}
const entry = { kind: 'istio' as const, host: 'web', namespace: 'default' };

describe('Istio router features', () => {
  it('writes the canary subset before any weight points at it, and every write passes validation', async () => {
    const { router, ctx } = await setup();
    const before = cluster.requests.length;
    await cluster.run(router.setWeight(ctx, 30));
    const writes = cluster.requests
      .slice(before)
      .filter((r) => ['update', 'patch', 'create'].includes(r.verb));
    expect(writes.map((w) => w.resource)).toEqual(['destinationrules', 'virtualservices']);
    expect(cluster.requests.filter((r) => r.code === 422)).toEqual([]);
    expectShare(cluster.traffic.sample(entry, 4000).get('web-canary') ?? 0, 4000, 0.3, '30%');
  });

  it('mirrors a percentage of all requests to the canary, whose responses are ignored', async () => {
    const { router, ctx } = await setup();
    await cluster.run(router.setMirror(ctx, { name: 'shadow', percentage: 25 }));
    cluster.traffic.metrics.reset();
    const served = cluster.traffic.sample(entry, 4000);
    expect(served.get('web')).toBe(4000);
    expectShare(
      cluster.traffic.metrics.total('istio_requests_total', { destination_workload: 'web-canary' }),
      4000,
      0.25,
      'mirrored',
    );
    await cluster.run(router.removeMirror(ctx, 'shadow'));
    cluster.traffic.metrics.reset();
    cluster.traffic.sample(entry, 500);
    expect(
      cluster.traffic.metrics.total('istio_requests_total', { destination_workload: 'web-canary' }),
    ).toBe(0);
  });

  it('a mirror for matched requests splits them like everyone, follows later weights, and copies them to the canary', async () => {
    const { router, ctx } = await setup();
    await cluster.run(router.setWeight(ctx, 20));
    await cluster.run(
      router.setMirror(ctx, {
        name: 'qa',
        percentage: 100,
        match: [{ headers: [{ name: 'x-qa', exact: '1' }] }],
      }),
    );
    const matched = { share: 1, headers: { 'x-qa': '1' } };
    // Before: matched users were pinned to stable (0% canary) whatever the step said.
    expectShare(
      cluster.traffic.sample(entry, 4000, matched).get('web-canary') ?? 0,
      4000,
      0.2,
      'matched at 20%',
    );
    await cluster.run(router.setWeight(ctx, 60));
    expectShare(
      cluster.traffic.sample(entry, 4000, matched).get('web-canary') ?? 0,
      4000,
      0.6,
      'matched at 60%',
    );
    cluster.traffic.metrics.reset();
    const served = cluster.traffic.sample(entry, 1000, matched).get('web-canary') ?? 0;
    // Every matched request is also copied to the canary (Istio mirrors whatever the route serves).
    expect(
      cluster.traffic.metrics.total('istio_requests_total', { destination_workload: 'web-canary' }) - served,
    ).toBe(1000);
    expect((await cluster.run(router.status(ctx))).mirrors).toEqual(['qa']);
  });

  it("sticky sessions per release: each side keeps its users, an old release's cookie is split again, Max-Age ends it", async () => {
    const { router, ctx } = await setup({
      type: 'weighted',
      canary: { name: 'web-canary', adopt: true },
      stickySession: { cookieName: 'kanary-web', maxAge: '1h' },
    });
    await cluster.run(router.setWeight(ctx, 10));
    const vs = cluster.get('VirtualService', 'default', 'web', 'networking.istio.io') as {
      spec: { http: Array<{ name: string; route: Array<{ headers?: unknown }> }> };
    };
    const hash = ctx.targets.canary?.podTemplateHash;
    expect(vs.spec.http.map((r) => r.name)).toEqual([
      'kanary-web-sticky',
      'kanary-web-sticky-stable',
      'primary',
    ]);
    expect(vs.spec.http[2]?.route[1]?.headers).toEqual({
      response: { add: { 'Set-Cookie': `kanary-web=web.canary.${hash}; Max-Age=3600; Path=/` } },
    });

    // 400 browsers: the first answer decides, and the next 20 requests of each go to the same side.
    const sessions = Array.from({ length: 400 }, () => cluster.traffic.session(entry));
    const first = sessions.map((b) => b.send().workload);
    expectShare(first.filter((w) => w === 'web-canary').length, 400, 0.1, 'first requests on the canary');
    for (const [i, b] of sessions.entries()) {
      const later = new Set(Array.from({ length: 20 }, () => b.send().workload));
      expect([...later]).toEqual([first[i]]);
    }
    // Raising the weight keeps stable users on stable: only new sessions see 50%.
    await cluster.run(router.setWeight(ctx, 50));
    const stableUsers = sessions.filter((_, i) => first[i] === 'web');
    expect(new Set(stableUsers.flatMap((b) => Array.from({ length: 5 }, () => b.send().workload)))).toEqual(
      new Set(['web']),
    );
    // A cookie from an earlier release (another canary revision) matches nothing: split like anyone's.
    const stale = cluster.traffic.sample(entry, 4000, {
      share: 1,
      cookies: { 'kanary-web': 'web.canary.0ld' },
    });
    expectShare(stale.get('web-canary') ?? 0, 4000, 0.5, 'an old release cookie');
    // After Max-Age the browser drops the cookie and is split again.
    await cluster.virtualClock!.advance(3_600_000);
    expect(sessions[0]?.cookies()).toEqual({});

    await cluster.run(router.reset(ctx));
    expect(
      (
        cluster.get('VirtualService', 'default', 'web', 'networking.istio.io') as {
          spec: { http: unknown[] };
        }
      ).spec.http,
    ).toHaveLength(1);
  });

  it('matches a cookie wherever it sits in the header', () => {
    const re = new RegExp(cookieRegex('email', { regex: '^[^;]*@corp\\.com$' }));
    expect(re.test('email=a@corp.com')).toBe(true);
    expect(re.test('sid=1; email=a@corp.com; theme=x')).toBe(true);
    expect(re.test('sid=1;email=a@corp.com')).toBe(true);
    expect(re.test('myemail=a@corp.com')).toBe(false);
    expect(re.test('email=a@corp.com.evil.org')).toBe(false);
  });
});
