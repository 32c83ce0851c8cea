// @kanary/core — the rollout engine, its spec and its ports. Adapters import only from here.

export { checkCapabilities } from './engine/capabilities.ts';
export type { Control, ControlType } from './engine/controls.ts';
export { checkControl } from './engine/controls.ts';
export type { Decision } from './engine/decide.ts';
export { decide } from './engine/decide.ts';
export { canonicalJson, digest } from './engine/digest.ts';
export type { RolloutEvents } from './engine/events.ts';
export type { ActionResult, EngineEvent, ReduceContext } from './engine/reducer.ts';
export { currentAction, derivePhase, reduce } from './engine/reducer.ts';
export type { ControlOptions, CreateRolloutOptions, Rollout } from './engine/rollout.ts';
export { createRollout } from './engine/rollout.ts';
export type {
  AbortCause,
  ActionProgress,
  AnalysisRun,
  Cursor,
  HistoryEntry,
  HoldCause,
  Phase,
  RolloutState,
} from './engine/state.ts';
export {
  awaitingDecision,
  initialState,
  isEnded,
  isRetiring,
  isStopped,
  PHASES,
  TERMINAL_PHASES,
} from './engine/state.ts';
export { stateProblems } from './engine/state-check.ts';
export type { Transition, TransitionRecorder } from './engine/transitions.ts';
export type { KanaryErrorCode, KanaryErrorOptions, KanaryIssue } from './errors/kanary-error.ts';
export { formatIssues, isKanaryError, KanaryError, toKanaryError } from './errors/kanary-error.ts';
export type {
  RolloutGroup,
  RolloutGroupEvents,
  RolloutGroupMember,
  RolloutGroupOptions,
} from './group/rollout-group.ts';
export { createRolloutGroup } from './group/rollout-group.ts';
export type {
  JsonPatchOp,
  KubeClient,
  KubeClientOptions,
  KubeObject,
  ObjectIndex,
  ObjectRef,
} from './kubernetes/client.ts';
export { createKubeClient, refOf } from './kubernetes/client.ts';
export type { KubeStatus } from './kubernetes/errors.ts';
export { fromKubeError } from './kubernetes/errors.ts';
export type { EventRecorderOptions, ReleaseEvent } from './kubernetes/events.ts';
export { createEventRecorder, describeTransition } from './kubernetes/events.ts';
export { readOwnedAnnotation, withOwnedAnnotation } from './kubernetes/owned-annotation.ts';
export type { KubernetesRolloutOptions } from './kubernetes/rollout.ts';
export { createKubernetesRollout } from './kubernetes/rollout.ts';
export {
  ANNOTATION_ORIGINAL_SELECTOR,
  deleteOwnedService,
  ensureHashService,
  originalSelector,
  pinService,
  type Service,
  unpinService,
} from './kubernetes/service-pin.ts';
export { createElectedLock, LEASE_TIMING } from './leadership/elector.ts';
export type { FencedObject, WriteFence } from './leadership/fence.ts';
export { EPOCH_ANNOTATION_PREFIX, epochAnnotation, epochOn } from './leadership/fence.ts';
export type { ScriptedGateOptions, ScriptedVerdict } from './memory/gate.ts';
export { createScriptedGate } from './memory/gate.ts';
export type { FaultFn, Journal, JournalEntry } from './memory/journal.ts';
export { createMemoryLeaseBackend, createMemoryLock } from './memory/lock.ts';
export type { MemoryRouter, MemoryRouterOptions } from './memory/router.ts';
export { createMemoryRouter, FULL_CAPABILITIES } from './memory/router.ts';
export type { MemoryStateStore } from './memory/store.ts';
export { createMemoryStateStore } from './memory/store.ts';
export type { MemoryWorkload, MemoryWorkloadOptions } from './memory/workload.ts';
export { createMemoryWorkload } from './memory/workload.ts';
export type { ActionType, Plan, PlanAction, PlanStep, RouterRequirements, Section } from './plan/actions.ts';
export { describeAction, formatPlan } from './plan/describe.ts';
export { planWarnings } from './plan/warnings.ts';
export type { Clock, VirtualClock } from './ports/clock.ts';
export { createVirtualClock, flushAsync, systemClock } from './ports/clock.ts';
export type { PortContext } from './ports/context.ts';
export type {
  AnalysisPhase,
  GateInput,
  GateResult,
  GateState,
  Measurement,
  MetricGate,
} from './ports/gate.ts';
export type { HookContext, HookFn, HookHandlers } from './ports/hooks.ts';
export type {
  LeaseBackend,
  LeaseRecord,
  LeaseView,
  Liveness,
  Lock,
  LockLease,
  LockOptions,
  VersionedLease,
} from './ports/lock.ts';
export type { ApiVerb, Permission, RoleManifest } from './ports/permissions.ts';
export { rolesFor } from './ports/permissions.ts';
export type { RolloutKey, Side, WorkloadRef } from './ports/refs.ts';
export type { RouterCapabilities, RouterStatus, TrafficRouter, WeightMode } from './ports/router.ts';
export { NO_CAPABILITIES } from './ports/router.ts';
export type { StateStore, StoredState } from './ports/store.ts';
export type { PartWiring, RolloutWiring } from './ports/wiring.ts';
export { partWiring } from './ports/wiring.ts';
export type {
  ChangeFeed,
  Endpoints,
  Readiness,
  RollProgress,
  Settling,
  WorkloadDriver,
} from './ports/workload.ts';
export type { RetryPolicy, RetryPolicyOptions } from './retry/policy.ts';
export { createRetryPolicy } from './retry/policy.ts';
export type { UserPartition } from './routers/by-user.ts';
export { userPartition } from './routers/by-user.ts';
export type { ReplicaRatioRouterOptions, ReplicaSplit } from './routers/replica-ratio.ts';
export { createReplicaRatioRouter, replicaSplit } from './routers/replica-ratio.ts';
export type { ServiceSelectorRouterOptions } from './routers/service-selector.ts';
export { createServiceSelectorRouter } from './routers/service-selector.ts';
export type { ServiceSides } from './routers/service-sides.ts';
export { createServiceSides, serviceSidesPermissions } from './routers/service-sides.ts';
export type { WebhookPolicy } from './security/addresses.ts';
export { webhookAddressProblem } from './security/addresses.ts';
export { backtrackingProblem } from './security/backtracking.ts';
export { bodyExcerpt, REDACTED, redact, redactUrl, redactValue } from './security/redact.ts';
export type { AnalysisMetric, AnalysisSpec } from './spec/analysis.ts';
export { cookieHeaderRegex, escapeRegex } from './spec/cookie.ts';
export type { DurationInput } from './spec/duration.ts';
export { formatDuration, parseDuration, tryParseDuration } from './spec/duration.ts';
export type { HookName, WebhookSpec } from './spec/hooks.ts';
export { HOOK_NAMES } from './spec/hooks.ts';
export type { CookieMatch, HeaderMatch, HeaderRoute, MatchRule, MirrorRoute } from './spec/match.ts';
export {
  formatPath,
  parseRolloutSpec,
  rolloutSpecJsonSchema,
  toKanaryIssues,
  validateRolloutSpec,
} from './spec/parse.ts';
export { regexProblem } from './spec/primitives.ts';
export type { RolloutSpec, RolloutSpecInput } from './spec/rollout-spec.ts';
export type { Step, StepInput, StepKind } from './spec/steps.ts';
export { stepKind } from './spec/steps.ts';
export type { HashOn, StrategySpec, StrategyType } from './spec/strategy.ts';
export { STRATEGY_TYPES } from './spec/strategy.ts';
export type { ConfigMapStateStoreOptions } from './state/configmap-store.ts';
export { createConfigMapStateStore } from './state/configmap-store.ts';
export { OWNED_SELECTOR, ownedLabels } from './state/labels.ts';
export type { LeaseLockOptions } from './state/lease-lock.ts';
export { createLeaseBackend, createLeaseLock } from './state/lease-lock.ts';
export type { PlanOptions, Strategy } from './strategies/index.ts';
export { strategies } from './strategies/index.ts';
export type { DeploymentDriverOptions, PreflightSeverity } from './workloads/deployment-driver.ts';
export {
  canaryNameOf,
  createDeploymentDriver,
  LABEL_REVISION,
  LABEL_ROLE,
  LABEL_ROLLOUT,
} from './workloads/deployment-driver.ts';
export { mergeTemplate, templatesEqual } from './workloads/template.ts';
