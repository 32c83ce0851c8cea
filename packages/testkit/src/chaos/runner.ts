import {
  type ApiVerb,
  type Clock,
  type KubeObject as CoreObject,
  createKubeClient,
  createKubernetesRollout,
  type KubeClient,
  type Rollout,
  type RolloutSpecInput,
  type RolloutState,
  rolesFor,
  type TrafficRouter,
} from '@kanary/core';
import type { FaultRule } from '../apiserver/faults.ts';
import type { KubeObject } from '../apiserver/object.ts';
import { type Cluster, LivelockError, startCluster } from '../cluster/start.ts';
import type { ControllerLatency } from '../controllers/queue.ts';
import { deployment, gateway, istioApp, service } from '../fixtures/objects.ts';
import type { Entry } from '../traffic/simulator.ts';
import { editRoute, routeZero } from './edits.ts';
import {
  type InvariantTarget,
  type InvariantWatch,
  savedState,
  type Violation,
  watchInvariants,
} from './invariants.ts';
import { type ChaosScenario, type Disturbance, mustFinish, scenarioOf } from './scenario.ts';

/** The routers that live outside `@kanary/core`, made for the runner's objects (all named `web`). */
export interface ChaosRouters {
  istio?: (client: KubeClient) => TrafficRouter;
  nginx?: (client: KubeClient) => TrafficRouter;
  gateway?: (client: KubeClient) => TrafficRouter;
}

export interface ChaosOptions {
  seed: number;
  routers: ChaosRouters;
  /** Run this scenario instead of the seed's (a shrunk one). */
  scenario?: ChaosScenario;
  /** Receives the drivers' transitions and the disturbances as they happen (`pnpm chaos --seed S --log`). */
  log?: (line: string) => void;
  /** Cluster time a release may take before a person steps in and aborts it (default 10 min). */
  patienceMs?: number;
  /** How late the emulator's controllers react (see `ClusterOptions.controllerLatency`). */
  controllerLatency?: ControllerLatency;
  /**
   * Enforce RBAC: the drivers and the operator may do only what the Role made from
   * `rollout.permissions()` allows (`rolesFor`); the person stays an administrator. `without`
   * takes one verb away from the Role (to see the release fail, and say so).
   */
  rbac?: boolean | { without: { resource: string; verb: ApiVerb } };
}

export interface ChaosReport {
  seed: number;
  scenario: ChaosScenario;
  violations: Violation[];
  /** The final phase, after a person aborted a release left held or failed. */
  phase: RolloutState['phase'] | 'unknown';
  /** Cluster time the release started at: violations' `at` minus this is how far into it they broke. */
  startedAt: number;
  /** Where the release stood at the end, for a person reading a failure. */
  where: string;
  /** What the run exercised: `weighted×istio`, `control:abort`, `crash`, … */
  covered: string[];
  /** Disturbances that did nothing (a control refused in that phase, a side already gone). */
  refused: string[];
  /** API requests the processes made, and how many of them RBAC refused (403). */
  requests: { total: number; forbidden: number };
  wallMs: number;
}

const NS = 'default';
const POLL = 2_000;
const TTL = 15_000;
const HOST = 'web.example.com';

