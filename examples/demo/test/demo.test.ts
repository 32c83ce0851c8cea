import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/main.ts';
import type { Frame } from '../src/observer.ts';
import { createTerminalView } from '../src/view.ts';

const run = promisify(execFile);
const kubectlVersion = await run('kubectl', ['version', '--client', '-o', 'json'])
  .then((r) => JSON.parse(r.stdout).clientVersion.gitVersion as string)
  .catch(() => undefined);

describe('pnpm demo', () => {
  it('promotes the good release, rolls back the bad one on its error rate, and writes the report', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kanary-demo-')), 'report.html');
    let text = '';
    // --hold: once the releases are over the emulator stays up for kubectl until the signal aborts.
    const hold = new AbortController();
    const demo = runDemo({ out, write: (t) => (text += t), hold: hold.signal });
    while (!text.includes('Holding the emulator') && !/Error/.test(text))
      await new Promise((r) => setTimeout(r, 50));
    const kubeconfig = /KUBECONFIG=(\S+) kubectl get virtualservice shop-frontend -n shop -o yaml -w/.exec(
      text,
    )?.[1];
    expect(kubeconfig).toBe(join(dirname(out), 'kanary-demo.kubeconfig'));
    if (kubectlVersion) {
      const kubectl = async (...args: string[]) =>
        (await run('kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig } })).stdout;
      expect(await kubectl('get', 'virtualservice', '-n', 'shop', '-o', 'name')).toContain(
        'virtualservice.networking.istio.io/shop-frontend',
      );
      // The release's Events, as a person who looks after the demo sees them.
      const described = await kubectl('describe', 'deployment', 'shop-frontend', '-n', 'shop');
      expect(described).toMatch(/Normal\s+Succeeded\s+.*kanary\s+the new version is promoted/);
      expect(described).toMatch(/Warning\s+Aborted\s+.*kanary\s+analysis: /);
    }
    hold.abort();
    const { releases, reportPath } = await demo;
    const [good, bad] = releases;

    expect(good?.final.phase).toBe('succeeded');
    expect(good?.verdicts.map((m) => m.phase)).toEqual(['successful', 'successful']);
    // Every weight of the plan was requested and, from the sidecars' counts, observed.
    for (const w of [10, 25, 50]) {
      const frames = good?.frames.filter((f) => f.requested === w && f.observed !== undefined) ?? [];
      expect(frames.length).toBeGreaterThan(3);
      const last = frames.at(-1) as Frame;
      expect(Math.abs((last.observed as number) * 100 - w)).toBeLessThan(4);
    }

    expect(bad?.final.phase).toBe('aborted');
    expect(bad?.final.abort?.cause).toBe('analysis');
    expect(bad?.final.abort?.reason).toMatch(/errors failed/);
    expect(bad?.final.weights.canary).toBe(0);
    // Caught at the first weight, long before the 10% pause (2 minutes) ended.
    expect(bad?.marks.find((m) => m.kind === 'verdict')?.label).toBe('errors failed');
    expect(bad?.final.abort?.from.step).toBeLessThanOrEqual(1);
    expect(bad?.canaryServed.requests).toBeLessThan(good?.canaryServed.requests ?? 0);
    expect(bad?.verdicts.find((m) => m.metric === 'latency')?.phase).not.toBe('failed');

    // Readable in CI logs: no escape codes; steps, verdicts and outcomes on their own lines.
    expect(text).not.toContain('\u001b[');
    expect(text).toMatch(/step 1\/8: set weight 10%/);
    expect(text).toMatch(
      /judges: errors no sign of regression \(evidence (under 0\.1|[\d.]+)% of the way to rollback\) · latency no sign of regression/,
    );
    expect(text).not.toMatch(/e-value|nodata/);
    expect(text).toMatch(/judges: errors FAILED: error rate regression/);
    expect(text).toMatch(/PROMOTED: .*1\.5\.0/);
    expect(text).toMatch(/ROLLBACK: analysis background failed/);
    expect(text).toContain(`Report: ${reportPath}`);

    const html = readFileSync(reportPath, 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(6);
    expect(html).toContain('Promoted after');
    // One clock: the console and the page give the same times for the same moments.
    const consoleAt = (what: string) => new RegExp(`\\[\\+\\s*([^\\]]+)\\] ${what}`).exec(text)?.[1];
    expect(consoleAt('PROMOTED')).toBeDefined();
    expect(html).toContain(`Promoted after ${consoleAt('PROMOTED')}:`);
    expect(html).toContain(`Rolled back after ${consoleAt('ROLLBACK')}:`);
    expect(html).toContain('Rolled back after');
    // Decision points drawn on the charts: the failed verdict and the rollback.
    expect(html).toMatch(/<title>errors failed at \+/);
    expect(html).toMatch(/<title>rollback at \+/);
    expect(html).toMatch(/<title>promoted at \+/);
  }, 120_000);
});

describe('the terminal view', () => {
  const frame = (at: number, requested: number): Frame => ({
    at,
    step: 'step 2/8: pause 2m',
    phase: 'paused',
    requested,
    observed: requested / 100,
    canary: { requests: 600, errorRate: 0.015, meanMs: 62 },
    stable: { requests: 5400, errorRate: 0.005, meanMs: 61 },
    evidence: { errors: { phase: 'successful', eValue: 12.5, threshold: 100 } },
  });

  it('on a terminal, redraws one status block in place under the event log', () => {
    let text = '';
    const view = createTerminalView({ live: true, color: false, write: (t) => (text += t) });
    view.start('Release', 'img:2', 8, 0);
    view.frame(frame(0, 10));
    view.event(1_000, 'step 3/8: set weight 25%');
    view.frame(frame(10_000, 25));
    view.end();
    // Each redraw first moves up over the previous block (6 lines) and clears it.
    expect(text.split('\u001b[6F\u001b[J')).toHaveLength(3);
    expect(text).toContain('requested  25%  observed  25.0%');
    expect(text).toContain('canary     600 req/30s   errors  1.50%');
    expect(text).toContain('errors no sign of regression (evidence 13% of the way to rollback)');
  });

  it('in a log, prints one summary line per minute of rollout time, plus every event', () => {
    let text = '';
    const view = createTerminalView({ live: false, color: false, write: (t) => (text += t) });
    view.start('Release', 'img:2', 8, 0);
    for (let t = 0; t <= 180_000; t += 10_000) view.frame(frame(t, 10));
    view.event(50_000, 'judges: errors ok');
    const lines = text.trim().split('\n');
    expect(lines.filter((l) => l.includes('requested'))).toHaveLength(4);
    expect(lines.filter((l) => l.includes('judges: errors ok'))).toHaveLength(1);
  });
});
