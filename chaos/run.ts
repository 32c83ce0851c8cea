// pnpm chaos [--seeds N] [--from S] [--seed S [--replay] [--shrink]] [--out FILE] [--rbac]
// Runs generated releases with disturbances against the emulator and checks the release-safety
// invariants on every tick. A failure prints its seed; `--seed S --replay` runs that one again,
// printing every transition and disturbance as it happens, its schedule and every tick it broke at;
// `--seed S --shrink` reduces its schedule to a minimal one that still fails. `--rbac`: the drivers
// run under the least-privilege Role their rollout asks for, the emulator enforcing RBAC.
import { writeFileSync } from 'node:fs';
import { type ChaosReport, runChaos, shrinkChaos } from '@kanary/testkit';
import { routers } from './routers.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const single = flag('seed');
const from = Number(flag('from') ?? 1);
const seeds =
  single !== undefined
    ? [Number(single)]
    : Array.from({ length: Number(flag('seeds') ?? 200) }, (_, i) => from + i);

if (single !== undefined && args.includes('--shrink')) {
  const shrunk = await shrinkChaos({
    seed: Number(single),
    routers,
    onRun: (r) =>
      console.log(
        `  tried ${r.scenario.disturbances.length} disturbances: ${r.violations.length > 0 ? 'fails' : 'passes'}`,
      ),
  });
  if (!shrunk) console.log(`seed ${single} does not fail`);
  else {
    console.log(`smallest failing scenario (after ${shrunk.runs} runs):`);
    console.log(JSON.stringify(shrunk.scenario, null, 2));
    for (const v of shrunk.report.violations)
      console.log(
        `  ${v.invariant} at +${((v.at - shrunk.report.startedAt) / 1000).toFixed(1)}s: ${v.detail}`,
      );
  }
  process.exit(shrunk ? 1 : 0);
}

const reports: ChaosReport[] = [];
let current: number | undefined;
// An error escaping the emulator (not Kanary) ends the run: say which seed it was.
for (const event of ['unhandledRejection', 'uncaughtException'] as const)
  process.on(event, (error) => {
    console.log(`seed ${current}: the emulator failed: ${(error as Error).message}`);
    process.exit(2);
  });
const started = Date.now();
for (const seed of seeds) {
  current = seed;
  const report = await runChaos({
    seed,
    routers,
    ...(args.includes('--rbac') ? { rbac: true } : {}),
    ...(args.includes('--log') || args.includes('--replay') ? { log: (l: string) => console.log(l) } : {}),
  });
  reports.push(report);
  const mark = report.violations.length > 0 ? 'FAIL' : 'ok  ';
  if (report.violations.length > 0 || single !== undefined) {
    console.log(
      `${mark} seed ${seed} ${report.scenario.strategy}×${report.scenario.router} → ${report.phase} (${report.wallMs} ms)`,
    );
    for (const v of report.violations)
      console.log(`     ${v.invariant} at +${((v.at - report.startedAt) / 1000).toFixed(1)}s: ${v.detail}`);
    if (report.violations.length > 0) console.log(`     ended at ${report.where}`);
    if (single !== undefined) {
      console.log(JSON.stringify(report.scenario, null, 2));
      if (report.refused.length > 0) console.log(`refused: ${report.refused.join('; ')}`);
    }
  } else if (reports.length % 50 === 0) console.log(`${reports.length}/${seeds.length} seeds`);
}

const failed = reports.filter((r) => r.violations.length > 0);
const byInvariant = new Map<string, number>();
for (const r of failed)
  for (const v of new Set(r.violations.map((x) => x.invariant)))
    byInvariant.set(v, (byInvariant.get(v) ?? 0) + 1);
const coverage = new Map<string, number>();
for (const r of reports) for (const c of r.covered) coverage.set(c, (coverage.get(c) ?? 0) + 1);
const walls = reports.map((r) => r.wallMs).sort((a, b) => a - b);
const summary = {
  seeds: reports.length,
  failed: failed.map((r) => r.seed),
  byInvariant: Object.fromEntries(byInvariant),
  medianWallMs: walls[Math.floor(walls.length / 2)] ?? 0,
  totalWallMs: Date.now() - started,
  coverage: Object.fromEntries([...coverage].sort(([a], [b]) => a.localeCompare(b))),
};
console.log(JSON.stringify(summary, null, 2));
const out = flag('out');
if (out) writeFileSync(out, `${JSON.stringify({ summary, reports }, null, 2)}\n`);
process.exitCode = failed.length > 0 ? 1 : 0;