function world(scenario: ChaosScenario): {
  objects: KubeObject[];
  entry: Entry;
  routing: InvariantTargetRouting;
} {
  const app = [deployment('web', NS, 'web:1', scenario.replicas), service('web', NS, { app: 'web' })];
  switch (scenario.router) {
    case 'istio': {
      const [d, s, dr, vs] = istioApp('web', NS, 'web:1', scenario.replicas);
      return {
        objects: [d, s, dr, vs],
        entry: { kind: 'istio', host: 'web', namespace: NS },
        routing: [
          { kind: 'VirtualService', name: 'web', group: 'networking.istio.io' },
          { kind: 'DestinationRule', name: 'web', group: 'networking.istio.io' },
          { kind: 'Service', name: 'web' },
        ],
      };
    }
    case 'nginx':
      return {
        objects: [
          ...app,
          {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'Ingress',
            metadata: { name: 'web', namespace: NS },
            spec: {
              ingressClassName: 'nginx',
              rules: [
                {
                  host: HOST,
                  http: {
                    paths: [
                      {
                        path: '/',
                        pathType: 'Prefix',
                        backend: { service: { name: 'web', port: { number: 80 } } },
                      },
                    ],
                  },
                },
              ],
            },
          },
        ],
        entry: { kind: 'ingress', host: HOST },
        routing: [
          { kind: 'Ingress', name: 'web', group: 'networking.k8s.io' },
          { kind: 'Service', name: 'web' },
        ],
      };
    case 'gateway':
      return {
        objects: [
          ...app,
          ...gateway('public-gateway', NS),
          {
            apiVersion: 'gateway.networking.k8s.io/v1',
            kind: 'HTTPRoute',
            metadata: { name: 'web', namespace: NS },
            spec: {
              parentRefs: [{ name: 'public-gateway' }],
              hostnames: [HOST],
              rules: [
                {
                  matches: [{ path: { type: 'PathPrefix', value: '/' } }],
                  backendRefs: [{ name: 'web', port: 80 }],
                },
              ],
            },
          },
        ],
        entry: { kind: 'gateway', host: HOST, path: '/', gateway: { namespace: NS, name: 'public-gateway' } },
        routing: [
          { kind: 'HTTPRoute', name: 'web', group: 'gateway.networking.k8s.io' },
          { kind: 'Service', name: 'web' },
        ],
      };
    case 'service':
      return {
        objects: [...app, service('web-preview', NS, { app: 'web' })],
        entry: { kind: 'service', namespace: NS, service: 'web' },
        routing: [{ kind: 'Service', name: 'web' }],
      };
    case 'replicas':
      return {
        objects: app,
        entry: { kind: 'service', namespace: NS, service: 'web' },
        routing: [{ kind: 'Service', name: 'web' }],
      };
    case 'deployment':
      // The Deployment is what a rolling update changes: after an abort it is the user's again.
      return {
        objects: app,
        entry: { kind: 'service', namespace: NS, service: 'web' },
        routing: [
          { kind: 'Service', name: 'web' },
          { kind: 'Deployment', name: 'web', group: 'apps' },
        ],
      };
  }
}
type InvariantTargetRouting = Array<{ kind: string; name: string; group?: string }>;

export function chaosSpec(scenario: ChaosScenario): RolloutSpecInput {
  const steps = scenario.weights.flatMap((w) => [
    { setWeight: w },
    { pause: { duration: scenario.pauseMs } },
  ]);
  const base = {
    name: 'web',
    namespace: NS,
    target: { name: 'web', service: 'web' },
    update: { image: 'web:2' },
    scaleDownDelay: '5s',
    abortScaleDownDelay: '5s',
    progressDeadline: '5m',
  };
  switch (scenario.strategy) {
    case 'weighted':
      return { ...base, strategy: { type: 'weighted' }, steps };
    case 'headerMatch':
      return {
        ...base,
        strategy: {
          type: 'headerMatch',
          match: [{ headers: [{ name: 'x-canary', exact: 'yes' }] }],
          weight: 100,
        },
        steps,
      };
    case 'replicaRatio':
      return { ...base, strategy: { type: 'replicaRatio' }, steps };
    case 'rolling':
      return { ...base, strategy: { type: 'rolling' }, steps };
    case 'blueGreen':
      return {
        ...base,
        strategy: {
          type: 'blueGreen',
          activeService: 'web',
          previewService: 'web-preview',
          autoPromotionSeconds: Math.round(scenario.pauseMs / 1000),
          scaleDownDelaySeconds: 5,
        },
      };
  }
}

const canaryNameFor = (scenario: ChaosScenario) =>
  scenario.strategy === 'blueGreen' ? 'web-green' : 'web-canary';

/**
 * A rolling update has both versions in the Deployment `web`: pods of the update's image are the
 * canary, and a weight rolls whole pods (ceil of its share of the live replica count).
 */
function rollingSides(cluster: Cluster): Pick<InvariantTarget, 'sideOf' | 'exposureOf'> {
  return {
    sideOf: (pod, workload) =>
      (pod.spec as { containers?: Array<{ image?: string }> } | undefined)?.containers?.[0]?.image === 'web:2'
        ? 'web-canary'
        : workload,
    exposureOf: (weight) => {
      const d = cluster.get('Deployment', NS, 'web');
      const total = ((d?.spec as { replicas?: number } | undefined)?.replicas ?? 1) || 1;
      return Math.min(1, Math.ceil((total * weight) / 100) / total);
    },
  };
}

