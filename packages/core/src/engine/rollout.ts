import { EventEmitter } from 'eventemitter3';
import {
  formatIssues,
  isKanaryError,
  KanaryError,
  type KanaryIssue,
  toKanaryError,
} from '../errors/kanary-error.ts';
import { createMemoryLock } from '../memory/lock.ts';
import { createMemoryStateStore } from '../memory/store.ts';
import type { Plan, PlanAction } from '../plan/actions.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { PortContext } from '../ports/context.ts';
import type { MetricGate } from '../ports/gate.ts';
import type { HookFn, HookHandlers } from '../ports/hooks.ts';
import type { Lock, LockLease } from '../ports/lock.ts';
import type { RolloutKey } from '../ports/refs.ts';
import type { TrafficRouter } from '../ports/router.ts';
import type { StateStore } from '../ports/store.ts';
import type { WorkloadDriver } from '../ports/workload.ts';
import { parseDuration } from '../spec/duration.ts';
import { HOOK_NAMES, type HookName } from '../spec/hooks.ts';
import { parseRolloutSpec } from '../spec/parse.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import { strategies } from '../strategies/index.ts';
import { checkCapabilities } from './capabilities.ts';
import { type Control, checkControl } from './controls.ts';
import { type Decision, decide } from './decide.ts';
import { digest } from './digest.ts';
import type { RolloutEvents } from './events.ts';
import { type ActionResult, type EngineEvent, reduce } from './reducer.ts';
import { initialState, type RolloutState } from './state.ts';
import { callWebhook } from './webhook.ts';

export interface CreateRolloutOptions {
  /** A spec object as users write it (validated here) or one from `parseRolloutSpec`. */
  spec: unknown;
  workload: WorkloadDriver;
  /** Required by every strategy but rolling. */
  router?: TrafficRouter;
  /** Required when the spec has analysis. */
  gate?: MetricGate;
  /** Where state lives; defaults to memory (lost with the process — use the cluster store in production). */
  store?: StateStore;
  /** One driver per rollout; defaults to a lock local to this process. */
  lock?: Lock;
  clock?: Clock;
  hooks?: HookHandlers;
  /** Identifies this driver in the lock, e.g. `bot-7f9c/pid-42`. */
  holder?: string;
  /** Wait for another driver to finish instead of failing with `LOCKED`. */
  waitForLock?: boolean;
  /** How often to re-check readiness and other probes (default 2s). */
  pollInterval?: string | number;
  /** How often a held rollout re-reads the store for controls sent by other processes (default 5s). */
  syncInterval?: string | number;
  lockTtl?: string | number;
  fetch?: typeof fetch;
}

export interface Rollout {
  readonly key: RolloutKey;
  readonly spec: RolloutSpec;
  /** The state as last loaded or written; undefined before `load()` or `run()`. */
  readonly state: RolloutState | undefined;
  /** The dry-run: every action the rollout will take, in order. Touches nothing. */
  plan(): Plan;
  /** Loads the saved state (or a fresh one) without driving. */
  load(): Promise<RolloutState>;
  /** Drives the rollout until it succeeds, aborts or fails; resumes saved state. */
  run(): Promise<RolloutState>;
  promote(): Promise<RolloutState>;
  promoteFull(): Promise<RolloutState>;
  abort(reason?: string): Promise<RolloutState>;
  retry(): Promise<RolloutState>;
  pause(): Promise<RolloutState>;
  resume(): Promise<RolloutState>;
  skipStep(): Promise<RolloutState>;
  on: EventEmitter<RolloutEvents>['on'];
  once: EventEmitter<RolloutEvents>['once'];
  off: EventEmitter<RolloutEvents>['off'];
}

type PerformOutcome =
  | { kind: 'done'; result?: ActionResult }
  | { kind: 'waiting'; message?: string }
  | { kind: 'analysis'; event: EngineEvent | undefined };

interface QueuedControl {
  control: Control;
  resolve: (state: RolloutState) => void;
  reject: (error: unknown) => void;
}

