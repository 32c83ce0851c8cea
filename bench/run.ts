// Benchmarks (not tests): measured on this machine, written to BENCHMARKS.md by `pnpm bench`.

import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { engineBenchmarks } from './engine.ts';

const started = Date.now();
const sections: string[] = [];
console.log('bench: engine overhead (in-memory ports, virtual time)…');
sections.push(await engineBenchmarks());

const header = [
  '# Benchmarks',
  '',
  'Produced by `pnpm bench` (after `bash scripts/setup.sh && pnpm build`); numbers are from the run recorded here.',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
  `Run: ${new Date().toISOString()} (${((Date.now() - started) / 1000).toFixed(1)} s).`,
  '',
];
await writeFile(new URL('../BENCHMARKS.md', import.meta.url), `${[...header, ...sections].join('\n')}\n`);
console.log('bench: wrote BENCHMARKS.md');
