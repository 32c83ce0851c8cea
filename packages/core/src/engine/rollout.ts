import { EventEmitter } from 'eventemitter3';
import {
  formatIssues,
  isKanaryError,
  KanaryError,
  type KanaryIssue,
  toKanaryError,
} from '../errors/kanary-error.ts';
import { type FencedObject, runFenced, type WriteFence } from '../leadership/fence.ts';
import { createMemoryLock } from '../memory/lock.ts';
import { createMemoryStateStore } from '../memory/store.ts';
import { actionsAt, analysesOf, type Plan, type PlanAction, type Section } from '../plan/actions.ts';
import { planWarnings } from '../plan/warnings.ts';
import { type Clock, shiftedClock, systemClock } from '../ports/clock.ts';
import type { PortContext } from '../ports/context.ts';
import type { MetricGate } from '../ports/gate.ts';
import type { HookFn, HookHandlers } from '../ports/hooks.ts';
import type { LeaseView, Lock, LockLease } from '../ports/lock.ts';
import { type Permission, withWatches } from '../ports/permissions.ts';
import type { RolloutKey, Side, WorkloadRef } from '../ports/refs.ts';
import type { RouterStatus, TrafficRouter } from '../ports/router.ts';
import type { StateStore } from '../ports/store.ts';
import type { RolloutWiring } from '../ports/wiring.ts';
import type { ChangeFeed, WorkloadDriver } from '../ports/workload.ts';
import { createRetryPolicy } from '../retry/policy.ts';
import { routeByUser, unwrapByUser } from '../routers/by-user.ts';
import { type WebhookPolicy, webhookAddressProblem } from '../security/addresses.ts';
import { redactUrl } from '../security/redact.ts';
import { type DurationInput, formatDuration, parseDuration } from '../spec/duration.ts';
import { GATING_HOOKS, HOOK_NAMES, type HookName } from '../spec/hooks.ts';
import { parseRolloutSpec } from '../spec/parse.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import { strategies } from '../strategies/index.ts';
import { checkCapabilities } from './capabilities.ts';
import { type Control, checkControl } from './controls.ts';
import { type Decision, decide } from './decide.ts';
import { digest } from './digest.ts';
import type { RolloutEvents } from './events.ts';
import { type ActionResult, currentAction, type EngineEvent, reduce } from './reducer.ts';
import { initialState, isEnded, isRetiring, isStopped, type RolloutState } from './state.ts';
import { corruptState, stateProblems } from './state-check.ts';
import type { TransitionRecorder } from './transitions.ts';
import { callWebhook } from './webhook.ts';
import { describeAsNow, receivers, watchRetirement, watchWorld } from './world.ts';

export interface CreateRolloutOptions {
  /** A spec object as users write it (validated here) or one from `parseRolloutSpec`. */
  spec: unknown;
  /** Kubernetes access the other parts need (state store, lock, events), for `permissions()`. */
  permissions?: Permission[];
  /**
   * Resources the parts' Kubernetes client reads from watches: their reads then need `list` and
   * `watch` beside `get` (`KubeClient.watched`).
   */
  watched?: ReadonlyArray<{ apiGroup: string; resource: string }>;
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
  /**
   * How often to re-check readiness and other probes (default 2s). A held rollout whose workload
   * driver tells of changes (`WorkloadDriver.watch`: the Kubernetes one, with the client's watches)
   * looks at the world when something changed, at most once per poll, and otherwise every 30 s.
   */
  pollInterval?: string | number;
  /**
   * How often a held rollout re-reads the store for controls sent by other processes (default: the
   * poll interval, so an abort from elsewhere moves users within one poll). A store that watches
   * (`StateStore.watching`) tells of controls at once, and is re-read every 30 s as a safety net.
   */
  syncInterval?: string | number;
  lockTtl?: string | number;
  fetch?: typeof fetch;
  /**
   * Which addresses the spec's webhooks may call. By default any but link-local and cloud
   * metadata addresses; with `allowHosts`, only those hosts. A spec naming another address is
   * refused here (INVALID_SPEC naming `hooks[i].url`). See SECURITY.md for the trust model.
   */
  webhooks?: WebhookPolicy;
  /**
   * Removes the rollout's epoch stamp (its fencing token) from an object once the release has
   * ended, so objects are left as they were. `createKubernetesRollout` wires the cluster's.
   */
  unfence?: (ref: FencedObject, rollout: string) => Promise<void>;
  /**
   * Told of each state change this process saves (see `Transition`); `createKubernetesRollout`
   * wires one that writes Kubernetes Events on the target Deployment.
   */
  record?: TransitionRecorder;
}

/** How a control behaves when this process is not the rollout's driver. */
export interface ControlOptions {
  /**
   * Wait until the control has taken effect (default true for `abort()` and `retry()`): when a
   * live driver holds the rollout it acts on the control; when none does (its lease was released
   * or stayed unrenewed for its whole duration), this process takes the lease and carries the
   * control out itself. `false` only records the control.
   */
  wait?: boolean;
  /** Give up waiting after this long (TIMEOUT; the control stays recorded). Default: no limit. */
  timeout?: DurationInput;
  /**
   * `abort()` only: do not trust the saved state (missing, unreadable, inconsistent). Takes the
   * lease, sends all traffic to stable from the routing objects' own snapshots, removes the
   * canary, and writes a fresh state that says aborted.
   */
  force?: boolean;
  /** `abort()` only: who asked — a person (default), or the release group whose other member aborted. */
  cause?: 'user' | 'group';
}

export interface Rollout {
  readonly key: RolloutKey;
  readonly spec: RolloutSpec;
  /** The state as last loaded or written; undefined before `load()` or `run()`. */
  readonly state: RolloutState | undefined;
  /** The dry-run: every action the rollout will take, in order. Touches nothing. */
  plan(): Plan;
  /**
   * The Kubernetes API access this rollout needs, from each of its parts (state, lease, events,
   * workload driver, router): `rolesFor(rollout.permissions(), …)` makes the least-privilege Role.
   */
  permissions(): Permission[];
  /** Loads the saved state (or a fresh one) without driving. */
  load(): Promise<RolloutState>;
  /** Drives the rollout until it succeeds, aborts or fails; resumes saved state. */
  run(): Promise<RolloutState>;
  promote(): Promise<RolloutState>;
  /**
   * Skips the remaining steps and analyses and promotes. On an aborted rollout (as in Argo
   * Rollouts) the release starts again straight to promotion, carried out like `retry()`.
   */
  promoteFull(options?: ControlOptions): Promise<RolloutState>;
  /**
   * Rolls back to stable. Resolves once traffic is back on stable (by this process, or by the live
   * driver it handed the abort to); see `ControlOptions`.
   */
  abort(reason?: string, options?: ControlOptions): Promise<RolloutState>;
  /** Continues an aborted or failed rollout, carried out like `abort()`. */
  retry(options?: ControlOptions): Promise<RolloutState>;
  /**
   * After a release succeeded: releases the previous revision again (the target's pod template as it
   * was before that release, as `kubectl rollout undo` does) through the same safe path — canary,
   * steps, analyses — or, with `full`, straight to promotion once the canary is ready (Argo's
   * rollback window). Drives it here like `run()` and resolves when it ends.
   */
  undo(options?: { full?: boolean }): Promise<RolloutState>;
  pause(): Promise<RolloutState>;
  resume(): Promise<RolloutState>;
  skipStep(): Promise<RolloutState>;
  /**
   * Stops driving here: interrupts the action in flight (never a failure, never a rollback),
   * releases the lease so a successor can take over at once, and resolves when `run()` has
   * returned. The rollout itself goes on from its saved state under the next driver.
   */
  close(): Promise<void>;
  /** The rollout's lease as it is now (who holds it, if anyone); undefined when the lock cannot tell. */
  inspectLease(): Promise<LeaseView | undefined>;
  on: EventEmitter<RolloutEvents>['on'];
  once: EventEmitter<RolloutEvents>['once'];
  off: EventEmitter<RolloutEvents>['off'];
}

/**
 * Internal: a release superseded by a new one retires its old version at once instead of waiting
 * out the scale-down delay (the new release is about to replace it anyway).
 */
const RETIRE_NOW = Symbol('kanary.retireNow');
type DriverOptions = CreateRolloutOptions & { [RETIRE_NOW]?: boolean };

type PerformOutcome =
  | { kind: 'done'; result?: ActionResult }
  | { kind: 'waiting'; message?: string; retryInMs?: number }
  | { kind: 'analysis'; event: EngineEvent | undefined };

interface QueuedControl {
  control: Control;
  resolve: (state: RolloutState) => void;
  reject: (error: unknown) => void;
}

/** Events a rollout passes on from a driver it made (carrying a control out, an undo). */
const RELAYED = [
  'state',
  'weight',
  'phase',
  'step',
  'abort',
  'warning',
  'leadership',
  'action',
  'hook',
  'analysis',
  'held',
] as const;

/** How soon a failed rolling step is tried again: a burst it started rolls on until it pauses it. */
const ROLLING_RETRY_MS = 500;
/** A wait's progress is saved at most this often (see #unsaved). */
const WAIT_SAVE_MS = 30_000;
/**
 * While changes are told (a workload feed, a store that watches), a held rollout looks and
 * re-reads only this often as a safety net, for a watch that missed something.
 */
const RESYNC_MS = 30_000;

