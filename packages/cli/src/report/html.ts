// `kanary report`: one rollout's HTML report from its saved state — the share on the new version
// over time from the history and the plan, each side's error rate and latency from Prometheus when
// given, the decision points marked, the timeline and the analyses' last word. Every time comes from
// the state (the API server's clock), shown as an offset from the release's start.
import { formatDuration, type Plan, type RolloutState } from '@kanary/core';
import { chart, esc, type Mark, type Series } from './chart.ts';

/** Each side's measured series over the release, when a Prometheus server was given. */
export interface SideSeries {
  errorRate: { canary: Array<[number, number]>; stable: Array<[number, number]> };
  latencyMs: { canary: Array<[number, number]>; stable: Array<[number, number]> };
  /** Where they came from, or why they could not be read. */
  source: string;
}

export interface ReportInput {
  state: RolloutState;
  plan?: Plan;
  series?: SideSeries;
  /** When the report was made, on the same clock as the state's times where possible. */
  now: number;
}

/** The new version's requested share after each step (setWeight, or a rolling update's rollTo). */
function shareAfterStep(plan: Plan, step: number): number | undefined {
  let share: number | undefined;
  for (const s of plan.steps.slice(0, step + 1))
    for (const a of s.actions) {
      if (a.type === 'router.setWeight') share = a.weight;
      if (a.type === 'workload.rollTo') share = a.percent;
    }
  return share;
}

/** The requested share over time, and the moments that decided the release, from its history. */
export function timelineOf(
  state: RolloutState,
  plan: Plan | undefined,
): { share: Array<[number, number]>; marks: Mark[] } {
  const share: Array<[number, number]> = [];
  const marks: Mark[] = [];
  let last = 0;
  const set = (at: number, v: number) => {
    share.push([at, v]);
    last = v;
  };
  for (const h of state.history) {
    const step = /^to step (\d+)$/.exec(h.detail ?? '');
    if (h.event === 'start') set(h.at, 0);
    else if (h.event === 'advance' && step) {
      const index = Number(step[1]) - 1;
      marks.push({
        at: h.at,
        kind: 'step',
        label: `step ${index + 1}${plan?.steps[index] ? `: ${plan.steps[index].title}` : ''}`,
      });
      const v = plan ? shareAfterStep(plan, index) : undefined;
      if (v !== undefined) set(h.at, v);
    } else if (h.event === 'advance' && h.detail === 'to promotion') {
      marks.push({ at: h.at, kind: 'promoted', label: 'promotion' });
      set(h.at, 100);
    } else if (h.event === 'abort') {
      marks.push({ at: h.at, kind: 'rolled-back', label: `abort (${h.detail ?? ''})` });
      set(h.at, 0);
    } else if (h.event === 'analysis' && !/successful$/.test(h.detail ?? '')) {
      marks.push({ at: h.at, kind: 'verdict', label: `analysis ${h.detail ?? ''}` });
    }
  }
  const end = state.finishedAt ?? state.updatedAt;
  if (share.length > 0) share.push([end, last]);
  return { share, marks };
}

const pct = (v: number) => `${Number((v * 100).toFixed(v < 0.1 && v > 0 ? 1 : 0))}%`;

