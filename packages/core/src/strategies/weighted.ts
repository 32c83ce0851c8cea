import type { Plan, PlanStep } from '../plan/actions.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import {
  abortTail,
  compileRouterSteps,
  emptyRequirements,
  hook,
  requireMatch,
  requireWeight,
} from './common.ts';
import type { PlanOptions, Strategy } from './strategy.ts';

/**
 * Shared by weighted, headerMatch and replicaRatio: a canary workload next to the stable one,
 * traffic moved by the router, promotion by updating stable then draining the canary.
 */
export function planCanary(spec: RolloutSpec, options: PlanOptions): Plan {
  const strategy = spec.strategy;
  if (strategy.type !== 'weighted' && strategy.type !== 'headerMatch' && strategy.type !== 'replicaRatio') {
    throw new TypeError(`planCanary cannot plan ${strategy.type}`);
  }
  const req = emptyRequirements();
  req.weights = [strategy.type === 'replicaRatio' ? 'replicas' : 'exact'];
  if (strategy.type !== 'replicaRatio' && strategy.stickySession) req.stickySessions = true;
  if (strategy.type === 'weighted' && strategy.hashOn) req.hashOn = strategy.hashOn;

  const initialSteps: PlanStep[] = [];
  if (strategy.type === 'headerMatch') {
    requireMatch(req, strategy.match);
    requireWeight(req, strategy.weight);
    if (strategy.weight < 100) req.matchedWeight = true;
    req.headerRoutes = 1;
    initialSteps.push({
      index: 0,
      title: `route matched users ${strategy.weight}% to canary`,
      actions: [
        ...hook(options, 'step'),
        ...hook(options, 'confirm-traffic-increase'),
        {
          type: 'router.setHeaderRoute',
          route: { name: 'match', match: strategy.match, weight: strategy.weight },
        },
      ],
    });
  }
  // Replica ratio starts the canary at zero pods; its router sizes both sides from the weight.
  // Otherwise a `setCanaryScale` before any traffic sizes it from the start (Argo: a 10-replica
  // rollout whose first step is setCanaryScale: 1 never runs 10 canary pods).
  const firstScale = spec.steps.find((s) => 'setCanaryScale' in s || ('setWeight' in s && s.setWeight > 0));
  const early = firstScale && 'setCanaryScale' in firstScale ? firstScale.setCanaryScale : undefined;
  const canaryReplicas = strategy.type === 'replicaRatio' ? 0 : (early?.replicas ?? strategy.canary.replicas);
  // Matching a traffic weight that is still 0 is 0% of the stable.
  const canaryPercent =
    strategy.type !== 'replicaRatio' && canaryReplicas === undefined
      ? (early?.weight ?? (early?.matchTrafficWeight ? 0 : undefined))
      : undefined;
  const steps = compileRouterSteps(spec, options, req, { steps: initialSteps, weight: 0 });

  return {
    strategy: strategy.type,
    // The router is prepared before the canary exists (pinning stable selectors so new pods get
    // no traffic by accident), and again once it is ready (canary subsets, owned routes at 0%).
    prelude: [
      ...hook(options, 'confirm-rollout'),
      { type: 'router.prepare' },
      {
        type: 'workload.ensureCanary',
        ...(canaryReplicas === undefined ? {} : { replicas: canaryReplicas }),
        ...(canaryPercent === undefined ? {} : { percentOfStable: canaryPercent }),
      },
      { type: 'workload.waitReady', side: 'canary' },
      { type: 'router.prepare' },
      ...hook(options, 'pre-rollout'),
    ],
    steps,
    // Stable is never changed while it serves: traffic moves to the validated canary (at full
    // size), stable takes the new template, then traffic returns to it (Flagger's promotion).
    promotion: [
      ...hook(options, 'confirm-promotion'),
      ...(strategy.type === 'replicaRatio'
        ? []
        : [
            { type: 'workload.scale', side: 'canary', percentOfStable: 100 } as const,
            { type: 'workload.waitReady', side: 'canary' } as const,
          ]),
      { type: 'router.setWeight', weight: 100 },
      { type: 'workload.promote' },
      { type: 'workload.waitReady', side: 'stable' },
      { type: 'router.finalize' },
      ...hook(options, 'post-rollout'),
      { type: 'delay', duration: spec.scaleDownDelay, reason: 'scaleDown' },
      { type: 'workload.cleanup' },
    ],
    abort: [
      // The stable's own template back, then every request to it. Before promotion the first is a
      // no-op (nothing written), so the one write that moves users back still comes first. After
      // promotion began the stable runs the canary's template, and routing users "back" to it
      // would stop nothing and, with those pods failing, wait for ever on a stable only the
      // restore can heal (chaos seed 104 with replica ratios; a crash-looping promoted canary with
      // weights, found when reads began to come from watches).
      { type: 'workload.restoreStable' },
      { type: 'router.reset' },
      { type: 'workload.waitReady', side: 'stable' },
      // Again, now that stable is as it was: the router follows its current pods.
      { type: 'router.reset' },
      // Only once the canary's pods are gone may the user's selectors and subsets be restored.
      ...abortTail(spec, options),
    ],
    requires: { router: req, workload: [] },
  };
}

export const weightedStrategy: Strategy = { type: 'weighted', plan: planCanary };
export const headerMatchStrategy: Strategy = { type: 'headerMatch', plan: planCanary };
export const replicaRatioStrategy: Strategy = { type: 'replicaRatio', plan: planCanary };
