// Engine overhead and scale against the emulator: the real @kubernetes/client-node over HTTP,
// Deployments, an Istio VirtualService per app, state in ConfigMaps and a Lease per rollout.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  createKubeClient,
  createKubernetesRollout,
  type KubeClient,
  type Rollout,
  type RolloutState,
} from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, deployment, service, startCluster } from '@kanary/testkit';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { benchSpec, quantile, THREE_PAUSES } from './shared.ts';

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

/** Wall time from each setWeight step's start to its weight being read back from the cluster. */
function timeSteps(rollout: Rollout, into: number[]) {
  let started = 0;
  rollout.on('step', ({ step }) => {
    if (step.title.startsWith('set weight')) started = performance.now();
  });
  rollout.on('weight', ({ verified }) => {
    if (verified && started) {
      into.push(performance.now() - started);
      started = 0;
    }
  });
}

async function overhead(lines: string[]) {
  // 1. API requests of one whole rollout, by verb and resource.
  const cluster = await startCluster({ namespaces: ['bench'], podReadyAfterMs: 2_000, tls: true });
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
  const byVerb = new Map<string, number>();
  const byResource = new Map<string, number>();
  const byPurpose = new Map<string, number>();
  for (const r of requests) {
    byVerb.set(r.verb, (byVerb.get(r.verb) ?? 0) + 1);
    const key =
      r.verb === 'discovery' ? 'discovery' : `${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
    byResource.set(key, (byResource.get(key) ?? 0) + 1);
    const purpose = key === 'discovery' ? key : `${key} ${r.verb}`;
    byPurpose.set(purpose, (byPurpose.get(purpose) ?? 0) + 1);
  }
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  lines.push(
    `- One Istio rollout (10 → 25 → 50 → 100%, three 1-minute pauses, over TLS, ${final.phase}): **${requests.length} API requests** over **${connections} connection${connections === 1 ? '' : 's'}** — by verb: ${list(byVerb)}; by resource: ${list(byResource)}; by resource and verb: ${list(byPurpose)}. ` +
      `${(wall / 1000).toFixed(2)} s of wall time for ~${(((final.finishedAt ?? 0) - (final.startedAt ?? 0)) / 60_000).toFixed(1)} min of rollout; each setWeight step took ${steps.map((s) => s.toFixed(1)).join(', ')} ms from start to weight read back.`,
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

/** Starts the emulator in a child process with `n` apps; resolves to its kubeconfig and controls. */
async function emulatorProcess(n: number, options: { tls?: boolean } = {}) {
  const child = fork(
    fileURLToPath(new URL('./emulator-process.ts', import.meta.url)),
    options.tls ? ['--tls'] : [],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: process.env.EMULATOR_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/eprof'] : [],
    },
  );
  const next = <T>(type: string) =>
    new Promise<T>((resolve) => {
      const on = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off('message', on);
        resolve(m as T);
      };
      child.on('message', on);
    });
  await next('started');
  child.send({ type: 'apps', n });
  const { kubeconfig } = await next<{ kubeconfig: string }>('ready');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kubeconfig);
  return {
    kubeConfig,
    requests: async () => {
      child.send({ type: 'requests' });
      return (await next<{ count: number }>('requests')).count;
    },
    connections: async () => {
      child.send({ type: 'requests' });
      return (await next<{ connections: number }>('requests')).connections;
    },
    /** The emulator process's CPU time so far (ms). */
    cpuMs: async () => {
      child.send({ type: 'requests' });
      return (await next<{ cpuMs: number }>('requests')).cpuMs;
    },
    close: async () => {
      child.send({ type: 'close' });
      await new Promise((r) => child.on('exit', r));
    },
  };
}

/**
 * Many rollouts in one process on the wall clock (virtual time would measure the harness), against
 * the emulator in its own process, with one shared client, as a platform would run them.
 */
async function scale(lines: string[], n: number) {
  const emulator = await emulatorProcess(n);
  const client = createKubeClient({ kubeConfig: emulator.kubeConfig });
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let peak = heap0;
  let rssPeak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed);
    rssPeak = Math.max(rssPeak, m.rss);
  }, 100);
  const liveSampler = process.env.KANARY_HEAP_LIVE ? await startAllocationSampling(false) : undefined;
  const steps: number[] = [];
  // Started `rate` a second (50/s, 10/s from 500 on: the emulator must also start every canary's
  // pods; 25/s from 2,000 on, or the run takes most of an hour), with pauses long enough that all
  // are in flight at once.
  const rate = n >= 2_000 ? 25 : n >= 500 ? 10 : 50;
  // Twice the time it takes to start them all: every one is in its first pause from the last start
  // until the first one's pause ends, a window of about as long as the starts took.
  const pause = `${Math.max(5, Math.ceil((n / rate) * 2))}s`;
  const rollouts = Array.from({ length: n }, (_, i) => {
    const name = `svc-${i}`;
    const r = createKubernetesRollout({
      spec: benchSpec(
        name,
        [
          { setWeight: 20 },
          { pause: { duration: pause } },
          { setWeight: 50 },
          { pause: { duration: pause } },
        ],
        {
          scaleDownDelay: '0s',
        },
      ),
      client,
      router: createIstioRouter({ client, virtualService: name, routes: ['primary'] }),
      // Looks, store syncs and the Lease at the defaults: the client's watches wake the looks,
      // and the process's one heartbeat Lease is renewed for all of them.
    });
    timeSteps(r, steps);
    return r;
  });
  const before = await emulator.requests();
  const emulatorCpu0 = await emulator.cpuMs();
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  // Once all are started and mid-pause: what they hold, garbage collected, and the requests they
  // make over 10 s while every one of them waits in a pause.
  let retained = 0;
  let idle = Number.NaN;
  const midway = setTimeout(
    () => {
      void (async () => {
        globalThis.gc?.();
        retained = process.memoryUsage().heapUsed - heap0;
        // KANARY_HEAP_LIVE=file: what the heap holds here, by allocation site.
        if (process.env.KANARY_HEAP_LIVE) await liveSampler?.(process.env.KANARY_HEAP_LIVE);
        // Only pauses long enough to hold every rollout through the 10 s window say anything.
        if (parseInt(pause, 10) < 60) return;
        const r1 = await emulator.requests();
        await new Promise((r) => setTimeout(r, 10_000));
        idle = ((await emulator.requests()) - r1) / n / (10 / 60);
      })();
    },
    // Just after the last start (its first step done): all of them in their first pause.
    (n * 1000) / rate + 5_000,
  );
  const finals: RolloutState[] = await Promise.all(
    rollouts.map(async (r, i) => {
      await new Promise((res) => setTimeout(res, (i * 1000) / rate));
      return r.run();
    }),
  );
  const wall = (performance.now() - t) / 1000;
  clearInterval(sampler);
  clearTimeout(midway);
  const requests = (await emulator.requests()) - before;
  const cpu = process.cpuUsage(cpu0);
  const kanaryCpuMs = (cpu.user + cpu.system) / 1000;
  const emulatorCpuMs = (await emulator.cpuMs()) - emulatorCpu0;
  await client.close();
  await emulator.close();
  const ok = finals.filter((f) => f.phase === 'succeeded').length;
  // What went wrong first, when something did: the phases and the first reason of each.
  const missed = new Map<string, { count: number; why: string }>();
  for (const f of finals.filter((x) => x.phase !== 'succeeded')) {
    const known = missed.get(f.phase) ?? {
      count: 0,
      why: f.abort?.reason ?? f.error?.message ?? f.held?.reason ?? '',
    };
    known.count++;
    missed.set(f.phase, known);
  }
  const notPromoted = [...missed]
    .map(([phase, m]) => `${m.count} ${phase} (first: ${m.why.slice(0, 160)})`)
    .join(', ');
  lines.push(
    `- ${n.toLocaleString('en')} concurrent Istio rollouts (20 → 50%, ${pause} pauses, started ${rate}/s, poll 2 s: looks when a workload changes and syncs on the state's watch, each else every 30 s; lease TTL 30 s (the default) with one heartbeat Lease for the process, one shared client with its watches; emulator in another process): ${ok}/${n} promoted in ${wall.toFixed(1)} s${notPromoted ? ` — not promoted: ${notPromoted}` : ''}; ` +
      `Kanary's heap with all in flight +${(retained / 2 ** 20).toFixed(0)} MiB after GC (~${(retained / 2 ** 10 / n).toFixed(0)} KiB per rollout), peak +${((peak - heap0) / 2 ** 20).toFixed(0)} MiB; ` +
      `setWeight step (start → weight read back) p50 ${quantile(steps, 0.5).toFixed(0)} ms, p99 ${quantile(steps, 0.99).toFixed(0)} ms; ` +
      `${requests.toLocaleString('en')} API requests (${Math.round(requests / n)} per rollout), ${Math.round(requests / wall).toLocaleString('en')} requests/s; ` +
      `${Number.isNaN(idle) ? 'idle rate not sampled (pauses too short)' : `${idle.toFixed(2)} requests per rollout-minute while all waited in pauses`}; ` +
      `peak RSS of the process driving them ${(rssPeak / 2 ** 20).toFixed(0)} MiB; CPU: Kanary's process ${(kanaryCpuMs / 1000).toFixed(0)} s, the emulator's ${(emulatorCpuMs / 1000).toFixed(0)} s (${((100 * emulatorCpuMs) / (emulatorCpuMs + kanaryCpuMs)).toFixed(0)}% of the two).`,
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
  const kanary = createKubeClient({ kubeConfig: emulator.kubeConfig, watch: false });
  const pooled = await measure(() => kanary.get(ref));
  await kanary.close();
  const raw = emulator.kubeConfig.makeApiClient(KubernetesObjectApi);
  const spec = { ...ref, metadata: { name: ref.name, namespace: ref.namespace } };
  const upstream = await measure(() => raw.read(spec));
  await emulator.close();
  const row = (r: typeof pooled) =>
    `${r.cpuMs.toFixed(2)} ms of client CPU and ${r.wallMs.toFixed(2)} ms of wall time per request, ${r.connections.toLocaleString('en')} connections opened after the first request`;
  lines.push(
    `- ${reads.toLocaleString('en')} sequential reads over TLS (the emulator serving https with the testkit CA, in another process): Kanary's client ${row(pooled)}; client-node's generic client alone ${row(upstream)} (a new connection and TLS handshake per request, see docs/decisions.md).`,
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
  for (const n of options.scale ?? [100, 1_000]) lines.push(await scaleInOwnProcess(n));
  lines.push(
    '',
    "The emulator shares the machine's two cores with Kanary, so its time serving requests is in these numbers too.",
    '',
  );
  return lines.join('\n');
}

/**
 * One scale run in a process of its own, so its RSS and CPU are the rollouts' and not what the
 * overhead runs before it left behind (`node --expose-gc bench/kubernetes.ts --scale 1000`).
 */
async function scaleInOwnProcess(n: number): Promise<string> {
  const child = fork(fileURLToPath(import.meta.url), ['--scale', String(n)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [
      '--expose-gc',
      ...(process.env.KANARY_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/kprof'] : []),
    ],
  });
  let line: string | undefined;
  child.on('message', (m: { line: string }) => {
    line = m.line;
  });
  const code = await new Promise((r) => child.on('exit', r));
  if (line === undefined) throw new Error(`the ${n}-rollout run exited with ${code} and no result`);
  return line;
}

async function startAllocationSampling(garbageToo = true): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: garbageToo ? 64 * 1024 : 4 * 1024,
    includeObjectsCollectedByMajorGC: garbageToo,
    includeObjectsCollectedByMinorGC: garbageToo,
  });
  return async (file) => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
  };
}

if (import.meta.main) {
  const at = process.argv.indexOf('--scale');
  if (at > 0) {
    const lines: string[] = [];
    // KANARY_HEAP_PROF=file: every allocation site over the run, garbage included (where the peak
    // heap comes from; node's own --heap-prof keeps only what is still alive at exit).
    const heapProf = process.env.KANARY_HEAP_PROF ? await startAllocationSampling() : undefined;
    await scale(lines, Number(process.argv[at + 1]));
    await heapProf?.(process.env.KANARY_HEAP_PROF as string);
    if (process.send) process.send({ line: lines.join('\n') });
    else console.log(lines.join('\n'));
  } else console.log(await kubernetesBenchmarks({ scale: [100] }));
}
