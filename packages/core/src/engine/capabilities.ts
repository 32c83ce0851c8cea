import type { KanaryIssue } from '../errors/kanary-error.ts';
import type { Plan } from '../plan/actions.ts';
import type { RouterCapabilities, TrafficRouter } from '../ports/router.ts';
import type { WorkloadDriver } from '../ports/workload.ts';
import { userBuckets, userPartition } from '../routers/by-user.ts';
import type { HashOn } from '../spec/strategy.ts';

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
      remedy: 'router',
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
  if (req.hashOn) issues.push(...checkHashOn(plan, req.hashOn, caps, name));
  if (req.headerRoutes + (req.hashOn ? 1 : 0) > caps.maxHeaderRoutes && req.headerRoutes > 0) {
    issues.push({
      path: 'steps',
      message: req.hashOn
        ? `hashOn takes one of ${name}'s ${caps.maxHeaderRoutes} header routes, and ${req.headerRoutes} more are active at once`
        : `${req.headerRoutes} header routes are active at once, and ${name} supports ${caps.maxHeaderRoutes}`,
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

/** A weight by user needs the router to match the key by regex, and every weight to reach someone. */
function checkHashOn(plan: Plan, hashOn: HashOn, caps: RouterCapabilities, name: string): KanaryIssue[] {
  const issues: KanaryIssue[] = [];
  if (hashOn.header !== undefined && !caps.headerMatch.regex)
    issues.push({
      path: 'strategy.hashOn.header',
      message: `a weight by user matches the key by regex, and ${name} cannot match a header by regex`,
      hint: 'use a router with regex header matching (Istio, Gateway API, ingress-nginx)',
    });
  if (hashOn.cookie !== undefined && !caps.cookieMatch.regex)
    issues.push({
      path: 'strategy.hashOn.cookie',
      message: `a weight by user matches the key by regex, and ${name} cannot match a cookie by regex`,
      hint:
        name === 'ingress-nginx'
          ? 'ingress-nginx reads a canary cookie only as "always" or "never": put the user key in a header (hashOn.header)'
          : 'put the user key in a header (hashOn.header), or use a router with cookie regex matching',
    });
  if (caps.maxHeaderRoutes < 1)
    issues.push({
      path: 'strategy.hashOn',
      message: `a weight by user is a header route, and ${name} has none`,
      hint: 'use a router with header routes, or leave hashOn out',
    });
  const weights = plan.steps.flatMap((s) =>
    s.actions.flatMap((a) =>
      a.type === 'router.setWeight' && a.weight > 0 && a.weight < 100 ? [a.weight] : [],
    ),
  );
  const group = 100 / userBuckets(hashOn.keys);
  for (const w of new Set(weights)) {
    if (userPartition(hashOn, w).share === 0)
      issues.push({
        path: 'steps',
        message: `setWeight ${w}% reaches no user: ${hashOn.keys} keys split users in groups of ${Math.round(group * 1000) / 1000}%`,
        hint: `use a weight of at least ${Math.round(group * 1000) / 1000}%`,
      });
  }
  return issues;
}
