import {
  createKubeClient,
  createKubernetesRollout,
  type RolloutSpecInput,
  type RolloutState,
} from '@kanary/core';
import { createGatewayApiRouter } from '@kanary/gateway-api';
import { type Cluster, deployment, gateway, type KubeObject, service, startCluster } from '@kanary/testkit';
import { describeRouterConformance, expectShare, type PersonEdit } from '@kanary/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';

const httpRoute = (): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'shop', namespace: 'default' },
  spec: {
    parentRefs: [{ name: 'public-gateway' }],
    hostnames: ['shop.example.com'],
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/static' } }],
        backendRefs: [{ name: 'cdn-cache', port: 80 }],
      },
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'shop', port: 80 }] },
    ],
  },
});
const entry = { kind: 'gateway' as const, host: 'shop.example.com', path: '/cart' };

type Rule = {
  matches?: unknown[];
  filters?: Array<Record<string, unknown>>;
  backendRefs?: Array<Record<string, unknown>>;
} & Record<string, unknown>;
const ROUTE = { kind: 'HTTPRoute', namespace: 'default', name: 'shop', group: 'gateway.networking.k8s.io' };
const rules = (f: (rules: Rule[]) => Rule[]) => (route: KubeObject) => ({
  ...route,
  spec: { ...(route.spec as object), rules: f((route.spec as { rules: Rule[] }).rules) },
});
const sendsToShop = (r: Rule) => (r.backendRefs ?? []).some((b) => b.name === 'shop');
const isKanarys = (r: Rule) => JSON.stringify(r.filters ?? []).includes('x-kanary-route');
const personEdits: PersonEdit[] = [
  {
    does: 'adds a rule above the managed one',
    target: ROUTE,
    edit: rules((rs) => [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/admin' } }],
        backendRefs: [{ name: 'shop', port: 80 }],
      },
      ...rs,
    ]),
  },
  {
    does: 'sets request timeouts on the managed rule',
    target: ROUTE,
    edit: rules((rs) =>
      rs.map((r) => (sendsToShop(r) && !isKanarys(r) ? { ...r, timeouts: { request: '7s' } } : r)),
    ),
  },
  {
    does: 'sets the canary to 0% by hand',
    kind: 'zero',
    target: ROUTE,
    edit: rules((rs) =>
      rs.map((r) =>
        isKanarys(r)
          ? r
          : {
              ...r,
              backendRefs: (r.backendRefs ?? []).map((b) =>
                b.name === 'shop-canary'
                  ? { ...b, weight: 0 }
                  : b.name === 'shop'
                    ? { ...b, weight: 100 }
                    : b,
              ),
            },
      ),
    ),
  },
  {
    does: "deletes Kanary's header rule",
    kind: 'dropOwned',
    target: ROUTE,
    edit: rules((rs) => rs.filter((r) => !isKanarys(r))),
  },
];

describeRouterConformance({
  name: 'Gateway API HTTPRoute',
  personEdits,
  setup(cluster) {
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2),
      deployment('shop-canary', 'default', 'shop:2', 2, { app: 'shop' }),
      service('shop', 'default', { app: 'shop' }),
      // The other backend of the route: a Gateway reports a missing one (ResolvedRefs False).
      service('cdn-cache', 'default', { app: 'cdn-cache' }),
      ...gateway('public-gateway', 'default'),
      httpRoute(),
    );
    return {
      router: createGatewayApiRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        httpRoute: 'shop',
      }),
      spec: {
        name: 'shop',
        target: { name: 'shop', service: 'shop' },
        strategy: { type: 'weighted', canary: { name: 'shop-canary', adopt: true } },
      },
      entry,
      stableWorkload: 'shop',
      canaryWorkload: 'shop-canary',
      restored: [
        { kind: 'HTTPRoute', namespace: 'default', name: 'shop', group: 'gateway.networking.k8s.io' },
        { kind: 'Service', namespace: 'default', name: 'shop' },
      ],
      raceTarget: {
        kind: 'HTTPRoute',
        namespace: 'default',
        name: 'shop',
        group: 'gateway.networking.k8s.io',
      },
    };
  },
});

