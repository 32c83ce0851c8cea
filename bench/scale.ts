// Many rollouts in one process against the emulator in another. This module is the driver
// process: it loads what a host loads (core, a router, client-node) and nothing of the testkit, so
// its memory is a host's.
import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createKubeClient,
  createKubernetesRollout,
  inClusterConnection,
  type KubeClient,
  type RolloutState,
} from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { emulatorProcess } from './emulator.ts';
import { benchSpec, quantile, timeSteps } from './shared.ts';

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/** Request counts by purpose made since `before`, the largest first. */
const since = (now: Map<string, number>, before: Map<string, number>) =>
  [...now]
    .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);

/** How the driver reaches the API server: a Pod's service account over TLS, or a kubeconfig (plain http). */
export type ScaleConnection = 'in-cluster' | 'kubeconfig';

/**
 * The shared client: `in-cluster` reads a service account directory written here (the emulator's
 * CA, a token) and never loads client-node; `kubeconfig` loads client-node for its KubeConfig.
 */
async function connect(
  emulator: Awaited<ReturnType<typeof emulatorProcess>>,
  mode: ScaleConnection,
): Promise<KubeClient> {
  if (mode === 'kubeconfig') return createKubeClient({ kubeConfig: await emulator.kubeConfig() });
  const directory = mkdtempSync(join(tmpdir(), 'kanary-bench-sa-'));
  writeFileSync(join(directory, 'token'), 'testkit');
  writeFileSync(join(directory, 'ca.crt'), emulator.ca);
  writeFileSync(join(directory, 'namespace'), 'bench');
  return createKubeClient({ connection: inClusterConnection({ directory, server: emulator.url }) });
}

/**
 * Many rollouts in one process on the wall clock (virtual time would measure the harness), against
 * the emulator in its own process, with one shared client, as a platform would run them.
 */
