import type { HookName } from '../spec/hooks.ts';
import type { PortContext } from './context.ts';

export interface HookContext extends PortContext {
  hook: HookName;
  /** The step about to run, for `step` and `confirm-traffic-increase`. */
  stepIndex?: number;
  /** The weight about to be set, for `confirm-traffic-increase`. */
  nextWeight?: number;
}

/**
 * A hook may take as long as it likes (a bot awaiting a human's click) and must honour
 * `ctx.signal`. Resolving lets the rollout go on; throwing stops it: gating hooks
 * (confirm-*, pre-rollout, step) then abort the rollout; `post-rollout` and `rollback` errors are
 * reported as events but change nothing.
 */
export type HookFn = (ctx: HookContext) => Promise<void> | void;

export type HookHandlers = Partial<Record<HookName, HookFn | HookFn[]>>;
