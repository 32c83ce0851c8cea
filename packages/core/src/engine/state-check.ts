import { KanaryError } from '../errors/kanary-error.ts';
import { actionsAt, type Plan } from '../plan/actions.ts';
import type { RolloutKey } from '../ports/refs.ts';
import { derivePhase } from './reducer.ts';
import { PHASES, type RolloutState } from './state.ts';

const PHASE_NAMES: ReadonlySet<string> = new Set(PHASES);
const SECTIONS = new Set(['prelude', 'steps', 'promotion', 'abort', 'done']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * The saved state is checked, never trusted: its shape, that it belongs to this rollout, and that
 * its cursor and phase agree with the plan (a forged or half-written phase is caught here).
 * Returns the problems found; an empty list means the state can be driven.
 */
export function stateProblems(value: unknown, key: RolloutKey, plan: Plan | undefined): string[] {
  if (!isObject(value)) return ['it is not a JSON object'];
  const s = value as Partial<RolloutState> & Record<string, unknown>;
  const problems: string[] = [];
  if (s.schemaVersion !== 1) problems.push(`schemaVersion is ${JSON.stringify(s.schemaVersion)}, not 1`);
  if (!isObject(s.key) || s.key.namespace !== key.namespace || s.key.name !== key.name)
    problems.push(`it names rollout ${JSON.stringify(s.key)}, not ${key.namespace}/${key.name}`);
  if (typeof s.specDigest !== 'string') problems.push('specDigest is missing');
  if (typeof s.phase !== 'string' || !PHASE_NAMES.has(s.phase))
    problems.push(`phase ${JSON.stringify(s.phase)} is unknown`);
  const c = s.cursor;
  if (!isObject(c) || !SECTIONS.has(c.section as string) || !isCount(c.step) || !isCount(c.action))
    problems.push('cursor is not a { section, step, action }');
  if (!isCount(s.seq)) problems.push('seq is not a count');
  if (typeof s.updatedAt !== 'number') problems.push('updatedAt is not a time');
  const w = s.weights;
  if (
    !isObject(w) ||
    typeof w.canary !== 'number' ||
    w.canary < 0 ||
    w.canary > 100 ||
    typeof w.verified !== 'boolean'
  )
    problems.push('weights is not a { canary: 0..100, verified }');
  for (const field of ['headerRoutes', 'mirrors', 'targets', 'analyses'] as const)
    if (!isObject(s[field])) problems.push(`${field} is not an object`);
  if (!Array.isArray(s.history)) problems.push('history is not a list');
  if (typeof s.promoteFull !== 'boolean') problems.push('promoteFull is not a boolean');
  if (problems.length > 0 || !plan) return problems;
  const state = s as RolloutState;
  if (state.cursor.section !== 'done') {
    const actions = actionsAt(plan, state.cursor.section, state.cursor.step);
    if (state.cursor.section === 'steps' && state.cursor.step >= plan.steps.length)
      problems.push(`cursor points at step ${state.cursor.step + 1} of ${plan.steps.length}`);
    else if (state.cursor.action >= actions.length)
      problems.push(`cursor points past the actions of ${state.cursor.section}`);
  }
  if (problems.length === 0 && derivePhase(plan, state) !== state.phase)
    problems.push(`phase says ${state.phase} but its cursor and flags say ${derivePhase(plan, state)}`);
  return problems;
}

export function corruptState(
  key: RolloutKey,
  where: string,
  problems: string[],
  details: Record<string, unknown> = {},
): KanaryError {
  return new KanaryError(
    'STATE_CORRUPT',
    `the saved state of ${key.namespace}/${key.name} (${where}) cannot be trusted: ${problems.join('; ')}`,
    {
      details: { ...details, problems },
      issues: [
        {
          path: where,
          message: problems.join('; '),
          hint: "abort({ force: true }) (kanary abort --force) sends all traffic back to stable from the routing objects' own snapshots and writes a fresh, aborted state",
        },
      ],
    },
  );
}
