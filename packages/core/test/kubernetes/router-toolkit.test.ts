import { createKubeClient, type KubeObject } from '@kanary/core';
import {
  isKanaryError,
  missingObjectIssue,
  originalAnnotation,
  ownedSnapshot,
  type PortContext,
  routerClient,
  sameContent,
  sideHash,
  sideNames,
  stableServiceIssue,
  updateIfChanged,
} from '@kanary/core/adapter';
import { type Cluster, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { service } from './fixtures.ts';

// The mechanics every router shares (`@kanary/core/adapter`), against the emulator through the
// real client: what is written, and what is not.

let cluster: Cluster;
afterEach(() => cluster?.close());

type Svc = KubeObject & { spec: { selector?: Record<string, string>; ports?: unknown[] } };
const ref = { apiVersion: 'v1', kind: 'Service', namespace: 'default', name: 'shop' };

const setup = async (annotations?: Record<string, string>) => {
  cluster = await startCluster();
  const svc = service('shop', 'default', { app: 'shop', tier: 'web' });
  if (annotations) svc.metadata = { ...svc.metadata, annotations };
  cluster.apply(svc);
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock, watch: false });
  const version = () => cluster.get('Service', 'default', 'shop')?.metadata.resourceVersion;
  return { client, version };
};

describe('updateIfChanged', () => {
  it('writes nothing when the change only reorders keys, and writes an edit made in place', async () => {
    const { client, version } = await setup();
    const before = version();
    await updateIfChanged<Svc>(client, ref, (s) => ({
      ...s,
      spec: { ...s.spec, selector: { tier: 'web', app: 'shop' } },
    }));
    await updateIfChanged<Svc>(client, ref, () => undefined);
    expect(version()).toBe(before);
    const written = await updateIfChanged<Svc>(client, ref, (s) => {
      (s.spec.selector as Record<string, string>).app = 'shop-v2';
      return s;
    });
    expect(version()).not.toBe(before);
    expect(written.spec.selector).toEqual({ app: 'shop-v2', tier: 'web' });
  });

  it('sameContent ignores key order and undefined fields, not array order', () => {
    expect(sameContent({ a: 1, b: [1, 2], c: undefined }, { b: [1, 2], a: 1 })).toBe(true);
    expect(sameContent({ b: [2, 1] }, { b: [1, 2] })).toBe(false);
  });
});

describe('ownedSnapshot', () => {
  const snapshot = ownedSnapshot(originalAnnotation('shop'), (s: Svc) => ({
    selector: s.spec.selector ?? {},
  }));
  const pin = (s: Svc, app: string) =>
    snapshot.keep({ ...s, spec: { ...s.spec, selector: { app } } }, snapshot.of(s));

  it('keeps what the object was before the first change, through later changes, and drop leaves it as it was', async () => {
    const { client } = await setup();
    await updateIfChanged<Svc>(client, ref, (s) => pin(s, 'one'));
    await updateIfChanged<Svc>(client, ref, (s) => pin(s, 'two'));
    const pinned = cluster.get('Service', 'default', 'shop') as Svc;
    expect(pinned.spec.selector).toEqual({ app: 'two' });
    expect(snapshot.saved(pinned)).toEqual({ selector: { app: 'shop', tier: 'web' }, hadAnnotations: false });
    expect(pinned.metadata.annotations?.['kanary.dev/original.shop']).toBeDefined();

    await updateIfChanged<Svc>(client, ref, (s) => {
      const saved = snapshot.saved(s);
      return snapshot.drop({ ...s, spec: { ...s.spec, selector: saved?.selector } }, saved);
    });
    const restored = cluster.get('Service', 'default', 'shop') as Svc;
    expect(restored.spec.selector).toEqual({ app: 'shop', tier: 'web' });
    // The object had no annotations: Kanary's empty map goes with its record.
    expect(restored.metadata.annotations).toBeUndefined();
  });

  it("keeps a person's annotations, and the map the object had", async () => {
    const { client } = await setup({ owner: 'team-a' });
    await updateIfChanged<Svc>(client, ref, (s) => pin(s, 'one'));
    await updateIfChanged<Svc>(client, ref, (s) => ({
      ...s,
      metadata: { ...s.metadata, annotations: {} },
    }));
    await updateIfChanged<Svc>(client, ref, (s) => snapshot.drop(s, undefined));
    // A record that is gone cannot say whether the map was Kanary's: the map stays.
    expect(cluster.get('Service', 'default', 'shop')?.metadata.annotations).toEqual({});
  });
});

describe('service sides and the client', () => {
  const ctx = (service: string | undefined, targets: PortContext['targets'] = {}) =>
    ({
      spec: { name: 'shop', namespace: 'default', target: { service } },
      targets,
    }) as unknown as PortContext;

  it('names the canary Service after the stable one unless the router says otherwise', () => {
    expect(sideNames(ctx('shop'))).toEqual({ stable: 'shop', canary: 'shop-canary' });
    expect(sideNames(ctx('shop'), 'shop-preview')).toEqual({ stable: 'shop', canary: 'shop-preview' });
  });

  it('validation findings name the field and the fix', () => {
    expect(stableServiceIssue(ctx('shop'), 'Istio')).toEqual([]);
    expect(stableServiceIssue(ctx(undefined), 'Istio')).toEqual([
      expect.objectContaining({ path: 'target.service', hint: 'set target.service', severity: 'error' }),
    ]);
    expect(missingObjectIssue('router.httpRoute', 'HTTPRoute', 'shop', 'web')).toMatchObject({
      path: 'router.httpRoute',
      message: 'HTTPRoute shop/web does not exist',
      severity: 'error',
    });
  });

  it('a side whose ReplicaSet is not known yet is a retryable error', () => {
    expect(sideHash(ctx('shop', { stable: { podTemplateHash: 'abc' } as never }), 'stable')).toBe('abc');
    let error: unknown;
    try {
      sideHash(ctx('shop'), 'canary');
    } catch (e) {
      error = e;
    }
    expect(isKanaryError(error) && error.retryable).toBe(true);
  });

  it('routerClient uses the client given, else one from the kubeConfig', async () => {
    const { client } = await setup();
    expect(routerClient({ client })).toBe(client);
    const made = routerClient({ kubeConfig: cluster.kubeConfig });
    expect(made).not.toBe(client);
    expect((await made.get<Svc>(ref))?.spec.selector).toEqual({ app: 'shop', tier: 'web' });
    await made.close();
  });
});
