import { createKubeClient, createKubernetesRollout, isKanaryError, type RolloutState } from '@kanary/core';
import { createNginxRouter, nginxRouteProblems } from '@kanary/nginx';
import { type Cluster, deployment, type KubeObject, service, startCluster } from '@kanary/testkit';
import { describeRouterConformance, expectShare, type PersonEdit } from '@kanary/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';

const A = 'nginx.ingress.kubernetes.io/';
const ingress = (name: string, svc: string, annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: 'default', ...(Object.keys(annotations).length ? { annotations } : {}) },
  spec: {
    ingressClassName: 'nginx',
    rules: [
      {
        host: 'shop.example.com',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } },
          ],
        },
      },
    ],
  },
});
const entry = { kind: 'ingress' as const, host: 'shop.example.com' };

const STABLE = { kind: 'Ingress', namespace: 'default', name: 'shop', group: 'networking.k8s.io' };
const CANARY = { ...STABLE, name: 'shop-canary' };
const annotate = (key: string, value: string) => (ing: KubeObject) => ({
  ...ing,
  metadata: { ...ing.metadata, annotations: { ...ing.metadata.annotations, [key]: value } },
});
type Rules = Array<{ host?: string; http: { paths: unknown[] } }>;
const personEdits: PersonEdit[] = [
  {
    does: 'sets a proxy timeout on the Ingress',
    target: STABLE,
    edit: annotate(`${A}proxy-read-timeout`, '7'),
  },
  {
    does: 'adds a path to the Ingress',
    target: STABLE,
    edit: (ing) => {
      const spec = structuredClone(ing.spec as { rules: Rules });
      spec.rules[0]?.http.paths.push({
        path: '/admin',
        pathType: 'Prefix',
        backend: { service: { name: 'shop', port: { number: 80 } } },
      });
      return { ...ing, spec };
    },
  },
  {
    does: 'sets the canary weight to 0 by hand',
    kind: 'zero',
    target: CANARY,
    edit: annotate(`${A}canary-weight`, '0'),
  },
  { does: "deletes Kanary's canary Ingress", kind: 'dropOwned', target: CANARY, edit: () => undefined },
];

describeRouterConformance({
  name: 'ingress-nginx canary Ingress',
  personEdits,
  setup(cluster) {
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2),
      deployment('shop-canary', 'default', 'shop:2', 2, { app: 'shop' }),
      service('shop', 'default', { app: 'shop' }),
      ingress('shop', 'shop'),
    );
    return {
      router: createNginxRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        stableIngress: 'shop',
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
        { kind: 'Ingress', namespace: 'default', name: 'shop', group: 'networking.k8s.io' },
        { kind: 'Service', namespace: 'default', name: 'shop' },
      ],
      raceTarget: { kind: 'Ingress', namespace: 'default', name: 'shop-canary', group: 'networking.k8s.io' },
    };
  },
});

let cluster: Cluster;
afterEach(() => cluster?.close());

describe('seed 002 through ingress-nginx', () => {
  it('10% by weight; QA reaches the canary by header at any weight; a beta group by cookie; never canary: "false"', async () => {
    cluster = await startCluster({ podReadyAfterMs: 1_000, seed: 21 });
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2),
      service('shop', 'default', { app: 'shop' }),
      ingress('shop', 'shop'),
    );
    await cluster.settle();
    const rollout = createKubernetesRollout({
      spec: {
        name: 'shop',
        target: { name: 'shop', service: 'shop' },
        update: { image: 'shop:2' },
        strategy: { type: 'weighted' },
        steps: [
          {
            setHeaderRoute: {
              name: 'qa',
              match: [
                { headers: [{ name: 'X-QA', exact: 'always' }] },
                { cookie: { name: 'beta', exact: 'always' } },
              ],
            },
          },
          { setWeight: 0 },
          { pause: {} },
          { setWeight: 10 },
          { pause: {} },
        ],
      },
      router: createNginxRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        stableIngress: 'shop',
      }),
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
      pollInterval: '1s',
    });
    const share = (user = {}) =>
      (cluster.traffic.sample(entry, 4000, { share: 1, ...user }).get('shop-canary') ?? 0) / 4000;
    const checks: string[] = [];
    rollout.on('state', (s: RolloutState) => {
      if (s.phase !== 'paused' || !s.action || s.action.until !== undefined) return;
      const canary = cluster.get('Ingress', 'default', 'shop-canary', 'networking.k8s.io')!;
      expect(canary.metadata.annotations?.[`${A}canary`]).toBe('true');
      if (s.cursor.step === 2) {
        expect(share()).toBe(0);
        expect(share({ headers: { 'x-qa': 'always' } })).toBe(1);
        expect(share({ cookies: { beta: 'always' } })).toBe(1);
        expect(share({ headers: { 'x-qa': 'never' }, cookies: { beta: 'always' } })).toBe(0);
        checks.push('header and cookie at 0%');
      } else if (s.cursor.step === 4) {
        expectShare(Math.round(share() * 4000), 4000, 0.1, '10%');
        expect(share({ headers: { 'x-qa': 'always' } })).toBe(1);
        checks.push('10%');
      }
      queueMicrotask(() => rollout.promote().catch(() => undefined));
    });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe('succeeded');
    expect(checks).toEqual(['header and cookie at 0%', '10%']);
    // Promotion pointed stable at the new version before the canary Ingress went away.
    expect(cluster.get('Ingress', 'default', 'shop-canary', 'networking.k8s.io')).toBeUndefined();
    expect(cluster.traffic.sample(entry, 200).get('shop')).toBe(200);
    expect(cluster.requests.filter((r) => r.code === 422)).toEqual([]);
  });
});

