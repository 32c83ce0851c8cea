// The emulator in a child process (`emulator-process.ts`), driven over IPC, for the benchmarks that
// measure Kanary's process alone.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Starts the emulator in a child process with `n` apps; resolves to its address, its CA (with
 * `tls`), its kubeconfig and controls. client-node is loaded only by `kubeConfig()`, so a driver
 * that connects otherwise measures a process without it.
 */
export async function emulatorProcess(n: number, options: { tls?: boolean } = {}) {
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
  /** The emulator's counters; the breakdown by purpose only when asked. */
  const stats = (purposes = false) => {
    child.send({ type: 'requests', purposes });
    return next<{ count: number; connections: number; cpuMs: number; purposes: Array<[string, number]> }>(
      'requests',
    );
  };
  await next('started');
  child.send({ type: 'apps', n });
  const { kubeconfig, url, ca } = await next<{ kubeconfig: string; url: string; ca: string }>('ready');
  return {
    url,
    ca,
    async kubeConfig(): Promise<KubeConfig> {
      const { KubeConfig: Config } = await import('@kubernetes/client-node');
      const kc = new Config();
      kc.loadFromString(kubeconfig);
      return kc;
    },
    requests: async () => (await stats()).count,
    connections: async () => (await stats()).connections,
    /** Requests so far by resource, verb and status. */
    purposes: async () => new Map((await stats(true)).purposes),
    /** The emulator process's CPU time so far (ms). */
    cpuMs: async () => (await stats()).cpuMs,
    close: async () => {
      child.send({ type: 'close' });
      await new Promise((r) => child.on('exit', r));
    },
  };
}