let cluster: Cluster;
afterEach(() => cluster?.close());

/** The shop with its HTTPRoute, ready; returns the route's spec as written, to compare at the end. */
async function startShop(seed: number): Promise<string> {
  cluster = await startCluster({ podReadyAfterMs: 1_000, seed });
  cluster.apply(
    deployment('shop', 'default', 'shop:1', 2),
    service('shop', 'default', { app: 'shop' }),
    service('cdn-cache', 'default', { app: 'cdn-cache' }),
    ...gateway('public-gateway', 'default'),
    httpRoute(),
  );
  await cluster.settle();
  return JSON.stringify(cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')!.spec);
}

/** shop → shop:2 through its HTTPRoute, on the cluster's clock; `spec` gives the strategy and steps. */
function shopRollout(spec: Pick<RolloutSpecInput, 'strategy' | 'steps'>) {
  return createKubernetesRollout({
    spec: { name: 'shop', target: { name: 'shop', service: 'shop' }, update: { image: 'shop:2' }, ...spec },
    router: createGatewayApiRouter({
      client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
      httpRoute: 'shop',
    }),
    kubeConfig: cluster.kubeConfig,
    clock: cluster.clock,
    pollInterval: '1s',
  });
}

describe('a weighted and header-routed canary through Gateway API', () => {
  it('splits by weight, routes marked and cookie users to the canary, and restores the route exactly', async () => {
    const original = await startShop(31);
    const rollout = shopRollout({
      strategy: { type: 'weighted' },
      steps: [
        {
          setHeaderRoute: {
            name: 'testers',
            match: [
              { headers: [{ name: 'X-Canary', exact: 'true' }] },
              { cookie: { name: 'beta', exact: 'yes' } },
            ],
          },
        },
        { setWeight: 20 },
        { setMirror: { name: 'shadow', percentage: 50 } },
        { pause: {} },
      ],
    });
    const share = (user = {}) =>
      cluster.traffic.sample(entry, 4000, { share: 1, ...user }).get('shop-canary') ?? 0;
    let checked = false;
    rollout.on('state', (s: RolloutState) => {
      if (s.phase !== 'paused' || !s.action || s.action.until !== undefined || checked) return;
      expectShare(share(), 4000, 0.2, '20% by weight');
      expect(share({ headers: { 'x-canary': 'true' } })).toBe(4000);
      expect(share({ cookies: { session: 'a', beta: 'yes' } })).toBe(4000);
      expect(cluster.traffic.sample({ ...entry, path: '/static/app.js' }, 100).get('shop-canary') ?? 0).toBe(
        0,
      );
      const results = Array.from({ length: 2000 }, () => cluster.traffic.send({ name: 'u', entry }));
      const mirrored = results.filter(
        (r) => r.hops[0]?.outcome.kind === 'backend' && r.hops[0].outcome.mirrors.length > 0,
      ).length;
      expectShare(mirrored, 2000, 0.5, 'mirrored');
      checked = true;
      queueMicrotask(() => rollout.promote().catch(() => undefined));
    });
    const final = await cluster.run(rollout.run());
    expect(checked).toBe(true);
    expect(final.phase).toBe('succeeded');
    expect(
      JSON.stringify(cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')!.spec),
    ).toBe(original);
    expect(
      cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')!.metadata.annotations,
    ).toBeUndefined();
    expect(cluster.get('Service', 'default', 'shop-canary')).toBeUndefined();
    expect(cluster.traffic.sample(entry, 200).get('shop')).toBe(200);
    expect(cluster.requests.filter((r) => r.code === 422)).toEqual([]);
  });
});

describe('weight by user (strategy.hashOn) through Gateway API', () => {
  it('a cookie partition reaches the canary backend, the rest stays, and an abort leaves the HTTPRoute as it was', async () => {
    const original = await startShop(32);
    const rollout = shopRollout({
      strategy: { type: 'weighted', hashOn: { cookie: 'session-user', keys: 'hex' } },
      steps: [{ setWeight: 50 }, { pause: {} }],
    });
    const running = rollout.run();
    await cluster.run(
      new Promise<void>((resolve) => rollout.on('state', (s) => s.phase === 'paused' && resolve())),
    );
    // UUID-like keys; other cookies around the user's, as browsers send them.
    const users = Array.from({ length: 256 }, (_, i) => ({
      cookies: { theme: 'dark', 'session-user': `4b1e-9c${i.toString(16).padStart(2, '0')}`, lang: 'en' },
    }));
    const served = cluster.traffic.servedPerUser(entry, users);
    expect(served.filter((w) => w === 'mixed')).toEqual([]);
    expect(served.flatMap((w, i) => (w === 'shop-canary' ? [i] : []))).toEqual(
      Array.from({ length: 128 }, (_, i) => i),
    );
    expect(cluster.traffic.shareServed(entry, 'shop', { cookies: { theme: 'dark' } }, 500)).toBe(1);

    await cluster.run(rollout.abort());
    expect((await cluster.run(running)).phase).toBe('aborted');
    expect(new Set(cluster.traffic.servedPerUser(entry, users))).toEqual(new Set(['shop']));
    expect(
      JSON.stringify(cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')!.spec),
    ).toBe(original);
  });
});

describe("the route's attachment, as its Gateway reports it (status.parents)", () => {
  it('a weight is verified once the Gateway accepted the new generation; a route no Gateway accepts is refused before anything is written', async () => {
    await startShop(7);
    const router = createGatewayApiRouter({
      client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
      httpRoute: 'shop',
    });
    const rollout = shopRollout({
      strategy: { type: 'weighted' },
      steps: [{ setWeight: 30 }, { pause: {} }],
    });
    const weights: Array<{ canary: number; verified: boolean }> = [];
    rollout.on('weight', (w) => weights.push({ canary: w.canary, verified: w.verified }));
    const paused = new Promise<void>((resolve) =>
      rollout.on('state', (s: RolloutState) => s.phase === 'paused' && resolve()),
    );
    const run = rollout.run();
    await cluster.run(paused);
    expect(weights.at(-1)).toEqual({ canary: 30, verified: true });
    const route = cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io') as KubeObject & {
      status: { parents: Array<{ conditions: Array<{ type: string; observedGeneration: number }> }> };
    };
    expect(route.status.parents[0]?.conditions.map((c) => c.observedGeneration)).toEqual([
      route.metadata.generation,
      route.metadata.generation,
    ]);
    await cluster.run(rollout.abort('done looking'));
    await cluster.run(run);
    await cluster.run(rollout.close());

    // The Gateway stops accepting routes from this namespace: Accepted False, and a new release is
    // refused by preflight with the Gateway's reason, writing nothing.
    const gw = cluster.get(
      'Gateway',
      'default',
      'public-gateway',
      'gateway.networking.k8s.io',
    ) as KubeObject & {
      spec: { listeners: Array<Record<string, unknown>> };
    };
    cluster.apply({
      ...gw,
      spec: {
        ...gw.spec,
        listeners: gw.spec.listeners.map((l) => ({
          ...l,
          allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'edge' } } } },
        })),
      },
    });
    await cluster.settle();
    const before = JSON.stringify(
      cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')?.spec,
    );
    const refused = shopRollout({ strategy: { type: 'weighted' }, steps: [{ setWeight: 30 }] });
    const error = await cluster.run(refused.run()).catch((e: Error) => e);
    expect((error as Error).message).toContain(
      'reports Accepted False for HTTPRoute shop: NotAllowedByListeners',
    );
    expect(
      JSON.stringify(cluster.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')?.spec),
    ).toBe(before);
    const status = await cluster.run(
      router.status({
        key: { namespace: 'default', name: 'shop' },
        spec: refused.spec,
        state: await cluster.run(refused.load()),
        targets: {},
        signal: new AbortController().signal,
      }),
    );
    expect(status.verified).toBe(false);
    await cluster.run(refused.close());
  });
});