describe('ingress-nginx traps are refused before anything is written', () => {
  it('explains each trap', () => {
    const route = (match: unknown, weight = 100) => nginxRouteProblems({ match: match as never, weight });
    expect(route([{ headers: [{ name: 'X-Canary', exact: 'never' }] }])[0]).toMatch(
      /"never" does not force primary once canary-by-header-value is set/,
    );
    expect(route([{ headers: [{ name: 'X-Canary', exact: 'qa team' }] }])[0]).toMatch(
      /characters ingress-nginx refuses/,
    );
    expect(route([{ headers: [{ name: 'X-Canary', regex: '([a-z' }] }])[0]).toMatch(
      /would send all such requests to primary/,
    );
    expect(route([{ headers: [{ name: 'X-Canary', prefix: 'qa' }] }])[0]).toMatch(
      /cannot match a header prefix/,
    );
    // PCRE runs the pattern on every request with the header: super-linear shapes are refused.
    for (const pattern of ['^(a+)+$', '^(\\w+\\s?)*$', '^(qa|qa-team)*$', '.*a.*b.*c'])
      expect(route([{ headers: [{ name: 'X-Canary', regex: pattern }] }])[0], pattern).toMatch(
        /a backtracking engine takes (exponential|polynomial) time.*ingress-nginx evaluates it with PCRE/,
      );
    expect(route([{ headers: [{ name: 'X-Canary', regex: '^(qa|beta)-[0-9]+$' }] }])).toEqual([]);
    expect(route([{ cookie: { name: 'beta', exact: 'yes' } }])[0]).toMatch(/only the value "always"/);
    expect(route([{ headers: [{ name: 'X-Canary', exact: 'qa' }] }], 50)[0]).toMatch(/partial weight/);
    expect(
      route([
        {
          headers: [
            { name: 'a', exact: 'qa' },
            { name: 'b', exact: 'qa' },
          ],
        },
      ])[0],
    ).toMatch(/one header or one cookie/);
    expect(
      route([
        { headers: [{ name: 'X-QA', exact: 'always' }] },
        { cookie: { name: 'beta', exact: 'always' } },
      ]),
    ).toEqual([]);
  });

  it('a second canary on the same host and path, or a bad header route, stops the rollout with nothing written', async () => {
    cluster = await startCluster({ podReadyAfterMs: 1_000 });
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2),
      service('shop', 'default', { app: 'shop' }),
      ingress('shop', 'shop'),
      ingress('someone-elses-canary', 'shop', { [`${A}canary`]: 'true' }),
    );
    await cluster.settle();
    const writesBefore = cluster.requests.filter(
      (r) => ['create', 'update', 'patch', 'delete'].includes(r.verb) && r.resource !== 'leases',
    ).length;
    const rollout = createKubernetesRollout({
      spec: {
        name: 'shop',
        target: { name: 'shop', service: 'shop' },
        update: { image: 'shop:2' },
        strategy: { type: 'weighted' },
        steps: [
          { setHeaderRoute: { name: 'qa', match: [{ headers: [{ name: 'X-Canary', exact: 'never' }] }] } },
        ],
      },
      router: createNginxRouter({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
        stableIngress: 'shop',
      }),
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
    });
    const error = await cluster.run(rollout.run()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isKanaryError(error, 'PREFLIGHT')).toBe(true);
    const messages = (error as { issues: Array<{ message: string }> }).issues
      .map((i) => i.message)
      .join('\n');
    expect(messages).toMatch(/someone-elses-canary already serves a host and path of shop/);
    expect(messages).toMatch(/"never" does not force primary/);
    expect(
      cluster.requests.filter(
        (r) => ['create', 'update', 'patch', 'delete'].includes(r.verb) && r.resource !== 'leases',
      ).length,
    ).toBe(writesBefore);
  });

  it('weights finer than 1% use canary-weight-total', async () => {
    cluster = await startCluster();
    const client = createKubeClient({ kubeConfig: cluster.kubeConfig });
    expect(
      createNginxRouter({ stableIngress: 'shop', weightTotal: 1000, client }).capabilities.weightResolution,
    ).toBe(0.1);
    expect(createNginxRouter({ stableIngress: 'shop', client }).capabilities.weightResolution).toBe(1);
  });
});

