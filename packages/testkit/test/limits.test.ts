import { type Cluster, startCluster } from '@kanary/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment } from './fixtures.ts';

// The limits a real kube-apiserver enforces outside the schemas, each as a request and the answer
// upstream gives it (code, field, message). A refused write leaves nothing behind.

const MiB = 1024 * 1024;
const cm = (name: string, extra: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  ...extra,
});
const lease = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name },
  spec: { holderIdentity: 'a', leaseDurationSeconds: 15, ...spec },
});
const deploy = (name: string, spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}) => {
  const d = deployment(name, 'lim', 'web:1', 2, spec) as {
    metadata: { name: string };
    spec: { template: { spec: object } };
  };
  d.spec.template.spec = { ...d.spec.template.spec, ...podSpec };
  return d;
};

interface Case {
  what: string;
  path: string;
  body: { metadata: { name: string; annotations?: Record<string, string> } };
  code: number;
  field?: string;
  message?: string;
}

const route = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name },
  spec: { parentRefs: [{ name: 'gw' }], ...spec },
});
const ROUTES = '/apis/gateway.networking.k8s.io/v1/namespaces/lim/httproutes';

const cases: Case[] = [
  // The Gateway API CRD's CEL rules (standard channel), with its messages.
  {
    what: 'an HTTPRoute PathPrefix without a leading slash',
    path: ROUTES,
    body: route('rel', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'shop' } }] }] }),
    code: 422,
    field: 'spec.rules[0].matches[0].path',
    message: "value must be an absolute path and start with '/'",
  },
  {
    what: 'an HTTPRoute backendRef to a Service without a port',
    path: ROUTES,
    body: route('noport', { rules: [{ backendRefs: [{ name: 'shop' }] }] }),
    code: 422,
    field: 'spec.rules[0].backendRefs[0]',
    message: 'Must have port for Service reference',
  },
  {
    what: 'an HTTPRoute naming the same Gateway twice without sectionName (the CEL rule of its CRD)',
    path: ROUTES,
    body: route('twice', { parentRefs: [{ name: 'gw' }, { name: 'gw' }] }),
    code: 422,
    field: 'spec.parentRefs',
    message: 'sectionName must be unique when parentRefs includes 2 or more references to the same parent',
  },
  {
    what: 'an HTTPRoute naming two listeners of one Gateway',
    path: ROUTES,
    body: route('two', {
      parentRefs: [
        { name: 'gw', sectionName: 'http' },
        { name: 'gw', sectionName: 'https' },
      ],
      rules: [{ backendRefs: [{ name: 'shop', port: 80 }] }],
    }),
    code: 201,
  },
  {
    what: 'a ConfigMap of exactly 1 MiB of data',
    path: '/api/v1/namespaces/lim/configmaps',
    body: cm('mib', { data: { a: 'x'.repeat(MiB) } }),
    code: 201,
  },
  {
    what: 'a ConfigMap one byte over 1 MiB (data and binaryData together)',
    path: '/api/v1/namespaces/lim/configmaps',
    body: cm('over', {
      data: { a: 'x'.repeat(MiB - 2) },
      binaryData: { b: Buffer.from('yyy').toString('base64') },
    }),
    code: 422,
    field: '',
    message: 'Too long: may not be more than 1048576 bytes',
  },
  {
    what: 'a ConfigMap key with a slash',
    path: '/api/v1/namespaces/lim/configmaps',
    body: cm('key', { data: { 'a/b': '1' } }),
    code: 422,
    field: 'data[a/b]',
    message: 'a valid config key must consist of alphanumeric characters',
  },
  {
    what: 'a ConfigMap key in data and binaryData',
    path: '/api/v1/namespaces/lim/configmaps',
    body: cm('dup', { data: { a: '1' }, binaryData: { a: 'MQ==' } }),
    code: 422,
    field: 'data[a]',
    message: 'duplicate of key present in binaryData',
  },
  {
    what: 'annotations over 256 KiB in all',
    path: '/api/v1/namespaces/lim/configmaps',
    body: {
      ...cm('notes', {}),
      metadata: { name: 'notes', annotations: { a: 'x'.repeat(128 * 1024), b: 'y'.repeat(128 * 1024) } },
    },
    code: 422,
    field: 'metadata.annotations',
    message: 'Too long: may not be more than 262144 bytes',
  },
  {
    what: 'a Lease renewTime without fraction (MicroTime needs six digits)',
    path: '/apis/coordination.k8s.io/v1/namespaces/lim/leases',
    body: lease('l1', { renewTime: '2026-01-01T00:00:00Z' }),
    code: 400,
    message: 'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-01-01T00:00:00Z"',
  },
  {
    what: 'a Lease renewTime with milliseconds (what Date#toISOString gives)',
    path: '/apis/coordination.k8s.io/v1/namespaces/lim/leases',
    body: lease('l2', { renewTime: '2026-01-01T00:00:00.123Z' }),
    code: 400,
    message: 'cannot be handled as a Lease',
  },
  {
    what: 'a Lease renewTime with microseconds',
    path: '/apis/coordination.k8s.io/v1/namespaces/lim/leases',
    body: lease('l3', {
      renewTime: '2026-01-01T00:00:00.123456Z',
      acquireTime: '2026-01-01T00:00:00.000000+01:00',
    }),
    code: 201,
  },
  {
    what: 'a Lease of zero seconds',
    path: '/apis/coordination.k8s.io/v1/namespaces/lim/leases',
    body: lease('l4', { leaseDurationSeconds: 0 }),
    code: 422,
    field: 'spec.leaseDurationSeconds',
    message: 'Invalid value: 0: must be greater than 0',
  },
  {
    what: 'replicas -1',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy('neg', { replicas: -1 }),
    code: 422,
    field: 'spec.replicas',
    message: 'Invalid value: -1: must be greater than or equal to 0',
  },
  {
    what: 'replicas beyond int32',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy('big', { replicas: 2 ** 31 }),
    code: 400,
    message: 'json: cannot unmarshal number 2147483648 into Go struct field .spec.replicas of type int32',
  },
  {
    what: 'replicas 1.5',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy('half', { replicas: 1.5 }),
    code: 400,
    message: 'cannot unmarshal number 1.5',
  },
  {
    what: 'a pod template that does not restart',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy('never', {}, { restartPolicy: 'Never' }),
    code: 422,
    field: 'spec.template.spec.restartPolicy',
    message: 'Unsupported value: "Never": supported values: "Always"',
  },
  {
    what: 'minReadySeconds equal to progressDeadlineSeconds',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy('eq', { minReadySeconds: 60, progressDeadlineSeconds: 60 }),
    code: 422,
    field: 'spec.progressDeadlineSeconds',
    message: 'Invalid value: 60: must be greater than minReadySeconds',
  },
  {
    what: 'minReadySeconds above the defaulted progress deadline (600 s)',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy('late', { minReadySeconds: 700 }),
    code: 422,
    field: 'spec.progressDeadlineSeconds',
    message: 'Invalid value: 600: must be greater than minReadySeconds',
  },
  {
    what: 'minReadySeconds below the progress deadline',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy('fine', { minReadySeconds: 599 }),
    code: 201,
  },
  {
    what: 'an object larger than etcd takes (1.5 MiB) in a body the server reads (under 3 MiB)',
    path: '/apis/apps/v1/namespaces/lim/deployments',
    body: deploy(
      'huge',
      {},
      { containers: [{ name: 'web', image: 'web:1', args: ['x'.repeat(1.6 * MiB)] }] },
    ),
    code: 500,
    message: 'etcdserver: request is too large',
  },
  {
    what: 'a body over 3 MiB',
    path: '/api/v1/namespaces/lim/configmaps',
    body: cm('body', { data: { a: 'x'.repeat(3 * MiB) } }),
    code: 413,
    message: 'Request entity too large: limit is 3145728',
  },
];

