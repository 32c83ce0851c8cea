// The terminal view. On a TTY: a status block redrawn in place under a log of events. Elsewhere
// (CI logs, pipes): plain lines — every event, and a one-line summary per minute of rollout time.
import { formatDuration } from '@kanary/core';
import type { Frame, SideFrame } from './observer.ts';
import { evidence, type ReleaseView } from './release.ts';

export interface ViewOptions {
  live: boolean;
  color: boolean;
  write?: (text: string) => void;
  /** Log mode: virtual ms between summary lines (default 60s). */
  summaryEveryMs?: number;
}

const pct = (x: number | undefined, digits = 2) =>
  x === undefined ? '   –  ' : `${(x * 100).toFixed(digits)}%`;
const ms = (x: number | undefined) => (x === undefined ? '  – ' : `${Math.round(x)} ms`);
const eval_ = (e: Frame['evidence'][string] | undefined) =>
  e?.eValue === undefined
    ? e?.phase === undefined || e.phase === 'nodata'
      ? 'waiting for data'
      : e.phase
    : `${e.phase === 'failed' ? 'FAILED' : 'no sign of regression'} ${evidence(e)}`;

export function createTerminalView(options: ViewOptions): ReleaseView {
  const write = options.write ?? ((t: string) => process.stdout.write(t));
  const paint = (code: number, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const every = options.summaryEveryMs ?? 60_000;
  let t0 = 0;
  let block: string[] = [];
  let lastSummary = -Infinity;
  let title = '';

  const clock = (at: number) => paint(90, `[+${formatDuration(Math.max(0, at - t0)).padStart(6)}]`);
  const bar = (weight: number) => {
    const filled = Math.round(weight / 5);
    return `${paint(33, '█'.repeat(filled))}${paint(32, '░'.repeat(20 - filled))}`;
  };
  const sideLine = (name: string, s: SideFrame) =>
    `${name.padEnd(7)} ${String(s.requests).padStart(6)} req/30s   errors ${pct(s.errorRate).padStart(6)}   mean latency ${ms(s.meanMs).padStart(6)}`;

  const erase = () => {
    if (options.live && block.length > 0) write(`\u001b[${block.length}F\u001b[J`);
  };
  const draw = () => {
    if (options.live && block.length > 0) write(`${block.join('\n')}\n`);
  };

  return {
    start(name, image, steps, startedAt) {
      title = name;
      // The report counts from the same moment: one clock for the console and the page.
      t0 = startedAt;
      block = [];
      lastSummary = -Infinity;
      write(`\n${paint(1, name)}  ${paint(90, `${image} · ${steps} steps · Istio · sequential judges`)}\n`);
    },
    event(at, text, tone = 'info') {
      const colored = tone === 'good' ? paint(32, text) : tone === 'bad' ? paint(31, text) : text;
      erase();
      write(`${clock(at)} ${colored}\n`);
      draw();
    },
    frame(f) {
      const split = `requested ${String(f.requested).padStart(3)}%  observed ${pct(f.observed, 1).padStart(6)}`;
      if (options.live) {
        erase();
        block = [
          paint(90, '─'.repeat(78)),
          `${paint(1, title)}  ${clock(f.at)}  ${paint(36, f.phase)}  ${f.step}`,
          `weight  ${bar(f.requested)}  ${split}`,
          sideLine('canary', f.canary),
          sideLine('stable', f.stable),
          `judges  errors ${eval_(f.evidence.errors)}   latency ${eval_(f.evidence.latency)}`,
        ];
        draw();
        return;
      }
      if (f.at - lastSummary < every) return;
      lastSummary = f.at;
      write(
        `${clock(f.at)}   ${split} | canary err ${pct(f.canary.errorRate)} ${ms(f.canary.meanMs)} | stable err ${pct(f.stable.errorRate)} ${ms(f.stable.meanMs)} | errors ${eval_(f.evidence.errors)} latency ${eval_(f.evidence.latency)}\n`,
      );
    },
    end() {
      // The last status block stays on screen as the release's summary.
      block = [];
    },
  };
}
