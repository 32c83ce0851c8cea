// @kanary/core — for hosts that drive rollouts: the engine, its spec, the Kubernetes wiring, the
// built-in mesh-free routers and the outcome types. Router, provider and workload authors build on
// '@kanary/core/adapter'; in-memory ports and doubles for tests are in '@kanary/core/testing'.

export type { Control, ControlType } from './engine/controls.ts';
export type { RolloutEvents } from './engine/events.ts';
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
  isEnded,
  isRetiring,
  isStopped,
  PHASES,
  TERMINAL_PHASES,
} from './engine/state.ts';
export type { Transition, TransitionRecorder } from './engine/transitions.ts';
export type { IssueRemedy, KanaryErrorCode, KanaryErrorOptions, KanaryIssue } from './errors/kanary-error.ts';
export { formatIssues, isKanaryError, KanaryError } from './errors/kanary-error.ts';
export type {
  RolloutGroup,
  RolloutGroupEvents,
  RolloutGroupMember,
  RolloutGroupOptions,
} from './group/rollout-group.ts';
export { createRolloutGroup } from './group/rollout-group.ts';
export type { KubeClient, KubeClientOptions, KubeObject, ObjectRef } from './kubernetes/client.ts';
export { createKubeClient } from './kubernetes/client.ts';
export type { ClusterConnection, InClusterOptions, PreparedRequest } from './kubernetes/connection.ts';
export { inClusterConnection } from './kubernetes/connection.ts';
export type { EventRecorderOptions, ReleaseEvent } from './kubernetes/events.ts';
export { createEventRecorder, describeTransition } from './kubernetes/events.ts';
export { OWNED_SELECTOR } from './kubernetes/labels.ts';
export type { KubernetesRolloutOptions } from './kubernetes/rollout.ts';
export { createKubernetesRollout } from './kubernetes/rollout.ts';
export type { LeaseLockOptions } from './leadership/lease.ts';
export { createLeaseLock } from './leadership/lease.ts';
export type { ActionType, Plan, PlanAction, PlanStep, RouterRequirements, Section } from './plan/actions.ts';
export type { ActionContext } from './plan/describe.ts';
export { describeAction, describeMatch, formatPlan } from './plan/describe.ts';
export { planWarnings } from './plan/warnings.ts';
export type { Clock } from './ports/clock.ts';
export { systemClock } from './ports/clock.ts';
export type { Measurement, MetricGate } from './ports/gate.ts';
export type { HookContext, HookFn, HookHandlers } from './ports/hooks.ts';
export type { LeaseView, Liveness, Lock } from './ports/lock.ts';
export type { ApiVerb, Permission, RoleManifest } from './ports/permissions.ts';
export { rolesFor } from './ports/permissions.ts';
export type { RolloutKey, Side, WorkloadRef } from './ports/refs.ts';
export type { TrafficRouter } from './ports/router.ts';
export type { StateStore } from './ports/store.ts';
export type { PartWiring, RolloutWiring } from './ports/wiring.ts';
export type { WorkloadDriver } from './ports/workload.ts';
export type { ReplicaRatioRouterOptions, ReplicaSplit } from './routers/replica-ratio.ts';
export { createReplicaRatioRouter, replicaSplit } from './routers/replica-ratio.ts';
export type { ServiceSelectorRouterOptions } from './routers/service-selector.ts';
export { createServiceSelectorRouter } from './routers/service-selector.ts';
export { redact } from './security/redact.ts';
export type { AnalysisMetric, AnalysisSpec } from './spec/analysis.ts';
export type { DurationInput } from './spec/duration.ts';
export { formatDuration, parseDuration } from './spec/duration.ts';
export type { HookName, WebhookSpec } from './spec/hooks.ts';
export { HOOK_NAMES } from './spec/hooks.ts';
export type { CookieMatch, HeaderMatch, HeaderRoute, MatchRule, MirrorRoute } from './spec/match.ts';
export { parseRolloutSpec, rolloutSpecJsonSchema, validateRolloutSpec } from './spec/parse.ts';
export type { RolloutSpec, RolloutSpecInput } from './spec/rollout-spec.ts';
export type { Step, StepInput, StepKind } from './spec/steps.ts';
export { stepKind } from './spec/steps.ts';
export type { HashOn, StrategySpec, StrategyType } from './spec/strategy.ts';
export { STRATEGY_TYPES } from './spec/strategy.ts';
export type { ConfigMapStateStoreOptions } from './store/configmap-store.ts';
export { createConfigMapStateStore } from './store/configmap-store.ts';
export type { DeploymentDriverOptions, PreflightSeverity } from './workloads/deployment-driver.ts';
export { createDeploymentDriver } from './workloads/deployment-driver.ts';
