import type { Plan, PlanAction, PlanStep } from '../plan/actions.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import { abortTail, emptyRequirements, hook } from './common.ts';
import type { PlanOptions, Strategy } from './strategy.ts';

/**
 * Seed 001: green runs next to blue, the active Service's selector switch is the cut-over, and
 * blue stays up for `scaleDownDelaySeconds` so a rollback is one selector write. After success
 * green is the active workload; blue is scaled to zero, ready to be the next release's green.
 */
function planBlueGreen(spec: RolloutSpec, options: PlanOptions): Plan {
  const s = spec.strategy;
  if (s.type !== 'blueGreen') throw new TypeError('not a blue-green spec');
  const req = emptyRequirements();
  req.weights = ['binary', 'exact', 'replicas'];

  const steps: PlanStep[] = [];
  const add = (title: string, actions: PlanAction[]) => steps.push({ index: steps.length, title, actions });
  if (s.prePromotionAnalysis) {
    add('pre-promotion analysis', [
      { type: 'analysis', key: 'prePromotionAnalysis', analysis: s.prePromotionAnalysis },
    ]);
  }
  if (!s.autoPromotionEnabled) {
    add('wait for promotion', [{ type: 'pause', reason: 'awaitPromotion' }]);
  } else if (s.autoPromotionSeconds !== undefined && s.autoPromotionSeconds > 0) {
    add(`auto-promote after ${s.autoPromotionSeconds}s`, [
      { type: 'pause', reason: 'autoPromotion', duration: s.autoPromotionSeconds * 1000 },
    ]);
  }
  // Green at full size and serving: idempotent, so promotion repeats it (promoteFull() skips the
  // steps, and blue must never be retired before green serves). Full size is the stable's live
  // count: a preview at fewer replicas, an adopted green of another size, or a blue someone scaled
  // up meanwhile all leave users short of pods otherwise.
  const cutOver: PlanAction[] = [
    { type: 'workload.scale', side: 'canary', percentOfStable: 100 },
    { type: 'workload.waitReady', side: 'canary' },
    { type: 'router.setWeight', weight: 100 },
  ];
  add('switch the active Service to green', [...hook(options, 'confirm-promotion'), ...cutOver]);
  if (s.postPromotionAnalysis) {
    add('post-promotion analysis', [
      { type: 'analysis', key: 'postPromotionAnalysis', analysis: s.postPromotionAnalysis },
    ]);
  }

  const green = s.previewReplicaCount ?? s.green.replicas;
  return {
    strategy: 'blueGreen',
    prelude: [
      ...hook(options, 'confirm-rollout'),
      { type: 'router.prepare' },
      { type: 'workload.ensureCanary', ...(green === undefined ? {} : { replicas: green }) },
      { type: 'workload.waitReady', side: 'canary' },
      { type: 'router.prepare' },
      ...hook(options, 'pre-rollout'),
    ],
    steps,
    // Traffic runs on green after the switch step; promoteFull() may have skipped it, so the
    // switch is made sure of (a no-op when done) before blue is retired.
    promotion: [
      ...cutOver,
      ...hook(options, 'post-rollout'),
      { type: 'delay', duration: s.scaleDownDelaySeconds * 1000, reason: 'scaleDown' },
      { type: 'workload.scale', side: 'stable', replicas: 0 },
      // Blue has no pods now: the Services can have the user's selectors back.
      { type: 'router.finalize' },
    ],
    abort: [
      // Blue may have been scaled down already (abort after promotion): bring it back before switching.
      { type: 'workload.restoreStable' },
      { type: 'workload.waitReady', side: 'stable' },
      { type: 'router.reset' },
      // Then green goes (or to 0) and the Services are as the user had them.
      ...abortTail(spec, options),
    ],
    requires: { router: req, workload: [] },
  };
}

export const blueGreenStrategy: Strategy = { type: 'blueGreen', plan: planBlueGreen };
