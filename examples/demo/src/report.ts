// The HTML report: per release, weight and each side's error rate and latency over time as SVG
// line charts with the decision points marked, plus the outcome and the judges' last word.
import { formatDuration } from '@kanary/core';
import type { Frame, Mark } from './observer.ts';
import type { ReleaseResult } from './release.ts';

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  /** Draw as steps (a setting) rather than a line (a measurement). */
  step?: boolean;
  dashed?: boolean;
}

const W = 760;
const H = 180;
const PAD = { left: 56, right: 12, top: 14, bottom: 26 };

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 4, 8, 10].find((m) => m * p >= v) ?? 10) * p;
}

const MARK_COLOR: Record<Mark['kind'], string> = {
  step: '#9aa0a6',
  verdict: '#d93025',
  promoted: '#188038',
  'rolled-back': '#d93025',
};

/** One SVG line chart; x is ms since `t0`. */
export function chart(
  title: string,
  t0: number,
  t1: number,
  series: Series[],
  marks: Mark[],
  format: (y: number) => string,
  yMax?: number,
): string {
  const ys = series.flatMap((s) => s.points.map(([, y]) => y));
  const top = yMax ?? niceMax(Math.max(0, ...ys) * 1.1);
  const span = Math.max(1, t1 - t0);
  const x = (t: number) => PAD.left + ((t - t0) / span) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (Math.min(v, top) / top) * (H - PAD.top - PAD.bottom);
  const parts: string[] = [];
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const v = top * f;
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(format(v))}</text>`,
    );
  }
  const minutes = Math.ceil(span / 60_000);
  const tick = minutes > 20 ? 5 : minutes > 8 ? 2 : 1;
  for (let m = 0; m <= minutes; m += tick) {
    const t = t0 + m * 60_000;
    if (t > t1) break;
    parts.push(`<text x="${x(t)}" y="${H - 8}" text-anchor="middle">${m}m</text>`);
  }
  for (const mk of marks) {
    const color = MARK_COLOR[mk.kind];
    parts.push(
      `<line x1="${x(mk.at)}" x2="${x(mk.at)}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="${color}" stroke-dasharray="${mk.kind === 'step' ? '2 3' : '5 2'}"><title>${esc(mk.label)} at +${esc(formatDuration(mk.at - t0))}</title></line>`,
    );
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const pts: string[] = [];
    s.points.forEach(([t, v], i) => {
      const prev = s.points[i - 1];
      if (s.step && prev) pts.push(`${x(t)},${y(prev[1])}`);
      pts.push(`${x(t)},${y(v)}`);
    });
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''} points="${pts.join(' ')}"><title>${esc(s.name)}</title></polyline>`,
    );
  }
  const legend = series
    .map(
      (s, i) =>
        `<tspan x="${PAD.left + 8 + i * 170}" fill="${s.color}">${s.dashed ? '- -' : '—'} ${esc(s.name)}</tspan>`,
    )
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="11" fill="#444">${parts.join('')}<text y="${PAD.top - 2}">${legend}</text></svg></figure>`;
}

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
  const outcome = promoted
    ? `<p class="good">Promoted after ${esc(formatDuration(t1 - t0))}: ${esc(r.image)} is the stable version.</p>`
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