describe("kube-apiserver's limits outside the schemas", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
    cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lim' } });
  });
  afterAll(() => cluster.close());

  it.each(cases)('$what → $code', async ({ path, body, code, field, message }) => {
    const res = await fetch(`${cluster.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as {
      message?: string;
      details?: { causes?: Array<{ field?: string; message: string }> };
    };
    expect(res.status, answer.message).toBe(code);
    const stored = await fetch(`${cluster.url}${path}/${body.metadata.name}`);
    expect(stored.status).toBe(code === 201 ? 200 : 404);
    if (message) expect(answer.message).toContain(message);
    if (field !== undefined) {
      const cause = answer.details?.causes?.find((c) => c.message.includes(message ?? ''));
      expect(cause?.field ?? '').toBe(field);
    }
  });

  it('refuses an update that crosses a limit and keeps the stored object', async () => {
    const url = `${cluster.url}/api/v1/namespaces/lim/configmaps/grow`;
    await fetch(`${cluster.url}/api/v1/namespaces/lim/configmaps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(cm('grow', { data: { a: 'small' } })),
    });
    const patched = await fetch(url, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ data: { a: 'x'.repeat(MiB), b: 'y' } }),
    });
    expect(patched.status).toBe(422);
    const now = (await (await fetch(url)).json()) as { data: Record<string, string> };
    expect(now.data).toEqual({ a: 'small' });
  });
});
