import type { KanaryIssue } from '../errors/kanary-error.ts';
import type { Plan } from '../plan/actions.ts';
import type { TrafficRouter } from '../ports/router.ts';
import type { WorkloadDriver } from '../ports/workload.ts';

/** Compares what the plan needs with what the router and workload driver declare. */
export function checkCapabilities(
  plan: Plan,
  router: TrafficRouter | undefined,
  workload: WorkloadDriver,
): KanaryIssue[] {
  const issues: KanaryIssue[] = [];
  const req = plan.requires.router;
  if (req && !router) {
    issues.push({
      path: 'router',
      message: `the ${plan.strategy} strategy routes traffic, and no router was given`,
      hint: 'pass a router to createRollout, e.g. createIstioRouter(...) or createServiceSelectorRouter(...)',
    });
  }
  if (!req && router) {
    issues.push({
      path: 'router',
      message: `the ${plan.strategy} strategy does not use a router, and ${router.name} was given`,
      hint: 'leave the router out, or choose a strategy that shifts traffic',
    });
  }
  for (const feature of plan.requires.workload) {
    if (typeof workload[feature] !== 'function') {
      issues.push({
        path: 'workload',
        message: `the ${plan.strategy} strategy needs ${feature}(), which ${workload.name} does not provide`,
        hint: 'use a workload driver that supports in-place rolling updates',
      });
    }
  }
  if (!req || !router) return issues;
  const caps = router.capabilities;
  const name = router.name;
  if (!req.weights.includes(caps.weights)) {
    issues.push({
      path: 'strategy.type',
      message: `${plan.strategy} needs ${req.weights.join(' or ')} weights, and ${name} splits by ${caps.weights}`,
      hint:
        plan.strategy === 'replicaRatio'
          ? 'use createReplicaRatioRouter, or the weighted strategy with this router'
          : 'use a router that splits requests (Istio, ingress-nginx, Gateway API), or the replicaRatio strategy',
    });
  }
  if (req.finestWeight < caps.weightResolution) {
    issues.push({
      path: 'steps',
      message: `a weight needs ${req.finestWeight}% resolution, and ${name} resolves ${caps.weightResolution}%`,
      hint: 'round the weights, or configure the router for finer weights',
    });
  }
  for (const kind of req.headerMatch) {
    if (!caps.headerMatch[kind]) {
      issues.push({
        path: 'steps',
        message: `a header match uses ${kind}, which ${name} cannot do`,
        hint: `use ${(['exact', 'prefix', 'regex'] as const).filter((k) => caps.headerMatch[k]).join(' or ') || 'a router with header matching'}`,
      });
    }
  }
  for (const kind of req.cookieMatch) {
    if (!caps.cookieMatch[kind]) {
      issues.push({
        path: 'steps',
        message: `a cookie match uses ${kind}, which ${name} cannot do`,
        hint:
          caps.cookieMatch.exact || caps.cookieMatch.regex
            ? 'change the cookie match kind'
            : 'use a router with cookie matching',
      });
    }
  }
  if (req.matchedWeight && !caps.matchedWeight) {
    issues.push({
      path: 'steps',
      message: `matched users get a partial weight, and ${name} can only send them all to the canary`,
      hint: 'set the header route weight to 100',
    });
  }
  if (req.headerRoutes > caps.maxHeaderRoutes) {
    issues.push({
      path: 'steps',
      message: `${req.headerRoutes} header routes are active at once, and ${name} supports ${caps.maxHeaderRoutes}`,
      hint: 'remove a route before adding the next, or combine their match rules',
    });
  }
  if (req.mirror && !caps.mirror) {
    issues.push({
      path: 'steps',
      message: `${name} cannot mirror traffic`,
      hint: 'remove the setMirror steps',
    });
  } else if (req.mirrorPercentage && !caps.mirrorPercentage) {
    issues.push({
      path: 'steps',
      message: `${name} can only mirror all traffic`,
      hint: 'set the mirror percentage to 100',
    });
  }
  if (req.stickySessions && !caps.stickySessions) {
    issues.push({
      path: 'strategy.stickySession',
      message: `${name} cannot keep sessions sticky`,
      hint: 'remove stickySession, or route chosen users with a header route',
    });
  }
  return issues;
}