/** Controls that cut short a wait or an in-flight hook, analysis or probe. */
const INTERRUPTING: ReadonlySet<Control['type']> = new Set(['abort', 'promoteFull', 'skipStep', 'promote']);
const INTERRUPTIBLE: ReadonlySet<PlanAction['type']> = new Set([
  'hook',
  'analysis',
  'workload.waitReady',
  'workload.rollTo',
]);
const GATING_HOOKS: ReadonlySet<HookName> = new Set([
  'confirm-rollout',
  'pre-rollout',
  'step',
  'confirm-traffic-increase',
  'confirm-promotion',
]);

function hookNamesOf(spec: RolloutSpec, hooks: HookHandlers | undefined): Set<HookName> {
  const names = new Set<HookName>(spec.hooks.map((h) => h.on));
  for (const name of HOOK_NAMES) {
    const h = hooks?.[name];
    if (h && (!Array.isArray(h) || h.length > 0)) names.add(name);
  }
  return names;
}

/** The strategy's plan plus the background analysis, which runs beside any strategy's steps. */
function compilePlan(spec: RolloutSpec, hooks: Set<HookName>): Plan {
  const plan = strategies[spec.strategy.type].plan(spec, { hooks });
  if (!spec.analysis) return plan;
  const { startingStep, ...analysis } = spec.analysis;
  return { ...plan, background: { key: 'background', analysis, startingStep } };
}

function validateAnalyses(plan: Plan, gate: MetricGate | undefined): KanaryIssue[] {
  const issues: KanaryIssue[] = [];
  const all = [
    ...plan.prelude,
    ...plan.steps.flatMap((s) => s.actions),
    ...plan.promotion,
    ...(plan.background ? [{ type: 'analysis' as const, ...plan.background }] : []),
  ];
  for (const action of all) {
    if (action.type !== 'analysis') continue;
    const path = action.key.startsWith('steps')
      ? `${action.key}.analysis`
      : action.key === 'background'
        ? 'analysis'
        : `strategy.${action.key}`;
    if (!gate) {
      issues.push({
        path,
        message: 'needs a metric gate, and none was given',
        hint: 'pass gate: createMetricGate(...)',
      });
      continue;
    }
    issues.push(...(gate.validate?.(action.analysis, path) ?? []));
  }
  return issues;
}

/**
 * Creates a rollout: validates the spec, compiles its plan and checks the router can carry it
 * out — all before anything is written. Throws `INVALID_SPEC` or `UNSUPPORTED_CAPABILITY`.
 */
export function createRollout(options: CreateRolloutOptions): Rollout {
  const spec = parseRolloutSpec(options.spec);
  const hookNames = hookNamesOf(spec, options.hooks);
  const plan = compilePlan(spec, hookNames);
  const capabilityIssues = checkCapabilities(plan, options.router, options.workload);
  if (capabilityIssues.length > 0) {
    throw new KanaryError(
      'UNSUPPORTED_CAPABILITY',
      `This rollout cannot run with the given router and workload:\n${formatIssues(capabilityIssues)}`,
      { issues: capabilityIssues },
    );
  }
  const analysisIssues = validateAnalyses(plan, options.gate);
  if (analysisIssues.length > 0) {
    throw new KanaryError(
      'INVALID_SPEC',
      `The rollout's analyses are invalid:\n${formatIssues(analysisIssues)}`,
      {
        issues: analysisIssues,
      },
    );
  }
  return new RolloutDriver(spec, plan, options);
}

class RolloutDriver implements Rollout {
  readonly key: RolloutKey;
  readonly spec: RolloutSpec;
  readonly #plan: Plan;
  readonly #options: CreateRolloutOptions;
  readonly #emitter = new EventEmitter<RolloutEvents>();
  readonly #clock: Clock;
  readonly #store: StateStore;
  readonly #lock: Lock;
  readonly #digest: string;
  readonly #pollMs: number;
  readonly #syncMs: number;
  readonly #lockTtlMs: number;
  #state: RolloutState | undefined;
  #revision: string | undefined;
  #running = false;
  #queue: QueuedControl[] = [];
  #wake: AbortController | undefined;
  #interrupt: { controller: AbortController; action: PlanAction } | undefined;

