import { type Cluster, gateway, type KubeObject, startCluster } from '@kanary/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectShare } from './tolerance.ts';

const N = 4000;
let cluster: Cluster;

function versioned(app: string, version: string, replicas: number, ns = 'test1'): KubeObject {
  const name = `${app}-${version}`;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app, version } },
      template: {
        metadata: { labels: { app, version } },
        spec: { containers: [{ name: app, image: `${app}:${version}` }] },
      },
    },
  };
}
const svc = (name: string, selector: Record<string, string>, ns = 'test1'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns },
  spec: { selector, ports: [{ port: 80, targetPort: 80 }] },
});

beforeAll(async () => {
  cluster = await startCluster({ podReadyAfterMs: 1000, seed: 7 });
  cluster.apply(
    versioned('demo4', 'v1', 2),
    versioned('demo4', 'v2', 2),
    svc('demo4', { app: 'demo4' }),
    svc('demo4-v1', { app: 'demo4', version: 'v1' }),
    svc('demo4-v2', { app: 'demo4', version: 'v2' }),
    versioned('hello', 'blue', 9),
    versioned('hello', 'green', 1),
    svc('py-hello-service', { app: 'hello' }),
    ...gateway('gw', 'test1'),
  );
  await cluster.virtualClock!.advance(2000);
});
afterAll(() => cluster.close());

describe('plain Service (kube-proxy)', () => {
  it('splits uniformly over ready endpoints, so replica counts decide (seed 001: 9 blue, 1 green)', () => {
    const counts = cluster.traffic.sample(
      { kind: 'service', namespace: 'test1', service: 'py-hello-service' },
      N,
    );
    expectShare(counts.get('hello-green') ?? 0, N, 0.1, 'green');
    expect((counts.get('hello-blue') ?? 0) + (counts.get('hello-green') ?? 0)).toBe(N);
  });
});

