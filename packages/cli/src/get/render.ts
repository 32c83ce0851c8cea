import {
  awaitingDecision,
  describeMatch,
  formatDuration,
  isRetiring,
  isStopped,
  type Measurement,
  type PlanAction,
} from '@kanary/core';
import { inCliTerms } from '../output/words.ts';
import type { Look, SideLook } from './look.ts';

/** What the next commands refer to the rollout by: its file, or its name and namespace. */
export type Target = { file: string } | { name: string; namespace: string };

export interface RenderOptions {
  target: Target;
  /** Show the judges' numbers (values, e-values) under their verdicts. */
  details: boolean;
  /**
   * Times relative to the look ("43s left", "2s ago"); false in a log, where a block is printed
   * only when its text changes and the passing time alone must not change it.
   */
  relative?: boolean;
}

const ROUTERS: Record<string, string> = {
  istio: 'Istio',
  nginx: 'ingress-nginx',
  gatewayApi: 'Gateway API',
  serviceSelector: 'Service selector',
  replicaRatio: 'replica ratio',
};

const VERDICT: Record<Measurement['phase'], string> = {
  successful: 'no sign of regression',
  nodata: 'waiting for data',
  failed: 'regression',
  inconclusive: 'inconclusive',
  error: 'could not be measured',
};

/**
 * `kanary get`: a rollout as an operator reads it — where it is, what each side runs, what the
 * routing objects hold, what the analyses say, who drives it, and what can be typed next.
 */
