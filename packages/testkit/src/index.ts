// @kanary/testkit — a local Kubernetes API emulator with controllers and a traffic simulator,
// so routers and strategies are proven through the real @kubernetes/client-node over HTTP.
// Helpers that need vitest (the router conformance suite, expectShare) are in '@kanary/testkit/vitest',
// so this entry loads without it.

export type { FaultInjector, FaultRule, Stall, StallMatch } from './apiserver/faults.ts';
export { seededRandom } from './apiserver/faults.ts';
export type { KubeObject, ManagedFieldsEntry, ObjectMeta } from './apiserver/object.ts';
export type { RaceHook, RequestRecord, Verb } from './apiserver/server.ts';
export { TESTKIT_CA } from './apiserver/tls.ts';
export type {
  InvariantName,
  InvariantOptions,
  InvariantTarget,
  InvariantWatch,
  Violation,
} from './chaos/invariants.ts';
export { watchInvariants } from './chaos/invariants.ts';
export type { ChaosOptions, ChaosReport, ChaosRouters } from './chaos/runner.ts';
export { chaosSpec, runChaos } from './chaos/runner.ts';
export type {
  ChaosControl,
  ChaosRouter,
  ChaosScenario,
  ChaosStrategy,
  Disturbance,
} from './chaos/scenario.ts';
export { chaosScenario, mustFinish, ROUTERS_OF, scenarioOf } from './chaos/scenario.ts';
export type { ShrinkResult } from './chaos/shrink.ts';
export { shrinkChaos } from './chaos/shrink.ts';
export type { Cluster, ClusterOptions } from './cluster/start.ts';
export { LivelockError, startCluster } from './cluster/start.ts';
export {
  newRSNewReplicas,
  proportionalScale,
  type RsNumbers,
  reconcileOldReplicaSets,
  resolveFenceposts,
  scaledValue,
} from './controllers/deployment-math.ts';
export { GATEWAY_CONTROLLER } from './controllers/gateway.ts';
export { podTemplateHash } from './controllers/hash.ts';
export type { PodBehavior, PodBehaviorRule } from './controllers/kubelet.ts';
export type { ControllerLatency } from './controllers/queue.ts';
export { REALISTIC_LATENCY } from './controllers/queue.ts';
export { deployment, gateway, istioApp, readinessProbe, service } from './fixtures/objects.ts';
export type { PrometheusOptions, PrometheusServer } from './prometheus/start.ts';
export { prometheusAvailable, startPrometheus } from './prometheus/start.ts';
export { gammaSampler, logGamma, poissonSampler } from './testing/poisson.ts';
export type { GatewayEntry } from './traffic/dataplanes/gateway-api.ts';
export type { IstioEntry } from './traffic/dataplanes/istio.ts';
export type { IngressEntry } from './traffic/dataplanes/nginx.ts';
export type { Backend, RouteOutcome } from './traffic/dataplanes/plane.ts';
export type { ServiceEntry } from './traffic/dataplanes/service.ts';
export type {
  BehaviorRule,
  Entry,
  Load,
  Session,
  SimResult,
  TrafficOptions,
  UserClass,
  VersionBehavior,
} from './traffic/simulator.ts';
export { TrafficSimulator } from './traffic/simulator.ts';
