// The HTML report: per release, weight and each side's error rate and latency over time as SVG
// line charts with the decision points marked, plus the outcome and the judges' last word.
import { chart, esc } from '@kanary/cli/report';
import { formatDuration } from '@kanary/core';
import type { Frame } from './observer.ts';
import type { ReleaseResult } from './release.ts';

const points = (frames: Frame[], pick: (f: Frame) => number | undefined): Array<[number, number]> =>
  frames.flatMap((f) => {
    const v = pick(f);
    return v === undefined ? [] : [[f.at, v] as [number, number]];
  });

function section(r: ReleaseResult): string {
  const t0 = r.startedAt;
  const t1 = Math.max(t0 + 60_000, ...r.frames.map((f) => f.at));
  const promoted = r.final.phase === 'succeeded';
  const decisive = r.marks.filter((m) => m.kind !== 'step');
  const fmtPct = (v: number) => `${(v * 100).toFixed(v < 0.1 && v > 0 ? 1 : 0)}%`;
  const served = `The canary served ${r.canaryServed.requests.toLocaleString('en')} requests, ${r.canaryServed.errors.toLocaleString('en')} of them errors.`;
  // The console's PROMOTED line and this page time the same moment from the same start.
  const promotedAt = r.marks.find((m) => m.kind === 'promoted')?.at ?? t1;
  const outcome = promoted
    ? `<p class="good">Promoted after ${esc(formatDuration(promotedAt - t0))}: ${esc(r.image)} is the stable version.</p>`
    : `<p class="bad">Rolled back after ${esc(formatDuration((r.final.abort?.at ?? t1) - t0))}: ${esc(r.final.abort?.reason ?? r.final.phase)}</p>`;
  return `<section>
<h2>${esc(r.title)}</h2>
${outcome}
<p>${esc(served)}</p>
<p class="muted">Decision points: ${decisive.map((m) => `${esc(m.label)} at +${esc(formatDuration(m.at - t0))}`).join('; ') || 'none'}. Dotted lines mark each step.</p>
${chart(
  'Canary weight: requested (the route) and observed (share of requests the canary served, 30 s window); once promoted, the stable subset runs the new version and the canary weight returns to 0',
  t0,
  t1,
  [
    { name: 'requested', color: '#f29900', points: points(r.frames, (f) => f.requested / 100), step: true },
    { name: 'observed', color: '#1a73e8', points: points(r.frames, (f) => f.observed) },
  ],
  r.marks,
  fmtPct,
  1,
)}
${chart(
  'Error rate (5xx share, 30 s window)',
  t0,
  t1,
  [
    { name: 'canary', color: '#d93025', points: points(r.frames, (f) => f.canary.errorRate) },
    { name: 'stable', color: '#188038', points: points(r.frames, (f) => f.stable.errorRate), dashed: true },
  ],
  r.marks,
  (v) => `${Number((v * 100).toFixed(2))}%`,
)}
${chart(
  'Mean latency (ms, 30 s window)',
  t0,
  t1,
  [
    { name: 'canary', color: '#d93025', points: points(r.frames, (f) => f.canary.meanMs) },
    { name: 'stable', color: '#188038', points: points(r.frames, (f) => f.stable.meanMs), dashed: true },
  ],
  r.marks,
  (v) => `${Math.round(v)} ms`,
)}
<table><tr><th>metric</th><th>last verdict</th><th>judge's summary</th></tr>
${r.verdicts.map((m) => `<tr><td>${esc(m.metric)}</td><td class="${m.phase === 'failed' ? 'bad' : ''}">${esc(m.phase)}</td><td>${esc(m.message ?? '')}</td></tr>`).join('\n')}
</table>
</section>`;
}

/** The whole report as one self-contained HTML page. */
export function renderReport(releases: ReleaseResult[], generatedAt: Date): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kanary demo report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:820px;margin:2em auto;color:#202124}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-top:1px solid #ddd;padding-top:1em}
figure{margin:1em 0}figcaption{font-size:.9em;color:#5f6368;margin-bottom:.2em}
.good{color:#188038;font-weight:600}.bad{color:#d93025;font-weight:600}.muted{color:#5f6368;font-size:.9em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
</style></head><body>
<h1>Kanary demo: shop-frontend on Istio, gated by sequential judges</h1>
<p class="muted">Generated ${esc(generatedAt.toISOString())} from a run on Kanary's Kubernetes emulator in virtual time.
Weights 10 → 25 → 50 → 100%; canary and stable compared every 30 s (sequentialRate on 5xx, sequentialLatency on the
latency histogram, α = 0.01 each).</p>
${releases.map(section).join('\n')}
</body></html>
`;
}
