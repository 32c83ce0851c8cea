// Benchmarks (not tests): measured on this machine, written to BENCHMARKS.md by `pnpm bench`.
// `pnpm bench -- --only detection` (or engine, kubernetes) runs one section; BENCH_RUNS sets
// the canaries per detection cell (default 1,000).
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { detectionBenchmarks } from './detection/run.ts';
import { engineBenchmarks } from './engine.ts';
import { kubernetesBenchmarks } from './kubernetes.ts';
import { leadershipBenchmarks } from './leadership.ts';

const SECTIONS = {
  engine: { title: '## Engine overhead', run: () => engineBenchmarks() },
  kubernetes: {
    title: '## Kubernetes API overhead and scale',
    run: () =>
      kubernetesBenchmarks({
        // BENCH_SCALE=100 runs the scale part at 100 rollouts only (default 100 and 1,000).
        scale: (process.env.BENCH_SCALE ?? '100,1000').split(',').map(Number),
      }),
  },
  leadership: { title: '## Leadership', run: () => leadershipBenchmarks() },
  detection: {
    title: '## Detection',
    run: () =>
      detectionBenchmarks({ runs: Number(process.env.BENCH_RUNS ?? 1_000), log: (l) => console.log(l) }),
  },
} as const;
type Section = keyof typeof SECTIONS;

// `pnpm bench -- --only x` hands the script a literal `--`, after which parseArgs reads no options.
const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
const { values } = parseArgs({
  args,
  options: { only: { type: 'string', multiple: true } },
  allowPositionals: true,
});
const chosen = (values.only ?? Object.keys(SECTIONS)) as Section[];
for (const s of chosen)
  if (!(s in SECTIONS)) throw new Error(`--only ${s}: use ${Object.keys(SECTIONS).join(', ')}`);

const target = new URL('../BENCHMARKS.md', import.meta.url);
// Sections not run this time keep their last recorded text.
const previous = await readFile(target, 'utf8').catch(() => '');
const kept = (title: string) => {
  const i = previous.indexOf(`\n${title}`);
  if (i === -1) return undefined;
  const next = previous.indexOf('\n## ', i + 1);
  return previous.slice(i + 1, next === -1 ? undefined : next).trimEnd();
};

const started = Date.now();
const parts: string[] = [];
for (const [name, section] of Object.entries(SECTIONS) as Array<[Section, (typeof SECTIONS)[Section]]>) {
  if (!chosen.includes(name)) {
    const old = kept(section.title);
    if (old) parts.push(old, '');
    continue;
  }
  console.log(`bench: ${name}…`);
  const t = Date.now();
  parts.push(
    (await section.run()).trimEnd(),
    '',
    `_${name}: measured ${new Date().toISOString()} in ${((Date.now() - t) / 1000).toFixed(0)} s._`,
    '',
  );
}

// Sections other tools write (chaos, fuzzing) are kept as they are, after these.
const titles = Object.values(SECTIONS).map((x) => x.title);
for (const m of previous.matchAll(/^## .*$/gm)) {
  const title = m[0];
  if (titles.some((t) => title.startsWith(t))) continue;
  const next = previous.indexOf('\n## ', (m.index ?? 0) + 1);
  parts.push(previous.slice(m.index, next === -1 ? undefined : next).trimEnd(), '');
}

const header = [
  '# Benchmarks',
  '',
  'Produced by `pnpm bench` (after `bash scripts/setup.sh && pnpm build`); each section notes when it was measured.',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
  '',
  'Reproduce: `bash scripts/setup.sh && pnpm build && pnpm bench` (all, ~15 min), or `pnpm bench -- --only detection`.',
  '',
];
await writeFile(target, `${[...header, ...parts].join('\n').trimEnd()}\n`);
console.log(`bench: wrote BENCHMARKS.md in ${((Date.now() - started) / 1000).toFixed(0)} s`);