/** Controls that cut short a wait or an in-flight hook, analysis or probe. */
const INTERRUPTING: ReadonlySet<Control['type']> = new Set(['abort', 'promoteFull', 'skipStep', 'promote']);
const INTERRUPTIBLE: ReadonlySet<PlanAction['type']> = new Set([
  'hook',
  'analysis',
  'workload.waitReady',
  'workload.rollTo',
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
  let plan = strategies[spec.strategy.type].plan(spec, { hooks });
  if (spec.analysis) {
    const { startingStep, noData, ...analysis } = spec.analysis;
    plan = {
      ...plan,
      background: { key: 'background', analysis, startingStep, ...(noData ? { noData } : {}) },
    };
  }
  const warnings = planWarnings(spec, plan);
  return warnings.length > 0 ? { ...plan, warnings } : plan;
}

function validateAnalyses(plan: Plan, gate: MetricGate | undefined): KanaryIssue[] {
  return analysesOf(plan).flatMap(({ path, analysis }) =>
    gate
      ? (gate.validate?.(analysis, path) ?? [])
      : [
          {
            path,
            message: 'needs a metric gate, and none was given',
            hint: 'pass gate: createMetricGate(...)',
            remedy: 'metricGate' as const,
          },
        ],
  );
}

/**
 * Creates a rollout: validates the spec, compiles its plan and checks the router can carry it
 * out — all before anything is written. Throws `INVALID_SPEC` or `UNSUPPORTED_CAPABILITY`.
 */
export function createRollout(options: CreateRolloutOptions): Rollout {
  return createDriver(options);
}

function createDriver(options: DriverOptions): RolloutDriver {
  const spec = parseRolloutSpec(options.spec);
  const hookNames = hookNamesOf(spec, options.hooks);
  const plan = compilePlan(spec, hookNames);
  const given = options.router && unwrapByUser(options.router);
  const capabilityIssues = checkCapabilities(plan, given, options.workload);
  if (capabilityIssues.length > 0) {
    throw new KanaryError(
      'UNSUPPORTED_CAPABILITY',
      `This rollout cannot run with the given router and workload:\n${formatIssues(capabilityIssues)}`,
      { issues: capabilityIssues },
    );
  }
  const hookIssues = spec.hooks.flatMap((hook, i) => {
    const problem = webhookAddressProblem(hook.url, options.webhooks);
    return problem
      ? [
          {
            path: `hooks[${i}].url`,
            message: `${redactUrl(hook.url)} ${problem}`,
            hint: 'point the hook at an allowed host, or have the program allow it (createRollout({ webhooks }))',
            remedy: 'webhookHost' as const,
          },
        ]
      : [];
  });
  if (hookIssues.length > 0)
    throw new KanaryError(
      'INVALID_SPEC',
      `The rollout's webhooks are refused:\n${formatIssues(hookIssues)}`,
      {
        issues: hookIssues,
      },
    );
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
  // A weight by user is carried by the given router's header routes (routers/by-user.ts).
  const hashOn = spec.strategy.type === 'weighted' ? spec.strategy.hashOn : undefined;
  const router = hashOn && given ? routeByUser(given, hashOn) : given;
  return new RolloutDriver(spec, plan, router === options.router ? options : { ...options, router });
}

class RolloutDriver implements Rollout {
  readonly key: RolloutKey;
  readonly spec: RolloutSpec;
  #plan: Plan;
  /** The hooks the plan was compiled with: the driver's, which every process must share. */
  #hookNames: Set<HookName>;
  readonly #options: DriverOptions;
  readonly #emitter = new EventEmitter<RolloutEvents>();
  /** The rollout's timeline: this host's clock corrected to the lease storage's (see "One timeline"). */
  readonly #clock: Clock;
  /** This host's own clock, for the lease. */
  readonly #hostClock: Clock;
  readonly #store: StateStore;
  readonly #lock: Lock;
  readonly #digest: string;
  readonly #pollMs: number;
  /** A look during the scale-down delay, without the lease, found green down: look again first. */
  #lookFirst = false;
  #watchedAt = Number.NEGATIVE_INFINITY;
  /** The workload's changes, told while holds look at the world (see #hold); opened by the first. */
  #feed: ChangeFeed | undefined;
  /** Something may have moved since the last look began: a change told, or this rollout's own step. */
  #dirty = true;
  /** When the current hold means to wake, if one is sleeping and looks at the world. */
  #holdEndsAt = Number.NEGATIVE_INFINITY;
  #lastWorldWarning: string | undefined;
  readonly #syncMs: number;
  readonly #lockTtlMs: number;
  #state: RolloutState | undefined;
  #revision: string | undefined;
  #running = false;
  #queue: QueuedControl[] = [];
  #wake: AbortController | undefined;
  #interrupt: { controller: AbortController; action: PlanAction | undefined } | undefined;
  #lease: LockLease | undefined;
  #shutdown = new AbortController();
  #runDone: Promise<unknown> | undefined;
  /** A write found a newer driver's epoch: this term is over. */
  #fencedOut = false;
  /** The action whose wait was last saved, and when (see #unsaved). */
  #waitSaved: { key: string; at: number } | undefined;
  /** Objects stamped since the last save, recorded in the next one. */
  #stamped = new Map<string, FencedObject>();
  readonly #holder: string;
  #wiring: RolloutWiring;
  #wiringJson: string;

  constructor(spec: RolloutSpec, plan: Plan, options: DriverOptions) {
    this.spec = spec;
    this.key = { namespace: spec.namespace, name: spec.name };
    this.#plan = plan;
    this.#hookNames = hookNamesOf(spec, options.hooks);
    this.#options = options;
    this.#hostClock = options.clock ?? systemClock;
    this.#clock = shiftedClock(this.#hostClock, () => this.#lease?.clockOffsetMs() ?? 0);
    this.#store = options.store ?? createMemoryStateStore();
    this.#lock = options.lock ?? processLock(this.#hostClock);
    this.#holder = options.holder ?? `kanary-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.#wiring = wiringOf(options);
    this.#wiringJson = JSON.stringify(this.#wiring);
    this.#digest = digest(spec);
    this.#pollMs = parseDuration(options.pollInterval ?? '2s', 'pollInterval');
    // Another process's control (an abort) is seen within a poll by default: no slower than the world.
    this.#syncMs = parseDuration(options.syncInterval ?? options.pollInterval ?? '2s', 'syncInterval');
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

  permissions(): Permission[] {
    const { workload, router, permissions, watched } = this.#options;
    return withWatches(
      [
        ...(permissions ?? []),
        ...(workload.permissions?.(this.spec, this.#plan) ?? []),
        ...(router?.permissions?.(this.spec) ?? []),
      ],
      watched ?? [],
    );
  }

  async load(): Promise<RolloutState> {
    const stored = await this.#store.load(this.key);
    if (stored) {
      const where = `the state of ${this.key.namespace}/${this.key.name}`;
      const shape = stateProblems(stored.state, this.key, undefined);
      if (shape.length > 0) throw corruptState(this.key, where, shape, { revision: stored.revision });
      const finished = isEnded(stored.state) && !isRetiring(stored.state);
      if (stored.state.specDigest !== this.#digest && isRetiring(stored.state)) {
        const due = stored.state.action?.until;
        throw new KanaryError(
          'INVALID_STATE',
          `the last release of ${this.key.namespace}/${this.key.name} ${stored.state.phase}, and its old version is still to be scaled down${
            due === undefined ? '' : ` (due ${new Date(due).toISOString()})`
          }: run() this spec to scale it down now and start`,
          { details: { saved: stored.state.specDigest, given: this.#digest } },
        );
      }
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
                remedy: 'sameSpec',
              },
            ],
          },
        );
      }
      this.#followDriversPlan(stored.state);
      const inconsistent = stateProblems(stored.state, this.key, this.#plan);
      if (inconsistent.length > 0)
        throw corruptState(this.key, where, inconsistent, { revision: stored.revision });
      this.#state = stored.state;
      this.#revision = stored.revision;
      return stored.state;
    }
    this.#state = initialState(this.key, this.#digest, this.#clock.now());
    this.#revision = undefined;
    return this.#state;
  }

  /** What another driver made here does is told to this rollout's listeners, as its own. */
  #relay(other: RolloutDriver): void {
    for (const event of RELAYED)
      other.on(event, (...args: unknown[]) =>
        (this.#emitter.emit as (...a: unknown[]) => void)(event, ...args),
      );
  }

  /**
   * The cursor indexes the plan of the process that started the release, which has hook actions for
   * the hook functions it was given. A process with other hook functions (the CLI, the agent, a
   * group member's controller) would read the same cursor as a different action — a promotion's
   * index could skip updating the stable. So it compiles the driver's plan, from the hooks its saved
   * wiring names; hooks it has no function for run as no-ops here (they exist only in that host).
   */
  #followDriversPlan(state: RolloutState): void {
    if (!state.wiring) return;
    const saved = new Set<HookName>(this.spec.hooks.map((h) => h.on));
    for (const part of state.wiring.code) if (part.startsWith('hook ')) saved.add(part.slice(5) as HookName);
    const same = saved.size === this.#hookNames.size && [...saved].every((h) => this.#hookNames.has(h));
    if (same) return;
    this.#plan = compilePlan(this.spec, saved);
    this.#hookNames = saved;
    // Saved again as that plan's: the next process must compile the same one.
    const code = [
      ...this.#wiring.code.filter((c) => !c.startsWith('hook ')),
      ...[...saved].filter((h) => !this.spec.hooks.some((w) => w.on === h)).map((h) => `hook ${h}`),
    ];
    this.#wiring = { ...this.#wiring, code };
    this.#wiringJson = JSON.stringify(this.#wiring);
  }

  promote(): Promise<RolloutState> {
    return this.#control({ type: 'promote' });
  }
  async promoteFull(options: ControlOptions = {}): Promise<RolloutState> {
    // An aborted rollout has no driver left: promoting it fully is carried out like retry().
    const aborted = !this.#running && (await this.load()).phase === 'aborted';
    return this.#control({ type: 'promoteFull' }, aborted ? { wait: true, ...options } : {});
  }
  async abort(reason = 'aborted by user', options: ControlOptions = {}): Promise<RolloutState> {
    if (options.force) return this.#forceAbort(reason);
    // No saved state at all (never started, or its ConfigMap was deleted): the routing objects'
    // own snapshots are the only truth, so the abort restores from them (a no-op if nothing changed).
    if (!this.#running && (await this.#store.load(this.key)) === undefined) return this.#forceAbort(reason);
    return this.#control(
      { type: 'abort', reason, ...(options.cause ? { cause: options.cause } : {}) },
      { wait: true, ...options },
    );
  }

  /** Abort without trusting any saved state: from the routing objects' snapshots (see ControlOptions.force). */
  async #forceAbort(reason: string): Promise<RolloutState> {
    if (this.#running)
      throw new KanaryError('INVALID_STATE', 'abort({ force }) while run() drives here; use abort()');
    let revision: string | undefined;
    try {
      revision = (await this.#store.load(this.key))?.revision;
    } catch (error) {
      if (!isKanaryError(error, 'STATE_CORRUPT')) throw error;
      revision = error.details.revision as string | undefined;
    }
    this.#running = true;
    const lease = await this.#lock.acquire(this.key, {
      holder: this.#holder,
      ttlMs: this.#lockTtlMs,
      wait: true,
      signal: this.#shutdown.signal,
    });
    this.#lease = lease;
    try {
      const now = this.#clock.now();
      this.#state = initialState(this.key, this.#digest, now);
      const { workload, router } = this.#options;
      const done = await this.#guard(undefined, async (signal) => {
        const ctx = this.#context(signal);
        const described = await workload.describe(ctx).catch(() => undefined);
        const state = { ...(this.#state as RolloutState), targets: described ?? {} };
        this.#state = state;
        const known = this.#context(signal);
        if (router) await router.reset(known);
        // The canary's pods leave the Endpoints some time after the delete: the routing is handed
        // back once they have (a few polls; past the progress deadline the error says what is left).
        for (const deadline = this.#clock.now() + this.spec.progressDeadline; ; ) {
          try {
            await workload.cleanup(known);
            break;
          } catch (error) {
            if (!isKanaryError(error) || !error.retryable || this.#clock.now() >= deadline || signal.aborted)
              throw error;
            await this.#clock.sleep(this.#pollMs, signal);
          }
        }
        if (router) await router.finalize(known);
      });
      if (done.kind === 'failed') throw done.error;
      if (done.kind === 'interrupted')
        throw new KanaryError(
          'LEADERSHIP_LOST',
          `forced abort of ${this.key.name} was interrupted (${done.reason})`,
        );
      // The release is over: its epoch stamps go, as at any end.
      const unfence = this.#options.unfence;
      if (unfence) for (const ref of this.#stamped.values()) await unfence(ref, this.key.name);
      this.#stamped.clear();
      const at = this.#clock.now();
      const base = this.#state as RolloutState;
      const aborted: RolloutState = {
        ...base,
        phase: 'aborted',
        cursor: { section: 'done', step: 0, action: 0 },
        outcome: 'rolledBack',
        abort: { reason, cause: 'user', at, from: base.cursor },
        driver: { holder: this.#holder, epoch: lease.epoch, since: at },
        startedAt: at,
        finishedAt: at,
        updatedAt: at,
        seq: 1,
        history: [
          {
            at,
            seq: 1,
            event: 'abort',
            detail: `user (forced, from the routing objects' snapshots): ${reason}`,
          },
        ],
      };
      this.#revision = revision;
      this.#revision = await this.#saveWithRetries(aborted);
      const before = this.#state;
      this.#state = aborted;
      this.#recordTransition(before, aborted);
      this.#emitChanges(undefined, aborted);
      return aborted;
    } finally {
      await lease.release();
      this.#lease = undefined;
      this.#running = false;
    }
  }
  retry(options: ControlOptions = {}): Promise<RolloutState> {
    return this.#control({ type: 'retry' }, { wait: true, ...options });
  }
  async undo(options: { full?: boolean } = {}): Promise<RolloutState> {
    const stored = await this.#store.load(this.key);
    const state = stored?.state;
    const previous = state?.targets.stable?.original?.template as Record<string, unknown> | undefined;
    if (state?.phase !== 'succeeded' || !previous) {
      throw new KanaryError(
        'INVALID_CONTROL',
        `undo() refused: it goes back from a release that succeeded, and ${this.key.namespace}/${this.key.name} ${
          !state
            ? 'has no release'
            : state.phase !== 'succeeded'
              ? `is ${state.phase}`
              : 'has no record of the revision before it (its workload driver keeps no templates)'
        }${state?.phase === 'aborted' ? ' (an aborted release is already back on the previous version)' : ''}`,
      );
    }
    const saved = (state.wiring?.spec ?? this.#options.spec) as Record<string, unknown>;
    const spec = {
      ...saved,
      update: { template: previous, templateMode: 'replace' },
    };
    const back = createDriver({ ...this.#options, spec, holder: this.#holder });
    this.#relay(back);
    this.#shutdown.signal.addEventListener('abort', () => void back.close(), { once: true });
    if (options.full) {
      // Straight to promotion once the canary is ready, as promoteFull() does from the first step.
      let sent = false;
      back.on('state', (s) => {
        if (sent || s.cursor.section !== 'steps') return;
        sent = true;
        queueMicrotask(() => void back.promoteFull().catch(() => undefined));
      });
    }
    return back.run();
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

  async inspectLease(): Promise<LeaseView | undefined> {
    return this.#lock.inspect?.(this.key);
  }

  async close(): Promise<void> {
    this.#shutdown.abort();
    this.#wake?.abort();
    this.#interrupt?.controller.abort();
    await this.#runDone?.catch(() => undefined);
  }

  async #control(control: Control, options: ControlOptions = {}): Promise<RolloutState> {
    if (!this.#state) await this.load();
    // Aborting already (or aborted, its canary still to be removed), perhaps with nobody driving
    // any more: see it through rather than refuse.
    if (control.type === 'abort' && !this.#running && options.wait) {
      const now = await this.load();
      if (now.phase === 'aborting' || (now.phase === 'aborted' && isRetiring(now)))
        return this.#carryOut(control, options);
    }
    this.#refuseIfNotAllowed(control);
    if (this.#running) {
      return new Promise<RolloutState>((resolve, reject) => {
        this.#queue.push({ control, resolve, reject });
        this.#wake?.abort();
        if (
          INTERRUPTING.has(control.type) &&
          this.#interrupt &&
          (this.#interrupt.action === undefined || INTERRUPTIBLE.has(this.#interrupt.action.type))
        ) {
          this.#interrupt.controller.abort();
        }
      });
    }
    // Not driving here: write the control to the store, where the driver (if any) picks it up.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#dispatch({ type: 'control', at: this.#clock.now(), control }, { throwOnConflict: true });
        break;
      } catch (error) {
        if (!isKanaryError(error, 'CONFLICT') || attempt >= 5) throw error;
        await this.load();
        this.#refuseIfNotAllowed(control);
      }
    }
    if (!options.wait) return this.#state as RolloutState;
    return this.#carryOut(control, options);
  }

  /**
   * After recording a control: wait for the live driver to act on it, or — when there is none —
   * take the lease and drive until it has taken effect. Never claims that someone acts when
   * nobody does: it returns only once the state shows the effect.
   */
  async #carryOut(control: Control, options: ControlOptions): Promise<RolloutState> {
    const recordedSeq = (this.#state as RolloutState).seq;
    const trafficOnStable = (s: RolloutState) =>
      isStopped(s) || (s.phase === 'aborting' && s.weights.canary === 0 && s.weights.verified);
    // Driving it here: to the end of the section (an abort until the canary is gone), a retry to the end.
    const enough = (s: RolloutState) => isStopped(s) && !isRetiring(s);
    // Watching the store: the live driver has put traffic on stable, or (retry) moved the rollout on.
    // (A live driver shows itself by moving the state on after the control was recorded.)
    const seen = (s: RolloutState) =>
      enough(s) ||
      (s.seq > recordedSeq &&
        s.driver?.holder !== this.#holder &&
        (control.type !== 'abort' || trafficOnStable(s)));
    const deadline =
      options.timeout === undefined
        ? undefined
        : this.#hostClock.now() + parseDuration(options.timeout, 'timeout');
    const stopWatching = new AbortController();
    let drivingHere = false;
    const driving = (async () => {
      // Drives when the lease is (or becomes) free: a live holder is waited for until it expires.
      const self = new RolloutDriver(this.spec, this.#plan, {
        ...this.#options,
        holder: this.#holder,
        waitForLock: true,
      });
      self.#shutdownOn(stopWatching.signal);
      // Closing this rollout (Ctrl-C on `kanary abort`) stops the carry-out too, releasing its lease.
      self.#shutdownOn(this.#shutdown.signal);
      // Driving here only while holding the lease: through a retirement's delay it is let go, and
      // a live driver's state counts again.
      self.on('leadership', (e) => {
        drivingHere = e.status === 'acquired';
      });
      this.#relay(self);
      return self.#runUntil(enough);
    })();
    driving.catch(() => undefined);
    try {
      for (;;) {
        if (this.#shutdown.signal.aborted)
          return (await driving.catch(() => undefined)) ?? (this.#state as RolloutState);
        const stored = await this.#store.load(this.key).catch(() => undefined);
        if (stored) {
          this.#state = stored.state;
          this.#revision = stored.revision;
          // Once this process drives, it carries the control to the end itself.
          if (!drivingHere && seen(stored.state)) return stored.state;
        }
        const settled = await Promise.race([
          driving.then(
            (state) => ({ state }),
            (error: unknown) => ({ error }),
          ),
          this.#hostClock.sleep(this.#syncMs, this.#shutdown.signal).then(
            () => undefined,
            () => undefined,
          ),
        ]);
        if (settled && 'error' in settled) throw settled.error;
        if (settled && 'state' in settled) {
          this.#state = settled.state;
          if (enough(settled.state) || isStopped(settled.state)) return settled.state;
        }
        if (deadline !== undefined && this.#hostClock.now() >= deadline) {
          const lease = await this.#lock.inspect?.(this.key).catch(() => undefined);
          throw new KanaryError(
            'TIMEOUT',
            `${control.type}() is recorded, but has not taken effect within ${options.timeout}: ${
              lease?.record?.holder
                ? `${lease.record.holder} holds the lease and has not acted on it yet`
                : 'no driver has picked it up'
            }`,
            { details: { control: control.type, holder: lease?.record?.holder } },
          );
        }
      }
    } finally {
      stopWatching.abort();
      await driving.catch(() => undefined);
    }
  }

  #shutdownOn(signal: AbortSignal): void {
    signal.addEventListener('abort', () => void this.close(), { once: true });
  }

  #refuseIfNotAllowed(control: Control): void {
    const why = checkControl(this.#plan, this.#state as RolloutState, control);
    if (why) {
      throw new KanaryError('INVALID_CONTROL', `${control.type}() refused: ${why}`, {
        details: { control: control.type, phase: this.#state?.phase },
      });
    }
  }

  run(): Promise<RolloutState> {
    return this.#runUntil(() => false, true);
  }

  /**
   * A new spec for a rollout whose release is still in flight (as Argo and Flagger treat an edited
   * Rollout or target): the release in flight is rolled back with its own saved spec, by its live
   * driver or by this process, and this spec then starts from the beginning. A release that has
   * ended but not yet retired its old version (the scale-down delay) has that done at once.
   */
  async #supersede(): Promise<void> {
    const stored = await this.#store.load(this.key).catch(() => undefined);
    if (!stored || stored.state.specDigest === this.#digest) return;
    if (isEnded(stored.state) && !isRetiring(stored.state)) return;
    const saved = stored.state.wiring?.spec;
    if (saved === undefined) return; // load() says what to do
    // A promotion under way is a release already decided (a blue-green switch being made): it is
    // finished, not rolled back. Anything earlier is rolled back.
    const promoting = stored.state.cursor.section === 'promotion';
    const retiring = isRetiring(stored.state);
    this.#emitter.emit('warning', {
      message: `a new spec for ${this.key.namespace}/${this.key.name} supersedes the release in flight (${stored.state.phase}): ${
        retiring
          ? 'scaling its old version down now'
          : promoting
            ? 'letting its promotion finish'
            : 'rolling that one back'
      } first`,
    });
    const previous = createDriver({
      ...this.#options,
      spec: saved,
      holder: this.#holder,
      waitForLock: true,
      [RETIRE_NOW]: true,
    });
    previous.on('warning', (w) => this.#emitter.emit('warning', w));
    try {
      if (promoting || retiring) await previous.run();
      else await previous.abort('superseded by a new spec for the same rollout', { wait: true });
      // Its live driver reports traffic on stable before the abort ends: wait for the end, and
      // retire what it left (its delay is cut short: this release replaces that version).
      for (;;) {
        const now = await this.#store.load(this.key);
        if (!now || now.state.specDigest !== stored.state.specDigest) break;
        if (isRetiring(now.state)) await previous.run();
        else if (isEnded(now.state)) break;
        if (now.state.phase === 'failed')
          throw new KanaryError(
            'INVALID_STATE',
            `the release in flight could not be rolled back (${now.state.error?.message ?? 'failed'}); retry() it with its own spec, then run this one`,
          );
        await this.#hostClock.sleep(this.#syncMs);
      }
    } finally {
      await previous.close();
    }
  }

  /**
   * Drives until the rollout stops (succeeded, aborted, failed) or `enough(state)` holds. Loses
   * nothing on losing the lease: it stops writing at once and, when nobody else took over (an
   * API outage), takes the lease back and goes on.
   */
  async #runUntil(enough: (state: RolloutState) => boolean, supersede = false): Promise<RolloutState> {
    if (this.#running)
      throw new KanaryError('INVALID_STATE', 'run() is already driving this rollout in this process');
    this.#running = true;
    // Controls sent meanwhile wait in the queue for the driver, as they do while it drives.
    const done = (supersede ? this.#supersede() : Promise.resolve()).then(() => this.#lead(enough));
    this.#runDone = done;
    try {
      const final = await done;
      if (isStopped(final)) this.#emitter.emit('done', final);
      return final;
    } finally {
      this.#running = false;
      // Controls that arrived as we stopped are applied without a driver.
      const pending = this.#queue.splice(0);
      for (const q of pending) this.#control(q.control).then(q.resolve, q.reject);
    }
  }

  async #lead(enough: (state: RolloutState) => boolean): Promise<RolloutState> {
    let wait = this.#options.waitForLock ?? false;
    /** Why the lease was lost to another holder, while this process waits to see whether that one is alive. */
    let probing: { why: string; epoch: number } | undefined;
    // Taking the lease through a transient fault (the API server overloaded or unreachable after the
    // client's own retries): tried again with backoff within the progress deadline, as an action is.
    let faultsSince: number | undefined;
    let faults = 0;
    for (;;) {
      if (this.#shutdown.signal.aborted) return this.#state ?? (await this.load());
      let lease: LockLease;
      // After losing the lease to someone else, wait for it as long as nobody drives: a Kanary
      // driver that takes a rollout over records itself in the state before acting; a holder that
      // never does (a hand-edited Lease, a process that died at once) lets the lease expire.
      const driving = probing ? new AbortController() : undefined;
      const found: { other?: { holder: string; epoch: number } } = {};
      if (driving) {
        const mine = probing?.epoch ?? 0;
        void (async () => {
          while (!driving.signal.aborted) {
            await this.#clock.sleep(this.#pollMs, driving.signal);
            const stored = await this.#store.load(this.key).catch(() => undefined);
            const d = stored?.state.driver;
            if (d && d.holder !== this.#holder && d.epoch > mine) {
              found.other = d;
              driving.abort();
            }
          }
        })();
      }
      try {
        lease = await this.#lock.acquire(this.key, {
          holder: this.#holder,
          ttlMs: this.#lockTtlMs,
          wait,
          signal: driving ? AbortSignal.any([this.#shutdown.signal, driving.signal]) : this.#shutdown.signal,
          minEpoch: this.#state?.driver?.epoch ?? 0,
        });
      } catch (error) {
        if (this.#shutdown.signal.aborted) return this.#state ?? (await this.load());
        // Back for a retirement someone else is carrying out (a new release, the agent): theirs now.
        // A holder that has not recorded itself as driving (a hand-edited Lease, a process that died
        // at once) lets the lease expire, and the retirement stays this driver's (chaos seed 3301:
        // nobody retired the old version, nor watched the new one, after a stolen Lease).
        if (this.#state && isRetiring(this.#state) && isKanaryError(error, 'LOCKED')) {
          const stored = await this.#store.load(this.key).catch(() => undefined);
          const still = stored?.state;
          if (
            !probing &&
            !found.other &&
            still &&
            still.specDigest === this.#digest &&
            isRetiring(still) &&
            (still.driver === undefined || still.driver.holder === this.#holder)
          ) {
            probing = {
              why: 'the lease is held by a process that does not drive',
              epoch: still.driver?.epoch ?? 0,
            };
            wait = true;
            continue;
          }
          return still ?? this.#state;
        }
        const other = found.other;
        if (other && isKanaryError(error, 'LOCKED')) {
          throw new KanaryError(
            'LOCKED',
            `${probing?.why}; ${other.holder} drives it now (epoch ${other.epoch})`,
            {
              details: { holder: other.holder, epoch: other.epoch },
            },
          );
        }
        const now = this.#clock.now();
        faultsSince ??= now;
        if (
          isKanaryError(error) &&
          error.retryable &&
          error.code !== 'LOCKED' &&
          now - faultsSince <= this.spec.progressDeadline
        ) {
          this.#emitter.emit('warning', {
            message: `taking the lease failed and will be retried: ${error.message}`,
            error,
          });
          const delay = createRetryPolicy({ baseMs: this.#pollMs, maxMs: 30_000, jitter: 'none' }).delay(
            faults++,
          );
          await this.#clock.sleep(delay, this.#shutdown.signal).catch(() => undefined);
          continue;
        }
        throw error;
      } finally {
        driving?.abort();
      }
      probing = undefined;
      faultsSince = undefined;
      faults = 0;
      this.#lease = lease;
      let outcome: 'stopped' | 'lost' | { retireInMs: number };
      try {
        outcome = await this.#drive(lease, enough);
      } finally {
        this.#feed?.close();
        this.#feed = undefined;
        if (!this.#shutdown.signal.aborted || lease.isHeld()) await lease.release();
        this.#lease = undefined;
      }
      if (outcome === 'stopped' || typeof outcome === 'object' || this.#shutdown.signal.aborted) {
        this.#emitter.emit('leadership', {
          status: 'released',
          holder: this.#holder,
          epoch: lease.epoch,
          message: `${this.#holder} released ${this.key.namespace}/${this.key.name}${
            typeof outcome === 'object' ? ' until the old version is due to be scaled down' : ''
          }`,
        });
        if (typeof outcome !== 'object' || !(await this.#awaitRetirement(outcome.retireInMs)))
          return this.#state as RolloutState;
        wait = false;
        continue;
      }
      const why = (lease.signal.reason as Error | undefined)?.message ?? 'the lease was lost';
      this.#emitter.emit('leadership', {
        status: 'lost',
        holder: this.#holder,
        epoch: lease.epoch,
        message: why,
      });
      // Taken over by a live driver: it drives now. Taken by someone who does not renew, or lost to
      // an outage: take the lease back once it can be had.
      const view = await this.#lock.inspect?.(this.key).catch(() => undefined);
      const takenBy = view?.record?.holder !== undefined && view.record.holder !== this.#holder;
      if (takenBy && !(this.#options.waitForLock ?? false)) probing = { why, epoch: lease.epoch };
      wait = true;
    }
  }

  /**
   * The release has ended and its old version is due to be scaled down in `ms`: the lease is not
   * held meanwhile, so a new release can start (and retire it at once). True when it is still this
   * driver's to do once due. (Measured on the host clock: without a lease there is no offset to
   * the rollout's timeline, and the due time was read with one.)
   */
  async #awaitRetirement(ms: number): Promise<boolean> {
    const due = this.#hostClock.now() + Math.max(1, ms);
    const watched = this.#plan.strategy === 'blueGreen' && this.#options.workload.endpoints !== undefined;
    for (;;) {
      const left = Math.max(1, due - this.#hostClock.now());
      await this.#hostClock.sleep(watched ? Math.min(left, this.#pollMs) : left, this.#shutdown.signal);
      if (this.#shutdown.signal.aborted) return false;
      // Blue-green keeps blue up for the delay: a green that stops serving meanwhile wakes the driver.
      const regressed =
        this.#hostClock.now() < due &&
        (await watchRetirement(this.#options.workload, this.#context(this.#shutdown.signal), () =>
          this.#clock.now(),
        ).catch(() => undefined)) !== undefined;
      if (this.#hostClock.now() < due && !regressed) continue;
      this.#lookFirst = regressed;
      const stored = await this.#store.load(this.key).catch(() => undefined);
      if (!stored || stored.state.specDigest !== this.#digest) return false;
      this.#state = stored.state;
      this.#revision = stored.revision;
      return isRetiring(stored.state);
    }
  }

  /**
   * As the driver, in a blue-green release's scale-down delay: records a regression (green stopped
   * serving while blue can) so the abort section routes users back; true when it did.
   */
  async #watchRetirement(): Promise<boolean> {
    if (this.#plan.strategy !== 'blueGreen') return false;
    // Until blue is scaled down: after that, going back means bringing it up again.
    const scaleDown = this.#plan.promotion.findIndex(
      (a) => a.type === 'workload.scale' && a.side === 'stable',
    );
    if ((this.#state as RolloutState).cursor.action > scaleDown) return false;
    const look = await this.#guard(undefined, (signal) =>
      watchRetirement(this.#options.workload, this.#context(signal), () => this.#clock.now()),
    );
    if (look.kind !== 'ok' || !look.value) return false;
    this.#emitter.emit('warning', { message: look.value.reason });
    return this.#dispatchAsLeader(look.value);
  }

  /** One term as the driver: record the takeover, then decide and act until stopped or lost. */
  async #drive(
    lease: LockLease,
    enough: (state: RolloutState) => boolean,
  ): Promise<'stopped' | 'lost' | { retireInMs: number }> {
    this.#fencedOut = false;
    if (this.#state && isRetiring(this.#state)) {
      // A new release may have replaced the one this driver was retiring while it waited.
      const stored = await this.#store.load(this.key).catch(() => undefined);
      if (stored && stored.state.specDigest !== this.#digest) return 'stopped';
    }
    const state = await this.load();
    if ((state.driver?.epoch ?? 0) > lease.epoch) return 'lost';
    // Another driver's retirement not yet due: it comes back for it then. Nothing is recorded (its
    // state still names it); this one looks again when it is due.
    const due = isRetiring(state) ? state.action?.until : undefined;
    if (
      due !== undefined &&
      due > this.#clock.now() &&
      state.driver?.holder !== this.#holder &&
      !this.#options[RETIRE_NOW]
    )
      return { retireInMs: due - this.#clock.now() };
    // Tell hosts where this driver starts from (a resumed rollout may already wait for a human).
    this.#emitter.emit('state', state);
    if ((isStopped(state) && !isRetiring(state)) || enough(state)) {
      await this.#unfence();
      return 'stopped';
    }
    this.#emitter.emit('leadership', {
      status: 'acquired',
      holder: this.#holder,
      epoch: lease.epoch,
      message: `${this.#holder} drives ${this.key.namespace}/${this.key.name} (epoch ${lease.epoch})`,
    });
    if (this.#revision !== undefined && state.driver?.epoch !== lease.epoch) {
      // Saved before acting: a stale driver's next save now fails its compare-and-swap.
      if (
        !(await this.#dispatchAsLeader({
          type: 'driver',
          at: this.#clock.now(),
          holder: this.#holder,
          epoch: lease.epoch,
        }))
      )
        return 'lost';
    }
    for (;;) {
      if (!lease.isHeld() || this.#isStale(lease) || this.#fencedOut) return 'lost';
      if (this.#shutdown.signal.aborted) return 'stopped';
      await this.#drainControls();
      const current = this.#state as RolloutState;
      if (enough(current)) return 'stopped';
      const decision = decide(this.#plan, current, this.#clock.now());
      // Going back is one routing write while blue is still up: looked at before each retiring step,
      // and when a look without the lease found green down (not as the delay starts: it begins right
      // after green was seen serving).
      const entering =
        decision.kind === 'event' &&
        decision.event.type === 'actionStarted' &&
        currentAction(this.#plan, current)?.type === 'delay';
      const look = this.#lookFirst || (decision.kind !== 'hold' && !entering);
      this.#lookFirst = false;
      if (isRetiring(current) && look && this.#queue.length === 0 && (await this.#watchRetirement()))
        continue;
      if (decision.kind === 'stop') {
        await this.#unfence();
        return 'stopped';
      }
      const delay = decision.kind === 'hold' && currentAction(this.#plan, current)?.type === 'delay';
      if (delay && isRetiring(current) && this.#queue.length === 0) {
        // The scale-down delay: cut short for a release being replaced, otherwise waited out
        // without the lease (see #awaitRetirement).
        if (this.#options[RETIRE_NOW]) {
          if (!(await this.#dispatchAsLeader({ type: 'actionCompleted', at: this.#clock.now() })))
            return 'lost';
          continue;
        }
        // A short remainder is waited out holding the lease: given back and taken again, each
        // return costs an epoch and two writes, and the storage's time is only known to a second.
        if (
          decision.kind === 'hold' &&
          decision.until !== undefined &&
          decision.until - this.#clock.now() > this.#pollMs
        )
          return { retireInMs: decision.until - this.#clock.now() };
      }
      await this.#act(decision);
    }
  }

  /** Once the release has ended, its epoch stamps go: objects are left as they were. */
  async #unfence(): Promise<void> {
    const state = this.#state as RolloutState;
    const unfence = this.#options.unfence;
    if (!isEnded(state) || !unfence || !state.fenced?.length) return;
    const done = await this.#guard(undefined, async () => {
      for (const ref of state.fenced ?? []) await unfence(ref, this.key.name);
    });
    if (done.kind === 'ok') {
      const { fenced: _f, ...rest } = state;
      try {
        this.#revision = await this.#saveWithRetries(rest);
        this.#state = rest;
      } catch (error) {
        // The next driver that finds the ended state tries again; the stamps are harmless meanwhile.
        this.#emitter.emit('warning', {
          message: `could not record the removed epoch stamps: ${(error as Error).message}`,
        });
      }
    } else if (done.kind === 'failed') {
      this.#emitter.emit('warning', {
        message: `removing the epoch stamps failed; the next driver tries again: ${(done.error as Error).message}`,
      });
    }
  }

  /** The saved state names a newer driver than us. */
  #isStale(lease: LockLease): boolean {
    return (this.#state?.driver?.epoch ?? 0) > lease.epoch;
  }

  /** Dispatches while leading; false when leadership was lost on the way. */
  async #dispatchAsLeader(event: EngineEvent): Promise<boolean> {
    try {
      await this.#dispatch(event);
      return true;
    } catch (error) {
      if (isKanaryError(error, 'LEADERSHIP_LOST')) return false;
      throw error;
    }
  }

  /**
   * The one guarded path for every port call (actions, analysis looks, hooks, preflight): runs
   * `fn` fenced with this driver's epoch and cancellable by a control, lost leadership or
   * shutdown. An interruption is never a failure.
   */
  async #guard<T>(
    action: PlanAction | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<
    | { kind: 'ok'; value: T }
    | { kind: 'interrupted'; reason: 'control' | 'leadership' | 'shutdown' }
    | { kind: 'failed'; error: unknown }
  > {
    const lease = this.#lease;
    const controller = new AbortController();
    const signal = AbortSignal.any([
      controller.signal,
      this.#shutdown.signal,
      ...(lease ? [lease.signal] : []),
    ]);
    const reason = () =>
      this.#shutdown.signal.aborted
        ? ('shutdown' as const)
        : lease && (!lease.isHeld() || lease.signal.aborted)
          ? ('leadership' as const)
          : ('control' as const);
    if (signal.aborted || (lease && !lease.isHeld())) return { kind: 'interrupted', reason: reason() };
    const fence: WriteFence | undefined = lease && {
      rollout: this.key.name,
      epoch: lease.epoch,
      assertHeld: () => {
        if (!lease.isHeld())
          throw new KanaryError('LEADERSHIP_LOST', `this process no longer drives ${this.key.name}`);
      },
      onWrite: (ref) => {
        this.#stamped.set(`${ref.apiVersion}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`, ref);
      },
    };
    this.#interrupt = { controller, action };
    try {
      const value = await runFenced(fence, () => fn(signal));
      if (signal.aborted) return { kind: 'interrupted', reason: reason() };
      return { kind: 'ok', value };
    } catch (error) {
      if (signal.aborted || isKanaryError(error, 'LEADERSHIP_LOST') || isKanaryError(error, 'FENCED')) {
        if (isKanaryError(error, 'FENCED')) {
          this.#fencedOut = true;
          this.#emitter.emit('warning', { message: error.message, error });
        }
        return { kind: 'interrupted', reason: signal.aborted ? reason() : 'leadership' };
      }
      return { kind: 'failed', error };
    } finally {
      if (this.#interrupt?.controller === controller) this.#interrupt = undefined;
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
          const started = await this.#guard(undefined, async (signal) => {
            await this.#awaitSettled(signal);
            await this.#preflight(signal);
            return this.#options.workload.describe(this.#context(signal));
          });
          if (started.kind === 'interrupted') return;
          if (started.kind === 'failed') throw started.error;
          event = { ...event, stable: started.value.stable };
        }
        await this.#dispatchAsLeader(event);
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
        const look = await this.#guard(undefined, (signal) =>
          this.#runAnalysis(
            { type: 'analysis', key: background.key, analysis: background.analysis },
            this.#context(signal),
            'background',
          ),
        );
        if (look.kind === 'interrupted') return;
        if (look.kind === 'ok') {
          if (look.value) await this.#dispatchAsLeader(look.value);
          return;
        }
        // The gate itself threw: a transient fault looks again later; anything else is an analysis error.
        const error = toKanaryError(look.error);
        const state = this.#state as RolloutState;
        const now = this.#clock.now();
        const run = state.background ?? {
          key: background.key,
          startedAt: now,
          phase: 'running',
          measurements: [],
        };
        this.#emitter.emit('warning', { message: `background analysis: ${error.message}`, error });
        await this.#dispatchAsLeader({
          type: 'backgroundUpdated',
          at: now,
          run: error.retryable
            ? { ...run, phase: 'running', nextAt: now + this.#pollMs }
            : { ...run, phase: 'error', message: error.message },
        });
        return;
      }
    }
  }

  /**
   * Before the first write: the workload driver's and router's own checks. Errors stop the run
   * with nothing written; warnings become events.
   */
  /**
   * A release starts from a stable at rest: while the target is in its own rollout (a person's
   * `kubectl set image` a moment ago) routing would be pinned to half of it, so Kanary waits —
   * up to progressDeadline — and refuses, writing nothing, when that rollout is stuck or paused.
   */
  async #awaitSettled(signal: AbortSignal): Promise<void> {
    const state = this.#state as RolloutState;
    const settling = this.#options.workload.settling?.bind(this.#options.workload);
    if (!settling || state.startedAt !== undefined || state.history.some((h) => h.event !== 'driver')) return;
    const deadline = this.#clock.now() + this.spec.progressDeadline;
    let said: string | undefined;
    // An abort or a shutdown ends the wait (its sleep returns at once then: without this check the
    // loop spun without yielding once reads came from a cache instead of the network).
    while (!signal.aborted) {
      const now = await settling(this.#context(signal));
      if (!now) return;
      if ('refuse' in now)
        throw new KanaryError('PREFLIGHT', `${now.refuse}; nothing was changed (fix: ${now.hint})`);
      if (this.#clock.now() >= deadline)
        throw new KanaryError(
          'PROGRESS_DEADLINE',
          `${now.wait} for longer than progressDeadline ${formatDuration(this.spec.progressDeadline)}; nothing was changed`,
        );
      if (now.wait !== said) this.#emitter.emit('warning', { message: `waiting to start: ${now.wait}` });
      said = now.wait;
      await this.#clock.sleep(this.#pollMs, signal);
    }
  }

  async #preflight(signal: AbortSignal): Promise<void> {
    const state = this.#state as RolloutState;
    if (state.startedAt !== undefined || state.history.some((h) => h.event !== 'driver')) return;
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

  /**
   * Waits until `until`, a local control, lost leadership or shutdown, or a sync tick that finds
   * another process's control.
   */
  async #hold(until: number | undefined): Promise<void> {
    const wake = new AbortController();
    this.#wake = wake;
    const lease = this.#lease;
    const signal = AbortSignal.any([wake.signal, this.#shutdown.signal, ...(lease ? [lease.signal] : [])]);
    // A store that tells of changes wakes the hold when another process writes a control.
    let told = false;
    const stopTelling = this.#store.onChange?.(this.key, () => {
      told = true;
      wake.abort();
    });
    const now = this.#clock.now();
    const watching = this.#watching();
    // Told of the workload's changes: look when something moved (at most once a poll), otherwise
    // only as a safety net. Not told (no feed, its watch down): look every poll.
    const lookEvery = watching && this.#feedLive() && !this.#dirty ? RESYNC_MS : this.#pollMs;
    const lookAt = watching ? this.#watchedAt + Math.max(this.#pollMs, lookEvery) : Number.POSITIVE_INFINITY;
    const syncEvery = this.#store.watching?.(this.key) ? Math.max(this.#syncMs, RESYNC_MS) : this.#syncMs;
    const wait = Math.min(
      until === undefined ? syncEvery : Math.max(0, until - now),
      syncEvery,
      Math.max(0, lookAt - now),
    );
    // A hold that does not look (promotion past the router's finalize) is not woken by changes.
    this.#holdEndsAt = watching ? now + wait : Number.NEGATIVE_INFINITY;
    await this.#clock.sleep(wait, signal).finally(() => stopTelling?.());
    this.#wake = undefined;
    this.#holdEndsAt = Number.NEGATIVE_INFINITY;
    if (signal.aborted && !(told && !this.#shutdown.signal.aborted && !lease?.signal.aborted)) return;
    if (this.#clock.now() >= lookAt && (await this.#watchWorld())) return;
    if (until !== undefined && this.#clock.now() >= until) return;
    const stored = await this.#store.load(this.key).catch(() => undefined);
    if (stored && stored.revision !== this.#revision) {
      this.#state = stored.state;
      this.#revision = stored.revision;
      this.#emitChanges(undefined, stored.state);
    }
  }

  /** Whether the workload's change feed is open and telling (opening it on first use). */
  #feedLive(): boolean {
    const workload = this.#options.workload;
    if (!workload.watch) return false;
    this.#feed ??= workload.watch(this.#context(this.#shutdown.signal), () => this.#worldChanged());
    return this.#feed.live();
  }

  /** The feed told of a change: a hold sleeping past the next look it allows wakes for it. */
  #worldChanged(): void {
    this.#dirty = true;
    const due = Math.max(this.#clock.now(), this.#watchedAt + this.#pollMs);
    if (this.#holdEndsAt > due) this.#wake?.abort();
  }

  /**
   * Whether holds look at the world: the steps have users on the sides, and Kanary can count pods.
   * A held rollout still looks: its users still need pods (the chaos runner's seed 120 was held for
   * a deleted canary when someone changed the target, and every request failed).
   */
  #watching(): boolean {
    const state = this.#state as RolloutState;
    const section = state.cursor.section;
    const router = this.#options.router;
    if (!router || !this.#options.workload.endpoints || state.startedAt === undefined) return false;
    // Ended: the old version's retirement changes the sides on purpose.
    if (isEnded(state)) return false;
    if (section === 'prelude' || section === 'steps') return true;
    // In promotion, until the router's finalize: the canary takes users while the stable is
    // updated, and a canary that stops serving then must not keep them (chaos seed 66). A
    // replica-ratio split keeps both sides behind one Service, where only pods come and go.
    if (section !== 'promotion' || router.capabilities.weights === 'replicas') return false;
    const finalize = this.#plan.promotion.findIndex((a) => a.type === 'router.finalize');
    return finalize < 0 || state.cursor.action < finalize;
  }

  /** One look at the world (see `watchWorld`); true when it found something and recorded it. */
  async #watchWorld(): Promise<boolean> {
    this.#watchedAt = this.#clock.now();
    this.#dirty = false;
    const router = this.#options.router as TrafficRouter;
    const look = await this.#guard(undefined, (signal) =>
      watchWorld(
        { workload: this.#options.workload, router },
        this.#context(signal),
        () => this.#clock.now(),
        this.#inFlight(),
      ),
    );
    if (look.kind === 'interrupted') return true;
    if (look.kind === 'failed') {
      const error = toKanaryError(look.error);
      this.#emitter.emit('warning', { message: `looking at the world: ${error.message}`, error });
      return false;
    }
    const { event, warning } = look.value;
    if (warning && warning !== this.#lastWorldWarning) this.#emitter.emit('warning', { message: warning });
    this.#lastWorldWarning = warning;
    if (!event) return false;
    await this.#dispatchAsLeader(event);
    return true;
  }

  /** The action the cursor is on while it waits to be confirmed (a weight being set), if any. */
  #inFlight(): PlanAction | undefined {
    const state = this.#state as RolloutState;
    if (!state.action) return undefined;
    return actionsAt(this.#plan, state.cursor.section as Section, state.cursor.step)[state.cursor.action];
  }

  #context(signal: AbortSignal): PortContext {
    const state = this.#state as RolloutState;
    return { key: this.key, spec: this.spec, targets: state.targets, state, signal };
  }

  async #execute(action: PlanAction): Promise<void> {
    const state = this.#state as RolloutState;
    this.#emitter.emit('action', { action, status: 'started' });
    const result = await this.#guard(action, (signal) => this.#perform(action, this.#context(signal)));
    if (result.kind === 'interrupted') {
      // A control, lost leadership or shutdown cut it short: nothing is recorded; whoever drives next decides.
      this.#emitter.emit('action', {
        action,
        status: 'interrupted',
        message: `interrupted (${result.reason})`,
      });
      return;
    }
    const event =
      result.kind === 'ok'
        ? this.#outcomeEvent(action, state, result.value, undefined)
        : this.#outcomeEvent(action, state, undefined, result.error);
    if (event) await this.#dispatchAsLeader(event);
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
        retryAt: now + (outcome.retryInMs ?? this.#pollMs),
        ...(outcome.message ? { message: outcome.message } : {}),
      };
    }
    const error = toKanaryError(failure);
    const attempts = state.action?.attempts ?? 0;
    const holdable = state.cursor.section === 'prelude' || state.cursor.section === 'steps';
    if (error.code === 'DRIFT' && holdable && this.spec.onDrift === 'adopt') {
      this.#emitter.emit('warning', { message: `${error.message}; adopted (onDrift: adopt)`, error });
      return {
        type: 'adopted',
        at: now,
        result: { router: error.details.live as RouterStatus },
        ...(error.details.cleared === true ? { cleared: true } : {}),
        reason: `${error.message}; their routing is the rollout's now and the steps go on`,
      };
    }
    if (error.code === 'DRIFT' && holdable) {
      this.#emitter.emit('action', { action, status: 'failed', message: error.message });
      return {
        type: 'held',
        at: now,
        // The live weight becomes the rollout's: resume() goes on from it, abort() rolls back.
        result: { router: error.details.live as RouterStatus },
        ...(error.details.cleared === true ? { cleared: true } : {}),
        cause: {
          kind: 'drift',
          reason: `${error.message}; their change is kept: resume() goes on with the steps, abort() rolls back`,
          restart: false,
        },
      };
    }
    if (error.code === 'UNREADY' && error.details.rebase) {
      this.#emitter.emit('action', { action, status: 'waiting', message: error.message });
      return { type: 'rebased', at: now, stable: error.details.rebase as WorkloadRef, reason: error.message };
    }
    if (error.code === 'UNREADY' && holdable) {
      // The steps never give a share to a side that cannot serve it: hold for a person.
      this.#emitter.emit('action', { action, status: 'failed', message: error.message });
      return {
        type: 'held',
        at: now,
        cause: {
          kind: 'unready',
          side: error.details.side as Side,
          reason: `${error.message}; resume() once it has ready pods, or abort()`,
          restart: false,
        },
      };
    }
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
          : createRetryPolicy({
              baseMs: this.#pollMs,
              // An abort is urgent: users wait on the canary until it gets through, so no long backoff.
              maxMs: state.cursor.section === 'abort' ? this.#pollMs : 30_000,
              jitter: 'none',
            }).delay(attempts);
      // So is a rolling step: a burst may be under way, and the Deployment rolls on by itself until
      // the next attempt pauses it again (chaos seed 2212: failed re-pauses backed off 8 and 16 s
      // while every pod rolled to the new version).
      const wait = action.type === 'workload.rollTo' ? Math.min(backoff, ROLLING_RETRY_MS) : backoff;
      return { type: 'actionWaiting', at: now, retryAt: now + wait, message: error.message };
    }
    if (error.retryable) {
      // A fault that outlasted the progress deadline: the deadline decides, and says what kept failing.
      const message = `no progress within ${this.spec.progressDeadline}ms (last error: ${error.message})`;
      this.#emitter.emit('action', { action, status: 'failed', message });
      return {
        type: 'actionFailed',
        at: now,
        cause: 'deadline',
        error: { code: 'PROGRESS_DEADLINE', message },
      };
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
    await this.#lookBeforeWrite(action, ctx);
    const needRouter = (): TrafficRouter => {
      if (!router) throw new KanaryError('INTERNAL', `${action.type} needs a router`);
      return router;
    };
    switch (action.type) {
      case 'hook':
        await this.#runHooks(action.hook, ctx);
        return { kind: 'done' };
      case 'workload.ensureCanary': {
        const base = ctx.targets.stable?.original?.replicas;
        const replicas =
          action.replicas ??
          (action.percentOfStable !== undefined && base !== undefined
            ? Math.ceil((base * action.percentOfStable) / 100)
            : undefined);
        return {
          kind: 'done',
          result: { canary: await workload.ensureCanary(ctx, replicas === undefined ? {} : { replicas }) },
        };
      }
      case 'workload.waitReady': {
        const r = await workload.readiness(ctx, action.side);
        if (action.side === 'stable') await this.#followStableScale(ctx, r.desired);
        if (!r.ready)
          return {
            kind: 'waiting',
            message: r.message ?? `${action.side} ${r.readyReplicas}/${r.desired} ready`,
          };
        // Ready: refresh what routers need to know (a new pod-template-hash, for one).
        const described = await workload.describe(ctx);
        // And reachable: a pod ready by its status stays among the Endpoints' not-ready addresses
        // until the endpoints controller catches up, and the step after this refuses a share to a
        // canary nobody can reach yet: a wait retried in that gap held its release for good (chaos
        // seed 2719, with retries woken by watch events, tried and not kept: docs/decisions.md).
        if (action.side === 'canary' && described.canary && workload.endpoints) {
          const reach = await workload.endpoints(
            { ...ctx, targets: { ...ctx.targets, ...described } },
            'canary',
          );
          if (reach.exists && reach.ready < r.desired)
            return { kind: 'waiting', message: `${reach.message}: waiting for the Endpoints to list them` };
        }
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
          : {
              kind: 'waiting',
              message: p.message ?? `${p.updated}/${p.total} pods updated`,
              ...(p.retryInMs !== undefined ? { retryInMs: p.retryInMs } : {}),
            };
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

  /**
   * While the canary takes every user and the stable rolls to its template, the canary follows the
   * stable's size upwards: a person or an HPA scaling the stable then wants that many pods serving
   * now, not once the stable is back (chaos seed 8330: 4 canary pods took all users for 6 s while
   * the stable was scaled to 7). Never downwards: the side serving everyone is not shrunk under it.
   */
  async #followStableScale(ctx: PortContext, stableDesired: number): Promise<void> {
    const type = ctx.spec.strategy.type;
    if (ctx.state.cursor.section !== 'promotion' || ctx.state.weights.canary !== 100) return;
    if (type !== 'weighted' && type !== 'headerMatch') return;
    const { workload } = this.#options;
    const canary = await workload.readiness(ctx, 'canary');
    if (stableDesired > canary.desired) await workload.scale(ctx, 'canary', { percentOfStable: 100 });
  }

  /**
   * Look before writing: every side a routing change gives a share must have ready pods behind
   * the route (`WorkloadDriver.endpoints`). If one has none, nothing is written (UNREADY). In the
   * abort section a stable that cannot serve does not take users from a canary that can.
   */
  async #lookBeforeWrite(action: PlanAction, ctx: PortContext): Promise<void> {
    const { workload, router } = this.#options;
    if (!router) return;
    const { section } = ctx.state.cursor;
    if (
      ctx.spec.strategy.type === 'blueGreen' &&
      section === 'promotion' &&
      workload.endpoints &&
      ((action.type === 'workload.scale' && action.side === 'stable') || action.type === 'router.finalize')
    ) {
      // After the switch, the previous colour goes only while the new one serves (chaos seed 1657:
      // blue was scaled down under a crashing green, and the release ended `succeeded` over a full
      // outage). A green that stopped serving while blue can is rolled back before this runs (see
      // #watchRetirement); here neither serves, and blue stays until one does.
      const green = await workload.endpoints(ctx, 'canary');
      const live = await router.status(ctx);
      if (green.ready === 0) {
        throw new KanaryError('UNREADY', `${green.message} after the switch`, {
          retryable: true,
          details: { progress: true, side: 'canary' },
        });
      }
      if (live.canaryWeight < 100) await router.setWeight(ctx, 100);
    }
    const moves = action.type === 'router.setWeight' || action.type === 'router.setHeaderRoute';
    if (
      moves &&
      (section === 'prelude' || section === 'steps') &&
      router.capabilities.weights !== 'replicas'
    ) {
      // A person's change to the routing (an emergency 0%) is theirs: the steps do not write over it.
      const live = await router.status(ctx);
      // An earlier attempt of this very action may have written its weight before failing to confirm it.
      const ours = [ctx.state.weights.canary, ...(action.type === 'router.setWeight' ? [action.weight] : [])];
      if (!ours.some((w) => Math.abs(live.canaryWeight - w) < 1e-9)) {
        throw new KanaryError(
          'DRIFT',
          `the routing sends ${live.canaryWeight}% to the canary where Kanary last wrote ${ctx.state.weights.canary}%: someone changed it`,
          { retryable: true, details: { progress: true, live } },
        );
      }
      // Kanary's header routes deleted by hand: matched users no longer reach the canary.
      const written = Object.entries(ctx.state.headerRoutes).filter(([, r]) => (r.weight ?? 100) > 0);
      if (written.length > 0 && live.headerRoutes.length === 0) {
        throw new KanaryError(
          'DRIFT',
          `Kanary's header route ${written.map(([n]) => n).join(', ')} is gone from the routing: someone removed it`,
          { retryable: true, details: { progress: true, live, cleared: true } },
        );
      }
    }
    if (!workload.endpoints) return;
    const promoted = ctx.spec.strategy.type === 'blueGreen' && section === 'promotion' ? 'canary' : 'stable';
    for (const side of receivers(action, router.capabilities.weights, promoted, ctx.state.weights.canary)) {
      const found = await workload.endpoints(ctx, side);
      if (found.ready > 0) continue;
      if (side === 'stable' && found.changed && (section === 'promotion' || section === 'abort')) {
        // Someone changed the target since the start: its pods are of another revision now, and
        // they are the ones to route to (and what an abort keeps).
        throw new KanaryError('UNREADY', `${found.changed}: routing follows its new revision`, {
          retryable: true,
          details: { progress: true, side, rebase: await describeAsNow(workload, ctx) },
        });
      }
      let kept = '';
      if (side === 'stable' && ctx.state.cursor.section === 'abort' && ctx.state.weights.canary > 0) {
        const canary = await workload.endpoints(ctx, 'canary');
        if (canary.ready > 0) {
          if (ctx.state.weights.canary < 100) await router.setWeight(ctx, 100);
          kept = '; users stay on the canary, the side that can serve, until the stable can';
        }
      }
      throw new KanaryError('UNREADY', `${found.message}: no traffic is routed to it${kept}`, {
        retryable: true,
        details: { progress: true, side },
      });
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
    const hadData = result.measurements.some((m) => m.phase !== 'nodata' && m.phase !== 'error');
    const withData = (previous?.withData ?? 0) + (hadData ? 1 : 0);
    return {
      type: slot === 'background' ? 'backgroundUpdated' : 'analysisUpdated',
      at: this.#clock.now(),
      run: {
        key: action.key,
        startedAt,
        gateState: result.state,
        phase: result.phase,
        measurements,
        ...(withData > 0 ? { withData } : {}),
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
        name: webhook.name ?? redactUrl(webhook.url),
        fn: (c) => callWebhook(webhook, c, this.#options.fetch ?? fetch, this.#clock, this.#options.webhooks),
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
    this.#dirty = true;
    const context = { plan: this.#plan, spec: this.spec };
    if (this.#unsaved(prev, event)) {
      // Another poll of the same wait: only this process needs it (see #unsaved).
      const next = reduce(prev, event, context);
      this.#state = next;
      this.#emitChanges(prev, next);
      return;
    }
    const states = [this.#stamp(reduce(prev, event, context), event.at)];
    // The next action starting at once is saved with this change, not by a save of its own: the
    // state between the two is one a resumed driver would leave at once the same way, and every
    // state saved is still one the step-by-step sequence reaches (a control or a crash may come
    // right after a start either way). Only a driver starts actions: a control recorded by another
    // process is saved as itself.
    for (let more = 0; this.#lease && !options.throwOnConflict && more < 8; more++) {
      const last = states.at(-1) as RolloutState;
      const now = this.#clock.now();
      const d = decide(this.#plan, last, now);
      if (d.kind !== 'event' || d.event.type !== 'actionStarted') break;
      states.push(this.#stamp(reduce(last, d.event, context), d.event.at));
    }
    const next = states.at(-1) as RolloutState;
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
    this.#stamped.clear();
    // Told one change at a time, as if each had been saved on its own.
    let before = prev;
    for (const state of states) {
      this.#recordTransition(before, state);
      this.#emitChanges(before, state);
      before = state;
    }
  }

  /** What every saved state carries: its driver and epoch, the wiring, the objects stamped so far. */
  #stamp(state: RolloutState, at: number): RolloutState {
    let next = state;
    const lease = this.#lease;
    if (lease && next.driver?.epoch !== lease.epoch)
      next = { ...next, driver: { holder: this.#holder, epoch: lease.epoch, since: at } };
    // The agent rebuilds the rollout from this, should its driver die.
    if (lease && JSON.stringify(next.wiring) !== this.#wiringJson) next = { ...next, wiring: this.#wiring };
    if (this.#stamped.size > 0) {
      const known = new Set(
        (next.fenced ?? []).map((r) => `${r.apiVersion}/${r.kind}/${r.namespace ?? ''}/${r.name}`),
      );
      const added = [...this.#stamped].filter(([id]) => !known.has(id)).map(([, ref]) => ref);
      if (added.length > 0) next = { ...next, fenced: [...(next.fenced ?? []), ...added] };
    }
    return next;
  }

  /**
   * Whether a change can stay in memory: a wait's later polls (pods coming up one by one) say only
   * how far the wait has come. A wait is saved once it has lasted WAIT_SAVE_MS, and then its news
   * at most that often, so another process's `status` stays at most that far behind (a readiness
   * wait of a few seconds costs no save); deadlines run from the action's start, which is saved, so
   * a resumed driver keeps them.
   */
  #unsaved(prev: RolloutState, event: EngineEvent): boolean {
    if (event.type !== 'actionWaiting' || !prev.action) return false;
    const key = `${JSON.stringify(prev.cursor)}@${prev.action.startedAt}`;
    const since = this.#waitSaved?.key === key ? this.#waitSaved.at : prev.action.startedAt;
    if (event.at - since < WAIT_SAVE_MS) return true;
    this.#waitSaved = { key, at: event.at };
    return false;
  }

  /** Hands a saved change to the recorder; what it does with it never reaches the release. */
  #recordTransition(prev: RolloutState | undefined, next: RolloutState): void {
    const record = this.#options.record;
    if (!record) return;
    try {
      record({ prev, next, plan: this.#plan, holder: this.#holder });
    } catch (error) {
      this.#emitter.emit('warning', {
        message: `recording a transition failed: ${(error as Error).message}`,
      });
    }
  }

  /**
   * Saves, retrying transient store faults for a while: giving up stops the driver (the next one
   * resumes from the last saved state), so it should only happen when the cluster is really gone.
   */
  async #saveWithRetries(next: RolloutState): Promise<string> {
    const lease = this.#lease;
    const retry = createRetryPolicy({ clock: this.#clock, baseMs: 250, maxMs: 15_000 });
    for (let attempt = 0; ; attempt++) {
      // The local half of the fence: a driver whose lease is not held writes nothing.
      if (lease && !lease.isHeld())
        throw new KanaryError('LEADERSHIP_LOST', `this process no longer drives ${this.key.name}`);
      try {
        return await this.#store.save(this.key, next, this.#revision);
      } catch (error) {
        const transient = isKanaryError(error) && error.retryable && error.code !== 'CONFLICT';
        // A driver rides faults out until its lease lapses; a control from elsewhere gives up sooner.
        if (!transient || (!lease && attempt >= 8)) throw error;
        this.#emitter.emit('warning', {
          message: `saving state failed and will be retried: ${(error as Error).message}`,
        });
        await retry.wait(attempt, lease?.signal);
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
    if (next.held && next.held.at !== prev?.held?.at) e.emit('held', { ...next.held, state: next });
    const changed = next.history.at(-1);
    if (changed?.event === 'targetChanged' && changed.seq !== prev?.history.at(-1)?.seq)
      e.emit('held', {
        at: changed.at,
        kind: 'targetChanged',
        side: 'stable',
        reason: changed.detail ?? '',
        restart: true,
        state: next,
      });
  }
}

/** What another process needs to rebuild this rollout's ports, and what only this host's code provides. */
function wiringOf(options: CreateRolloutOptions): RolloutWiring {
  const code: string[] = [];
  for (const name of HOOK_NAMES) {
    const h = options.hooks?.[name];
    if (h && (!Array.isArray(h) || h.length > 0)) code.push(`hook ${name}`);
  }
  if (!options.workload.wiring) code.push(`workload ${options.workload.name}`);
  if (options.router && !options.router.wiring) code.push(`router ${options.router.name}`);
  if (options.gate && !options.gate.wiring) code.push(`gate ${options.gate.name}`);
  code.push(...(options.gate?.wiring?.code ?? []));
  return {
    spec: options.spec,
    ...(options.router?.wiring ? { router: options.router.wiring } : {}),
    ...(options.gate?.wiring ? { gate: options.gate.wiring } : {}),
    code,
  };
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
