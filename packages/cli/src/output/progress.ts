import { awaitingDecision, formatDuration, type Rollout, type RolloutState } from '@kanary/core';
import { inCliTerms } from './words.ts';

export interface Printer {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
}

export const paint = (p: Printer, code: number, text: string) =>
  p.color ? `\u001b[${code}m${text}\u001b[0m` : text;

/** Prints a line per transition of a driven rollout: steps, weights, verdicts, hooks, the end. */
export function printProgress(rollout: Rollout, p: Printer, now: () => number): void {
  let t0: number | undefined;
  const line = (text: string) => {
    t0 ??= now();
    p.out(`${paint(p, 90, `[+${formatDuration(now() - t0).padStart(6)}]`)} ${inCliTerms(text)}\n`);
  };
  const plan = rollout.plan();
  const steps = plan.steps.length;
  // A rolling update has no router: its progress is pods, reported by the rolling action.
  const rolling = plan.strategy === 'rolling';
  let section: string | undefined;
  let pods: string | undefined;
  rollout.on('phase', ({ to }) => line(`phase ${paint(p, 36, to)}`));
  rollout.on('step', ({ index, step }) => line(`step ${index + 1}/${steps}: ${step.title}`));
  rollout.on('weight', ({ canary, verified }) => {
    if (rolling) return;
    // In promotion, 0% is everyone back on the stable Deployment, which now runs the new version.
    if (section === 'promotion' && canary === 0)
      return line('traffic all on the stable Deployment, now running the new version');
    line(`weight canary ${canary}%${verified ? '' : ' (not yet read back)'}`);
  });
  rollout.on('analysis', ({ key, phase, measurements, message }) => {
    const detail = measurements
      .map((m) => `${m.metric} ${m.phase}${measured(m.value, m.message)}${m.message ? `: ${m.message}` : ''}`)
      .join('; ');
    const tone = phase === 'failed' || phase === 'error' ? 31 : phase === 'successful' ? 32 : 0;
    line(
      `analysis ${key} ${tone ? paint(p, tone, phase) : phase}${detail ? ` — ${detail}` : message ? ` — ${message}` : ''}`,
    );
  });
  rollout.on('hook', ({ hook, name, outcome, message }) =>
    line(`hook ${hook}/${name}: ${outcome}${message ? ` — ${message}` : ''}`),
  );
  rollout.on('abort', ({ reason, cause }) => line(`${paint(p, 31, 'ABORT')} (${cause}) ${reason}`));
  rollout.on('warning', ({ message }) => line(`${paint(p, 33, 'warning')} ${message}`));
  rollout.on('held', ({ kind, reason, restart }) =>
    line(
      `${paint(p, 33, kind === 'targetChanged' && restart ? 'RESTART' : 'HELD')} (${kind}) ${reason}${
        kind === 'targetChanged' && restart ? '' : ' — `kanary resume` or `kanary abort`'
      }`,
    ),
  );
  rollout.on('state', (s) => {
    section = s.cursor.section;
    const message = s.action?.message;
    if (rolling && message && /pods? updated|rolling/.test(message) && message !== pods) {
      pods = message;
      line(`pods ${message}`);
    }
    const why = awaitingDecision(s);
    if (why)
      line(
        `${why === 'pause' ? 'waiting for a human' : 'analysis inconclusive'}: \`kanary promote\` to go on, \`kanary abort\` to roll back`,
      );
  });
}

/** The value a look measured, when its message does not already say it (a threshold's verdict). */
function measured(value: unknown, message: string | undefined): string {
  if (typeof value !== 'number' && !(Array.isArray(value) && value.every((v) => typeof v === 'number')))
    return '';
  const text = Array.isArray(value)
    ? `[${value.map((v) => Number((v as number).toPrecision(4))).join(', ')}]`
    : String(Number(value.toPrecision(4)));
  return message?.includes(text) ? '' : ` (measured ${text})`;
}

export function outcomeLine(s: RolloutState): string {
  switch (s.phase) {
    case 'succeeded':
      return 'promoted: the new version is stable and takes all traffic';
    case 'aborted':
      return `rolled back (${s.abort?.cause ?? 'abort'}): ${s.abort?.reason ?? ''}`;
    case 'failed':
      return `failed: ${s.error?.message ?? 'unknown error'} — \`kanary retry\` or \`kanary abort\``;
    default:
      return s.phase;
  }
}