export function renderLook(look: Look, options: RenderOptions): string {
  const { state: s, plan, at } = look;
  const rows: Array<[string, string]> = [];
  const spec = s.wiring?.spec as { strategy?: { type?: string } } | undefined;
  const router = s.wiring?.router?.kind;
  const strategy = plan?.strategy ?? spec?.strategy?.type ?? '?';
  rows.push(['Name', `${s.key.namespace}/${s.key.name}`]);
  rows.push(['Strategy', `${strategy}${router ? ` (${ROUTERS[router] ?? router})` : ''}`]);
  rows.push(['Phase', phaseLine(look)]);
  const relative = options.relative ?? true;
  const step = stepLine(look, relative);
  if (step) rows.push(['Step', step]);

  for (const side of ['stable', 'canary'] as const) {
    const seen = look.sides[side];
    if (!seen) continue;
    // A canary removed once the release ended is as it should be, not a fault.
    const gone = side === 'canary' && seen.missing === 'not found' && isStopped(s);
    rows.push([
      side === 'stable' ? 'Stable' : 'Canary',
      gone ? `${seen.name}: removed (the release has ended)` : sideLine(seen, strategy === 'rolling'),
    ]);
  }

  for (const [i, line] of routingLines(look).entries()) rows.push([i === 0 ? 'Routing' : '', line]);
  for (const run of [s.analysis, s.background]) {
    if (!run) continue;
    rows.push([
      'Analysis',
      `${run.key} ${run.phase}${run.withData !== undefined ? `, ${run.withData} looks with data` : ''}`,
    ]);
    const last = new Map(run.measurements.map((m) => [m.metric, m]));
    for (const m of last.values()) {
      rows.push(['', `  ${m.metric}: ${m.message ?? VERDICT[m.phase]}${m.dryRun ? ' (dry run)' : ''}`]);
      if (options.details) rows.push(['', `    ${numbers(m)}`]);
    }
  }
  for (const [key, a] of Object.entries(s.analyses))
    rows.push(['Analysed', `${key} ${a.phase}${a.message ? `: ${a.message}` : ''}`]);
  if (s.held) rows.push(['Held', `${s.held.kind}: ${s.held.reason}`]);
  if (s.abort) rows.push(['Aborted', `${s.abort.cause}: ${s.abort.reason}`]);
  if (s.error) rows.push(['Error', `${s.error.code}: ${s.error.message}`]);
  rows.push(['Driver', driverLine(look, relative)]);
  const next = nextCommands(look, options.target);
  for (const [i, [cmd, why]] of next.entries()) rows.push([i === 0 ? 'Next' : '', `${cmd}  — ${why}`]);
  for (const note of look.notes) rows.push(['Note', note]);
  rows.push([
    'Updated',
    `${new Date(s.updatedAt).toISOString()}${relative ? ` (${ago(at - s.updatedAt)})` : ''}`,
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return inCliTerms(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
}

function phaseLine({ state: s }: Look): string {
  if (isRetiring(s)) return `${s.phase} (the old version is still to be scaled down)`;
  const why = awaitingDecision(s);
  if (why === 'pause') return `${s.phase}: waiting for a person to promote`;
  if (why === 'inconclusive') return `${s.phase}: the analysis ${s.inconclusive?.key} was inconclusive`;
  if (s.userPause) return `${s.phase} by a user`;
  return s.phase;
}

/** Step n/m with its title, the action under way, and a pause's countdown. */
function stepLine({ state: s, plan, at }: Look, relative: boolean): string | undefined {
  const { section, step, action } = s.cursor;
  if (section === 'done') return undefined;
  if (section !== 'steps')
    return `${section}${actionText(current(plan?.[section], action))}${wait(s, at, relative)}`;
  const title = plan?.steps[step]?.title;
  const total = plan ? `/${plan.steps.length}` : '';
  return `${step + 1}${total}${title ? ` ${title}` : ''}${wait(s, at, relative)}`;
}

const current = (actions: PlanAction[] | undefined, index: number) => actions?.[index];

function actionText(a: PlanAction | undefined): string {
  return a ? `: ${a.type}` : '';
}

function wait(s: Look['state'], at: number, relative: boolean): string {
  const a = s.action;
  if (!a) return '';
  if (a.until !== undefined)
    return relative
      ? ` — ${formatDuration(Math.max(0, a.until - at))} left (until ${new Date(a.until).toISOString()})`
      : ` — until ${new Date(a.until).toISOString()}`;
  return a.message ? ` — ${a.message}` : '';
}

function sideLine(side: SideLook, rolling: boolean): string {
  if (side.missing) return `${side.name}: ${side.missing}`;
  const images = side.images.join(', ') || 'no containers';
  const revision = side.revision ? ` rev ${side.revision}` : '';
  const pods = `${side.ready}/${side.desired} ready`;
  return `${side.name}  ${images}${revision}  ${pods}${rolling ? `, ${side.updated} on the new template` : ''}`;
}

/** The routing as the objects hold it (the router's reading), beside what the state says it wrote. */
function routingLines({ state: s, routing, plan }: Look): string[] {
  if (plan?.strategy === 'rolling') return [];
  const lines: string[] = [];
  if (!routing) lines.push(`canary ${s.weights.canary}% (saved; the objects were not read)`);
  else if ('error' in routing)
    lines.push(`canary ${s.weights.canary}% saved; reading the objects failed: ${routing.error}`);
  else {
    const differs = routing.canaryWeight !== s.weights.canary;
    lines.push(
      `canary ${routing.canaryWeight}% in the objects${
        differs ? ` (the state says ${s.weights.canary}%: a write in flight, or someone edited them)` : ''
      }${routing.effectiveWeight !== undefined && routing.effectiveWeight !== routing.canaryWeight ? `, effective ${routing.effectiveWeight}%` : ''}`,
    );
  }
  const inObjects = routing && !('error' in routing) ? routing : undefined;
  for (const r of Object.values(s.headerRoutes ?? {})) {
    const present = !inObjects || inObjects.headerRoutes.includes(r.name) ? '' : ' (not in the objects)';
    lines.push(`route ${r.name}: ${describeMatch(r.match)} → ${r.weight}% to the canary${present}`);
  }
  for (const m of Object.values(s.mirrors ?? {})) {
    const present = !inObjects || inObjects.mirrors.includes(m.name) ? '' : ' (not in the objects)';
    lines.push(
      `mirror ${m.name}: ${m.percentage}% of ${m.match ? describeMatch(m.match) : 'all requests'} copied to the canary${present}`,
    );
  }
  return lines;
}

function driverLine({ state: s, lease, at }: Look, relative: boolean): string {
  if (!lease) return s.driver ? `${s.driver.holder} (epoch ${s.driver.epoch}), lease not read` : 'unknown';
  if (lease.free || !lease.record?.holder)
    return isStopped(s) && !isRetiring(s)
      ? 'nobody (nothing left to drive)'
      : 'nobody: `kanary run` or the agent takes it over';
  const d = lease.record.durationMs;
  // Silent: for as long as this process has watched it unchanged, or since its last write.
  const silent = Math.max(lease.silentForMs, lease.heardAt !== undefined ? at - lease.heardAt : 0);
  const who = `${lease.record.holder} (epoch ${lease.record.transitions})`;
  if (silent >= d)
    return `${who}, silent for ${formatDuration(silent)} (lease ${formatDuration(d)}): gone — \`kanary run\` or the agent takes it over`;
  const heard = relative && lease.heardAt !== undefined ? `, last heard ${ago(at - lease.heardAt)}` : '';
  return `${who}, alive${heard} (lease ${formatDuration(d)})`;
}

function ago(ms: number): string {
  return ms < 1_000 ? 'just now' : `${formatDuration(ms)} ago`;
}

/** The commands that make sense in this phase, each with what it does. */
export function nextCommands({ state: s }: Look, target: Target): Array<[string, string]> {
  const ref = 'file' in target ? `-f ${target.file}` : `${target.name} -n ${target.namespace}`;
  const cmd = (verb: string, extra = '') => `kanary ${verb} ${ref}${extra}`;
  // retry and undo drive the release, analyses included: they need the file and its credentials.
  const driving = (verb: string) => `kanary ${verb} -f ${'file' in target ? target.file : 'FILE'}`;
  if (isRetiring(s)) return [];
  if (s.phase === 'succeeded')
    return [[driving('undo'), 'release the previous version again, through the same steps']];
  if (s.phase === 'aborted') return [[driving('retry'), 'start this release again']];
  if (s.phase === 'failed')
    return [
      [driving('retry'), 'go on from where it failed'],
      [cmd('abort'), 'roll back to stable'],
    ];
  const out: Array<[string, string]> = [];
  if (s.held || s.userPause) out.push([cmd('resume'), s.held?.restart ? 'start the steps again' : 'go on']);
  else if (awaitingDecision(s)) out.push([cmd('promote'), 'go on to the next step']);
  else if (s.phase !== 'aborting') out.push([cmd('pause'), 'hold after the current action']);
  if (s.phase !== 'aborting') {
    out.push([cmd('promote', ' --full'), 'skip the remaining steps and promote']);
    out.push([cmd('abort'), 'roll back to stable now']);
  }
  return out;
}

function numbers(m: Measurement): string {
  const parts: string[] = [];
  if (m.value !== undefined) parts.push(`value ${JSON.stringify(m.value)}`);
  for (const [k, v] of Object.entries(m.detail ?? {}))
    parts.push(`${k} ${typeof v === 'number' ? Number(v.toPrecision(4)) : JSON.stringify(v)}`);
  return parts.join(' · ') || 'no numbers';
}
