import type { Plan } from '../plan/actions.ts';
import type { HookName } from '../spec/hooks.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import type { StrategyType } from '../spec/strategy.ts';

export interface PlanOptions {
  /** Hooks that have handlers; actions are planned only for these. */
  hooks: ReadonlySet<HookName>;
}

/** Turns a spec into an explicit plan. Pure: it never touches a port. */
export interface Strategy {
  readonly type: StrategyType;
  plan(spec: RolloutSpec, options: PlanOptions): Plan;
}
