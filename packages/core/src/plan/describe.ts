import { formatDuration } from '../spec/duration.ts';
import type { MatchRule } from '../spec/match.ts';
import type { Plan, PlanAction } from './actions.ts';

/** Where an action sits, when it says more than the action alone (`formatPlan` passes it). */
export interface ActionContext {
  section?: 'prelude' | 'steps' | 'promotion' | 'abort';
  /** How many actions of the same type came before it in its section. */
  repeat?: number;
}

/** A route's match as a person reads it: rules joined by "or", conditions within one by "and". */
export function describeMatch(match: MatchRule[] | undefined): string {
  if (!match || match.length === 0) return 'users chosen by the strategy';
  const rule = (r: MatchRule) =>
    [
      ...(r.headers ?? []).map((h) =>
        h.exact !== undefined
          ? `header ${h.name} = "${h.exact}"`
          : h.prefix !== undefined
            ? `header ${h.name} starts with "${h.prefix}"`
            : `header ${h.name} matches /${h.regex}/`,
      ),
      ...(r.cookie
        ? [
            r.cookie.exact !== undefined
              ? `cookie ${r.cookie.name} = "${r.cookie.exact}"`
              : `cookie ${r.cookie.name} matches /${r.cookie.regex}/`,
          ]
        : []),
    ].join(' and ');
  return match.map(rule).join(' or ');
}

/**
 * One line per action, for logs, chat messages and `kanary plan` — in words for whoever runs the
 * release, not in one front end's terms.
 */
export function describeAction(action: PlanAction, context: ActionContext = {}): string {
  const again = (context.repeat ?? 0) > 0;
  switch (action.type) {
    case 'hook':
      return `call ${action.hook} hooks`;
    case 'workload.ensureCanary':
      return `create or adopt the canary workload${
        action.replicas !== undefined
          ? ` with ${action.replicas} replicas`
          : action.percentOfStable !== undefined
            ? ` at ${action.percentOfStable}% of the stable's replicas`
            : ''
      }`;
    case 'workload.waitReady':
      return `wait until the ${action.side} workload is ready`;
    case 'workload.scale':
      return action.replicas !== undefined
        ? `scale ${action.side} to ${action.replicas} replicas`
        : `scale ${action.side} to ${action.percentOfStable}% of stable's replicas`;
    case 'workload.promote':
      return 'update the stable workload to the new version';
    case 'workload.restoreStable':
      return "restore the stable workload's original template";
    case 'workload.cleanup':
      return 'remove the canary workload';
    case 'workload.rollTo':
      return `roll the Deployment until ${action.percent}% of pods run the new version, then hold`;
    case 'workload.undo':
      return 'undo the rolling update to the previous template';
    case 'workload.isolate':
      return 'expose new pods on the canary Service and pin the stable Service to old pods';
    case 'workload.unisolate':
      return 'restore the stable Service selector and remove the canary Service';
    case 'router.prepare':
      return again
        ? 'prepare the routing objects for the ready canary (its routes at 0%: still no traffic)'
        : 'prepare the routing objects before the canary exists (no traffic can reach it)';
    case 'router.setWeight':
      return `route ${action.weight}% of traffic to canary`;
    case 'router.setHeaderRoute':
      return `route ${action.route.weight}% of requests where ${describeMatch(action.route.match)} to canary (${action.route.name})`;
    case 'router.removeHeaderRoute':
      return `remove header route ${action.name}`;
    case 'router.setMirror':
      return `mirror ${action.mirror.percentage}% of ${action.mirror.match ? `requests where ${describeMatch(action.mirror.match)}` : 'traffic'} to canary (${action.mirror.name})`;
    case 'router.removeMirror':
      return `stop mirror ${action.name}`;
    case 'router.reset':
      return again
        ? 'route all traffic to stable again, now that it is ready (the routing follows its pods)'
        : "route all traffic to stable and remove Kanary's routes";
    case 'router.finalize':
      return context.section === 'abort'
        ? 'hand the routing objects back as they were before the release, now that the canary is gone'
        : "route all traffic to stable (now the new version), leaving the user's routes as they were";
    case 'pause':
      return action.duration !== undefined
        ? `pause for ${formatDuration(action.duration)}`
        : action.reason === 'awaitPromotion'
          ? 'wait until promoted'
          : 'pause until promoted';
    case 'delay':
      return `wait ${formatDuration(action.duration)} before scaling down`;
    case 'analysis':
      return `run analysis ${action.analysis.name ?? action.key} (${action.analysis.metrics.map((m) => m.name).join(', ')})`;
  }
}

/** A readable multi-line plan. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [`strategy: ${plan.strategy}`];
  for (const w of plan.warnings ?? [])
    lines.push(`warning: ${w.path}: ${w.message}${w.hint ? ` (consider: ${w.hint})` : ''}`);
  const described = (actions: PlanAction[], section: ActionContext['section']) => {
    const seen = new Map<string, number>();
    return actions.map((a) => {
      const repeat = seen.get(a.type) ?? 0;
      seen.set(a.type, repeat + 1);
      return `  - ${describeAction(a, { section, repeat })}`;
    });
  };
  lines.push('before steps:', ...described(plan.prelude, 'prelude'));
  for (const step of plan.steps) {
    lines.push(`step ${step.index + 1}: ${step.title}`, ...described(step.actions, 'steps'));
  }
  lines.push('promotion:', ...described(plan.promotion, 'promotion'));
  lines.push('on abort:', ...described(plan.abort, 'abort'));
  return lines.join('\n');
}
