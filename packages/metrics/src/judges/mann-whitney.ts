import type { MetricData } from '../providers/data.ts';
import type { Judge } from './judge.ts';
import { classifyMetric, type MannWhitneyOptions, scoreCanary } from './kayenta.ts';

export interface MannWhitneyJudgeOptions extends MannWhitneyOptions {
  pass?: number;
  marginal?: number;
}

/**
 * Kayenta's verdict for one metric at each look, over the points gathered so far: a score of 100
 * (Pass) or 0 (High/Low), mapped through pass/marginal. Stateless; not anytime-valid.
 */
export function createMannWhitneyJudge(options: MannWhitneyJudgeOptions = {}): Judge {
  return {
    kind: 'mannWhitney',
    needs: 'samples',
    look(state, data: MetricData) {
      if (data.kind !== 'samples') throw new TypeError('mannWhitney needs samples');
      const result = classifyMetric(data.baseline, data.canary, options);
      if (result.classification === 'Nodata')
        return { state, look: { phase: 'nodata', message: result.reason } };
      const score = scoreCanary([{ name: 'metric', result }], {
        ...(options.pass !== undefined ? { pass: options.pass } : {}),
        ...(options.marginal !== undefined ? { marginal: options.marginal } : {}),
      });
      const detail = {
        classification: result.classification,
        score: score.score,
        effectSize: result.effectSize,
        ...(result.estimate !== undefined
          ? { estimate: result.estimate, ci: result.ci, pValue: result.pValue }
          : {}),
        points: { canary: data.canary.length, baseline: data.baseline.length },
      };
      const phase =
        score.verdict === 'pass' ? 'successful' : score.verdict === 'marginal' ? 'inconclusive' : 'failed';
      return {
        state,
        look: { phase, value: score.score, detail, message: `${result.classification}: ${result.reason}` },
      };
    },
  };
}
