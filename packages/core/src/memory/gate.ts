import type { AnalysisPhase, GateResult, MetricGate } from '../ports/gate.ts';
import type { Journal } from './journal.ts';

/** `nodata`: still running, and the look found no data. */
export type ScriptedVerdict = Exclude<AnalysisPhase, 'running'> | 'running' | 'nodata';

export interface ScriptedGateOptions {
  /**
   * Per analysis key (`steps[2]`, `prePromotionAnalysis`) or analysis name: the phase returned
   * at each evaluation, in order; the last one repeats. Default: `successful` at once.
   */
  script?: Record<string, ScriptedVerdict[]>;
  /** Virtual time between evaluations while running (default 30s). */
  intervalMs?: number;
  journal?: Journal;
}

/**
 * A gate whose verdicts are scripted: for testing the engine's handling of every outcome.
 * Its only state is how many evaluations it made, kept in the rollout state like a real judge's.
 */
export function createScriptedGate(options: ScriptedGateOptions = {}): MetricGate {
  const interval = options.intervalMs ?? 30_000;
  return {
    name: 'scripted',
    async evaluate({ key, analysis, state, now }): Promise<GateResult> {
      const n = typeof state?.evaluations === 'number' ? state.evaluations : 0;
      options.journal?.push({ port: 'gate', method: 'evaluate', args: [key, n] });
      const script = options.script?.[key] ??
        (analysis.name ? options.script?.[analysis.name] : undefined) ?? ['successful'];
      const verdict = script[Math.min(n, script.length - 1)] as ScriptedVerdict;
      const phase = verdict === 'nodata' ? 'running' : verdict;
      const metric = analysis.metrics[0]?.name ?? 'metric';
      return {
        state: { evaluations: n + 1 },
        phase,
        ...(phase === 'running' ? { nextEvaluationAt: now + interval } : {}),
        measurements: [
          {
            metric,
            at: now,
            phase: verdict === 'nodata' ? 'nodata' : phase === 'running' ? 'successful' : phase,
            value: n,
          },
        ],
        message: `scripted ${phase} (evaluation ${n + 1})`,
      };
    },
  };
}