export function renderRolloutReport({ state: s, plan, series, now }: ReportInput): string {
  const t0 = s.startedAt ?? s.history[0]?.at ?? s.updatedAt;
  const t1 = Math.max(t0 + 60_000, s.finishedAt ?? s.updatedAt);
  const at = (t: number) => `+${formatDuration(Math.max(0, t - t0))}`;
  const { share, marks } = timelineOf(s, plan);
  const id = `${s.key.namespace}/${s.key.name}`;
  const strategy =
    plan?.strategy ?? (s.wiring?.spec as { strategy?: { type?: string } } | undefined)?.strategy?.type;
  const outcome =
    s.phase === 'succeeded'
      ? `<p class="good">Promoted at ${esc(at(s.finishedAt ?? s.updatedAt))}: the new version is stable.</p>`
      : s.phase === 'aborted'
        ? `<p class="bad">Rolled back at ${esc(at(s.abort?.at ?? s.updatedAt))} (${esc(s.abort?.cause ?? 'abort')}): ${esc(s.abort?.reason ?? '')}</p>`
        : `<p>${esc(s.phase)} at ${esc(at(s.updatedAt))}${s.error ? `: ${esc(s.error.message)}` : ''}</p>`;
  const charts: string[] = [
    chart(
      strategy === 'rolling'
        ? 'Share of pods on the new version, as each step asked'
        : 'Canary weight as each step asked (100% from the promotion on: the new version takes all traffic)',
      t0,
      t1,
      [{ name: 'requested', color: '#f29900', points: share.map(([t, v]) => [t, v / 100]), step: true }],
      marks,
      pct,
      1,
    ),
  ];
  if (series) {
    // Each side's series on one chart: the canary solid, stable dashed.
    const sides = (
      title: string,
      of: { canary: Array<[number, number]>; stable: Array<[number, number]> },
      format: (v: number) => string,
    ) =>
      chart(
        title,
        t0,
        t1,
        [
          { name: 'canary', color: '#d93025', points: of.canary },
          { name: 'stable', color: '#188038', points: of.stable, dashed: true },
        ] satisfies Series[],
        marks,
        format,
      );
    charts.push(
      sides('Error rate (5xx share)', series.errorRate, (v) => `${Number((v * 100).toFixed(2))}%`),
      sides('Mean latency (ms)', series.latencyMs, (v) => `${Math.round(v)} ms`),
    );
  }
  const runs = [s.analysis, s.background].filter((r) => r !== undefined);
  const measurements = runs.flatMap((r) =>
    [...new Map(r.measurements.map((m) => [m.metric, m])).values()].map((m) => ({ run: r.key, m })),
  );
  const analysed = Object.entries(s.analyses);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kanary report: ${esc(id)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:820px;margin:2em auto;color:#202124}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.5em}
figure{margin:1em 0}figcaption{font-size:.9em;color:#5f6368;margin-bottom:.2em}
.good{color:#188038;font-weight:600}.bad{color:#d93025;font-weight:600}.muted{color:#5f6368;font-size:.9em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
</style></head><body>
<h1>${esc(id)}${strategy ? ` <span class="muted">(${esc(strategy)})</span>` : ''}</h1>
${outcome}
<p class="muted">Started ${esc(new Date(t0).toISOString())}; times below are offsets from then, all on the clock the rollout's state is kept on (the API server's). Report made ${esc(new Date(now).toISOString())}.${series ? ` Measurements: ${esc(series.source)}.` : ' No Prometheus was given (--prometheus URL): only what the state holds is shown.'}</p>
<p class="muted">Decision points: ${
    marks
      .filter((m) => m.kind !== 'step')
      .map((m) => `${esc(m.label)} at ${esc(at(m.at))}`)
      .join('; ') || 'none'
  }. Dotted lines mark each step.</p>
${charts.join('\n')}
<h2>Analyses</h2>
<table><tr><th>analysis</th><th>metric</th><th>last verdict</th><th>judge's summary</th></tr>
${measurements.map(({ run, m }) => `<tr><td>${esc(run)}</td><td>${esc(m.metric)}</td><td class="${m.phase === 'failed' ? 'bad' : ''}">${esc(m.phase)}</td><td>${esc(m.message ?? '')}</td></tr>`).join('\n')}
${analysed.map(([key, a]) => `<tr><td>${esc(key)}</td><td></td><td class="${a.phase === 'failed' ? 'bad' : ''}">${esc(a.phase)}</td><td>${esc(a.message ?? '')}</td></tr>`).join('\n')}
</table>
<h2>Timeline</h2>
<table><tr><th>at</th><th>event</th><th>detail</th></tr>
${s.history.map((h) => `<tr><td title="${esc(new Date(h.at).toISOString())}">${esc(at(h.at))}</td><td>${esc(h.event)}</td><td>${esc(h.detail ?? '')}</td></tr>`).join('\n')}
</table>
</body></html>
`;
}
