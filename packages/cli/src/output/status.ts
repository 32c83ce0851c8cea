import { describeMatch, formatDuration, type Plan, type RolloutState } from '@kanary/core';
import { inCliTerms } from './words.ts';

/** A measurement's phase as a person reads it (the JSON output keeps the phase itself). */
const VERDICT: Record<string, string> = {
  successful: 'no sign of regression',
  nodata: 'waiting for data',
  failed: 'failed',
  inconclusive: 'inconclusive',
  error: 'could not be measured',
};

/** A human summary of a rollout's saved state (with step titles when the plan is known). */
export function formatStatus(s: RolloutState, plan: Plan | undefined, now: number): string {
  const rows: Array<[string, string]> = [];
  const { section, step } = s.cursor;
  const title = plan?.steps[step]?.title;
  const where =
    section === 'steps'
      ? `step ${step + 1}${plan ? `/${plan.steps.length}` : ''}${title ? ` (${title})` : ''}`
      : section;
  const retiring = (s.phase === 'succeeded' || s.phase === 'aborted') && section !== 'done';
  rows.push([
    'phase',
    `${s.phase}${section === 'done' ? '' : retiring ? ' (the old version is still to be scaled down)' : ` at ${where}`}`,
  ]);
  if (s.action?.until !== undefined)
    rows.push([
      'waits',
      `until ${new Date(s.action.until).toISOString()} (${formatDuration(Math.max(0, s.action.until - now))} from now)`,
    ]);
  if (s.userPause) rows.push(['paused', 'by a user: `kanary resume` to continue']);
  if (s.held) rows.push(['held', `${s.held.kind}: ${s.held.reason}`]);
  if (s.inconclusive) rows.push(['held', `analysis ${s.inconclusive.key} inconclusive: promote or abort`]);
  if (plan?.strategy === 'rolling')
    rows.push([
      'pods',
      section === 'done' || s.phase === 'succeeded'
        ? s.outcome === 'promoted'
          ? 'all run the new version'
          : 'all run the previous version'
        : (s.action?.message ?? rolledSoFar(s, plan)),
    ]);
  else
    rows.push([
      'weight',
      `canary ${s.weights.canary}%${byUser(plan)}${s.weights.verified ? '' : ' (not read back)'}${s.weights.effective !== undefined && s.weights.effective !== s.weights.canary ? `, effective ${s.weights.effective}%` : ''}`,
    ]);
  // What the routing carries beside the weight: users matched by header or cookie, and mirrors.
  for (const r of Object.values(s.headerRoutes ?? {}))
    rows.push(['route', `${r.name}: ${describeMatch(r.match)} → ${r.weight}% to the canary`]);
  for (const m of Object.values(s.mirrors ?? {}))
    rows.push([
      'mirror',
      `${m.name}: ${m.percentage}% of ${m.match ? describeMatch(m.match) : 'all requests'} copied to the canary`,
    ]);
  const t = s.targets;
  if (t.stable || t.canary)
    rows.push(['targets', `stable ${t.stable?.name ?? '–'} · canary ${t.canary?.name ?? '–'}`]);
  for (const run of [s.analysis, s.background]) {
    if (!run) continue;
    const last = new Map(run.measurements.map((m) => [m.metric, m]));
    const detail = [...last.values()].map((m) => `${m.metric} ${VERDICT[m.phase] ?? m.phase}`).join(', ');
    rows.push(['analysis', `${run.key} ${run.phase}${detail ? ` (${detail})` : ''}`]);
  }
  for (const [key, a] of Object.entries(s.analyses))
    rows.push(['analysed', `${key} ${a.phase}${a.message ? `: ${a.message}` : ''}`]);
  if (s.abort) rows.push(['abort', `${s.abort.cause}: ${s.abort.reason}`]);
  if (s.error) rows.push(['error', `${s.error.code}: ${s.error.message}`]);
  if (s.startedAt) rows.push(['started', new Date(s.startedAt).toISOString()]);
  rows.push(['updated', new Date(s.updatedAt).toISOString()]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return inCliTerms(
    `${s.key.namespace}/${s.key.name}\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`,
  );
}

/** A rolling update's share of pods on the new version: the last roll the cursor has passed. */
function rolledSoFar(s: RolloutState, plan: Plan): string {
  let percent = 0;
  if (s.cursor.section === 'steps')
    plan.steps.forEach((step, i) => {
      step.actions.forEach((a, j) => {
        const passed = i < s.cursor.step || (i === s.cursor.step && j < s.cursor.action);
        if (passed && a.type === 'workload.rollTo') percent = a.percent;
      });
    });
  return percent === 0 ? 'none on the new version yet' : `${percent}% on the new version`;
}

/** A weight by user says whose key decides (`strategy.hashOn`). */
function byUser(plan: Plan | undefined): string {
  const by = plan?.requires.router?.hashOn;
  if (!by) return '';
  return ` of users (by ${by.header !== undefined ? `header ${by.header}` : `cookie ${by.cookie}`})`;
}
