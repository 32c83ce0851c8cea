import type { KanaryIssue } from '../errors/kanary-error.ts';
import type { AnalysisSpec } from '../spec/analysis.ts';
import type { PortContext } from './context.ts';
import type { PartWiring } from './wiring.ts';

/** Argo's phases; the worst metric phase decides the run. */
export type AnalysisPhase = 'running' | 'successful' | 'failed' | 'inconclusive' | 'error';

/** One observation, with everything a host needs to show why a rollout stopped. */
export interface Measurement {
  metric: string;
  at: number;
  phase: 'successful' | 'failed' | 'inconclusive' | 'error' | 'nodata';
  value?: unknown;
  /** Judge output (e-value, score, p-value, ...). */
  detail?: Record<string, unknown>;
  message?: string;
  dryRun?: boolean;
}

/** JSON-serialisable state of one analysis run, kept in the rollout state so resumes continue it. */
export type GateState = Record<string, unknown>;

export interface GateResult {
  state: GateState;
  phase: AnalysisPhase;
  /** When to call `evaluate` again while running. */
  nextEvaluationAt?: number;
  measurements: Measurement[];
  message?: string;
}

export interface GateInput {
  /** Stable name of this analysis within the rollout (e.g. `steps[3]`, `prePromotion`). */
  key: string;
  analysis: AnalysisSpec;
  state: GateState | undefined;
  startedAt: number;
  now: number;
  ctx: PortContext;
}

/** Decides whether a canary is good. Pure over its state: all it remembers is in `GateResult.state`. */
export interface MetricGate {
  readonly name: string;
  /** How another process rebuilds this gate (the agent); absent for a gate only code can make. */
  readonly wiring?: PartWiring;
  validate?(analysis: AnalysisSpec, path: string): KanaryIssue[];
  evaluate(input: GateInput): Promise<GateResult>;
}
