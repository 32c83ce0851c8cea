// Engine overhead and scale against the emulator: the real @kubernetes/client-node over HTTP,
// Deployments, an Istio VirtualService per app, state in ConfigMaps and a Lease per rollout.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createKubeClient,
  createKubernetesRollout,
  inClusterConnection,
  type KubeClient,
  type Rollout,
} from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, deployment, service, startCluster } from '@kanary/testkit';
import { KubernetesObjectApi } from '@kubernetes/client-node';
import { emulatorProcess } from './emulator.ts';
import { scaleInOwnProcess } from './scale.ts';
import { benchSpec, quantile, THREE_PAUSES, timeSteps } from './shared.ts';

function app(cluster: Cluster, name: string, ns = 'bench') {
  const host = `${name}.${ns}.svc.cluster.local`;
  cluster.apply(deployment(name, ns, `${name}:1`, 2), service(name, ns, { app: name }), {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: ns },
    spec: { hosts: [host], http: [{ name: 'primary', route: [{ destination: { host } }] }] },
  });
}

interface RolloutOptions {
  client?: KubeClient;
  pollInterval?: string;
}

function rolloutOf(cluster: Cluster, name: string, steps: unknown[], options: RolloutOptions = {}): Rollout {
  const client = options.client ?? createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  return createKubernetesRollout({
    spec: benchSpec(name, steps, { scaleDownDelay: '0s', abortScaleDownDelay: '0s' }),
    client,
    router: createIstioRouter({ client, virtualService: name, routes: ['primary'] }),
    clock: cluster.clock,
    pollInterval: options.pollInterval ?? '2s',
  });
}

const STEPS = THREE_PAUSES;

/** One whole rollout's API requests, over TLS, on a server with or without streaming lists. */
async function oneRollout(watchList: boolean) {
  const cluster = await startCluster({
    namespaces: ['bench'],
    podReadyAfterMs: 2_000,
    tls: true,
    featureGates: { WatchList: watchList },
  });
  app(cluster, 'shop');
  const before = cluster.requests.length;
  const connectionsBefore = cluster.connections;
  const steps: number[] = [];
  const rollout = rolloutOf(cluster, 'shop', STEPS);
  timeSteps(rollout, steps);
  const t = performance.now();
  const final = await cluster.run(rollout.run());
  const wall = performance.now() - t;
  const requests = cluster.requests.slice(before);
  const connections = cluster.connections - connectionsBefore;
  await cluster.close();
  return { final, wall, requests, connections, steps };
}