  constructor(spec: RolloutSpec, plan: Plan, options: CreateRolloutOptions) {
    this.spec = spec;
    this.key = { namespace: spec.namespace, name: spec.name };
    this.#plan = plan;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#store = options.store ?? createMemoryStateStore();
    this.#lock = options.lock ?? processLock(this.#clock);
    this.#digest = digest(spec);
    this.#pollMs = parseDuration(options.pollInterval ?? '2s', 'pollInterval');
    this.#syncMs = parseDuration(options.syncInterval ?? '5s', 'syncInterval');
    this.#lockTtlMs = parseDuration(options.lockTtl ?? '30s', 'lockTtl');
  }

  get state(): RolloutState | undefined {
    return this.#state;
  }

  on: Rollout['on'] = (event, fn, context) => {
    this.#emitter.on(event, fn, context);
    return this.#emitter;
  };
  once: Rollout['once'] = (event, fn, context) => {
    this.#emitter.once(event, fn, context);
    return this.#emitter;
  };
  off: Rollout['off'] = (event, fn, context) => {
    this.#emitter.off(event, fn, context);
    return this.#emitter;
  };

  plan(): Plan {
    return structuredClone(this.#plan);
  }

  async load(): Promise<RolloutState> {
    const stored = await this.#store.load(this.key);
    if (stored) {
      const finished = stored.state.phase === 'succeeded' || stored.state.phase === 'aborted';
      if (stored.state.specDigest !== this.#digest && finished) {
        // The last release ended (promoted, or rolled back to stable): this spec is the next release.
        // The stored revision is kept so the first save replaces that state compare-and-swap.
        this.#state = initialState(this.key, this.#digest, this.#clock.now());
        this.#revision = stored.revision;
        return this.#state;
      }
      if (stored.state.specDigest !== this.#digest) {
        throw new KanaryError(
          'INVALID_STATE',
          `the saved state of ${this.key.namespace}/${this.key.name} belongs to a different spec`,
          {
            details: { saved: stored.state.specDigest, given: this.#digest },
            issues: [
              {
                path: '',
                message: `the spec changed while a rollout was ${stored.state.phase}`,
                hint: 'resume with the original spec, or abort() the rollout (or retry() then abort() a failed one); a new spec starts once it has ended',
              },
            ],
          },
        );
      }
      this.#state = stored.state;
      this.#revision = stored.revision;
      return stored.state;
    }
    this.#state = initialState(this.key, this.#digest, this.#clock.now());
    this.#revision = undefined;
    return this.#state;
  }

  promote(): Promise<RolloutState> {
    return this.#control({ type: 'promote' });
  }
  promoteFull(): Promise<RolloutState> {
    return this.#control({ type: 'promoteFull' });
  }
  abort(reason = 'aborted by user'): Promise<RolloutState> {
    return this.#control({ type: 'abort', reason });
  }
  retry(): Promise<RolloutState> {
    return this.#control({ type: 'retry' });
  }
  pause(): Promise<RolloutState> {
    return this.#control({ type: 'pause' });
  }
  resume(): Promise<RolloutState> {
    return this.#control({ type: 'resume' });
  }
  skipStep(): Promise<RolloutState> {
    return this.#control({ type: 'skipStep' });
  }

  async #control(control: Control): Promise<RolloutState> {
    if (!this.#state) await this.load();
    this.#refuseIfNotAllowed(control);
    if (this.#running) {
      return new Promise<RolloutState>((resolve, reject) => {
        this.#queue.push({ control, resolve, reject });
        this.#wake?.abort();
        if (
          INTERRUPTING.has(control.type) &&
          this.#interrupt &&
          INTERRUPTIBLE.has(this.#interrupt.action.type)
        ) {
          this.#interrupt.controller.abort();
        }
      });
    }
    // Not driving here: write the control to the store; the driving process picks it up.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#dispatch({ type: 'control', at: this.#clock.now(), control }, { throwOnConflict: true });
        return this.#state as RolloutState;
      } catch (error) {
        if (!isKanaryError(error, 'CONFLICT') || attempt >= 5) throw error;
        await this.load();
        this.#refuseIfNotAllowed(control);
      }
    }
  }

  #refuseIfNotAllowed(control: Control): void {
    const why = checkControl(this.#plan, this.#state as RolloutState, control);
    if (why) {
      throw new KanaryError('INVALID_CONTROL', `${control.type}() refused: ${why}`, {
        details: { control: control.type, phase: this.#state?.phase },
      });
    }
  }

  async run(): Promise<RolloutState> {
    if (this.#running)
      throw new KanaryError('INVALID_STATE', 'run() is already driving this rollout in this process');
    this.#running = true;
    let lease: LockLease | undefined;
    const stopRenewal = new AbortController();
    let lockLost: unknown;
    try {
      lease = await this.#lock.acquire(this.key, {
        holder: this.#options.holder ?? `kanary-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
        ttlMs: this.#lockTtlMs,
        wait: this.#options.waitForLock ?? false,
      });
      const held = lease;
      void (async () => {
        let renewedAt = this.#clock.now();
        while (!stopRenewal.signal.aborted) {
          await this.#clock.sleep(this.#lockTtlMs / 3, stopRenewal.signal);
          if (stopRenewal.signal.aborted) return;
          try {
            await held.renew();
            renewedAt = this.#clock.now();
          } catch (error) {
            // Another holder: stop at once. A passing fault: keep trying until our lease would expire.
            const lost = isKanaryError(error, 'LOCKED') || this.#clock.now() - renewedAt >= this.#lockTtlMs;
            if (!lost) {
              this.#emitter.emit('warning', {
                message: `renewing the lock failed and will be retried: ${(error as Error).message}`,
              });
              continue;
            }
            lockLost = error;
            this.#wake?.abort();
            this.#interrupt?.controller.abort();
            return;
          }
        }
      })();
      // Tell hosts where this driver starts from (a resumed rollout may already wait for a human).
      this.#emitter.emit('state', await this.load());
      for (;;) {
        if (lockLost) throw toKanaryError(lockLost, 'LOCKED');
        await this.#drainControls();
        const state = this.#state as RolloutState;
        const decision = decide(this.#plan, state, this.#clock.now());
        if (decision.kind === 'stop') break;
        await this.#act(decision);
      }
      const final = this.#state as RolloutState;
      if (final.phase === 'succeeded' || final.phase === 'aborted' || final.phase === 'failed') {
        this.#emitter.emit('done', final);
      }
      return final;
    } finally {
      stopRenewal.abort();
      this.#running = false;
      // Controls that arrived as we stopped are applied without a driver.
      const pending = this.#queue.splice(0);
      for (const q of pending) this.#control(q.control).then(q.resolve, q.reject);
      await lease?.release().catch(() => undefined);
    }
  }

