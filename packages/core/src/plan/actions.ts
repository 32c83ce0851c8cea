import type { KanaryIssue } from '../errors/kanary-error.ts';
import type { Side } from '../ports/refs.ts';
import type { RouterCapabilities, WeightMode } from '../ports/router.ts';
import type { AnalysisSpec } from '../spec/analysis.ts';
import type { HookName } from '../spec/hooks.ts';
import type { HeaderRoute, MirrorRoute } from '../spec/match.ts';
import type { Step } from '../spec/steps.ts';
import type { HashOn, StrategyType } from '../spec/strategy.ts';

/**
 * One thing the engine does through a port. Every action is idempotent or, for hooks and
 * waits, safe to repeat, so a resumed rollout can redo the action it was in when it stopped.
 */
export type PlanAction =
  | { type: 'hook'; hook: HookName }
  /** `percentOfStable`: sized from the stable's size at the start (a first `setCanaryScale` step). */
  | { type: 'workload.ensureCanary'; replicas?: number; percentOfStable?: number }
  | { type: 'workload.waitReady'; side: Side }
  | { type: 'workload.scale'; side: Side; replicas?: number; percentOfStable?: number }
  | { type: 'workload.promote' }
  | { type: 'workload.restoreStable' }
  | { type: 'workload.cleanup' }
  | { type: 'workload.rollTo'; percent: number }
  | { type: 'workload.undo' }
  | { type: 'workload.isolate' }
  | { type: 'workload.unisolate' }
  | { type: 'router.prepare' }
  | { type: 'router.setWeight'; weight: number }
  | { type: 'router.setHeaderRoute'; route: HeaderRoute }
  | { type: 'router.removeHeaderRoute'; name: string }
  | { type: 'router.setMirror'; mirror: MirrorRoute }
  | { type: 'router.removeMirror'; name: string }
  | { type: 'router.reset' }
  | { type: 'router.finalize' }
  /** A pause: timed (`duration`) or until `promote()`. */
  | { type: 'pause'; duration?: number; reason: 'step' | 'autoPromotion' | 'awaitPromotion' }
  /** A wait that is not a pause: scale-down delays. Controls do not skip it. */
  | { type: 'delay'; duration: number; reason: 'scaleDown' | 'abortScaleDown' }
  | { type: 'analysis'; key: string; analysis: AnalysisSpec };

export type ActionType = PlanAction['type'];

export interface PlanStep {
  index: number;
  /** The user's step, or undefined for a step the strategy adds (blue-green's switch). */
  step?: Step;
  title: string;
  actions: PlanAction[];
}

/** What the strategy needs from the router, checked against its capabilities before anything runs. */
export interface RouterRequirements {
  weights: WeightMode[];
  headerMatch: Array<'exact' | 'prefix' | 'regex'>;
  cookieMatch: Array<'exact' | 'regex'>;
  matchedWeight: boolean;
  headerRoutes: number;
  mirror: boolean;
  mirrorPercentage: boolean;
  stickySessions: boolean;
  /** Weights move users by a key in this header or cookie (`strategy.hashOn`). */
  hashOn?: HashOn;
  /** Finest weight asked for, in percent. */
  finestWeight: number;
}

export type WorkloadFeature = 'rollTo' | 'undo' | 'isolate' | 'unisolate';

/** A dry run: everything the rollout will do, in order, without touching anything. */
export interface Plan {
  strategy: StrategyType;
  prelude: PlanAction[];
  steps: PlanStep[];
  promotion: PlanAction[];
  abort: PlanAction[];
  /** Analysis measured alongside the steps from `startingStep` until they end. */
  background?: {
    key: 'background';
    analysis: AnalysisSpec;
    startingStep: number;
    noData?: 'inconclusive' | 'fail' | 'pass';
  };
  requires: { router: RouterRequirements | null; workload: WorkloadFeature[] };
  /** Legal but risky choices a reviewer should see (no steps, weights back up, analyses that cannot fail, …). */
  warnings?: KanaryIssue[];
}

export type Section = 'prelude' | 'steps' | 'promotion' | 'abort';

/**
 * Every analysis the plan runs, once each (a switch repeated in promotion runs the same one), with
 * where it sits in the spec, as validation and warnings name it.
 */
export function analysesOf(plan: Plan): Array<{ key: string; path: string; analysis: AnalysisSpec }> {
  const all = [
    ...plan.prelude,
    ...plan.steps.flatMap((s) => s.actions),
    ...plan.promotion,
    ...(plan.background ? [{ type: 'analysis' as const, ...plan.background }] : []),
  ];
  const out = new Map<string, { key: string; path: string; analysis: AnalysisSpec }>();
  for (const a of all) {
    if (a.type !== 'analysis' || out.has(a.key)) continue;
    const path = a.key.startsWith('steps')
      ? `${a.key}.analysis`
      : a.key === 'background'
        ? 'analysis'
        : `strategy.${a.key}`;
    out.set(a.key, { key: a.key, path, analysis: a.analysis });
  }
  return [...out.values()];
}

/** The actions of one section/step, flattening `steps` by index. */
export function actionsAt(plan: Plan, section: Section, stepIndex: number): PlanAction[] {
  if (section === 'steps') return plan.steps[stepIndex]?.actions ?? [];
  return stepIndex === 0 ? plan[section] : [];
}

/**
 * Where the release ends inside its promotion or abort section: at the scale-down delay. From there
 * on only the old version's retirement is left (the delay, its scale-down, the routing handed
 * back), and the rollout is already `succeeded` or `aborted`. -1 when the section has no delay.
 */
export function retireIndex(plan: Plan, section: Section): number {
  if (section !== 'promotion' && section !== 'abort') return -1;
  const reason = section === 'promotion' ? 'scaleDown' : 'abortScaleDown';
  return plan[section].findIndex((a) => a.type === 'delay' && a.reason === reason);
}

export type { RouterCapabilities };
