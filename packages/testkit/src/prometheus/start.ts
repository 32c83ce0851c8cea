import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrometheusOptions {
  /** Metrics URLs to scrape (e.g. `cluster.metricsUrl`). */
  targets: string[];
  /** Scrape interval (default "1s"). */
  scrapeInterval?: string;
  /** The binary (default: `prometheus` on PATH, as Debian's package installs it). */
  binary?: string;
}

export interface PrometheusServer {
  url: string;
  /** Instant query; returns the API's `data` object. */
  query(
    promql: string,
    time?: number,
  ): Promise<{
    resultType: string;
    result: Array<{ metric: Record<string, string>; value: [number, string] }>;
  }>;
  /** Resolves once every target was scraped at least `count` times. */
  waitForScrapes(count?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Whether a Prometheus server binary is available here. */
export function prometheusAvailable(binary = 'prometheus'): boolean {
  const r = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * Starts a real Prometheus server on loopback with a temporary config and storage, scraping
 * the given targets. Loopback only; stopped by `close()`.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'kanary-prometheus-'));
  const port = await freePort();
  const targets = options.targets.map((t) => new URL(t));
  const config = [
    'global:',
    `  scrape_interval: ${options.scrapeInterval ?? '1s'}`,
    `  evaluation_interval: ${options.scrapeInterval ?? '1s'}`,
    'scrape_configs:',
    ...targets.map((t, i) =>
      [
        `  - job_name: target${i}`,
        `    metrics_path: ${t.pathname}`,
        '    static_configs:',
        `      - targets: ['${t.host}']`,
      ].join('\n'),
    ),
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), `${config}\n`);
  const child: ChildProcess = spawn(
    options.binary ?? 'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      '--storage.tsdb.retention.time=1h',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`);
    try {
      const r = await fetch(`${url}/-/ready`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus did not become ready: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async (path: string) => {
    const r = await fetch(`${url}${path}`);
    const body = (await r.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus: ${body.error ?? r.status}`);
    return body.data;
  };
  return {
    url,
    query: (promql, time) =>
      api(
        `/api/v1/query?query=${encodeURIComponent(promql)}${time ? `&time=${time / 1000}` : ''}`,
      ) as ReturnType<PrometheusServer['query']>,
    async waitForScrapes(count = 2, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const data = (await api(
          `/api/v1/query?query=${encodeURIComponent('min(count_over_time(up[5m]))')}`,
        )) as {
          result: Array<{ value: [number, string] }>;
        };
        if (Number(data.result[0]?.value[1] ?? 0) >= count) return;
        if (Date.now() > until) throw new Error('prometheus: targets were not scraped in time');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async close() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