/**
 * One generated release against a fresh emulator, in virtual time: the driver runs it while the
 * scenario's disturbances happen, the invariants are checked on every tick, and a release left held
 * or failed is aborted by a person at the end. Deterministic for a seed (the cluster, the traffic
 * and the schedule all follow it).
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const scenario = options.scenario ?? scenarioOf(options.seed);
  const covered = new Set<string>([`${scenario.strategy}×${scenario.router}`]);
  const refused: string[] = [];
  const cluster = await startCluster({
    podReadyAfterMs: 1_000,
    seed: options.seed,
    ...(options.rbac ? { rbac: { admins: ['person'] } } : {}),
    ...(options.controllerLatency !== undefined ? { controllerLatency: options.controllerLatency } : {}),
    ...(scenario.noWatchList ? { featureGates: { WatchList: false } } : {}),
  });
  try {
    const { objects, entry, routing } = world(scenario);
    cluster.apply(...objects);
    if (scenario.neverReady) {
      cluster.setPodBehavior({ image: 'web:2', behavior: { neverReady: true } });
      covered.add('neverReady');
    }
    await cluster.virtualClock?.advance(2_000);
    const spec = chaosSpec(scenario);
    const makeRouter = (client: KubeClient): TrafficRouter | undefined => {
      if (scenario.router === 'service' || scenario.router === 'replicas' || scenario.router === 'deployment')
        return undefined;
      const make = options.routers[scenario.router];
      if (!make) throw new Error(`runChaos: no ${scenario.router} router given`);
      return make(client);
    };
    // Every process but the first driver reads a wall clock `skewMs` off; monotonic time is shared.
    const skewed: Clock = {
      now: () => cluster.clock.now() + scenario.skewMs,
      monotonic: () => cluster.clock.monotonic?.() ?? cluster.clock.now(),
      sleep: (ms, signal) => cluster.clock.sleep(ms, signal),
    };
    if (scenario.skewMs !== 0) covered.add('clock skew');
    if (scenario.noWatchList) covered.add('no streaming lists (1.33)');
    const processFor = (user: string, waitForLock: boolean): Rollout => {
      const clock = user === 'driver-1' ? cluster.clock : skewed;
      const client = createKubeClient({ kubeConfig: cluster.kubeConfigFor(user), clock });
      const router = makeRouter(client);
      const rollout = createKubernetesRollout({
        spec,
        client,
        clock,
        holder: user,
        lockTtl: TTL,
        pollInterval: POLL,
        waitForLock,
        ...(router ? { router } : {}),
      });
      const log = options.log;
      if (log) {
        const at = () => `+${((cluster.clock.now() - t0) / 1000).toFixed(1)}s ${user}`;
        rollout.on('state', (s) => {
          const h = s.history.at(-1);
          log(
            `${at()} ${s.phase} ${s.cursor.section}/${s.cursor.step}/${s.cursor.action} w=${s.weights.canary}${s.action?.message ? ` (${s.action.message})` : ''}${h ? ` [${h.event}${h.detail ? `: ${h.detail}` : ''}]` : ''}`,
          );
        });
        rollout.on('warning', (w) => log(`${at()} warning: ${w.message}`));
        rollout.on('leadership', (l) => log(`${at()} ${l.status}: ${l.message}`));
      }
      return rollout;
    };
    let t0 = cluster.clock.now();

    const drivers0 = processFor('driver-1', false);
    if (options.rbac) {
      // The least-privilege Role the rollout asks for, bound to every process that drives or controls it.
      const without = typeof options.rbac === 'object' ? options.rbac.without : undefined;
      const granted = drivers0
        .permissions()
        .map((p) =>
          without && p.resource === without.resource
            ? { ...p, verbs: p.verbs.filter((v) => v !== without.verb) }
            : p,
        );
      for (const role of rolesFor(granted, { name: 'kanary-web', namespace: NS })) {
        const { reasons: _r, ...manifest } = role;
        cluster.apply(
          manifest as unknown as KubeObject,
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: 'kanary-web', namespace: role.metadata.namespace },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kanary-web' },
            subjects: ['driver-1', 'driver-2', 'operator'].map((name) => ({
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'User',
              name,
            })),
          } as unknown as KubeObject,
        );
      }
    }
    // A replica-ratio split moves users by starting pods: its reactions take the pods' start (1 s
    // here) and a readiness poll longer than a routing write.
    // A rolling update's abort rolls every pod back in the Deployment's own batches (25% by default).
    const graceMs =
      scenario.router === 'replicas'
        ? 2_000 + 1_000 + POLL * 2
        : scenario.router === 'deployment'
          ? 2_000 + POLL * 2 + 4 * 1_000
          : 2_000;
    const watch = watchInvariants(
      cluster,
      {
        entry,
        namespace: NS,
        rollout: 'web',
        stable: 'web',
        canary: canaryNameFor(scenario),
        pollMs: POLL,
        plan: drivers0.plan(),
        routing,
        capacity: scenario.router !== 'replicas' && scenario.router !== 'deployment',
        ...(scenario.router === 'deployment' ? rollingSides(cluster) : {}),
      },
      { graceMs },
    );
    const drivers: Rollout[] = [drivers0];
    // A driver's run may end in an error (a refused preflight, a 403 before its first save): say so in
    // the log, since its state may never record it.
    const drive = (d: Rollout, user: string) =>
      d.run().catch((error: Error) => {
        options.log?.(
          `+${((cluster.clock.now() - t0) / 1000).toFixed(1)}s ${user} run ended: ${error.message.split('\n')[0]}`,
        );
        return undefined;
      });
    const runs: Array<Promise<RolloutState | undefined>> = [drive(drivers0, 'driver-1')];
    const operator = processFor('operator', false);
    const person = createKubeClient({ kubeConfig: cluster.kubeConfigFor('person'), clock: cluster.clock });
    t0 = cluster.clock.now();

    const disturbances = scenario.disturbances.map((d) =>
      (async () => {
        await cluster.clock.sleep(d.at);
        await disturb(d);
      })().catch((error: Error) => refused.push(`${label(d)}: ${error.message.split('\n')[0]}`)),
    );

    const progress: Violation[] = [];
    const rules = new Set<FaultRule>();
    const window = async (rule: FaultRule, ms: number) => {
      rules.add(rule);
      cluster.faults.set([...rules]);
      await cluster.clock.sleep(ms);
      rules.delete(rule);
      cluster.faults.set([...rules]);
    };
    const stalls: Array<{ release(): void }> = [];
    async function disturb(d: Disturbance): Promise<void> {
      covered.add(label(d));
      const now = cluster.clock.now();
      options.log?.(`+${((now - t0) / 1000).toFixed(1)}s disturbance ${JSON.stringify(d)}`);
      const deploymentRef = (name: string) => ({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: NS,
        name,
      });
      switch (d.kind) {
        case 'control': {
          // As `kanary abort`/`kanary retry` do: hand it to a live driver or carry it out here.
          const wait = { timeout: 10 * 60_000 };
          if (d.control === 'abort') await operator.abort('chaos: operator abort', wait);
          else if (d.control === 'retry') await operator.retry(wait);
          else await operator[d.control]();
          return;
        }
        case 'deleteCanary':
          await person.delete(deploymentRef(canaryNameFor(scenario)));
          return;
        case 'deleteStable': {
          const stable = cluster.get('Deployment', NS, 'web');
          if (!stable) throw new Error('no stable to delete');
          const spec = stable.spec as {
            replicas?: number;
            template: { spec: { containers: Array<{ image: string }> } };
          };
          await person.delete(deploymentRef('web'));
          await cluster.clock.sleep(d.restoreAfter);
          // From their manifest: a rolling update's template in the cluster was Kanary's update.
          const image =
            scenario.router === 'deployment' ? 'web:1' : (spec.template.spec.containers[0]?.image ?? 'web:1');
          cluster.apply(deployment('web', NS, image, spec.replicas ?? 1));
          return;
        }
        case 'setImage':
          await person.update<CoreObject>(deploymentRef('web'), (obj) => {
            const spec = obj.spec as { template: { spec: { containers: Array<{ image: string }> } } };
            const c = spec.template.spec.containers[0];
            if (c) c.image = 'web:3';
            return obj;
          });
          watch.edited('Deployment', 'web');
          return;
        case 'scaleStable':
          await person.mergePatch(deploymentRef('web'), { spec: { replicas: d.replicas } });
          // A rolling update's Deployment is compared at the end: its size is now the person's.
          if (scenario.router === 'deployment') watch.edited('Deployment', 'web');
          return;
        case 'routeZero':
          await routeZero(scenario.router, person, watch);
          return;
        case 'faults':
          watch.blind(now, now + d.ms);
          await window({ rate: d.rate, status: 503 }, d.ms);
          return;
        case 'slowApi':
          // A reaction takes a handful of requests, each this much slower.
          watch.blind(now, now + d.ms + 5 * d.delayMs);
          await window({ rate: 1, delayMs: d.delayMs }, d.ms);
          return;
        case 'crashCanary':
          if (cluster.crashPods({ image: 'web:2' }) === 0) throw new Error('no canary pods running');
          return;
        case 'stealLease': {
          const ref = {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            namespace: NS,
            name: 'kanary-web',
          };
          await person.update<CoreObject>(ref, (lease) => {
            const spec = lease.spec as Record<string, unknown>;
            spec.holderIdentity = 'someone-else';
            spec.renewTime = new Date(cluster.clock.now()).toISOString().replace('Z', '000Z');
            spec.leaseTransitions = ((spec.leaseTransitions as number | undefined) ?? 0) + 1;
            return lease;
          });
          // The driver sees it at its next look at its Lease (a third of the TTL) and waits a whole lease
          // duration for it to expire: the hand edit voids the Lease's pointer to the heartbeat.
          watch.blind(now, now + 2 * TTL + POLL);
          return;
        }
        case 'editRoute':
          await editRoute(scenario.router, person, watch);
          return;
        case 'outage':
          cluster.faults.outage(d.ms);
          watch.blind(now, now + d.ms);
          return;
        case 'stall': {
          const stall = cluster.faults.stall({ user: 'driver-1' });
          watch.blind(now, now + d.ms + TTL);
          await cluster.clock.sleep(d.ms);
          stall.release();
          return;
        }
        case 'crash': {
          if (drivers.length > 1) throw new Error('already crashed');
          stalls.push(cluster.faults.stall({ user: 'driver-1' }));
          watch.blind(now, now + TTL * 2);
          const successor = processFor('driver-2', true);
          drivers.push(successor);
          runs.push(drive(successor, 'driver-2'));
          return;
        }
      }
    }
    // The release runs while the schedule plays out, then a person gives it the time it needs.
    const horizon = (scenario.disturbances.at(-1)?.at ?? 0) + 1_000;
    const patience = options.patienceMs ?? 10 * 60_000;
    const readState = (): RolloutState | undefined => {
      try {
        return savedState(cluster, NS, 'web');
      } catch {
        return undefined; // the watcher reports it (state-sane)
      }
    };
    // Ended and retired: the old version scaled down and the routing handed back.
    const settled = (s: RolloutState | undefined) =>
      (s?.phase === 'succeeded' || s?.phase === 'aborted') && s.cursor.section === 'done';
    const waitUntil = async (done: () => boolean, maxMs: number) => {
      const limit = cluster.clock.now() + maxMs;
      while (!done() && cluster.clock.now() < limit) await cluster.run(cluster.clock.sleep(1_000));
    };
    try {
      await waitUntil(() => cluster.clock.now() - t0 > horizon && settled(readState()), horizon + patience);
      await cluster.run(Promise.all(disturbances));
      const unaided = readState();
      if (mustFinish(scenario) && unaided?.phase !== 'succeeded') {
        // Liveness: only slowed down, the release had to end on its own (a hold nobody caused is a bug).
        progress.push({
          invariant: 'progress',
          at: cluster.clock.now(),
          detail: `nothing in the scenario could stop it, yet it is ${unaided?.phase ?? 'gone'} at ${where(unaided)}`,
        });
      }
      if (!settled(unaided)) {
        // Held, paused, failed or stuck: a person ends it.
        covered.add('person aborts at the end');
        const ended = operator.abort('chaos: a person ends the release').catch((e: Error) => {
          refused.push(`final abort: ${e.message.split('\n')[0]}`);
        });
        await waitUntil(() => settled(readState()), patience);
        await cluster.run(ended);
      }
      // A frozen driver wakes up: whatever it still had in flight must be refused.
      for (const s of stalls) s.release();
      await waitUntil(() => false, 3 * POLL);
    } catch (error) {
      if (!(error instanceof LivelockError)) throw error;
      progress.push({ invariant: 'steady-driver', at: cluster.clock.now(), detail: error.message });
    }
    const final = readState();
    const violations = [...(await watch.stop(final)), ...progress];
    // Closing may still talk to the API server (a last load, a retry on the cluster's clock): in
    // virtual time that needs the clock to move (seed 632 hung here).
    for (const d of drivers) await cluster.run(d.close().catch(() => undefined));
    await cluster.run(operator.close().catch(() => undefined));
    await cluster.run(Promise.race([Promise.all(runs), cluster.clock.sleep(TTL)]));
    return {
      seed: options.seed,
      scenario,
      violations,
      startedAt: t0,
      phase: final?.phase ?? 'unknown',
      where: where(final),
      covered: [...covered],
      refused,
      requests: {
        total: cluster.requests.length,
        forbidden: cluster.requests.filter((r) => r.code === 403).length,
      },
      wallMs: Date.now() - started,
    };
  } finally {
    await cluster.close();
  }
}

/** Where a release stands, for a person reading a failure. */
function where(s: RolloutState | undefined): string {
  if (!s) return 'no state';
  return `${s.cursor.section} ${s.cursor.step}/${s.cursor.action}${s.action?.message ? `: ${s.action.message}` : ''}${s.error ? ` (error: ${s.error.message})` : ''}${s.held ? ` (held: ${s.held.reason})` : ''}`;
}

function label(d: Disturbance): string {
  return d.kind === 'control' ? `control:${d.control}` : d.kind;
}

export type { InvariantWatch };
