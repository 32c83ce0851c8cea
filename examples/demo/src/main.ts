// Kanary demo: the seeds' story on the embedded emulator (no cluster needed).
// shop-frontend on Istio, weights 10 → 25 → 50 → 100%, gated by the sequential judges:
// release 1.5.0 is as good as the stable version and is promoted; release 1.6.0 fails three times
// as many requests and is rolled back automatically. Writes an HTML report and prints its path.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Cluster } from '@kanary/testkit';
import { type ReleaseResult, runRelease } from './release.ts';
import { renderReport } from './report.ts';
import { APP, NAMESPACE, startShop } from './shop.ts';
import { createTerminalView } from './view.ts';

export interface DemoOptions {
  /** Redraw a live status block (default: when stdout is a terminal). */
  live?: boolean;
  color?: boolean;
  /** Virtual seconds per wall-clock second when live (default 40); 0 runs as fast as possible. */
  pace?: number;
  out?: string;
  seed?: number;
  write?: (text: string) => void;
  /** Where the emulator's kubeconfig is written for kubectl (default: next to the report). */
  kubeconfig?: string;
  /**
   * After the releases, keep the emulator up with its clock following the wall clock, so a person
   * can look around with kubectl, until this signal aborts (`pnpm demo --hold`: Ctrl-C).
   */
  hold?: AbortSignal;
}

export interface DemoResult {
  releases: ReleaseResult[];
  reportPath: string;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const live = options.live ?? false;
  const write = options.write ?? ((t: string) => process.stdout.write(t));
  const view = createTerminalView({ live, color: options.color ?? false, write });
  const cluster = await startShop(options.seed);
  const pace = live ? (options.pace ?? 40) : 0;
  const reportPath = resolve(options.out ?? 'kanary-demo-report.html');
  const kubeconfig = resolve(options.kubeconfig ?? join(dirname(reportPath), 'kanary-demo.kubeconfig'));
  try {
    mkdirSync(dirname(kubeconfig), { recursive: true });
    writeFileSync(kubeconfig, cluster.kubeConfig.exportConfig());
    write(
      `Kanary demo — shop-frontend on Istio, on the embedded Kubernetes emulator in virtual time${pace ? ` (${pace}× speed)` : ''}\n`,
    );
    write(
      `Watch it with kubectl: KUBECONFIG=${kubeconfig} kubectl get virtualservice ${APP} -n ${NAMESPACE} -o yaml -w\n`,
    );
    const releases: ReleaseResult[] = [];
    releases.push(
      await runRelease(
        cluster,
        'Release 1.5.0: as good as stable',
        'registry.example.com/shop-frontend:1.5.0',
        view,
        pace,
      ),
    );
    releases.push(
      await runRelease(
        cluster,
        'Release 1.6.0: three times the errors',
        'registry.example.com/shop-frontend:1.6.0',
        view,
        pace,
      ),
    );
    mkdirSync(resolve(reportPath, '..'), { recursive: true });
    writeFileSync(reportPath, renderReport(releases, new Date()));
    write('\n');
    for (const r of releases) {
      const verdict = r.final.phase === 'succeeded' ? 'promoted' : `rolled back (${r.final.abort?.cause})`;
      write(
        `${r.title}: ${verdict}; the canary served ${r.canaryServed.requests} requests, ${r.canaryServed.errors} errors\n`,
      );
    }
    write(`Report: ${reportPath}\n`);
    if (options.hold) await holdOpen(cluster, kubeconfig, options.hold, write);
    return { releases, reportPath };
  } finally {
    await cluster.close();
  }
}

/** Keeps the emulator serving, its virtual clock moving with the wall clock, until `signal` aborts. */
async function holdOpen(
  cluster: Cluster,
  kubeconfig: string,
  signal: AbortSignal,
  write: (t: string) => void,
) {
  write(
    `Holding the emulator in real time; look around (Ctrl-C to stop):\n  export KUBECONFIG=${kubeconfig}\n  kubectl get deploy,rs,pods,svc,virtualservice,destinationrule -n ${NAMESPACE}\n  kubectl describe deployment ${APP} -n ${NAMESPACE}\n`,
  );
  let last = performance.now();
  while (!signal.aborted) {
    await new Promise((r) => setTimeout(r, 100));
    const now = performance.now();
    await cluster.virtualClock?.advance(Math.round(now - last));
    last = now;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      live: { type: 'boolean' },
      'no-live': { type: 'boolean' },
      pace: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      hold: { type: 'boolean' },
    },
  });
  const stop = new AbortController();
  if (values.hold) process.once('SIGINT', () => stop.abort());
  const tty = Boolean(process.stdout.isTTY) && !process.env.CI;
  const { releases } = await runDemo({
    live: values['no-live'] ? false : (values.live ?? tty),
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
    ...(values.pace !== undefined ? { pace: Number(values.pace) } : {}),
    ...(values.out ? { out: values.out } : {}),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
    ...(values.hold ? { hold: stop.signal } : {}),
  });
  const [good, bad] = releases;
  if (good?.final.phase !== 'succeeded' || bad?.final.phase !== 'aborted') {
    console.error('demo: unexpected outcome');
    process.exit(1);
  }
}
