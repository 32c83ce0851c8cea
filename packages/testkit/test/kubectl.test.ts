import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { humanDuration } from '../src/apiserver/table.ts';
import { type Cluster, startCluster } from '../src/index.ts';

const run = promisify(execFile);
const kubectlVersion = await run('kubectl', ['version', '--client', '-o', 'json'])
  .then((r) => JSON.parse(r.stdout).clientVersion.gitVersion as string)
  .catch(() => undefined);

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function start() {
  cluster = await startCluster({ time: 'real', podReadyAfterMs: 50 });
  const path = join(mkdtempSync(join(tmpdir(), 'kanary-kubectl-')), 'config');
  writeFileSync(path, cluster.kubeConfig.exportConfig());
  const kubectl = async (...args: string[]) =>
    (await run('kubectl', args, { env: { ...process.env, KUBECONFIG: path } })).stdout;
  return { cluster, kubectl, path };
}

// Without a kubectl binary there is nothing to run: the encoding itself is tested below either way.
describe.skipIf(kubectlVersion === undefined)(
  `kubectl ${kubectlVersion ?? '(not installed)'} against the emulator`,
  () => {
    it('creates built-in objects from its generators (protobuf bodies since 1.32): deployment, namespace, configmap, expose, run', async () => {
      const { cluster: c, kubectl } = await start();
      await kubectl('create', 'deployment', 'web', '--image=web:1', '--replicas=2');
      await kubectl('create', 'deployment', 'idle', '--image=web:1', '--replicas=0');
      await kubectl('create', 'namespace', 'shop');
      await kubectl('create', 'configmap', 'cfg', '-n', 'shop', '--from-literal=color=blue');
      await kubectl('expose', 'deployment', 'web', '--port=80', '--target-port=8080');
      await kubectl('run', 'once', '--image=busybox', '--restart=Never');

      const web = c.get('Deployment', 'default', 'web') as unknown as {
        metadata: { labels: Record<string, string>; creationTimestamp: string };
        spec: {
          replicas: number;
          template: { spec: { containers: Array<{ image: string; resources: object }> } };
        };
      };
      expect(web.spec.replicas).toBe(2);
      expect(web.metadata.labels).toEqual({ app: 'web' });
      expect(web.spec.template.spec.containers[0]).toMatchObject({ image: 'web:1', resources: {} });
      expect(Number.isNaN(Date.parse(web.metadata.creationTimestamp))).toBe(false);
      // An explicit 0 is kept, not taken for "unset" (which would default to 1).
      expect(c.get('Deployment', 'default', 'idle')?.spec).toMatchObject({ replicas: 0 });
      expect(c.get('ConfigMap', 'shop', 'cfg')).toMatchObject({ data: { color: 'blue' } });
      expect(c.get('Service', 'default', 'web')?.spec).toMatchObject({
        selector: { app: 'web' },
        ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
      });
      expect(c.get('Pod', 'default', 'once')?.spec).toMatchObject({ restartPolicy: 'Never' });
      expect(await kubectl('get', 'ns', '-o', 'name')).toMatch(/namespace\/shop/);
    }, 30_000);

    it('rollout undo goes back to the earlier ReplicaSet (its template sent with creationTimestamp: null), no third one', async () => {
      const { cluster: c, kubectl } = await start();
      await kubectl('create', 'deployment', 'web', '--image=web:1', '--replicas=2');
      // The controllers react after the write, as a cluster's do: without this wait the image could
      // change before the first ReplicaSet exists, and there would be no revision to go back to.
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=10s');
      await kubectl('set', 'image', 'deployment/web', 'web=web:2');
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=10s');
      const first = c.list('ReplicaSet', 'default').find((rs) => JSON.stringify(rs.spec).includes('web:1'));
      await kubectl('rollout', 'undo', 'deployment/web');
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=10s');
      const sets = c.list('ReplicaSet', 'default');
      expect(sets).toHaveLength(2);
      const active = sets.find((rs) => (rs.spec as { replicas: number }).replicas > 0);
      expect(active?.metadata.name).toBe(first?.metadata.name);
      expect(active?.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
      expect(await kubectl('rollout', 'history', 'deployment/web')).toMatch(/^2\s+<none>\n3\s+<none>$/m);
    }, 30_000);

    it('rollout pause holds a changed template (no new ReplicaSet), rollout resume rolls it out', async () => {
      const { cluster: c, kubectl } = await start();
      await kubectl('create', 'deployment', 'web', '--image=web:1', '--replicas=2');
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=10s');
      await kubectl('rollout', 'pause', 'deployment/web');
      expect(c.get('Deployment', 'default', 'web')?.spec).toMatchObject({ paused: true });
      await kubectl('set', 'image', 'deployment/web', 'web=web:2');
      // A reconcile later, still one ReplicaSet: a paused Deployment does not roll.
      await new Promise((r) => setTimeout(r, 500));
      expect(c.list('ReplicaSet', 'default')).toHaveLength(1);
      await kubectl('rollout', 'resume', 'deployment/web');
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=10s');
      const sets = c.list('ReplicaSet', 'default');
      expect(sets).toHaveLength(2);
      const active = sets.find((rs) => (rs.spec as { replicas: number }).replicas > 0);
      expect(JSON.stringify(active?.spec)).toContain('web:2');
    }, 30_000);

    it('delete --cascade=orphan leaves the ReplicaSets, without their owner; the default cascade takes them; foreground and namespaces wait for what they hold', async () => {
      const { cluster: c, kubectl } = await start();
      await kubectl('create', 'deployment', 'kept', '--image=web:1', '--replicas=1');
      await kubectl('create', 'deployment', 'gone', '--image=web:1', '--replicas=1');
      await kubectl('rollout', 'status', 'deployment/kept', '--timeout=10s');
      await kubectl('rollout', 'status', 'deployment/gone', '--timeout=10s');
      await kubectl('delete', 'deployment', 'kept', '--cascade=orphan');
      await kubectl('delete', 'deployment', 'gone');
      // Background (the default): the Deployment goes at once, its ReplicaSet a moment later, when
      // the garbage collector sees the owner gone. kubectl waits only for the Deployment.
      await c.until(
        () => !c.list('ReplicaSet', 'default').some((rs) => rs.metadata.name?.startsWith('gone-')),
        'the garbage collector deletes the ReplicaSet of the deleted Deployment',
      );
      const sets = c.list('ReplicaSet', 'default');
      expect(sets.map((rs) => rs.metadata.name?.replace(/-[a-z0-9]+$/, ''))).toEqual(['kept']);
      expect(sets[0]?.metadata.ownerReferences ?? []).toEqual([]);
      // Foreground: kubectl waits until the owner is gone, which is after its dependents are.
      await kubectl('create', 'deployment', 'fg', '--image=web:1', '--replicas=2');
      await kubectl('rollout', 'status', 'deployment/fg', '--timeout=10s');
      await kubectl('delete', 'deployment', 'fg', '--cascade=foreground', '--timeout=20s');
      expect(c.get('Deployment', 'default', 'fg')).toBeUndefined();
      expect(c.list('Pod', 'default').filter((p) => p.metadata.name?.startsWith('fg-'))).toEqual([]);
      // A namespace: terminating, then gone with what it held.
      await kubectl('create', 'namespace', 'shop');
      await kubectl('create', 'deployment', 'web', '-n', 'shop', '--image=web:1');
      await kubectl('delete', 'namespace', 'shop', '--timeout=20s');
      expect(c.get('Namespace', undefined, 'shop')).toBeUndefined();
      expect(c.list('Deployment', 'shop')).toEqual([]);
    }, 60_000);

    it('apply with validation on (client- and server-side): unknown fields refused under strict, dropped with a warning under warn', async () => {
      const { cluster: c, kubectl, path } = await start();
      const dir = mkdtempSync(join(tmpdir(), 'kanary-apply-'));
      const manifest = (name: string, extra = '') => {
        const file = join(dir, `${name}.yaml`);
        writeFileSync(
          file,
          `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  replicas: 1${extra}\n  selector:\n    matchLabels: {app: ${name}}\n  template:\n    metadata:\n      labels: {app: ${name}}\n    spec:\n      containers:\n      - name: web\n        image: web:1\n`,
        );
        return file;
      };
      await kubectl('apply', '-f', manifest('web'));
      await kubectl('apply', '--server-side', '-f', manifest('ssa'));
      expect(c.get('Deployment', 'default', 'web')).toBeDefined();
      expect(c.get('Deployment', 'default', 'ssa')).toBeDefined();
      // An unknown field (a typo): kubectl's default --validate=strict has the server refuse it.
      const typo = manifest('typo', '\n  replica: 2');
      const refused = await kubectl('apply', '-f', typo).catch((e: { stderr: string }) => e.stderr);
      expect(refused).toContain('unknown field "spec.replica"');
      expect(c.get('Deployment', 'default', 'typo')).toBeUndefined();
      // --validate=warn: written without it, and kubectl prints the server's warning.
      const warned = await run('kubectl', ['apply', '--validate=warn', '-f', typo], {
        env: { ...process.env, KUBECONFIG: path },
      }).catch((e: { stderr: string }) => ({ stderr: e.stderr, stdout: '' }));
      expect(warned.stderr).toContain('unknown field "spec.replica"');
      const written = c.get('Deployment', 'default', 'typo');
      expect(written?.spec).toMatchObject({ replicas: 1 });
      expect(written?.spec).not.toHaveProperty('replica');
    }, 30_000);

    it('explain renders built-in kinds from the upstream OpenAPI and custom kinds from their CRDs (openapi v3)', async () => {
      const { kubectl } = await start();
      const replicas = await kubectl('explain', 'deployment.spec.replicas');
      expect(replicas).toContain('FIELD: replicas <integer>');
      expect(replicas).toContain('Number of desired pods.');
      const deployment = await kubectl('explain', 'deploy');
      expect(deployment).toMatch(/spec\t<DeploymentSpec>/);
      const refs = await kubectl('explain', 'httproute.spec.rules.backendRefs');
      expect(refs).toContain('GROUP:      gateway.networking.k8s.io');
      expect(refs).toContain('FIELD: backendRefs <[]Object>');
      const timeout = await kubectl('explain', 'vs.spec.http.timeout');
      expect(timeout).toContain('Timeout for HTTP requests, default is disabled.');
      // /openapi/v2, which kubectl reads in gnostic's protobuf encoding.
      const v2 = await kubectl('explain', 'deployment.spec.replicas', '--output=plaintext-openapiv2');
      expect(v2).toContain('FIELD:    replicas <integer>');
      expect(v2).toContain('Number of desired pods.');
      expect(await kubectl('explain', 'httproute.spec.hostnames', '--output=plaintext-openapiv2')).toContain(
        'Hostnames defines a set of hostnames',
      );
    }, 30_000);

    it('apply of a custom resource is checked against its CRD: a typo refused, a CEL rule enforced, defaults returned', async () => {
      const { cluster: c, kubectl } = await start();
      const dir = mkdtempSync(join(tmpdir(), 'kanary-apply-'));
      const route = (name: string, backend: string) => {
        const file = join(dir, `${name}.yaml`);
        writeFileSync(
          file,
          `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: ${name}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs: [${backend}]\n`,
        );
        return file;
      };
      const typo = await kubectl('apply', '-f', route('typo', '{name: shop, prot: 80}')).catch(
        (e: { stderr: string }) => e.stderr,
      );
      expect(typo).toContain('unknown field "spec.rules[0].backendRefs[0].prot"');
      const noPort = await kubectl('apply', '-f', route('noport', '{name: shop}')).catch(
        (e: { stderr: string }) => e.stderr,
      );
      expect(noPort).toContain('Must have port for Service reference');
      await kubectl('apply', '-f', route('shop', '{name: shop, port: 80}'));
      const stored = c.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io') as {
        spec: { rules: Array<{ backendRefs: object[] }> };
      };
      expect(stored.spec.rules[0]?.backendRefs[0]).toEqual({
        group: '',
        kind: 'Service',
        name: 'shop',
        port: 80,
        weight: 1,
      });
      // Applied again: a merge patch replaces the list (custom resources have no strategic merge), so
      // kubectl sends it and says "configured", as against a real server; defaulted again, the
      // object is the same and the write changes nothing (same resourceVersion).
      const rv = c.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')?.metadata.resourceVersion;
      expect(await kubectl('apply', '-f', route('shop', '{name: shop, port: 80}'))).toContain('configured');
      expect(
        c.get('HTTPRoute', 'default', 'shop', 'gateway.networking.k8s.io')?.metadata.resourceVersion,
      ).toBe(rv);
    }, 30_000);

    it('describe shows the Events the deployment controller wrote; get events prints them with their columns', async () => {
      const { kubectl } = await start();
      await kubectl('create', 'deployment', 'web', '--image=web:1', '--replicas=2');
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=10s');
      await kubectl('scale', 'deployment/web', '--replicas=3');
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=10s');
      const described = await kubectl('describe', 'deployment', 'web');
      const events = described.slice(described.indexOf('Events:'));
      expect(events).toMatch(
        /Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set web-[a-z0-9]+ from 0 to 2/,
      );
      expect(events).toMatch(/Scaled up replica set web-[a-z0-9]+ from 2 to 3/);
      const table = (await kubectl('get', 'events', '--field-selector', 'reason=ScalingReplicaSet')).split(
        '\n',
      );
      expect(table[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
      expect(table.slice(1).filter(Boolean)).toHaveLength(2);
      expect(table[1]).toMatch(/Normal\s+ScalingReplicaSet\s+deployment\/web\s+Scaled up/);
    }, 30_000);

    it("prints kube-apiserver's columns (server-side Tables), -o wide, and rows as they change under get -w", async () => {
      const { cluster: c, kubectl } = await start();
      await kubectl('create', 'deployment', 'web', '--image=web:1', '--replicas=2');
      await kubectl('expose', 'deployment', 'web', '--port=80', '--target-port=8080', '--type=NodePort');
      for (let i = 0; i < 50 && !(await kubectl('get', 'deploy', 'web')).includes('2/2'); i++)
        await new Promise((r) => setTimeout(r, 100));
      const deploy = (await kubectl('get', 'deploy')).split('\n');
      expect(deploy[0]).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
      expect(deploy[1]).toMatch(/^web\s+2\/2\s+2\s+2\s+\d+s$/);
      expect((await kubectl('get', 'deploy', '-o', 'wide')).split('\n')[1]).toMatch(/web:1\s+app=web$/);
      const pods = (await kubectl('get', 'pods')).split('\n');
      expect(pods[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
      expect(pods[1]).toMatch(/^web-\S+\s+1\/1\s+Running\s+0\s+\d+s$/);
      expect((await kubectl('get', 'svc', 'web')).split('\n')[1]).toMatch(
        /^web\s+NodePort\s+10\.96\.\S+\s+<none>\s+80:\d+\/TCP\s+\d+s$/,
      );
      // The `all` category: pods, services, deployments and replica sets, as kubectl get all lists them.
      const all = await kubectl('get', 'all');
      for (const name of ['pod/web-', 'service/web', 'deployment.apps/web', 'replicaset.apps/web-'])
        expect(all).toContain(name);
      expect(await kubectl('api-resources', '--categories=gateway-api', '-o', 'name')).toContain(
        'httproutes.gateway.networking.k8s.io',
      );
      // get -w: a new row when the Deployment changes.
      const path = join(mkdtempSync(join(tmpdir(), 'kanary-kubectl-')), 'config');
      writeFileSync(path, c.kubeConfig.exportConfig());
      const watching = run('kubectl', ['get', 'deploy', 'web', '-w', '--request-timeout=3s'], {
        env: { ...process.env, KUBECONFIG: path },
      }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
      await new Promise((r) => setTimeout(r, 700));
      await kubectl('scale', 'deployment', 'web', '--replicas=3');
      const out = (await watching).stdout;
      expect(out).toMatch(/^web\s+2\/2/m);
      expect(out).toMatch(/^web\s+\d\/3/m);
    }, 30_000);
  },
);

describe('the AGE column', () => {
  it('reads as kubectl prints durations (apimachinery HumanDuration)', () => {
    const s = 1000;
    const cases: Array<[number, string]> = [
      [-5 * s, '<invalid>'],
      [0, '0s'],
      [119 * s, '119s'],
      [121 * s, '2m1s'],
      [300 * s, '5m'],
      [600 * s, '10m'],
      [179 * 60 * s, '179m'],
      [3 * 3600 * s, '3h'],
      [(3 * 3600 + 1800) * s, '3h30m'],
      [8 * 3600 * s, '8h'],
      [49 * 3600 * s, '2d1h'],
      [9 * 86400 * s, '9d'],
      [800 * 86400 * s, '2y70d'],
      [9 * 365 * 86400 * s, '9y'],
    ];
    for (const [ms, text] of cases) expect(humanDuration(ms), String(ms)).toBe(text);
  });
});

describe('protobuf request bodies, encoded as client-go does', () => {
  const dir = fileURLToPath(new URL('../vendor/kubernetes-proto/', import.meta.url));
  const root = new protobuf.Root();
  root.resolvePath = (_o, target) => `${dir}${target}`;
  root.loadSync(['k8s.io/api/apps/v1/generated.proto', 'k8s.io/api/coordination/v1/generated.proto'], {
    keepCase: true,
  });
  const envelope = (apiVersion: string, kind: string, type: string, object: object) => {
    const raw = root.lookupType(type).encode(root.lookupType(type).fromObject(object)).finish();
    const unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
    const body = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw })).finish();
    return Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), body]);
  };
  const post = async (path: string, body: Buffer, contentType = 'application/vnd.kubernetes.protobuf') => {
    const url = new URL(path, cluster?.kubeConfig.getCurrentCluster()?.server);
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': contentType } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('reads times, int-or-strings and zero values as their JSON forms', async () => {
    await start();
    const deployment = envelope('apps/v1', 'Deployment', 'k8s.io.api.apps.v1.Deployment', {
      metadata: { name: 'api', namespace: 'default', labels: { app: 'api' }, creationTimestamp: {} },
      spec: {
        replicas: 3,
        minReadySeconds: 0,
        paused: false,
        selector: { matchLabels: { app: 'api' } },
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxSurge: { type: 1, strVal: '50%' }, maxUnavailable: { type: 0, intVal: 0 } },
        },
        template: {
          metadata: { labels: { app: 'api' } },
          spec: { containers: [{ name: 'api', image: 'api:1', resources: {} }] },
        },
      },
    });
    const created = await post('/apis/apps/v1/namespaces/default/deployments', deployment);
    expect(created.status).toBe(201);
    const spec = created.body.spec as Record<string, unknown>;
    expect(spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 },
    });
    expect(spec).not.toHaveProperty('paused');
    expect(spec).not.toHaveProperty('minReadySeconds');

    const renew = { seconds: 1_780_000_000, nanos: 123_456_000 };
    const lease = envelope('coordination.k8s.io/v1', 'Lease', 'k8s.io.api.coordination.v1.Lease', {
      metadata: { name: 'leader', namespace: 'default' },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: renew, leaseTransitions: 0 },
    });
    const leased = await post('/apis/coordination.k8s.io/v1/namespaces/default/leases', lease);
    expect(leased.status).toBe(201);
    expect(leased.body.spec).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
      renewTime: '2026-05-28T20:26:40.123456Z',
    });
  });

  it('refuses a body that is not protobuf with 400, and a custom resource in protobuf with 415', async () => {
    await start();
    const bad = await post(
      '/apis/apps/v1/namespaces/default/deployments',
      Buffer.from('{"kind":"Deployment"}'),
    );
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toMatch(/protobuf type prefix/);
    const custom = await post(
      '/apis/networking.istio.io/v1/namespaces/default/virtualservices',
      Buffer.concat([
        Buffer.from([0x6b, 0x38, 0x73, 0x00]),
        root
          .lookupType('k8s.io.apimachinery.pkg.runtime.Unknown')
          .encode({ typeMeta: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService' } })
          .finish(),
      ]),
    );
    expect(custom.status).toBe(415);
  });
});
