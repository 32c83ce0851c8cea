// SVG line charts for the HTML reports (the demo's and `kanary report`'s): time on x, with the
// decision points of a release marked as vertical lines.
import { formatDuration } from '@kanary/core';

/** A moment a chart marks: a step begins, a verdict, the promotion or the rollback. */
export interface Mark {
  at: number;
  kind: 'step' | 'verdict' | 'promoted' | 'rolled-back';
  label: string;
}

export interface Series {
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

export const esc = (s: string) =>
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