async function scale(lines: string[], n: number, mode: ScaleConnection) {
  // The V8 flags this run was given (heap sizing), named in its line.
  const heapFlags = process.execArgv.filter((a) => a !== '--expose-gc' && !a.startsWith('--cpu-prof'));
  const emulator = await emulatorProcess(n, { tls: mode === 'in-cluster' });
  const client = await connect(emulator, mode);
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let peak = heap0;
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  // What the peak RSS is made of, at the moment of the peak: V8's heap (used and reserved) and
  // memory outside it (buffers of requests and responses in flight).
  let atPeak = process.memoryUsage();
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed);
    if (m.rss > rssPeak) [rssPeak, atPeak] = [m.rss, m];
  }, 100);
  const liveSampler = process.env.KANARY_HEAP_LIVE ? await startAllocationSampling(false) : undefined;
  const steps: number[] = [];
  // Leases lost (when, and the first reason) and warnings (retried faults, lost races), by kind.
  const leaseLosses: number[] = [];
  let firstLoss = '';
  let warnings = 0;
  const warningKinds = new Map<string, number>();
  let t = performance.now();
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
    r.on('leadership', (e) => {
      if (e.status !== 'lost') return;
      leaseLosses.push((performance.now() - t) / 1000);
      if (!firstLoss) firstLoss = e.message;
    });
    r.on('warning', (e) => {
      warnings++;
      const kind = e.message.slice(0, 60);
      warningKinds.set(kind, (warningKinds.get(kind) ?? 0) + 1);
    });
    return r;
  });
  const before = await emulator.requests();
  const purposes0 = await emulator.purposes();
  const emulatorCpu0 = await emulator.cpuMs();
  const cpu0 = process.cpuUsage();
  t = performance.now();
  // KANARY_CPU_WINDOW=from,seconds,file: a CPU profile of the driver over that window of the run
  // (the wave of second steps at 5,000 rollouts, say), not of all of it.
  const cpuWindow = process.env.KANARY_CPU_WINDOW?.split(',');
  if (cpuWindow) void profileWindow(Number(cpuWindow[0]), Number(cpuWindow[1]), cpuWindow[2] as string);
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
  // A run that throws (a request failing past its retries) is counted with its reason, not fatal to
  // the benchmark: what breaks first at a scale is what this reports.
  const thrown: string[] = [];
  // Progress on stderr once a minute: a run cut short by its timeout still says how far it got.
  let done = 0;
  // With each line, the minute's LISTs and WATCHes by resource and status (410: a watch refused as
  // too old), so a cache relisting over and over shows while it happens.
  let lastPurposes = purposes0;
  const progress = setInterval(() => {
    const m = process.memoryUsage();
    const c = process.cpuUsage(cpu0);
    void emulator.purposes().then((now) => {
      const relists = since(now, lastPurposes)
        .filter(([k]) => / (list|watch) /.test(k))
        .slice(0, 8)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      lastPurposes = now;
      console.error(
        `scale ${n}: t=${((performance.now() - t) / 1000).toFixed(0)} s, ${done} finished, ${steps.length} setWeight steps, ${leaseLosses.length} leases lost, ${warnings} warnings, RSS ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)} MiB, CPU ${((c.user + c.system) / 1e6).toFixed(0)} s; last minute's lists and watches: ${relists || 'none'}`,
      );
    });
  }, 60_000);
  const finals: Array<RolloutState | undefined> = await Promise.all(
    rollouts.map(async (r, i) => {
      await new Promise((res) => setTimeout(res, (i * 1000) / rate));
      return r
        .run()
        .catch((e: unknown) => {
          thrown.push(e instanceof Error ? e.message : String(e));
          return undefined;
        })
        .finally(() => done++);
    }),
  );
  clearInterval(progress);
  const wall = (performance.now() - t) / 1000;
  clearInterval(sampler);
  clearTimeout(midway);
  const requests = (await emulator.requests()) - before;
  const purposes = since(await emulator.purposes(), purposes0);
  const cpu = process.cpuUsage(cpu0);
  const kanaryCpuMs = (cpu.user + cpu.system) / 1000;
  const emulatorCpuMs = (await emulator.cpuMs()) - emulatorCpu0;
  await client.close();
  await emulator.close();
  const ok = finals.filter((f) => f?.phase === 'succeeded').length;
  // What went wrong first, when something did: the phases and the first reason of each.
  const missed = new Map<string, { count: number; why: string }>();
  for (const f of finals.filter((x): x is RolloutState => x !== undefined && x.phase !== 'succeeded')) {
    const known = missed.get(f.phase) ?? {
      count: 0,
      why: f.abort?.reason ?? f.error?.message ?? f.held?.reason ?? '',
    };
    known.count++;
    missed.set(f.phase, known);
  }
  const notPromoted = [
    ...[...missed].map(([phase, m]) => `${m.count} ${phase} (first: ${m.why.slice(0, 160)})`),
    ...(thrown.length ? [`${thrown.length} runs threw (first: ${thrown[0]?.slice(0, 160)})`] : []),
  ].join(', ');
  lines.push(
    `- ${n.toLocaleString('en')} concurrent Istio rollouts (20 → 50%, ${pause} pauses, started ${rate}/s, poll 2 s: looks when a workload changes and syncs on the state's watch, each else every 30 s; lease TTL 30 s (the default) with one heartbeat Lease for the process, one shared client with its watches, ${mode === 'in-cluster' ? 'connected as a Pod is (a service account over TLS, client-node not loaded)' : 'connected by a client-node KubeConfig (plain http)'}; emulator in another process; ${heapFlags.length ? `node ${heapFlags.join(' ')}` : "Node's default heap sizing"}): ${ok}/${n} promoted in ${wall.toFixed(1)} s${notPromoted ? ` — not promoted: ${notPromoted}` : ''}; ` +
      `Kanary's heap with all in flight +${(retained / 2 ** 20).toFixed(0)} MiB after GC (~${(retained / 2 ** 10 / n).toFixed(0)} KiB per rollout), peak +${((peak - heap0) / 2 ** 20).toFixed(0)} MiB; ` +
      `setWeight step (start → weight read back) p50 ${quantile(steps, 0.5).toFixed(0)} ms, p99 ${quantile(steps, 0.99).toFixed(0)} ms; ` +
      `${requests.toLocaleString('en')} API requests (${Math.round(requests / n)} per rollout; per rollout by resource, verb and status: ${purposes
        .slice(0, 12)
        .map(([k, v]) => `${k} ${(v / n).toFixed(1)}`)
        .join(', ')}), ${Math.round(requests / wall).toLocaleString('en')} requests/s; ` +
      `${leaseLosses.length ? `${leaseLosses.length} rollout leases lost (from t = ${Math.min(...leaseLosses).toFixed(0)} s to ${Math.max(...leaseLosses).toFixed(0)} s; first: ${firstLoss.slice(0, 120)})` : 'no lease lost'}; ${warnings} warnings${
        warnings
          ? ` (${[...warningKinds]
              .sort((a, b) => b[1] - a[1])
              .slice(0, 3)
              .map(([k, v]) => `${v}× ${k}`)
              .join('; ')})`
          : ''
      }; ` +
      `${Number.isNaN(idle) ? 'idle rate not sampled (pauses too short)' : `${idle.toFixed(2)} requests per rollout-minute while all waited in pauses`}; ` +
      `peak RSS of the process driving them ${mib(rssPeak)} MiB (${mib(rss0)} before the first rollout; at the peak V8's heap ${mib(atPeak.heapUsed)} MiB used of ${mib(atPeak.heapTotal)} reserved, ${mib(atPeak.external)} MiB outside it); CPU: Kanary's process ${(kanaryCpuMs / 1000).toFixed(0)} s, the emulator's ${(emulatorCpuMs / 1000).toFixed(0)} s (${((100 * emulatorCpuMs) / (emulatorCpuMs + kanaryCpuMs)).toFixed(0)}% of the two).`,
  );
}

/**
 * One scale run in a process of its own, so its RSS and CPU are the rollouts' and not what the
 * overhead runs before it left behind (`node --expose-gc bench/kubernetes.ts --scale 1000`).
 */
export async function scaleInOwnProcess(
  n: number,
  flags: string[] = [],
  mode: ScaleConnection = 'in-cluster',
): Promise<string> {
  const child = fork(fileURLToPath(import.meta.url), ['--scale', String(n), '--connection', mode], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [
      '--expose-gc',
      ...flags,
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

/** Profiles this process's CPU from `fromS` seconds for `seconds`, written to `file` (.cpuprofile). */
async function profileWindow(fromS: number, seconds: number, file: string): Promise<void> {
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  await new Promise((r) => setTimeout(r, fromS * 1000));
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile } = await session.post('Profiler.stop');
  await writeFile(file, JSON.stringify(profile));
  session.disconnect();
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
    const mode = process.argv.includes('kubeconfig') ? 'kubeconfig' : 'in-cluster';
    await scale(lines, Number(process.argv[at + 1]), mode);
    await heapProf?.(process.env.KANARY_HEAP_PROF as string);
    if (process.send) process.send({ line: lines.join('\n') });
    else console.log(lines.join('\n'));
  } else
    console.error('usage: node --expose-gc bench/scale.ts --scale N [--connection in-cluster|kubeconfig]');
}