export async function overhead(lines: string[]) {
  // 1. API requests of one whole rollout, by verb and resource.
  const { final, wall, requests, connections, steps } = await oneRollout(true);
  const byVerb = new Map<string, number>();
  const byResource = new Map<string, number>();
  const byPurpose = new Map<string, number>();
  for (const r of requests) {
    // A watch that streams the state first is the kind's list: named apart.
    const verb = r.verb === 'watch' && r.sendInitialEvents ? 'watch (streaming list)' : r.verb;
    byVerb.set(verb, (byVerb.get(verb) ?? 0) + 1);
    const key =
      r.verb === 'discovery' ? 'discovery' : `${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
    byResource.set(key, (byResource.get(key) ?? 0) + 1);
    const purpose = key === 'discovery' ? key : `${key} ${verb}`;
    byPurpose.set(purpose, (byPurpose.get(purpose) ?? 0) + 1);
  }
  // What a process pays once however many releases it drives (discovery, a streaming watch per
  // kind and namespace, its heartbeat Lease), and what this release costs on top.
  // (A create names no object in the record: of the two Lease creates, one is the heartbeat's.)
  const processShare = (rs: typeof requests) =>
    rs.filter(
      (r) =>
        r.verb === 'discovery' ||
        r.verb === 'list' ||
        r.verb === 'watch' ||
        (r.resource === 'leases' && r.name?.startsWith('kanary-process.')),
    ).length + 1;
  const perProcess = processShare(requests);
  const heartbeat = requests.filter(
    (r) => r.resource === 'leases' && r.verb === 'update' && r.name?.startsWith('kanary-process.'),
  ).length;
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  // The same rollout where the server refuses streaming lists (1.33's default).
  const old = await oneRollout(false);
  const refused = old.requests.filter((r) => r.verb === 'watch' && r.code === 422).length;
  const count = (rs: typeof requests, verb: string) => rs.filter((r) => r.verb === verb).length;
  lines.push(
    `- One Istio rollout (10 → 25 → 50 → 100%, three 1-minute pauses, over TLS, ${final.phase}): **${requests.length} API requests** over **${connections} connection${connections === 1 ? '' : 's'}**: ${perProcess} a process pays once for all its releases (discovery, a watch per watched kind that streams the kind's state before its changes, the heartbeat Lease's create, delete and ${heartbeat} renewals), **${requests.length - perProcess} this release's own** — by verb: ${list(byVerb)}; by resource: ${list(byResource)}; by resource and verb: ${list(byPurpose)}. ` +
      `${(wall / 1000).toFixed(2)} s of wall time for ~${(((final.finishedAt ?? 0) - (final.startedAt ?? 0)) / 60_000).toFixed(1)} min of rollout; each setWeight step took ${steps.map((s) => s.toFixed(1)).join(', ')} ms from start to weight read back. ` +
      `Where the server refuses streaming lists (its WatchList gate off, as 1.33 ships): ${old.requests.length} requests (${old.final.phase}) — ${refused} refused watch${refused === 1 ? '' : 'es'} (one per API group), then ${count(old.requests, 'list')} LISTs and ${count(old.requests, 'watch') - refused} WATCHes; ${processShare(old.requests)} of them the process's.`,
  );

  // 2. abort() → 100% on stable, on the wall clock (real HTTP round trips, no virtual time).
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const c = await startCluster({ time: 'real', namespaces: ['bench'], podReadyAfterMs: 20 });
    app(c, 'shop');
    const r = rolloutOf(c, 'shop', [{ setWeight: 50 }, { pause: {} }], { pollInterval: '20ms' });
    const paused = new Promise<void>((resolve) => r.on('state', (s) => s.phase === 'paused' && resolve()));
    const running = r.run();
    await paused;
    const stableAll = () => {
      const vs = c.get('VirtualService', 'bench', 'shop', 'networking.istio.io') as {
        spec: { http: Array<{ route: Array<{ weight?: number; destination: { host: string } }> }> };
      };
      const routes = vs.spec.http.find((h) => (h as { name?: string }).name === 'primary')?.route ?? [];
      return routes.every((d) => !d.destination.host.includes('canary') || (d.weight ?? 0) === 0);
    };
    const t0 = performance.now();
    void r.abort('bench');
    while (!stableAll()) await new Promise((res) => setImmediate(res));
    times.push(performance.now() - t0);
    await running;
    await c.close();
  }
  lines.push(
    `- \`abort()\` at 50% → VirtualService back to 100% stable: median ${quantile(times, 0.5).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms over ${times.length} runs (wall clock, real HTTP to the emulator; the canary is scaled down after that).`,
  );
}

/**
 * A control from another process (an operator's `abort()` through its own client) to the driver's
 * routing write, on the wall clock: the driver holds in a pause, re-reading the store every
 * `syncInterval`, or woken by its watch of the state ConfigMap.
 */
async function controlLatency(lines: string[], runs = 12) {
  const measure = async (watch: boolean) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const c = await startCluster({ time: 'real', namespaces: ['bench'], podReadyAfterMs: 20 });
      app(c, 'shop');
      const driverClient = createKubeClient({ kubeConfig: c.kubeConfig, watch });
      const driver = createKubernetesRollout({
        spec: benchSpec('shop', [{ setWeight: 50 }, { pause: {} }], {
          scaleDownDelay: '0s',
          abortScaleDownDelay: '0s',
        }),
        client: driverClient,
        router: createIstioRouter({ client: driverClient, virtualService: 'shop', routes: ['primary'] }),
        pollInterval: '200ms',
        syncInterval: '2s',
      });
      const paused = new Promise<void>((resolve) =>
        driver.on('state', (s) => s.phase === 'paused' && resolve()),
      );
      const running = driver.run();
      await paused;
      // Somewhere in the driver's sync period, as a person's command would land.
      await new Promise((r) => setTimeout(r, 100 + ((i * 157) % 1900)));
      const operator = rolloutOf(c, 'shop', [{ setWeight: 50 }, { pause: {} }]);
      const atStable = () => {
        const vs = c.get('VirtualService', 'bench', 'shop', 'networking.istio.io') as {
          spec: {
            http: Array<{ name?: string; route: Array<{ weight?: number; destination: { host: string } }> }>;
          };
        };
        const routes = vs.spec.http.find((h) => h.name === 'primary')?.route ?? [];
        return routes.every((d) => !d.destination.host.includes('canary') || (d.weight ?? 0) === 0);
      };
      const t0 = performance.now();
      // Not awaited: abort() returns once it sees the effect, on its own polling.
      const aborted = operator.abort('bench');
      while (!atStable()) await new Promise((res) => setTimeout(res, 1));
      times.push(performance.now() - t0);
      await aborted;
      await running;
      await driver.close();
      await operator.close();
      await driverClient.close();
      await c.close();
    }
    return times;
  };
  const polled = await measure(false);
  const watched = await measure(true);
  const row = (t: number[]) =>
    `median ${quantile(t, 0.5).toFixed(0)} ms, p99 ${quantile(t, 0.99).toFixed(0)} ms`;
  lines.push(
    `- An abort from another process (an operator's \`abort()\` through its own client, at a random moment of the driver's pause) → the driver's routing write back to stable, ${runs} runs each on the wall clock: re-reading the store at each look (poll interval 200 ms; a paused release looks at its pods that often, and reads the store after each look): ${row(polled)}; woken by its watch of the state ConfigMap: ${row(watched)}.`,
  );
}