describe('Istio VirtualService', () => {
  const entry = { kind: 'istio' as const, host: 'demo4.a.com', namespace: 'test1' };
  beforeAll(() => {
    cluster.apply({
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
    });
  });
  const vs = (http: unknown[]): KubeObject => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'demo4-vs', namespace: 'test1' },
    spec: { hosts: ['demo4.a.com'], http },
  });
  const dest = (subset: string, weight?: number) => ({
    destination: { host: 'demo4.test1.svc.cluster.local', subset },
    ...(weight !== undefined ? { weight } : {}),
  });

  it('seed 003: 90/10 between DestinationRule subsets', () => {
    cluster.apply(vs([{ route: [dest('v1', 90), dest('v2', 10)] }]));
    const counts = cluster.traffic.sample(entry, N);
    expectShare(counts.get('demo4-v2') ?? 0, N, 0.1, 'v2');
  });

  it('weights are relative (3:1 gives v2 25%)', () => {
    cluster.apply(vs([{ route: [dest('v1', 3), dest('v2', 1)] }]));
    expectShare(cluster.traffic.sample(entry, N).get('demo4-v2') ?? 0, N, 0.25, 'v2');
  });

  it('seed 003: a cookie-regex rule sends matching users 50/50, everyone else to v1 only', () => {
    cluster.apply(
      vs([
        {
          match: [{ headers: { cookie: { regex: '^(.*?;)?(email=[^;]*@some-company-name.com)(;.*)?$' } } }],
          route: [dest('v1', 50), dest('v2', 50)],
        },
        { route: [dest('v1')] },
      ]),
    );
    const staff = cluster.traffic.sample(entry, N, {
      share: 1,
      cookies: { email: 'li@some-company-name.com', session: 'x' },
    });
    expectShare(staff.get('demo4-v2') ?? 0, N, 0.5, 'staff on v2');
    const others = cluster.traffic.sample(entry, N, { share: 1, cookies: { email: 'li@example.org' } });
    expect(others.get('demo4-v1')).toBe(N);
    // The seed's regex allows no space after ";", and browsers send "a=b; c=d": a staff cookie that
    // is not the first one is missed. Envoy's full-match semantics make this visible here too.
    const missed = cluster.traffic.sample(entry, 200, {
      share: 1,
      cookies: { session: 'x', email: 'li@some-company-name.com' },
    });
    expect(missed.get('demo4-v1')).toBe(200);
  });

  it('matches headers exactly, by prefix and by regex (full match, as Envoy), first matching rule wins', () => {
    cluster.apply(
      vs([
        { name: 'exact', match: [{ headers: { 'x-canary': { exact: 'true' } } }], route: [dest('v2')] },
        { name: 'prefix', match: [{ headers: { 'x-team': { prefix: 'qa-' } } }], route: [dest('v2')] },
        { name: 'regex', match: [{ headers: { 'x-user': { regex: 'u[0-9]+' } } }], route: [dest('v2')] },
        { name: 'default', route: [dest('v1')] },
      ]),
    );
    const one = (headers: Record<string, string>) =>
      cluster.traffic.send({ name: 't', entry }, { share: 1, headers });
    expect(one({ 'X-Canary': 'true' }).workload).toBe('demo4-v2');
    expect(one({ 'x-canary': 'TRUE' }).workload).toBe('demo4-v1');
    expect(one({ 'x-team': 'qa-berlin' }).workload).toBe('demo4-v2');
    expect(one({ 'x-user': 'u42' }).workload).toBe('demo4-v2');
    expect(one({ 'x-user': 'xu42' }).workload).toBe('demo4-v1');
    expect(one({}).hops[0]?.outcome.meta.rule).toBe('default');
  });

  it('mirrors a percentage of requests to the mirror destination, responses ignored', () => {
    cluster.traffic.metrics.reset();
    cluster.apply(
      vs([
        {
          route: [dest('v1')],
          mirror: { host: 'demo4.test1.svc.cluster.local', subset: 'v2' },
          mirrorPercentage: { value: 20 },
        },
      ]),
    );
    const counts = cluster.traffic.sample(entry, N);
    expect(counts.get('demo4-v1')).toBe(N);
    const mirrored = cluster.traffic.metrics.total('istio_requests_total', {
      destination_workload: 'demo4-v2',
    });
    expectShare(mirrored, N, 0.2, 'mirrored');
  });

  it('a subset missing from the DestinationRule answers 503', () => {
    cluster.apply(vs([{ route: [dest('v3')] }]));
    expect(cluster.traffic.send({ name: 't', entry }).status).toBe(503);
  });
});