describe('weight by user (strategy.hashOn) through ingress-nginx', () => {
  const users = Array.from({ length: 400 }, (_, i) => ({ headers: { 'x-user-id': String(7_000 + i) } }));
  const start = async (seed: number) => {
    cluster = await startCluster({ podReadyAfterMs: 1_000, seed });
    cluster.apply(
      deployment('shop', 'default', 'shop:1', 2),
      service('shop', 'default', { app: 'shop' }),
      ingress('shop', 'shop'),
    );
    await cluster.settle();
    return createNginxRouter({
      client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
      stableIngress: 'shop',
    });
  };
  const spec = (hashOn: Record<string, string>) => ({
    name: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'weighted' as const, hashOn: hashOn as { header: string; keys: 'decimal' } },
    steps: [{ setWeight: 30 }, { pause: {} }],
    scaleDownDelay: '0s',
  });

  it('sends the users of a header partition to the canary Ingress, each always to the same side', async () => {
    const router = await start(41);
    const rollout = createKubernetesRollout({
      spec: spec({ header: 'x-user-id', keys: 'decimal' }),
      router,
      kubeConfig: cluster.kubeConfig,
      clock: cluster.clock,
    });
    const running = rollout.run();
    await cluster.run(
      new Promise<void>((resolve) => rollout.on('state', (s) => s.phase === 'paused' && resolve())),
    );
    const served = cluster.traffic.servedPerUser(entry, users);
    expect(served.filter((w) => w === 'mixed')).toEqual([]);
    const canary = served.flatMap((w, i) => (w === 'shop-canary' ? [(7_000 + i) % 100] : []));
    expect(canary.length).toBe(120);
    expect(canary.every((d) => d < 30)).toBe(true);
    // No key, no canary: the canary Ingress carries weight 0 for everyone else.
    expect(cluster.traffic.shareServed(entry, 'shop', {}, 1_000)).toBe(1);
    const annotations = cluster.get('Ingress', 'default', 'shop-canary', 'networking.k8s.io')?.metadata
      .annotations;
    expect(annotations).toMatchObject({ [`${A}canary-weight`]: '0', [`${A}canary-by-header`]: 'x-user-id' });
    await cluster.run(rollout.promote());
    expect((await cluster.run(running)).phase).toBe('succeeded');
    expect(new Set(cluster.traffic.servedPerUser(entry, users.slice(0, 50)))).toEqual(new Set(['shop']));
  });

  it('refuses a user key in a cookie (ingress-nginx reads canary cookies only as always/never), and a header route besides', async () => {
    const router = await start(42);
    const refusal = (s: ReturnType<typeof spec>) => {
      try {
        createKubernetesRollout({ spec: s, router, kubeConfig: cluster.kubeConfig, clock: cluster.clock });
      } catch (e) {
        return isKanaryError(e) ? `${e.code}: ${e.message}` : String(e);
      }
      return 'accepted';
    };
    expect(refusal(spec({ cookie: 'uid', keys: 'hex' }))).toMatch(
      /UNSUPPORTED_CAPABILITY[\s\S]*strategy\.hashOn\.cookie[\s\S]*hashOn\.header/,
    );
    const withRoute = spec({ header: 'x-user-id', keys: 'decimal' });
    (withRoute.steps as unknown[]).unshift({
      setHeaderRoute: { name: 'qa', match: [{ headers: [{ name: 'x-qa', exact: 'always' }] }] },
    });
    expect(refusal(withRoute)).toMatch(/hashOn takes one of ingress-nginx's 1 header routes/);
  });
});
