import type { PlanAction, PlanStep, RouterRequirements } from '../plan/actions.ts';
import { formatDuration } from '../spec/duration.ts';
import type { HookName } from '../spec/hooks.ts';
import type { MatchRule } from '../spec/match.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import type { Step } from '../spec/steps.ts';
import type { PlanOptions } from './strategy.ts';

export function hook(options: PlanOptions, name: HookName): PlanAction[] {
  return options.hooks.has(name) ? [{ type: 'hook', hook: name }] : [];
}

/**
 * How every routed abort ends once users are back on the stable: the rollback hooks, the delay
 * before the canary goes, the canary removed, and only then the user's Services and routes as
 * they were (before, they would still select the canary's pods).
 */
export function abortTail(spec: RolloutSpec, options: PlanOptions): PlanAction[] {
  return [
    ...hook(options, 'rollback'),
    ...hook(options, 'post-rollout'),
    { type: 'delay', duration: spec.abortScaleDownDelay, reason: 'abortScaleDown' },
    { type: 'workload.cleanup' },
    { type: 'router.finalize' },
  ];
}

export function emptyRequirements(): RouterRequirements {
  return {
    weights: [],
    headerMatch: [],
    cookieMatch: [],
    matchedWeight: false,
    headerRoutes: 0,
    mirror: false,
    mirrorPercentage: false,
    stickySessions: false,
    finestWeight: 100,
  };
}

/** Smallest positive step between 0 and `w` expressible with `w`'s decimals (10 → 1, 0.5 → 0.1). */
function resolutionOf(weight: number): number {
  if (Number.isInteger(weight)) return 1;
  const decimals = String(weight).split('.')[1]?.length ?? 0;
  return 10 ** -decimals;
}

export function requireWeight(req: RouterRequirements, weight: number): void {
  if (weight > 0 && weight < 100) req.finestWeight = Math.min(req.finestWeight, resolutionOf(weight));
}

export function requireMatch(req: RouterRequirements, rules: MatchRule[] | undefined): void {
  for (const rule of rules ?? []) {
    for (const h of rule.headers ?? []) {
      const kind = h.exact !== undefined ? 'exact' : h.prefix !== undefined ? 'prefix' : 'regex';
      if (!req.headerMatch.includes(kind)) req.headerMatch.push(kind);
    }
    if (rule.cookie) {
      const kind = rule.cookie.exact !== undefined ? 'exact' : 'regex';
      if (!req.cookieMatch.includes(kind)) req.cookieMatch.push(kind);
    }
  }
}

/**
 * Compiles user steps for strategies that shift traffic through a router. Tracks the weight the
 * plan has reached so `confirm-traffic-increase` runs only before increases, and the canary scale
 * mode so `setCanaryScale: {matchTrafficWeight}` resizes the canary before traffic grows.
 */
export function compileRouterSteps(
  spec: RolloutSpec,
  options: PlanOptions,
  req: RouterRequirements,
  initial: { steps: PlanStep[]; weight: number },
): PlanStep[] {
  const out = [...initial.steps];
  let weight = initial.weight;
  let matchTraffic = false;
  let activeRoutes = 0;
  spec.steps.forEach((step: Step) => {
    const actions: PlanAction[] = [...hook(options, 'step')];
    let title: string;
    if ('setWeight' in step) {
      const next = step.setWeight;
      title = `set weight ${next}%`;
      requireWeight(req, next);
      if (next > weight) actions.push(...hook(options, 'confirm-traffic-increase'));
      if (matchTraffic && next > weight) {
        actions.push({ type: 'workload.scale', side: 'canary', percentOfStable: next });
        actions.push({ type: 'workload.waitReady', side: 'canary' });
      }
      actions.push({ type: 'router.setWeight', weight: next });
      if (matchTraffic && next < weight)
        actions.push({ type: 'workload.scale', side: 'canary', percentOfStable: next });
      weight = next;
    } else if ('pause' in step) {
      const d = step.pause.duration;
      title = d === undefined ? 'pause until promoted' : `pause ${formatDuration(d)}`;
      actions.push({ type: 'pause', reason: 'step', ...(d === undefined ? {} : { duration: d }) });
    } else if ('analysis' in step) {
      const key = `steps[${out.length - initial.steps.length}]`;
      title = `analysis ${step.analysis.name ?? key}`;
      actions.push({ type: 'analysis', key, analysis: step.analysis });
    } else if ('setCanaryScale' in step) {
      const s = step.setCanaryScale;
      title = 'set canary scale';
      matchTraffic = s.matchTrafficWeight === true;
      if (s.replicas !== undefined)
        actions.push({ type: 'workload.scale', side: 'canary', replicas: s.replicas });
      else {
        const percent = s.weight ?? weight;
        actions.push({ type: 'workload.scale', side: 'canary', percentOfStable: percent });
      }
      actions.push({ type: 'workload.waitReady', side: 'canary' });
    } else if ('setHeaderRoute' in step) {
      const route = step.setHeaderRoute;
      if (route.match === undefined) {
        title = `remove header route ${route.name}`;
        actions.push({ type: 'router.removeHeaderRoute', name: route.name });
        activeRoutes--;
      } else {
        title = `header route ${route.name}`;
        requireMatch(req, route.match);
        if (route.weight < 100) req.matchedWeight = true;
        requireWeight(req, route.weight);
        activeRoutes++;
        req.headerRoutes = Math.max(req.headerRoutes, activeRoutes);
        actions.push({ type: 'router.setHeaderRoute', route });
      }
    } else {
      const mirror = step.setMirror;
      if (mirror.remove) {
        title = `stop mirror ${mirror.name}`;
        actions.push({ type: 'router.removeMirror', name: mirror.name });
      } else {
        title = `mirror ${mirror.name}`;
        req.mirror = true;
        if (mirror.percentage < 100) req.mirrorPercentage = true;
        requireMatch(req, mirror.match);
        actions.push({ type: 'router.setMirror', mirror });
      }
    }
    out.push({ index: out.length, step, title, actions });
  });
  return out;
}