describe('ingress-nginx canary annotations', () => {
  const entry = { kind: 'ingress' as const, host: 'shop.example.com', path: '/' };
  const A = 'nginx.ingress.kubernetes.io/';
  const ingress = (
    name: string,
    service: string,
    annotations: Record<string, string> = {},
    path = '/',
    host = 'shop.example.com',
  ): KubeObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'test1', annotations },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host,
          http: {
            paths: [
              { path, pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
  });
  const canaryShare = (user = {}) =>
    (cluster.traffic.sample(entry, N, { share: 1, ...user }).get('demo4-v2') ?? 0) / N;
  const canary = (annotations: Record<string, string>) =>
    cluster.apply(ingress('shop-canary', 'demo4-v2', { [`${A}canary`]: 'true', ...annotations }));

  beforeAll(() => {
    cluster.apply(ingress('shop', 'demo4-v1'));
  });

  it('canary-weight 10 sends 10%', () => {
    canary({ [`${A}canary-weight`]: '10' });
    expectShare(Math.round(canaryShare() * N), N, 0.1, 'weight 10');
  });

  it('canary-weight-total allows weights finer than 1% (5 of 1000 = 0.5%)', () => {
    canary({ [`${A}canary-weight`]: '5', [`${A}canary-weight-total`]: '1000' });
    expectShare(Math.round(canaryShare() * N), N, 0.005, 'weight 5/1000');
    canary({ [`${A}canary-weight`]: '5', [`${A}canary-weight-total`]: '50' });
    expectShare(Math.round(canaryShare() * N), N, 0.05, 'total ≤ 100 means 100');
  });

  it('canary-by-header: always → canary, never → primary, anything else falls through to the weight', () => {
    canary({ [`${A}canary-by-header`]: 'X-Canary', [`${A}canary-weight`]: '30' });
    expect(canaryShare({ headers: { 'x-canary': 'always' } })).toBe(1);
    expect(canaryShare({ headers: { 'x-canary': 'never' } })).toBe(0);
    expectShare(Math.round(canaryShare({ headers: { 'x-canary': 'maybe' } }) * N), N, 0.3, 'falls through');
  });

  it('trap: with canary-by-header-value set, "never" no longer forces primary (it falls through to the weight)', () => {
    canary({
      [`${A}canary-by-header`]: 'X-Canary',
      [`${A}canary-by-header-value`]: 'qa',
      [`${A}canary-weight`]: '30',
    });
    expect(canaryShare({ headers: { 'x-canary': 'qa' } })).toBe(1);
    expectShare(
      Math.round(canaryShare({ headers: { 'x-canary': 'never' } }) * N),
      N,
      0.3,
      'never falls through',
    );
    expectShare(
      Math.round(canaryShare({ headers: { 'x-canary': 'always' } }) * N),
      N,
      0.3,
      'always falls through',
    );
  });

  it('trap: an invalid canary-by-header-pattern sends matching-header requests to primary, skipping cookie and weight', () => {
    canary({
      [`${A}canary-by-header`]: 'X-Canary',
      [`${A}canary-by-header-pattern`]: '([a-z',
      [`${A}canary-by-cookie`]: 'beta',
      [`${A}canary-weight`]: '100',
    });
    expect(canaryShare({ headers: { 'x-canary': 'x' }, cookies: { beta: 'always' } })).toBe(0);
    // Without the header the cookie and weight still apply.
    expect(canaryShare({ cookies: { beta: 'always' } })).toBe(1);
    canary({ [`${A}canary-by-header`]: 'X-Canary', [`${A}canary-by-header-pattern`]: '^qa-.*' });
    expect(canaryShare({ headers: { 'x-canary': 'qa-ann' } })).toBe(1);
    expect(canaryShare({ headers: { 'x-canary': 'dev-bo' } })).toBe(0);
  });

  it('canary-by-cookie: always → canary, never → primary; header takes precedence over cookie, cookie over weight', () => {
    canary({
      [`${A}canary-by-cookie`]: 'beta',
      [`${A}canary-by-header`]: 'X-Canary',
      [`${A}canary-weight`]: '50',
    });
    expect(canaryShare({ cookies: { beta: 'always' } })).toBe(1);
    expect(canaryShare({ cookies: { beta: 'never' } })).toBe(0);
    expect(canaryShare({ headers: { 'x-canary': 'never' }, cookies: { beta: 'always' } })).toBe(0);
    expect(canaryShare({ headers: { 'x-canary': 'always' }, cookies: { beta: 'never' } })).toBe(1);
    expectShare(
      Math.round(canaryShare({ cookies: { beta: 'yes-please' } }) * N),
      N,
      0.5,
      'cookie value other than always/never',
    );
  });

  it('trap: only the first canary for a host+path is used; a second one is ignored', () => {
    canary({ [`${A}canary-weight`]: '100' });
    cluster.apply(
      ingress('shop-canary-2', 'demo4', { [`${A}canary`]: 'true', [`${A}canary-weight`]: '100' }),
    );
    const counts = cluster.traffic.sample(entry, 500);
    expect(counts.get('demo4-v2')).toBe(500);
    cluster.apply({
      ...ingress('shop-canary-2', 'demo4'),
      metadata: { name: 'shop-canary-2', namespace: 'test1', annotations: {} },
    });
  });

  it('trap: a canary on another path (or pathType) is not merged and gets no traffic', () => {
    cluster.apply(
      ingress('shop-canary', 'demo4-v2', { [`${A}canary`]: 'true', [`${A}canary-weight`]: '100' }, '/api'),
    );
    expect(canaryShare()).toBe(0);
  });

  it('trap: canary: "false" turns the canary into a normal, conflicting Ingress — the older one keeps the location', () => {
    cluster.apply(
      ingress('shop-canary', 'demo4-v2', { [`${A}canary`]: 'false', [`${A}canary-weight`]: '100' }),
    );
    expect(canaryShare()).toBe(0);
    const r = cluster.traffic.send({ name: 't', entry });
    expect(r.hops[0]?.outcome.meta.ingress).toBe('shop');
  });

  it('records nginx_ingress_controller_requests with canary="" for primary and the upstream name for canary', () => {
    cluster.traffic.metrics.reset();
    canary({ [`${A}canary-weight`]: '25' });
    cluster.traffic.sample(entry, N);
    const canaryHits = cluster.traffic.metrics.total('nginx_ingress_controller_requests', {
      ingress: 'shop',
      canary: 'test1-demo4-v2-80',
    });
    const primaryHits = cluster.traffic.metrics.total('nginx_ingress_controller_requests', {
      ingress: 'shop',
      canary: '',
    });
    expect(canaryHits + primaryHits).toBe(N);
    expectShare(canaryHits, N, 0.25, 'canary series');
  });
});

