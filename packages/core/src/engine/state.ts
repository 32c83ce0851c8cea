import type { Section } from '../plan/actions.ts';
import type { GateState, Measurement } from '../ports/gate.ts';
import type { RolloutKey, Side, WorkloadRef } from '../ports/refs.ts';
import type { RolloutWiring } from '../ports/wiring.ts';
import type { HeaderRoute, MirrorRoute } from '../spec/match.ts';

/** Every phase a rollout can be in, in the order a release passes through them. */
export const PHASES = [
  'pending',
  'progressing',
  'paused',
  'analyzing',
  'promoting',
  'succeeded',
  'aborting',
  'aborted',
  'failed',
] as const;
export type Phase = (typeof PHASES)[number];

export const TERMINAL_PHASES: ReadonlySet<Phase> = new Set(['succeeded', 'aborted', 'failed']);

/** The release is over: promoted or rolled back. Only a new release (or `retry()` after an abort) follows. */
export const isEnded = (state: Pick<RolloutState, 'phase'>): boolean =>
  state.phase === 'succeeded' || state.phase === 'aborted';

/** No driver has anything to do until someone acts: ended, or failed (waiting for `retry()` or `abort()`). */
export const isStopped = (state: Pick<RolloutState, 'phase'>): boolean =>
  isEnded(state) || state.phase === 'failed';

/**
 * Ended, with the old version still to retire: the release is decided (`succeeded` at the switch,
 * `aborted` once stable serves) and its scale-down delay, then the scale-down and the routing's
 * hand-back, are left. Whoever drives next does them: the driver when the delay is up, a new
 * release at once before it starts, or the agent.
 */
export const isRetiring = (state: Pick<RolloutState, 'phase' | 'cursor'>): boolean =>
  isEnded(state) && state.cursor.section !== 'done';

/** Why a release was aborted; `group`: another member of its release group aborted (`createRolloutGroup`). */
export type AbortCause = 'user' | 'group' | 'analysis' | 'deadline' | 'error' | 'hook';

/** Where the rollout is in its plan. `section: 'done'` once the promotion or abort section ended. */
export interface Cursor {
  section: Section | 'done';
  step: number;
  action: number;
}

/** Progress of the action under the cursor, persisted so timers and deadlines survive restarts. */
export interface ActionProgress {
  startedAt: number;
  attempts: number;
  /** For pauses and delays: when the wait ends. */
  until?: number;
  /** For probes (readiness, rolling): the last message from the port. */
  message?: string;
}

export interface AnalysisRun {
  key: string;
  startedAt: number;
  gateState?: GateState;
  nextAt?: number;
  phase: 'running' | 'successful' | 'failed' | 'inconclusive' | 'error';
  /** The latest measurements (bounded), so hosts can show why a rollout stopped. */
  measurements: Measurement[];
  /** How many looks had data for at least one metric: the evidence behind a verdict. */
  withData?: number;
  message?: string;
}

export interface HoldCause {
  at: number;
  kind: 'unready' | 'drift' | 'targetChanged';
  side?: Side;
  /** For a person: what was found and what Kanary did about it. */
  reason: string;
  restart: boolean;
}

export interface HistoryEntry {
  at: number;
  seq: number;
  event: string;
  detail?: string;
}

/**
 * Everything a rollout knows. JSON-serialisable and self-sufficient: a process that loads it
 * continues exactly where the last one stopped.
 */
export interface RolloutState {
  schemaVersion: 1;
  key: RolloutKey;
  /** Digest of the spec this state belongs to; resuming with another spec is refused. */
  specDigest: string;
  phase: Phase;
  cursor: Cursor;
  action?: ActionProgress;
  /** Set by `pause()`; the rollout holds after its current action until `resume()`. */
  userPause?: { at: number };
  /** Set when an analysis was inconclusive: holds until `promote()` (go on) or `abort()`. */
  inconclusive?: { at: number; key: string };
  /**
   * Set when a look at the world stopped the steps: a side that has (or was about to get) a share
   * has no ready pods, a person changed the routing Kanary wrote (`drift`: their weight is kept
   * and `resume()` goes on from it), or someone changed the target's template (`onTargetChange: hold`). The
   * rollout holds (`paused`) until `resume()` or `abort()`. `restart`: traffic was moved off the
   * canary, so `resume()` begins again from the prelude (the canary is re-made and re-checked).
   */
  held?: HoldCause;
  /** Set by `promoteFull()`: skip the remaining steps once the current action is done. */
  promoteFull: boolean;
  weights: { canary: number; verified: boolean; effective?: number };
  headerRoutes: Record<string, HeaderRoute>;
  mirrors: Record<string, MirrorRoute>;
  targets: { stable?: WorkloadRef; canary?: WorkloadRef };
  analysis?: AnalysisRun;
  /** The background analysis (spec `analysis`), measured across steps. */
  background?: AnalysisRun;
  /** Analyses that finished, by key (latest result only). */
  analyses: Record<string, { phase: AnalysisRun['phase']; at: number; message?: string }>;
  abort?: { reason: string; cause: AbortCause; at: number; from: Cursor };
  error?: { code: string; message: string; at: number; action?: string };
  outcome?: 'promoted' | 'rolledBack';
  /**
   * The process driving the rollout when this state was saved, and its epoch (the lease's
   * transitions). A process holding an older epoch must not act on this state.
   */
  driver?: { holder: string; epoch: number; since: number };
  /** How another process (the agent) rebuilds this rollout's ports, saved by its driver. */
  wiring?: RolloutWiring;
  /** Objects that carry this rollout's epoch stamp; the stamps are removed once the release has ended. */
  fenced?: Array<{ apiVersion: string; kind: string; namespace?: string; name: string }>;
  startedAt?: number;
  finishedAt?: number;
  updatedAt: number;
  /** Increments on every change: the order of events across processes. */
  seq: number;
  history: HistoryEntry[];
}

export const HISTORY_LIMIT = 200;

export function initialState(key: RolloutKey, specDigest: string, now: number): RolloutState {
  return {
    schemaVersion: 1,
    key,
    specDigest,
    phase: 'pending',
    cursor: { section: 'prelude', step: 0, action: 0 },
    promoteFull: false,
    weights: { canary: 0, verified: false },
    headerRoutes: {},
    mirrors: {},
    targets: {},
    analyses: {},
    updatedAt: now,
    seq: 0,
    history: [],
  };
}

/**
 * Whether the rollout holds until a person decides — `promote()` to go on, `abort()` to roll
 * back — and why: an untimed pause step (or blue-green's wait for promotion) or an inconclusive
 * analysis. A `pause()` by a user is not such a hold (`resume()` releases it); timed pauses end
 * on their own.
 */
export function awaitingDecision(state: RolloutState): 'pause' | 'inconclusive' | undefined {
  if (state.phase !== 'paused' || state.userPause || state.held) return undefined;
  if (state.inconclusive) return 'inconclusive';
  return state.action && state.action.until === undefined ? 'pause' : undefined;
}
