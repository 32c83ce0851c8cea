import { createKubeClient, type KubeClient, type KubeObject } from '@kanary/core';
import { type Cluster, deployment, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const ref = (name: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name });
type Deployment = KubeObject & { spec: { replicas: number } };

/** Waits (bounded, on the wall clock: the cluster runs in real time) until `ok()` holds. */
async function eventually(ok: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`not within 3 s: ${what}`);
}

describe('reads served from watches', () => {
  let cluster: Cluster;
  let client: KubeClient | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cluster?.close();
  });

  /** The client, its first read done and its Deployment watch open. */
  async function watching(options: { watch?: boolean; watchList?: boolean } = {}) {
    cluster = await startCluster({ time: 'real' });
    cluster.apply(deployment('shop', 'default', 'shop:1', 2), deployment('cart', 'default', 'cart:1', 1));
    client = createKubeClient({ kubeConfig: cluster.kubeConfig, ...options });
    await client.get(ref('shop'));
    if (options.watch !== false) {
      await eventually(() => cluster.watches === 1, 'the watch is open');
      const c = client;
      await eventually(async () => {
        const before = cluster.requests.length;
        await c.get(ref('shop'));
        return cluster.requests.length === before;
      }, 'reads come from the cache');
    }
    return client;
  }
  const requestsOf = (kind: string) =>
    cluster.requests.filter((r) => r.resource === kind && r.verb !== 'watch').length;
  /** A kind's listings: LISTs, and watches that stream the state first (a list by a watch). */
  const listingsOf = (kind: string) =>
    cluster.requests.filter(
      (r) => r.resource === kind && (r.verb === 'list' || (r.verb === 'watch' && r.sendInitialEvents)),
    ).length;

  it('answers gets and lists from one watch per kind and namespace, without requests', async () => {
    const c = await watching();
    const before = requestsOf('deployments');
    for (let i = 0; i < 50; i++) {
      expect((await c.get<Deployment>(ref('shop')))?.spec.replicas).toBe(2);
      expect(await c.get(ref('missing'))).toBeUndefined();
      const listed = await c.list('apps/v1', 'Deployment', 'default', 'app=cart');
      expect(listed.map((d) => d.metadata.name)).toEqual(['cart']);
    }
    expect(requestsOf('deployments') - before).toBe(0);
    // Copies: a caller's change to what it read does not reach the cache.
    const read = (await c.get<Deployment>(ref('shop'))) as Deployment;
    read.spec.replicas = 99;
    expect((await c.get<Deployment>(ref('shop')))?.spec.replicas).toBe(2);
  });

  it('listView shares frozen objects, one array until the kind changes', async () => {
    const c = await watching();
    const before = requestsOf('deployments');
    const first = await c.listView<Deployment>('apps/v1', 'Deployment', 'default');
    expect(first.map((d) => d.metadata.name).sort()).toEqual(['cart', 'shop']);
    expect(await c.listView('apps/v1', 'Deployment', 'default')).toBe(first);
    expect(requestsOf('deployments') - before).toBe(0);
    // Frozen all the way down: a reader that changes one fails instead of changing everyone's.
    const shop = first.find((d) => d.metadata.name === 'shop') as Deployment;
    expect(() => {
      shop.spec.replicas = 99;
    }).toThrow(TypeError);
    // A copy is still the reader's own.
    const copy = (await c.list<Deployment>('apps/v1', 'Deployment', 'default', 'app=shop'))[0] as Deployment;
    copy.spec.replicas = 99;
    expect(Object.isFrozen(copy)).toBe(false);
    cluster.apply(deployment('shop', 'default', 'shop:1', 4));
    await eventually(
      async () => (await c.listView('apps/v1', 'Deployment', 'default')) !== first,
      'a new view',
    );
    const next = await c.listView<Deployment>('apps/v1', 'Deployment', 'default', 'app=shop');
    expect(next.map((d) => d.spec.replicas)).toEqual([4]);
    expect(shop.spec.replicas).toBe(2);
  });

  it("a selector's view follows the objects under its labels only, relabels included; an index files objects by any key", async () => {
    const c = await watching();
    const cartView = await c.listView<Deployment>('apps/v1', 'Deployment', 'default', 'app=cart');
    // A change to an object the selector does not select keeps the view (and what readers derived from it).
    cluster.apply(deployment('shop', 'default', 'shop:1', 7));
    await eventually(
      async () => (await c.get<Deployment>(ref('shop')))?.spec.replicas === 7,
      'the change arrives',
    );
    expect(await c.listView('apps/v1', 'Deployment', 'default', 'app=cart')).toBe(cartView);
    // Relabelled into the selector, then out of it again.
    const shop = cluster.get('Deployment', 'default', 'shop') as NonNullable<ReturnType<Cluster['get']>>;
    cluster.apply({ ...shop, metadata: { ...shop.metadata, labels: { app: 'cart' } } });
    await eventually(
      async () => (await c.listView('apps/v1', 'Deployment', 'default', 'app=cart')).length === 2,
      'shop joins app=cart',
    );
    expect((await c.listView('apps/v1', 'Deployment', 'default', 'app=shop')).length).toBe(0);
    cluster.apply({ ...shop, metadata: { ...shop.metadata, labels: { app: 'shop' } } });
    await eventually(
      async () => (await c.listView('apps/v1', 'Deployment', 'default', 'app=cart')).length === 1,
      'shop leaves app=cart',
    );
    // A custom index: Deployments by image. Served without requests, and kept as images change.
    const byImage = {
      name: 'image',
      keysOf: (o: KubeObject) =>
        (
          (o as unknown as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec
            .template.spec.containers ?? []
        ).map((x) => x.image),
    };
    const before = requestsOf('deployments');
    const names = async (...keys: string[]) =>
      (await c.listByIndex('apps/v1', 'Deployment', 'default', byImage, keys))
        .map((o) => o.metadata.name)
        .sort();
    expect(await names('shop:1')).toEqual(['shop']);
    expect(await names('shop:1', 'cart:1')).toEqual(['cart', 'shop']);
    expect(await names('nothing')).toEqual([]);
    expect(requestsOf('deployments') - before).toBe(0);
    cluster.apply(deployment('cart', 'default', 'shop:1', 1));
    await eventually(async () => (await names('shop:1')).length === 2, 'cart is filed under its new image');
    expect(await names('cart:1')).toEqual([]);
  });

  it('keeps objects without managedFields, and a write from a cached read leaves the server its own', async () => {
    const c = await watching();
    const cached = (await c.get<Deployment>(ref('shop'))) as Deployment;
    expect(cached.metadata.managedFields).toBeUndefined();
    const managers = () =>
      (cluster.get('Deployment', 'default', 'shop')?.metadata.managedFields ?? [])
        .map((m) => m.manager)
        .sort();
    const before = managers();
    expect(before.length).toBeGreaterThan(0);
    await c.update<Deployment>(ref('shop'), (d) => ({ ...d, spec: { ...d.spec, replicas: 3 } }));
    expect(cluster.get('Deployment', 'default', 'shop')?.spec).toMatchObject({ replicas: 3 });
    expect(managers()).toEqual([...new Set([...before, c.fieldManager])].sort());
  });

  it('listByIndex without a watch lists once and filters', async () => {
    const c = await watching({ watch: false });
    const before = requestsOf('deployments');
    const index = { name: 'name', keysOf: (o: KubeObject) => [o.metadata.name] };
    const found = await c.listByIndex('apps/v1', 'Deployment', 'default', index, ['cart', 'shop', 'none']);
    expect(found.map((o) => o.metadata.name).sort()).toEqual(['cart', 'shop']);
    expect(requestsOf('deployments') - before).toBe(1);
  });

  it('getView shares the frozen cached object, without requests; without a watch it is the server answer, frozen', async () => {
    const c = await watching();
    const before = requestsOf('deployments');
    const first = (await c.getView<Deployment>(ref('shop'))) as Deployment;
    expect(await c.getView(ref('shop'))).toBe(first);
    expect(await c.getView(ref('missing'))).toBeUndefined();
    expect(requestsOf('deployments') - before).toBe(0);
    expect(() => {
      first.spec.replicas = 99;
    }).toThrow(TypeError);
    await c.close();
    client = createKubeClient({ kubeConfig: cluster.kubeConfig, watch: false });
    const served = (await client.getView<Deployment>(ref('shop'))) as Deployment;
    expect(served.spec.replicas).toBe(2);
    expect(Object.isFrozen(served.spec)).toBe(true);
    expect(requestsOf('deployments') - before).toBe(1);
  });

  it('listView without a watch is the server answer, frozen', async () => {
    const c = await watching({ watch: false });
    const listed = await c.listView<Deployment>('apps/v1', 'Deployment', 'default', 'app=cart');
    expect(listed.map((d) => d.metadata.name)).toEqual(['cart']);
    expect(Object.isFrozen(listed[0]?.spec)).toBe(true);
  });

  it("sees a person's change once the watch delivers it", async () => {
    const c = await watching();
    cluster.apply(deployment('shop', 'default', 'shop:1', 5));
    await eventually(
      async () => (await c.get<Deployment>(ref('shop')))?.spec.replicas === 5,
      'the new size is read',
    );
    const person = createKubeClient({ kubeConfig: cluster.kubeConfig, watch: false });
    await person.delete(ref('cart'));
    await eventually(async () => (await c.get(ref('cart'))) === undefined, 'the deletion is read');
  });

  it('reads its own writes at once', async () => {
    const c = await watching();
    const updated = await c.update<Deployment>(ref('shop'), (d) => ({
      ...d,
      spec: { ...d.spec, replicas: 7 },
    }));
    const read = await c.get<Deployment>(ref('shop'));
    expect(read?.spec.replicas).toBe(7);
    expect(read?.metadata.resourceVersion).toBe(updated.metadata.resourceVersion);
  });

  it('goes to the server while the watch is down, and catches up after it reopens', async () => {
    const c = await watching();
    expect(cluster.dropWatches()).toBe(1);
    // Changed while no watch is open, with the history compacted: the reopened watch gets 410 Gone
    // and the cache must relist to see it.
    cluster.apply(deployment('shop', 'default', 'shop:1', 3));
    cluster.compact();
    // Until the client notices the end of its watch it may still answer from the cache; then
    // from the server, and from the cache again once relisted.
    await eventually(
      async () => (await c.get<Deployment>(ref('shop')))?.spec.replicas === 3,
      'the change is read',
    );
    await eventually(() => cluster.watches === 1, 'the watch is open again');
    expect(listingsOf('deployments')).toBeGreaterThanOrEqual(2);
    cluster.apply(deployment('shop', 'default', 'shop:1', 4));
    await eventually(
      async () => (await c.get<Deployment>(ref('shop')))?.spec.replicas === 4,
      'a change after the relist is read',
    );
  });

  it('an outage ends the watch; reads fail as the server does until it is back', async () => {
    const c = await watching();
    cluster.faults.outage(60_000);
    await eventually(() => cluster.watches === 0, 'the watch ended');
    // Once the client has noticed, reads go to the server and fail as it does.
    await eventually(
      () =>
        c.get(ref('shop')).then(
          () => false,
          (e: Error) => /unable to handle/i.test(e.message),
        ),
      'a read fails',
    );
    cluster.faults.clear();
    expect((await c.get<Deployment>(ref('shop')))?.spec.replicas).toBe(2);
  }, 30_000);

  it('tells listeners of changes', async () => {
    const c = await watching();
    let changes = 0;
    const stop = c.onChange('apps/v1', 'Deployment', 'default', () => {
      changes += 1;
    });
    cluster.apply(deployment('shop', 'default', 'shop:1', 6));
    await eventually(() => changes > 0, 'a change is told');
    stop();
    const told = changes;
    cluster.apply(deployment('shop', 'default', 'shop:1', 8));
    await eventually(async () => (await c.get<Deployment>(ref('shop')))?.spec.replicas === 8, 'read');
    expect(changes).toBe(told);
  });

  it("first reads wait for the kind's listing instead of asking on their own; discovery only for CRDs, once", async () => {
    cluster = await startCluster({ time: 'real' });
    cluster.apply(deployment('shop', 'default', 'shop:1', 2), deployment('cart', 'default', 'cart:1', 1), {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'shop', namespace: 'default' },
      spec: { hosts: ['shop'], http: [{ route: [{ destination: { host: 'shop' } }] }] },
    });
    client = createKubeClient({ kubeConfig: cluster.kubeConfig });
    const c = client;
    const vs = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      namespace: 'default',
      name: 'shop',
    };
    // Many callers at once, as a process starting a hundred rollouts does.
    const [shop, cart, listed, views] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => c.get(ref('shop')))),
      c.getView(ref('cart')),
      c.list('apps/v1', 'Deployment', 'default', 'app=cart'),
      Promise.all(Array.from({ length: 10 }, () => c.getView(vs))),
    ]);
    expect(shop.every((d) => d?.metadata.name === 'shop')).toBe(true);
    expect(cart?.metadata.name).toBe('cart');
    expect(listed.map((d) => d.metadata.name)).toEqual(['cart']);
    expect(views.every((v) => v?.metadata.name === 'shop')).toBe(true);
    const made = (resource: string, verb: string) =>
      cluster.requests.filter((r) => r.resource === resource && r.verb === verb).length;
    // One listing each: a watch that streams the kind's state (no LIST), which every reader waited for.
    expect(listingsOf('deployments')).toBe(1);
    expect(made('deployments', 'list')).toBe(0);
    expect(made('deployments', 'get')).toBe(0);
    expect(listingsOf('virtualservices')).toBe(1);
    expect(made('virtualservices', 'list')).toBe(0);
    expect(made('virtualservices', 'get')).toBe(0);
    // Built-in kinds' resources are known; Istio's API version is discovered once for all callers.
    expect(cluster.requests.filter((r) => r.verb === 'discovery')).toHaveLength(1);
  });

  it("unfence removes the stamp from the cached object, and leaves a person's later annotation", async () => {
    const c = await watching();
    const stamp = 'kanary.dev/epoch.shop';
    await c.mergePatch(ref('shop'), { metadata: { annotations: { [stamp]: '3' } } });
    await eventually(
      async () => (await c.get(ref('shop')))?.metadata.annotations?.[stamp] === '3',
      'stamped',
    );
    const before = requestsOf('deployments');
    await c.unfence(ref('shop'), 'shop');
    // One patch, no read: the cache had the object.
    expect(requestsOf('deployments') - before).toBe(1);
    expect(cluster.get('Deployment', 'default', 'shop')?.metadata.annotations?.[stamp]).toBeUndefined();

    // A stale cache: a person's annotation lands on the server first; the stamp goes, theirs stays.
    await c.mergePatch(ref('cart'), { metadata: { annotations: { [stamp]: '4' } } });
    await eventually(
      async () => (await c.get(ref('cart')))?.metadata.annotations?.[stamp] === '4',
      'stamped',
    );
    const person = createKubeClient({ kubeConfig: cluster.kubeConfig, watch: false });
    await person.mergePatch(ref('cart'), { metadata: { annotations: { owner: 'team-a' } } });
    await c.unfence(ref('cart'), 'shop');
    expect(cluster.get('Deployment', 'default', 'cart')?.metadata.annotations).toEqual({ owner: 'team-a' });
    await person.close();
  });

  it('readers of a kind the cache cannot answer share one LIST, and still read their own writes', async () => {
    const c = await watching({ watch: false });
    const lists = () =>
      cluster.requests.filter((r) => r.resource === 'deployments' && r.verb === 'list').length;
    cluster.faults.set([{ verbs: ['list'], resources: ['deployments'], rate: 1, latencyMs: 200 }]);
    const views = await Promise.all(
      Array.from({ length: 20 }, () => c.listView<Deployment>('apps/v1', 'Deployment', 'default')),
    );
    expect(lists()).toBe(1);
    expect(views.every((v) => v.length === 2 && Object.isFrozen(v[0]?.spec))).toBe(true);
    // Copies, one each: a caller's change to its own reaches no other reader.
    const [mine, theirs] = await Promise.all([
      c.list<Deployment>('apps/v1', 'Deployment', 'default'),
      c.list<Deployment>('apps/v1', 'Deployment', 'default'),
    ]);
    expect(lists()).toBe(2);
    (mine[0] as Deployment).spec.replicas = 99;
    expect(theirs[0]?.spec.replicas).not.toBe(99);
    // A LIST sent before this client's write ended is not joined after it: the write is read.
    const early = c.listView<Deployment>('apps/v1', 'Deployment', 'default');
    await c.update<Deployment>(ref('cart'), (d) => ({ ...d, spec: { ...d.spec, replicas: 5 } }));
    const after = await c.listView<Deployment>('apps/v1', 'Deployment', 'default');
    expect(after.find((d) => d.metadata.name === 'cart')?.spec.replicas).toBe(5);
    await early;
    expect(lists()).toBe(4);
  });

  for (const watchList of [false, true])
    it(`while the cache relists after 410 Gone by ${watchList ? 'a streaming watch' : 'LIST'}, twenty readers meanwhile send one LIST in all`, async () => {
      const c = await watching({ watchList });
      const lists = () =>
        cluster.requests.filter((r) => r.resource === 'deployments' && r.verb === 'list').length;
      const [listsBefore, listingsBefore] = [lists(), listingsOf('deployments')];
      // The cache's relist is slowed, so the readers come while it is on its way.
      const verb = watchList ? 'watch' : 'list';
      cluster.faults.set([{ verbs: [verb], resources: ['deployments'], rate: 1, latencyMs: 300 }]);
      cluster.dropWatches();
      cluster.apply(deployment('shop', 'default', 'shop:1', 3));
      cluster.compact();
      await eventually(
        () =>
          cluster.requests.some((r) => r.resource === 'deployments' && r.verb === 'watch' && r.code === 410),
        'the reopened watch is refused',
      );
      const views = await Promise.all(
        Array.from({ length: 20 }, () => c.listView<Deployment>('apps/v1', 'Deployment', 'default')),
      );
      expect(views.every((v) => v.find((d) => d.metadata.name === 'shop')?.spec.replicas === 3)).toBe(true);
      await eventually(() => c.watching('apps/v1', 'Deployment', 'default'), 'the watch is open again');
      // By LIST, the readers join the cache's own (one listing in all); by a streaming watch, the
      // relist is that watch and the readers share one LIST beside it.
      expect(lists() - listsBefore).toBe(1);
      expect(listingsOf('deployments') - listingsBefore).toBe(watchList ? 2 : 1);
      const shop = (await c.listView<Deployment>('apps/v1', 'Deployment', 'default')).find(
        (d) => d.metadata.name === 'shop',
      );
      expect(shop?.spec.replicas).toBe(3);
    });

  it('lists each kind by one streaming watch; a server that refuses it is asked once per API group, then LIST and WATCH', async () => {
    const rs = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, namespace: 'default', labels: { rs: name } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { rs: name } },
        template: {
          metadata: { labels: { rs: name } },
          spec: { containers: [{ name: 'app', image: 'shop:1' }] },
        },
      },
    });
    for (const gate of [true, false]) {
      cluster = await startCluster({ time: 'real', featureGates: { WatchList: gate } });
      cluster.apply(deployment('shop', 'default', 'shop:1', 2), rs('extra'));
      client = createKubeClient({ kubeConfig: cluster.kubeConfig });
      const c = client;
      expect((await c.get<Deployment>(ref('shop')))?.spec.replicas).toBe(2);
      const sets = await c.list('apps/v1', 'ReplicaSet', 'default', 'rs=extra');
      expect(sets.map((r) => r.metadata.name)).toEqual(['extra']);
      await eventually(
        () =>
          c.watching('apps/v1', 'Deployment', 'default') && c.watching('apps/v1', 'ReplicaSet', 'default'),
        'both watches open',
      );
      const made = (resource: string, verb: string, code = 200) =>
        cluster.requests.filter((r) => r.resource === resource && r.verb === verb && r.code === code).length;
      if (gate) {
        for (const resource of ['deployments', 'replicasets']) {
          expect(made(resource, 'watch')).toBe(1);
          expect(listingsOf(resource)).toBe(1);
          expect(made(resource, 'list')).toBe(0);
        }
      } else {
        // The first kind of the apps group learns the refusal; the second is not asked again.
        expect(made('deployments', 'watch', 422)).toBe(1);
        expect(made('replicasets', 'watch', 422)).toBe(0);
        for (const resource of ['deployments', 'replicasets']) {
          expect(made(resource, 'list')).toBe(1);
          expect(made(resource, 'watch')).toBe(1);
        }
      }
      expect(made('deployments', 'get')).toBe(0);
      // Served from the cache, and kept current by the watch, either way.
      cluster.apply(deployment('shop', 'default', 'shop:1', 5));
      await eventually(
        async () => (await c.get<Deployment>(ref('shop')))?.spec.replicas === 5,
        'change read',
      );
      expect(made('deployments', 'get')).toBe(0);
      await client.close();
      client = undefined;
      await cluster.close();
    }
  });

  it('with watch: false, every read is a request', async () => {
    const c = await watching({ watch: false });
    const before = requestsOf('deployments');
    for (let i = 0; i < 5; i++) await c.get(ref('shop'));
    expect(requestsOf('deployments') - before).toBe(5);
    expect(cluster.watches).toBe(0);
  });

  it('close() ends the watches', async () => {
    const c = await watching();
    await c.close();
    await eventually(() => cluster.watches === 0, 'the watch is closed');
    client = undefined;
  });
});