describe('Gateway API HTTPRoute', () => {
  const entry = { kind: 'gateway' as const, host: 'shop.gw.example', path: '/' };
  const route = (rules: unknown[], name = 'shop'): KubeObject => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: 'test1' },
    spec: { parentRefs: [{ name: 'gw' }], hostnames: ['shop.gw.example'], rules },
  });
  /** Applies routes and waits for the Gateway controller to answer for them (it reacts late, as a cluster's). */
  const apply = async (...routes: KubeObject[]) => {
    cluster.apply(...routes);
    await cluster.settle('test1');
  };
  const backend = (name: string, weight?: number) => ({
    name,
    port: 80,
    ...(weight !== undefined ? { weight } : {}),
  });

  it('splits by backendRef weights, proportionally (3:1 gives 25%), weights need not sum to 100', async () => {
    await apply(route([{ backendRefs: [backend('demo4-v1', 3), backend('demo4-v2', 1)] }]));
    expectShare(cluster.traffic.sample(entry, N).get('demo4-v2') ?? 0, N, 0.25, '3:1');
    await apply(route([{ backendRefs: [backend('demo4-v1', 900000), backend('demo4-v2', 100000)] }]));
    expectShare(cluster.traffic.sample(entry, N).get('demo4-v2') ?? 0, N, 0.1, '900k:100k');
  });

  it('all weights zero answers 500', async () => {
    await apply(route([{ backendRefs: [backend('demo4-v1', 0), backend('demo4-v2', 0)] }]));
    expect(cluster.traffic.send({ name: 't', entry }).status).toBe(500);
  });

  it('the most specific rule wins: more header matches beat fewer; exact and regex header matches', async () => {
    await apply(
      route([
        { backendRefs: [backend('demo4-v1')] },
        { matches: [{ headers: [{ name: 'X-Canary', value: 'true' }] }], backendRefs: [backend('demo4-v2')] },
        {
          matches: [{ headers: [{ type: 'RegularExpression', name: 'cookie', value: '.*beta=yes.*' }] }],
          backendRefs: [backend('demo4-v2')],
        },
      ]),
    );
    const one = (headers: Record<string, string>) =>
      cluster.traffic.send({ name: 't', entry }, { share: 1, headers }).workload;
    expect(one({ 'x-canary': 'true' })).toBe('demo4-v2');
    expect(one({ 'x-canary': 'True' })).toBe('demo4-v1');
    expect(one({ cookie: 'a=1; beta=yes' })).toBe('demo4-v2');
    expect(one({})).toBe('demo4-v1');
  });

  it('RequestMirror sends a percentage of requests to the mirror backend as well', async () => {
    cluster.traffic.metrics.reset();
    await apply(
      route([
        {
          backendRefs: [backend('demo4-v1')],
          filters: [
            {
              type: 'RequestMirror',
              requestMirror: { backendRef: { name: 'demo4-v2', port: 80 }, percent: 30 },
            },
          ],
        },
      ]),
    );
    const before = cluster.traffic.served.get('demo4-v2')?.requests ?? 0;
    const counts = cluster.traffic.sample(entry, N);
    expect(counts.get('demo4-v1')).toBe(N);
    // Mirrored requests are not counted as served, and reach the mirror ~30% of the time.
    expect(cluster.traffic.served.get('demo4-v2')?.requests ?? 0).toBe(before);
    const results = Array.from({ length: N }, () => cluster.traffic.send({ name: 't', entry }));
    const mirrors = results.filter(
      (r) => r.hops[0]?.outcome.kind === 'backend' && r.hops[0].outcome.mirrors.length > 0,
    ).length;
    expectShare(mirrors, N, 0.3, 'mirrored');
  });
  const parents = (name = 'shop') =>
    (
      (cluster.get('HTTPRoute', 'test1', name, 'gateway.networking.k8s.io')?.status ?? {}) as {
        parents?: Array<{
          controllerName: string;
          conditions: Array<{ type: string; status: string; reason: string }>;
        }>;
      }
    ).parents ?? [];
  const conditionsOf = (name = 'shop') =>
    Object.fromEntries(parents(name)[0]?.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]) ?? []);

  it('routes only through routes a Gateway accepted, and says why in status.parents', async () => {
    const ok = route([{ backendRefs: [backend('demo4-v1')] }]);
    await apply(ok);
    expect(conditionsOf()).toEqual({ Accepted: 'True Accepted', ResolvedRefs: 'True ResolvedRefs' });
    expect(cluster.traffic.send({ name: 't', entry }).workload).toBe('demo4-v1');
    // A listener that does not exist: not attached, so its rules route nothing.
    await apply({
      ...ok,
      spec: { ...(ok.spec as object), parentRefs: [{ name: 'gw', sectionName: 'https' }] },
    });
    expect(conditionsOf()).toMatchObject({ Accepted: 'False NoMatchingParent' });
    expect(cluster.traffic.send({ name: 't', entry }).status).toBe(404);
    // A Gateway nobody implements here: no entry of ours at all, and no routing either.
    await apply({ ...ok, spec: { ...(ok.spec as object), parentRefs: [{ name: 'elsewhere' }] } });
    expect(parents()).toEqual([]);
    expect(cluster.traffic.send({ name: 't', entry }).status).toBe(404);
    // A hostname the listener does not serve.
    cluster.apply(...gateway('gw', 'test1', { hostname: '*.other.example' }));
    await apply(ok);
    expect(conditionsOf()).toMatchObject({ Accepted: 'False NoMatchingListenerHostname' });
    cluster.apply(...gateway('gw', 'test1'));
    await apply(ok);
    expect(conditionsOf()).toMatchObject({ Accepted: 'True Accepted' });
  });

  it('a backendRef that cannot be resolved gets its share of requests answered 500, and ResolvedRefs says why', async () => {
    await apply(route([{ backendRefs: [backend('demo4-v1', 1), { name: 'nowhere', port: 80, weight: 1 }] }]));
    expect(conditionsOf()).toMatchObject({ ResolvedRefs: 'False BackendNotFound' });
    const counts = cluster.traffic.sample(entry, N);
    expectShare(counts.get('status-500') ?? 0, N, 0.5, 'to the missing Service');
    // Another namespace without a ReferenceGrant there: refused, then allowed by one.
    await apply(route([{ backendRefs: [{ name: 'demo4-v1', namespace: 'default', port: 80 }] }]));
    expect(conditionsOf()).toMatchObject({ ResolvedRefs: 'False RefNotPermitted' });
    expect(cluster.traffic.send({ name: 't', entry }).status).toBe(500);
    // A port the Service does not have.
    await apply(route([{ backendRefs: [{ name: 'demo4-v1', port: 8080 }] }]));
    expect(conditionsOf()).toMatchObject({ ResolvedRefs: 'False BackendNotFound' });
    await apply(route([{ backendRefs: [backend('demo4-v1')] }]));
    expect(conditionsOf()).toMatchObject({ ResolvedRefs: 'True ResolvedRefs' });
  });
});
