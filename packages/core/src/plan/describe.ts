import { formatDuration } from '../spec/duration.ts';
import type { Plan, PlanAction } from './actions.ts';

/** One line per action, for logs, chat messages and `kanary plan`. */
export function describeAction(action: PlanAction): string {
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
      return 'prepare routing objects (no traffic yet)';
    case 'router.setWeight':
      return `route ${action.weight}% of traffic to canary`;
    case 'router.setHeaderRoute':
      return `route matched requests (${action.route.name}) ${action.route.weight}% to canary`;
    case 'router.removeHeaderRoute':
      return `remove header route ${action.name}`;
    case 'router.setMirror':
      return `mirror ${action.mirror.percentage}% of ${action.mirror.match ? 'matched ' : ''}traffic to canary (${action.mirror.name})`;
    case 'router.removeMirror':
      return `stop mirror ${action.name}`;
    case 'router.reset':
      return "route all traffic to stable and remove Kanary's routes";
    case 'router.finalize':
      return "route all traffic to stable (now the new version), leaving the user's routes as they were";
    case 'pause':
      return action.duration !== undefined
        ? `pause for ${formatDuration(action.duration)}`
        : action.reason === 'awaitPromotion'
          ? 'wait for promote()'
          : 'pause until promote()';
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
  const section = (title: string, actions: PlanAction[]) => {
    lines.push(`${title}:`);
    for (const a of actions) lines.push(`  - ${describeAction(a)}`);
  };
  section('before steps', plan.prelude);
  for (const step of plan.steps) {
    lines.push(`step ${step.index + 1}: ${step.title}`);
    for (const a of step.actions) lines.push(`  - ${describeAction(a)}`);
  }
  section('promotion', plan.promotion);
  section('on abort', plan.abort);
  return lines.join('\n');
}