/**
 * Client CPU per request over TLS (the emulator in another process serving https): Kanary's client
 * with its shared pool beside client-node's own generic client, which opens a connection per request.
 */
async function tlsCost(lines: string[], reads = 2_000) {
  const emulator = await emulatorProcess(1, { tls: true });
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'bench', name: 'svc-0' };
  const measure = async (read: () => Promise<unknown>) => {
    await read();
    const c0 = await emulator.connections();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reads; i++) await read();
    const cpu = process.cpuUsage(cpu0);
    return {
      cpuMs: (cpu.user + cpu.system) / 1000 / reads,
      wallMs: (performance.now() - t0) / reads,
      connections: (await emulator.connections()) - c0,
    };
  };
  // Requests, not the watch cache: every read goes to the server.
  const kubeConfig = await emulator.kubeConfig();
  const kanary = createKubeClient({ kubeConfig, watch: false });
  const pooled = await measure(() => kanary.get(ref));
  await kanary.close();
  // The same reads as a Pod makes them: the service account's CA and token, no client-node.
  const sa = mkdtempSync(join(tmpdir(), 'kanary-bench-sa-'));
  writeFileSync(join(sa, 'token'), 'testkit');
  writeFileSync(join(sa, 'ca.crt'), emulator.ca);
  const inCluster = createKubeClient({
    connection: inClusterConnection({ directory: sa, server: emulator.url }),
    watch: false,
  });
  const lean = await measure(() => inCluster.get(ref));
  await inCluster.close();
  const raw = kubeConfig.makeApiClient(KubernetesObjectApi);
  const spec = { ...ref, metadata: { name: ref.name, namespace: ref.namespace } };
  const upstream = await measure(() => raw.read(spec));
  await emulator.close();
  const row = (r: typeof pooled) =>
    `${r.cpuMs.toFixed(2)} ms of client CPU and ${r.wallMs.toFixed(2)} ms of wall time per request, ${r.connections.toLocaleString('en')} connections opened after the first request`;
  lines.push(
    `- ${reads.toLocaleString('en')} sequential reads over TLS (the emulator serving https with the testkit CA, in another process): Kanary's client with a KubeConfig ${row(pooled)}; with \`inClusterConnection\` ${row(lean)}; client-node's generic client alone ${row(upstream)} (a new connection and TLS handshake per request, see docs/decisions.md).`,
  );
}

export async function kubernetesBenchmarks(
  options: { scale?: number[]; skipOverhead?: boolean } = {},
): Promise<string> {
  const lines = ['## Kubernetes API overhead and scale (the emulator, client-node over HTTP)', ''];
  if (!options.skipOverhead) {
    await overhead(lines);
    await controlLatency(lines);
    await tlsCost(lines);
  }
  // BENCH_SCALE_FLAGS="--heap-growing-percent=25 …": each size again with these V8 flags.
  const flags = process.env.BENCH_SCALE_FLAGS?.split(' ').filter(Boolean);
  for (const n of options.scale ?? [100, 1_000]) {
    lines.push(await scaleInOwnProcess(n));
    if (flags?.length) lines.push(await scaleInOwnProcess(n, flags));
  }
  lines.push(
    '',
    "The emulator shares the machine's two cores with Kanary, so its time serving requests is in these numbers too.",
    '',
  );
  return lines.join('\n');
}

if (import.meta.main) console.log(await kubernetesBenchmarks({ scale: [100] }));
