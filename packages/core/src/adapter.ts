// @kanary/core/adapter — what router, metric-provider and workload authors build on: the ports
// they implement, the Kubernetes client and its error mapping, write fencing, Kanary's labels and
// owned annotations, Service pinning, and the spec's matching and safety helpers. Hosts that only
// drive rollouts need '@kanary/core'.

export { canonicalJson, digest } from './engine/digest.ts';
export { stateProblems } from './engine/state-check.ts';
export type { IssueRemedy, KanaryErrorCode, KanaryErrorOptions, KanaryIssue } from './errors/kanary-error.ts';
export { formatIssues, isKanaryError, KanaryError, toKanaryError } from './errors/kanary-error.ts';
export type {
  JsonPatchOp,
  KubeClient,
  KubeClientOptions,
  KubeObject,
  ObjectIndex,
  ObjectRef,
} from './kubernetes/client.ts';
export { createKubeClient } from './kubernetes/client.ts';
export type { KubeStatus } from './kubernetes/errors.ts';
export { fromKubeError } from './kubernetes/errors.ts';
export {
  LABEL_REVISION,
  LABEL_ROLE,
  LABEL_ROLLOUT,
  OWNED_SELECTOR,
  ownedLabels,
} from './kubernetes/labels.ts';
export { refOf } from './kubernetes/object-api.ts';
export {
  type OwnedSnapshot,
  originalAnnotation,
  ownedSnapshot,
  readOwnedAnnotation,
  type Snapshot,
  withOwnedAnnotation,
} from './kubernetes/owned-annotation.ts';
export {
  ANNOTATION_ORIGINAL_SELECTOR,
  deleteOwnedService,
  ensureHashService,
  originalSelector,
  pinService,
  type Service,
  unpinService,
} from './kubernetes/service-pin.ts';
export type { FencedObject, WriteFence } from './leadership/fence.ts';
export { EPOCH_ANNOTATION_PREFIX, epochAnnotation, epochOn } from './leadership/fence.ts';
export type { Clock } from './ports/clock.ts';
export { systemClock } from './ports/clock.ts';
export type { PortContext } from './ports/context.ts';
export type {
  AnalysisPhase,
  GateInput,
  GateResult,
  GateState,
  Measurement,
  MetricGate,
} from './ports/gate.ts';
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
export type { ApiVerb, Permission } from './ports/permissions.ts';
export type { RolloutKey, Side, WorkloadRef } from './ports/refs.ts';
export type { RouterCapabilities, RouterStatus, TrafficRouter, WeightMode } from './ports/router.ts';
export { NO_CAPABILITIES } from './ports/router.ts';
export type { StateStore, StoredState } from './ports/store.ts';
export type { PartWiring } from './ports/wiring.ts';
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
export { missingObjectIssue, stableServiceIssue } from './routers/issues.ts';
export { parseRouterOptions, type RouterClientOptions, routerClient } from './routers/options.ts';
export type { ServiceSides, SideNames } from './routers/service-sides.ts';
export {
  createServiceSides,
  serviceRef,
  serviceSidesPermissions,
  sideHash,
  sideNames,
} from './routers/service-sides.ts';
export { sameContent, updateIfChanged } from './routers/update.ts';
export type { WebhookPolicy } from './security/addresses.ts';
export { webhookAddressProblem } from './security/addresses.ts';
export { backtrackingProblem } from './security/backtracking.ts';
export { bodyExcerpt, REDACTED, redact, redactUrl, redactValue } from './security/redact.ts';
export type { AnalysisMetric, AnalysisSpec } from './spec/analysis.ts';
export { ANALYSIS_METRIC_FIELDS } from './spec/analysis.ts';
export { cookieHeaderRegex, escapeRegex } from './spec/cookie.ts';
export { formatDuration, parseDuration, tryParseDuration } from './spec/duration.ts';
export type { CookieMatch, HeaderMatch, HeaderRoute, MatchRule, MirrorRoute } from './spec/match.ts';
export { formatPath, toKanaryIssues } from './spec/parse.ts';
export { regexProblem } from './spec/primitives.ts';
export { closest, fieldsAt } from './spec/suggest.ts';
export { canaryNameOf } from './workloads/deployment-driver.ts';
export { mergeTemplate, templatesEqual } from './workloads/template.ts';
