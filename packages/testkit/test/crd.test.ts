import { readdirSync, readFileSync } from 'node:fs';
import { type Cluster, startCluster } from '@kanary/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// Custom resources as a real kube-apiserver treats them under the upstream CRDs (vendored in
// vendor/crds): defaulted, pruned, keys in Go's map order, and refused by their schema and CEL
// rules with the apiserver's words. Each case is a request over HTTP and what comes back.

type Obj = Record<string, unknown>;
const NS = 'crd';
const ROUTES = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes`;
const VSS = `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`;
const CLASSES = '/apis/gateway.networking.k8s.io/v1/gatewayclasses';
const GATEWAYS = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways`;

const route = (name: string, spec: Obj) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name },
  spec: { parentRefs: [{ name: 'gw' }], ...spec },
});
const backend = { name: 'shop', port: 80 };
const vs = (name: string, http: Obj[]) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name },
  spec: { hosts: ['shop'], http },
});
const dest = [{ destination: { host: 'shop' } }];

interface Refused {
  what: string;
  path: string;
  body: { metadata: { name: string } };
  field: string;
  message: string;
}

const refused: Refused[] = [
  {
    what: 'a PathPrefix match that is not an absolute path',
    path: ROUTES,
    body: route('rel', { rules: [{ matches: [{ path: { value: 'shop' } }], backendRefs: [backend] }] }),
    field: 'spec.rules[0].matches[0].path',
    message: `Invalid value: "object": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`,
  },
  {
    what: 'a Service backendRef without a port',
    path: ROUTES,
    body: route('noport', { rules: [{ backendRefs: [{ name: 'shop' }] }] }),
    field: 'spec.rules[0].backendRefs[0]',
    message: 'Invalid value: "object": Must have port for Service reference',
  },
  {
    what: 'a port above 65535',
    path: ROUTES,
    body: route('bigport', { rules: [{ backendRefs: [{ name: 'shop', port: 70000 }] }] }),
    field: 'spec.rules[0].backendRefs[0].port',
    message:
      'Invalid value: 70000: spec.rules[0].backendRefs[0].port in body should be less than or equal to 65535',
  },
  {
    what: 'a negative weight',
    path: ROUTES,
    body: route('negw', { rules: [{ backendRefs: [{ ...backend, weight: -1 }] }] }),
    field: 'spec.rules[0].backendRefs[0].weight',
    message:
      'Invalid value: -1: spec.rules[0].backendRefs[0].weight in body should be greater than or equal to 0',
  },
  {
    what: 'a weight sent as a string',
    path: ROUTES,
    body: route('strw', { rules: [{ backendRefs: [{ ...backend, weight: '50' }] }] }),
    field: 'spec.rules[0].backendRefs[0].weight',
    message:
      'Invalid value: "string": spec.rules[0].backendRefs[0].weight in body must be of type integer: "string"',
  },
  {
    what: 'a path match type the enum does not have',
    path: ROUTES,
    body: route('enum', {
      rules: [{ matches: [{ path: { type: 'Glob', value: '/x' } }], backendRefs: [backend] }],
    }),
    field: 'spec.rules[0].matches[0].path.type',
    message: 'Unsupported value: "Glob": supported values: "Exact", "PathPrefix", "RegularExpression"',
  },
  {
    what: 'a hostname with an underscore',
    path: ROUTES,
    body: route('host', { hostnames: ['shop_1.example.com'], rules: [{ backendRefs: [backend] }] }),
    field: 'spec.hostnames[0]',
    message: 'Invalid value: "shop_1.example.com": spec.hostnames[0] in body should match',
  },
  {
    what: 'more than 16 rules',
    path: ROUTES,
    body: route('many', { rules: Array.from({ length: 17 }, () => ({ backendRefs: [backend] })) }),
    field: 'spec.rules',
    message: 'Too many: 17: must have at most 16 items',
  },
  {
    what: 'a parentRef without a name',
    path: ROUTES,
    body: route('noname', { parentRefs: [{ sectionName: 'http' }] }),
    field: 'spec.parentRefs[0].name',
    message: 'Required value',
  },
  {
    what: 'the same parent twice in one namespace (a rule that reads `namespace` as `__namespace__`)',
    path: ROUTES,
    body: route('twice', {
      parentRefs: [
        { name: 'gw', namespace: 'edge' },
        { name: 'gw', namespace: 'edge' },
      ],
    }),
    field: 'spec.parentRefs',
    message:
      'Invalid value: "array": sectionName must be unique when parentRefs includes 2 or more references to the same parent',
  },
  {
    what: 'a mirror given both percent and fraction',
    path: ROUTES,
    body: route('mirror', {
      rules: [
        {
          backendRefs: [backend],
          filters: [
            {
              type: 'RequestMirror',
              requestMirror: {
                backendRef: backend,
                percent: 10,
                fraction: { numerator: 1, denominator: 10 },
              },
            },
          ],
        },
      ],
    }),
    field: 'spec.rules[0].filters[0].requestMirror',
    message: 'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter',
  },
  {
    what: 'a VirtualService timeout of 0s',
    path: VSS,
    body: vs('zero', [{ route: dest, timeout: '0s' }]),
    field: 'spec.http[0].timeout',
    message: 'Invalid value: "string": must be a valid duration greater than 1ms',
  },
  {
    what: 'a VirtualService timeout that is no duration',
    path: VSS,
    body: vs('nodur', [{ route: dest, timeout: 'soon' }]),
    field: 'spec.http[0].timeout',
    message: 'evaluating rule: must be a valid duration greater than 1ms',
  },
  {
    what: 'a VirtualService header match with two kinds of match (oneOf)',
    path: VSS,
    body: vs('oneof', [{ route: dest, match: [{ headers: { user: { exact: 'a', prefix: 'b' } } }] }]),
    field: 'spec.http[0].match[0].headers[user]',
    message: 'must validate one and only one schema (oneOf)',
  },
];