  async #drainControls(): Promise<void> {
    while (this.#queue.length > 0) {
      const q = this.#queue.shift() as QueuedControl;
      const why = checkControl(this.#plan, this.#state as RolloutState, q.control);
      if (why) {
        q.reject(new KanaryError('INVALID_CONTROL', `${q.control.type}() refused: ${why}`));
        continue;
      }
      await this.#dispatch({ type: 'control', at: this.#clock.now(), control: q.control });
      q.resolve(this.#state as RolloutState);
    }
  }

  async #act(decision: Exclude<Decision, { kind: 'stop' }>): Promise<void> {
    switch (decision.kind) {
      case 'event': {
        let event = decision.event;
        if (event.type === 'start') {
          const signal = new AbortController().signal;
          await this.#preflight(signal);
          const described = await this.#options.workload.describe(this.#context(signal));
          event = { ...event, stable: described.stable };
        }
        await this.#dispatch(event);
        return;
      }
      case 'hold':
        await this.#hold(decision.until);
        return;
      case 'run':
        await this.#execute(decision.action);
        return;
      case 'background': {
        const background = (this.#plan as Plan).background as NonNullable<Plan['background']>;
        const controller = new AbortController();
        const event = await this.#runAnalysis(
          { type: 'analysis', key: background.key, analysis: background.analysis },
          this.#context(controller.signal),
          'background',
        );
        if (event) await this.#dispatch(event);
        return;
      }
    }
  }

