import type { Plan, PlanAction, PlanStep, WorkloadFeature } from '../plan/actions.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import { hook } from './common.ts';
import type { PlanOptions, Strategy } from './strategy.ts';

/**
 * Seed 000: update the Deployment in place and hold it (`spec.paused`) once a share of pods run
 * the new version; optionally expose the new pods on their own Service while held. No router.
 */
function planRolling(spec: RolloutSpec, options: PlanOptions): Plan {
  const strategy = spec.strategy;
  if (strategy.type !== 'rolling') throw new TypeError('not a rolling spec');
  const isolate = strategy.canaryService !== undefined;
  const features: WorkloadFeature[] = ['rollTo', 'undo'];
  if (isolate) features.push('isolate', 'unisolate');

  let reached = 0;
  const steps: PlanStep[] = spec.steps.map((step, index) => {
    const actions: PlanAction[] = [...hook(options, 'step')];
    let title: string;
    if ('setWeight' in step) {
      title = `roll ${step.setWeight}% of pods`;
      if (step.setWeight > reached) actions.push(...hook(options, 'confirm-traffic-increase'));
      if (isolate && index > 0) actions.push({ type: 'workload.unisolate' });
      actions.push({ type: 'workload.rollTo', percent: step.setWeight });
      if (isolate && step.setWeight < 100) actions.push({ type: 'workload.isolate' });
      reached = Math.max(reached, step.setWeight);
    } else if ('pause' in step) {
      const d = step.pause.duration;
      title = d === undefined ? 'pause until promoted' : `pause ${d}ms`;
      actions.push({ type: 'pause', reason: 'step', ...(d === undefined ? {} : { duration: d }) });
    } else if ('analysis' in step) {
      const key = `steps[${index}]`;
      title = `analysis ${step.analysis.name ?? key}`;
      actions.push({ type: 'analysis', key, analysis: step.analysis });
    } else {
      throw new TypeError(`rolling cannot plan ${Object.keys(step)[0]}`);
    }
    return { index, step, title, actions };
  });

  return {
    strategy: 'rolling',
    prelude: [...hook(options, 'confirm-rollout'), ...hook(options, 'pre-rollout')],
    steps,
    promotion: [
      ...hook(options, 'confirm-promotion'),
      ...(isolate ? [{ type: 'workload.unisolate' } as const] : []),
      { type: 'workload.rollTo', percent: 100 },
      { type: 'workload.waitReady', side: 'stable' },
      ...hook(options, 'post-rollout'),
    ],
    abort: [
      ...(isolate ? [{ type: 'workload.unisolate' } as const] : []),
      { type: 'workload.undo' },
      { type: 'workload.waitReady', side: 'stable' },
      ...hook(options, 'rollback'),
      ...hook(options, 'post-rollout'),
    ],
    requires: { router: null, workload: features },
  };
}

export const rollingStrategy: Strategy = { type: 'rolling', plan: planRolling };