describe('custom resources under their upstream CRDs', () => {
  let cluster: Cluster;
  const post = (path: string, body: unknown, query = '') =>
    fetch(`${cluster.url}${path}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  beforeAll(async () => {
    cluster = await startCluster();
    cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  });
  afterAll(() => cluster.close());

  it('serves each custom kind as its vendored CRD declares it (names, scope, versions, subresources)', async () => {
    const vendor = new URL('../vendor/crds/', import.meta.url);
    const files = ['gateway-api', 'istio'].flatMap((dir) =>
      readdirSync(new URL(`${dir}/`, vendor))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => readFileSync(new URL(`${dir}/${f}`, vendor), 'utf8')),
    );
    interface CrdDoc {
      kind: string;
      spec: {
        group: string;
        scope: string;
        names: {
          kind: string;
          plural: string;
          singular: string;
          shortNames?: string[];
          categories?: string[];
        };
        versions: Array<{ name: string; served: boolean; subresources?: { status?: object } }>;
      };
    }
    const crds = files
      .flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as CrdDoc | null))
      .filter((d): d is CrdDoc => d?.kind === 'CustomResourceDefinition');
    const served = [
      ['gateway.networking.k8s.io', 'httproutes'],
      ['gateway.networking.k8s.io', 'gateways'],
      ['gateway.networking.k8s.io', 'gatewayclasses'],
      ['gateway.networking.k8s.io', 'referencegrants'],
      ['networking.istio.io', 'virtualservices'],
      ['networking.istio.io', 'destinationrules'],
    ];
    for (const [group, plural] of served) {
      const crd = crds.find((c) => c.spec.group === group && c.spec.names.plural === plural);
      expect(crd, plural).toBeDefined();
      for (const version of crd?.spec.versions.filter((v) => v.served) ?? []) {
        const list = (await (await fetch(`${cluster.url}/apis/${group}/${version.name}`)).json()) as {
          resources: Array<Obj & { name: string }>;
        };
        const main = list.resources.find((r) => r.name === plural);
        expect(main, `${plural} ${version.name}`).toMatchObject({
          singularName: crd?.spec.names.singular,
          namespaced: crd?.spec.scope === 'Namespaced',
          kind: crd?.spec.names.kind,
        });
        expect(main?.shortNames).toEqual(crd?.spec.names.shortNames);
        expect(main?.categories).toEqual(crd?.spec.names.categories);
        expect(list.resources.some((r) => r.name === `${plural}/status`)).toBe(
          !!version.subresources?.status,
        );
      }
    }
  });

  it.each(refused)('refuses $what (422) and stores nothing', async ({ path, body, field, message }) => {
    const res = await post(path, body);
    const answer = (await res.json()) as {
      message: string;
      details?: { causes?: Array<{ field?: string; message: string }> };
    };
    expect(res.status, answer.message).toBe(422);
    const cause = answer.details?.causes?.find((c) => c.field === field);
    expect(cause?.message, answer.message).toContain(message);
    expect((await fetch(`${cluster.url}${path}/${body.metadata.name}`)).status).toBe(404);
  });

  it('reads escaped property names in CEL: gateways of one name in two namespaces are two parents', async () => {
    const res = await post(
      ROUTES,
      route('two-ns', {
        parentRefs: [
          { name: 'gw', namespace: 'edge' },
          { name: 'gw', namespace: 'internal' },
        ],
      }),
    );
    expect(res.status, ((await res.json()) as { message?: string }).message).toBe(201);
  });

  it('defaults what the CRD defaults, at every level, and returns keys in sorted order', async () => {
    const res = await post(
      ROUTES,
      route('defaults', {
        rules: [
          { backendRefs: [{ port: 80, name: 'shop' }] },
          { matches: [{ headers: [{ name: 'x-canary', value: 'always' }] }], backendRefs: [backend] },
        ],
      }),
    );
    expect(res.status).toBe(201);
    const stored = (await (await fetch(`${cluster.url}${ROUTES}/defaults`)).json()) as { spec: Obj };
    const spec = stored.spec as {
      parentRefs: Obj[];
      rules: Array<{ backendRefs: Obj[]; matches: Obj[] }>;
    };
    expect(spec.parentRefs[0]).toEqual({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' });
    expect(spec.rules[0]?.backendRefs[0]).toEqual({
      group: '',
      kind: 'Service',
      name: 'shop',
      port: 80,
      weight: 1,
    });
    expect(spec.rules[0]?.matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
    // A header match gets the default path too: `path` has its own default in HTTPRouteMatch.
    expect(spec.rules[1]?.matches).toEqual([
      {
        headers: [{ name: 'x-canary', type: 'Exact', value: 'always' }],
        path: { type: 'PathPrefix', value: '/' },
      },
    ]);
    expect(Object.keys(spec.rules[0]?.backendRefs[0] ?? {})).toEqual([
      'group',
      'kind',
      'name',
      'port',
      'weight',
    ]);
    expect(Object.keys(spec)).toEqual([...Object.keys(spec)].sort());
  });

  it('prunes unknown fields with a warning, refuses them under Strict, and keeps preserved ones', async () => {
    const body = route('unknown', { rules: [{ backendRefs: [backend], retries: 3 }], colour: 'blue' });
    const strict = await post(ROUTES, body, '?fieldValidation=Strict');
    expect(strict.status).toBe(400);
    expect(((await strict.json()) as { message: string }).message).toBe(
      'strict decoding error: unknown field "spec.colour", unknown field "spec.rules[0].retries"',
    );
    const warned = await post(ROUTES, body);
    expect(warned.status).toBe(201);
    expect(warned.headers.get('warning')).toContain('unknown field \\"spec.colour\\"');
    const stored = (await warned.json()) as { spec: Obj & { rules: Obj[] } };
    expect(stored.spec.colour).toBeUndefined();
    expect(stored.spec.rules[0]?.retries).toBeUndefined();
    // Istio's status is `x-kubernetes-preserve-unknown-fields`: whatever istiod writes stays.
    expect((await post(VSS, vs('kept', [{ route: dest }]))).status).toBe(201);
    const status = await fetch(`${cluster.url}${VSS}/kept/status`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: { validationMessages: [{ type: { code: 'IST0101' } }] } }),
    });
    expect(((await status.json()) as { status: Obj }).status).toEqual({
      validationMessages: [{ type: { code: 'IST0101' } }],
    });
  });

  it('evaluates transition rules on updates only: a GatewayClass controllerName cannot change', async () => {
    const klass = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'immutable' },
      spec: { controllerName: 'example.com/one' },
    };
    expect((await post(CLASSES, klass)).status).toBe(201);
    const change = await fetch(`${cluster.url}${CLASSES}/immutable`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { controllerName: 'example.com/two' } }),
    });
    const answer = (await change.json()) as { message: string };
    expect(change.status).toBe(422);
    expect(answer.message).toContain('spec.controllerName: Invalid value: "string": Value is immutable');
    const same = await fetch(`${cluster.url}${CLASSES}/immutable`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { description: 'the same controller' } }),
    });
    expect(same.status).toBe(200);
  });

  it('refuses two listeners of one name (a map list keyed by name)', async () => {
    const listener = { name: 'http', port: 80, protocol: 'HTTP' };
    const res = await post(GATEWAYS, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'dup' },
      spec: { gatewayClassName: 'x', listeners: [listener, { ...listener, port: 8080 }] },
    });
    const answer = (await res.json()) as { message: string };
    expect(res.status).toBe(422);
    expect(answer.message).toContain(
      'spec.listeners[1]: Duplicate value: map[string]interface {}{"name":"http"}',
    );
  });
});