  /**
   * Before the first write: the workload driver's and router's own checks. Errors stop the run
   * with nothing written; warnings become events.
   */
  async #preflight(signal: AbortSignal): Promise<void> {
    if ((this.#state as RolloutState).startedAt !== undefined || (this.#state as RolloutState).seq > 0)
      return;
    const ctx = this.#context(signal);
    const issues = [
      ...((await this.#options.workload.validate?.(ctx)) ?? []),
      ...((await this.#options.router?.validate?.(ctx)) ?? []),
    ];
    const errors = issues.filter((i) => i.severity !== 'warning');
    for (const w of issues.filter((i) => i.severity === 'warning')) {
      this.#emitter.emit('warning', {
        message: `preflight: ${w.message}${w.hint ? ` (fix: ${w.hint})` : ''}`,
      });
    }
    if (errors.length > 0) {
      throw new KanaryError(
        'PREFLIGHT',
        `Preflight checks failed; nothing was changed:\n${formatIssues(errors)}`,
        { issues: errors },
      );
    }
  }

  /** Waits until `until`, a local control, or a sync tick that finds another process's control. */
  async #hold(until: number | undefined): Promise<void> {
    const wake = new AbortController();
    this.#wake = wake;
    const now = this.#clock.now();
    const wait = until === undefined ? this.#syncMs : Math.min(Math.max(0, until - now), this.#syncMs);
    await this.#clock.sleep(wait, wake.signal);
    this.#wake = undefined;
    if (wake.signal.aborted || (until !== undefined && this.#clock.now() >= until)) return;
    const stored = await this.#store.load(this.key).catch(() => undefined);
    if (stored && stored.revision !== this.#revision) {
      this.#state = stored.state;
      this.#revision = stored.revision;
      this.#emitChanges(undefined, stored.state);
    }
  }

  #context(signal: AbortSignal): PortContext {
    const state = this.#state as RolloutState;
    return { key: this.key, spec: this.spec, targets: state.targets, state, signal };
  }

  async #execute(action: PlanAction): Promise<void> {
    const controller = new AbortController();
    this.#interrupt = { controller, action };
    const state = this.#state as RolloutState;
    this.#emitter.emit('action', { action, status: 'started' });
    let outcome: PerformOutcome | undefined;
    let failure: unknown;
    try {
      outcome = await this.#perform(action, this.#context(controller.signal));
    } catch (error) {
      failure = error;
    } finally {
      this.#interrupt = undefined;
    }
    // Interrupted by a control (abort, skip): drop the result; the control decides what comes next.
    if (controller.signal.aborted && this.#queue.length > 0) return;
    // Only the port call is guarded above: a failing store must stop the driver, not abort the rollout.
    const event = this.#outcomeEvent(action, state, outcome, failure);
    if (event) await this.#dispatch(event);
  }

  #outcomeEvent(
    action: PlanAction,
    state: RolloutState,
    outcome: PerformOutcome | undefined,
    failure: unknown,
  ): EngineEvent | undefined {
    const now = this.#clock.now();
    const startedAt = state.action?.startedAt ?? now;
    if (failure === undefined && outcome) {
      if (outcome.kind === 'analysis') return outcome.event;
      if (outcome.kind === 'done') {
        this.#emitter.emit('action', { action, status: 'completed' });
        return { type: 'actionCompleted', at: now, ...(outcome.result ? { result: outcome.result } : {}) };
      }
      if (now - startedAt > this.spec.progressDeadline) {
        this.#emitter.emit('action', { action, status: 'failed', message: 'progress deadline exceeded' });
        return {
          type: 'actionFailed',
          at: now,
          cause: 'deadline',
          error: {
            code: 'PROGRESS_DEADLINE',
            message: `no progress within ${this.spec.progressDeadline}ms${outcome.message ? ` (${outcome.message})` : ''}`,
          },
        };
      }
      this.#emitter.emit('action', {
        action,
        status: 'waiting',
        ...(outcome.message ? { message: outcome.message } : {}),
      });
      return {
        type: 'actionWaiting',
        at: now,
        retryAt: now + this.#pollMs,
        ...(outcome.message ? { message: outcome.message } : {}),
      };
    }
    const error = toKanaryError(failure);
    const attempts = state.action?.attempts ?? 0;
    if (error.retryable && now - startedAt <= this.spec.progressDeadline) {
      // A transient fault (network, 429, 5xx, conflict): try again with backoff, within the deadline.
      if (error.details.progress === true) {
        this.#emitter.emit('action', { action, status: 'waiting', message: error.message });
      } else {
        this.#emitter.emit('warning', {
          message: `${action.type} failed and will be retried: ${error.message}`,
          error,
        });
      }
      // A port still making progress (pods moving) polls; a fault backs off exponentially.
      const backoff =
        error.details.progress === true
          ? this.#pollMs
          : Math.min(this.#pollMs * 2 ** Math.min(attempts, 5), 30_000);
      return { type: 'actionWaiting', at: now, retryAt: now + backoff, message: error.message };
    }
    this.#emitter.emit('action', { action, status: 'failed', message: error.message });
    return {
      type: 'actionFailed',
      at: now,
      cause: error.code === 'HOOK_REJECTED' ? 'hook' : 'error',
      error: { code: error.code, message: error.message },
    };
  }

  async #perform(action: PlanAction, ctx: PortContext): Promise<PerformOutcome> {
    const { workload, router } = this.#options;
    const needRouter = (): TrafficRouter => {
      if (!router) throw new KanaryError('INTERNAL', `${action.type} needs a router`);
      return router;
    };
    switch (action.type) {
      case 'hook':
        await this.#runHooks(action.hook, ctx);
        return { kind: 'done' };
      case 'workload.ensureCanary':
        return {
          kind: 'done',
          result: {
            canary: await workload.ensureCanary(
              ctx,
              action.replicas === undefined ? {} : { replicas: action.replicas },
            ),
          },
        };
      case 'workload.waitReady': {
        const r = await workload.readiness(ctx, action.side);
        if (!r.ready)
          return {
            kind: 'waiting',
            message: r.message ?? `${action.side} ${r.readyReplicas}/${r.desired} ready`,
          };
        // Ready: refresh what routers need to know (a new pod-template-hash, for one).
        const described = await workload.describe(ctx);
        return {
          kind: 'done',
          result: { stable: described.stable, ...(described.canary ? { canary: described.canary } : {}) },
        };
      }
      case 'workload.scale':
        await workload.scale(
          ctx,
          action.side,
          action.replicas !== undefined
            ? { replicas: action.replicas }
            : { percentOfStable: action.percentOfStable ?? 100 },
        );
        return { kind: 'done' };
      case 'workload.promote':
        await workload.promote(ctx);
        return { kind: 'done' };
      case 'workload.restoreStable':
        await workload.restoreStable(ctx);
        return { kind: 'done' };
      case 'workload.cleanup':
        await workload.cleanup(ctx);
        return { kind: 'done' };
      case 'workload.rollTo': {
        const p = await (workload.rollTo as NonNullable<WorkloadDriver['rollTo']>)(ctx, action.percent);
        return p.done
          ? { kind: 'done' }
          : { kind: 'waiting', message: p.message ?? `${p.updated}/${p.total} pods updated` };
      }
      case 'workload.undo':
        await (workload.undo as NonNullable<WorkloadDriver['undo']>)(ctx);
        return { kind: 'done' };
      case 'workload.isolate':
        await (workload.isolate as NonNullable<WorkloadDriver['isolate']>)(ctx);
        return { kind: 'done' };
      case 'workload.unisolate':
        await (workload.unisolate as NonNullable<WorkloadDriver['unisolate']>)(ctx);
        return { kind: 'done' };
      case 'router.prepare':
        await needRouter().prepare?.(ctx);
        return { kind: 'done' };
      case 'router.setWeight': {
        const status = await needRouter().setWeight(ctx, action.weight);
        this.#verifyWeight(status.canaryWeight, action.weight, status.verified);
        return { kind: 'done', result: { router: status } };
      }
      case 'router.setHeaderRoute':
        await needRouter().setHeaderRoute(ctx, action.route);
        return { kind: 'done' };
      case 'router.removeHeaderRoute':
        await needRouter().removeHeaderRoute(ctx, action.name);
        return { kind: 'done' };
      case 'router.setMirror':
        await needRouter().setMirror(ctx, action.mirror);
        return { kind: 'done' };
      case 'router.removeMirror':
        await needRouter().removeMirror(ctx, action.name);
        return { kind: 'done' };
      case 'router.reset': {
        const status = await needRouter().reset(ctx);
        this.#verifyWeight(status.canaryWeight, 0, status.verified);
        return { kind: 'done', result: { router: status } };
      }
      case 'router.finalize': {
        const status = await needRouter().finalize(ctx);
        return { kind: 'done', result: { router: status } };
      }
      case 'analysis':
        return { kind: 'analysis', event: await this.#runAnalysis(action, ctx) };
      case 'pause':
      case 'delay':
        throw new KanaryError('INTERNAL', `${action.type} is decided by the clock, not executed`);
    }
  }

  #verifyWeight(actual: number, requested: number, verified: boolean): void {
    if (verified && Math.abs(actual - requested) > 1e-9) {
      throw new KanaryError(
        'ROUTER',
        `router reads back canary weight ${actual} after setting ${requested}`,
        {
          retryable: true,
        },
      );
    }
  }

  async #runAnalysis(
    action: Extract<PlanAction, { type: 'analysis' }>,
    ctx: PortContext,
    slot: 'analysis' | 'background' = 'analysis',
  ): Promise<EngineEvent | undefined> {
    const gate = this.#options.gate as MetricGate;
    const state = this.#state as RolloutState;
    const run = slot === 'background' ? state.background : state.analysis;
    const previous = run?.key === action.key ? run : undefined;
    const startedAt =
      previous?.startedAt ?? (slot === 'analysis' ? state.action?.startedAt : undefined) ?? this.#clock.now();
    const result = await gate.evaluate({
      key: action.key,
      analysis: action.analysis,
      state: previous?.gateState,
      startedAt,
      now: this.#clock.now(),
      ctx,
    });
    if (ctx.signal.aborted && this.#queue.length > 0) return undefined;
    for (const measurement of result.measurements) {
      this.#emitter.emit('measurement', { key: action.key, measurement });
    }
    this.#emitter.emit('analysis', {
      key: action.key,
      phase: result.phase,
      measurements: result.measurements,
      ...(result.message ? { message: result.message } : {}),
    });
    const measurements = [...(previous?.measurements ?? []), ...result.measurements].slice(-20);
    return {
      type: slot === 'background' ? 'backgroundUpdated' : 'analysisUpdated',
      at: this.#clock.now(),
      run: {
        key: action.key,
        startedAt,
        gateState: result.state,
        phase: result.phase,
        measurements,
        ...(result.nextEvaluationAt !== undefined ? { nextAt: result.nextEvaluationAt } : {}),
        ...(result.message ? { message: result.message } : {}),
      },
    };
  }

  async #runHooks(hook: HookName, ctx: PortContext): Promise<void> {
    const state = this.#state as RolloutState;
    const stepIndex = state.cursor.section === 'steps' ? state.cursor.step : undefined;
    const nextAction =
      stepIndex === undefined
        ? undefined
        : this.#plan.steps[stepIndex]?.actions.find(
            (a) => a.type === 'router.setWeight' || a.type === 'workload.rollTo',
          );
    const nextWeight =
      nextAction?.type === 'router.setWeight'
        ? nextAction.weight
        : nextAction?.type === 'workload.rollTo'
          ? nextAction.percent
          : undefined;
    const hookCtx = {
      ...ctx,
      hook,
      ...(stepIndex !== undefined ? { stepIndex } : {}),
      ...(nextWeight !== undefined && hook === 'confirm-traffic-increase' ? { nextWeight } : {}),
    };
    const gating = GATING_HOOKS.has(hook);
    const handlers = this.#options.hooks?.[hook];
    const fns: Array<{ name: string; fn: HookFn }> = (
      Array.isArray(handlers) ? handlers : handlers ? [handlers] : []
    ).map((fn, i) => ({ name: fn.name || `${hook}#${i}`, fn }));
    for (const webhook of this.spec.hooks.filter((h) => h.on === hook)) {
      fns.push({
        name: webhook.name ?? webhook.url,
        fn: (c) => callWebhook(webhook, c, this.#options.fetch ?? fetch),
      });
    }
    for (const { name, fn } of fns) {
      try {
        await fn(hookCtx);
        this.#emitter.emit('hook', { hook, name, outcome: 'passed' });
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        const message = (error as Error)?.message ?? String(error);
        this.#emitter.emit('hook', { hook, name, outcome: gating ? 'rejected' : 'error', message });
        if (gating) {
          throw new KanaryError('HOOK_REJECTED', `${hook} hook ${name} rejected: ${message}`, {
            cause: error,
          });
        }
      }
    }
  }

  async #dispatch(event: EngineEvent, options: { throwOnConflict?: boolean } = {}): Promise<void> {
    const prev = this.#state as RolloutState;
    const next = reduce(prev, event, { plan: this.#plan, spec: this.spec });
    try {
      this.#revision = await this.#saveWithRetries(next);
    } catch (error) {
      if (!isKanaryError(error, 'CONFLICT') || options.throwOnConflict) throw error;
      // Another process wrote a control: adopt its state and decide again from there.
      this.#emitter.emit('warning', { message: 'state changed in the store; reloading', error });
      const before = this.#state;
      await this.load();
      this.#emitChanges(before, this.#state as RolloutState);
      return;
    }
    this.#state = next;
    this.#emitChanges(prev, next);
  }

  /**
   * Saves, retrying transient store faults for a while: giving up stops the driver (the next one
   * resumes from the last saved state), so it should only happen when the cluster is really gone.
   */
  async #saveWithRetries(next: RolloutState): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#store.save(this.key, next, this.#revision);
      } catch (error) {
        const transient = isKanaryError(error) && error.retryable && error.code !== 'CONFLICT';
        if (!transient || attempt >= 8) throw error;
        this.#emitter.emit('warning', {
          message: `saving state failed and will be retried: ${(error as Error).message}`,
        });
        await this.#clock.sleep(Math.min(250 * 2 ** attempt, 15_000));
      }
    }
  }

  #emitChanges(prev: RolloutState | undefined, next: RolloutState): void {
    const e = this.#emitter;
    e.emit('state', next);
    // The weight first: it is the effect of the action that just completed, before the next step begins.
    const w = next.weights;
    if (
      !prev ||
      prev.weights.canary !== w.canary ||
      prev.weights.verified !== w.verified ||
      prev.weights.effective !== w.effective
    ) {
      e.emit('weight', {
        canary: w.canary,
        stable: 100 - w.canary,
        verified: w.verified,
        ...(w.effective !== undefined ? { effective: w.effective } : {}),
        state: next,
      });
    }
    if (prev?.phase !== next.phase)
      e.emit('phase', { from: prev?.phase ?? 'pending', to: next.phase, state: next });
    if (
      next.cursor.section === 'steps' &&
      (prev?.cursor.section !== 'steps' || prev.cursor.step !== next.cursor.step)
    ) {
      const step = this.#plan.steps[next.cursor.step];
      if (step) e.emit('step', { index: step.index, step, state: next });
    }
    if (next.abort && next.abort !== prev?.abort)
      e.emit('abort', { reason: next.abort.reason, cause: next.abort.cause, state: next });
  }
}

/** Locks shared by every rollout of this process that was given no lock of its own. */
const processLocks = new WeakMap<Clock, Lock>();
function processLock(clock: Clock): Lock {
  let lock = processLocks.get(clock);
  if (!lock) {
    lock = createMemoryLock({ clock });
    processLocks.set(clock, lock);
  }
  return lock;
}
