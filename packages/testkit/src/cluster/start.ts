import { type Clock, systemClock } from '@kanary/core';
import { createVirtualClock, flushAsync, type VirtualClock } from '@kanary/core/testing';
import { KubeConfig } from '@kubernetes/client-node';
import { createFaultInjector, type FaultInjector, type FaultRule } from '../apiserver/faults.ts';
import { KINDS, type KindInfo, kindByName } from '../apiserver/kinds.ts';
import type { KubeObject } from '../apiserver/object.ts';
import { type RequestAttributes, rbacAllows } from '../apiserver/rbac.ts';
import { type RaceHook, type RequestRecord, startApiServer } from '../apiserver/server.ts';
import { ApiError } from '../apiserver/status.ts';
import { ObjectStore } from '../apiserver/store.ts';
import { TESTKIT_CA } from '../apiserver/tls.ts';
import type { PodBehaviorRule } from '../controllers/kubelet.ts';
import { ControllerManager } from '../controllers/manager.ts';
import type { ControllerLatency } from '../controllers/queue.ts';
import { startMetricsServer } from '../traffic/metrics-server.ts';
import { type TrafficOptions, TrafficSimulator } from '../traffic/simulator.ts';
import { settled } from './settled.ts';

export interface ClusterOptions {
  /**
   * Authorize requests with RBAC, as kube-apiserver with `--authorization-mode=RBAC`: every token is
   * then allowed only what the Roles and ClusterRoles bound to it (a `User` subject of that name)
   * allow, except `testkit` (the default kubeConfig) and `admins` (system:masters).
   */
  rbac?: { admins?: string[] };
  /** `virtual` (default): time moves only when the caller advances it. `real`: the wall clock. Or a clock to share. */
  time?: 'virtual' | 'real' | VirtualClock;
  /** Start of virtual time (default 2026-01-01T00:00:00Z). */
  startTime?: number;
  /** Default delay from pod creation to Ready (default 2s). */
  podReadyAfterMs?: number;
  /**
   * How long controllers and the kubelet take to react to a change: by default `REALISTIC_LATENCY`
   * (a seeded 20–250 ms per reconcile), so reads right after a write are stale, as on a real cluster.
   * `0` reconciles before the next read, for tests that compare upstream's exact sequences.
   */
  controllerLatency?: ControllerLatency;
  /** Namespaces that exist from the start (always `default` and `kube-system`). */
  namespaces?: string[];
  /** Seed of every random choice (faults, traffic), so runs replay. */
  seed?: number;
  faults?: FaultRule[];
  traffic?: TrafficOptions;
  /**
   * Serve https with a certificate of the testkit's CA, which the kubeConfig trusts (no
   * skipTLSVerify), as a real cluster; default plain http.
   */
  tls?: boolean;
  /** Serve only these versions of a group, e.g. `{ 'networking.istio.io': ['v1beta1'] }` (an Istio before 1.22). */
  servedVersions?: Record<string, string[]>;
  /**
   * kube-apiserver's `--feature-gates` the emulator has: `WatchList` (default on, as in 1.34; off as
   * 1.33 ships it, refusing watches that stream their initial state with 422).
   */
  featureGates?: { WatchList?: boolean };
}

export interface Cluster {
  /** A KubeConfig pointing at the emulator, for `@kubernetes/client-node` and Kanary. */
  kubeConfig: KubeConfig;
  /** A KubeConfig whose requests carry `user` as their bearer token: one process, for stalls and records. */
  kubeConfigFor(user: string): KubeConfig;
  url: string;
  /** Connections clients opened to the API server so far (TLS handshakes when `tls`). */
  readonly connections: number;
  /** Watches open now. */
  readonly watches: number;
  /** Ends every open watch, as an API server restart does; returns how many. */
  dropWatches(): number;
  /** Forgets the watch history (etcd's compaction): a watch from an older version gets 410 Gone. */
  compact(): void;
  /** Prometheus text exposition of the simulated traffic. */
  metricsUrl: string;
  /**
   * A Prometheus HTTP API address answering instant queries that are plain selectors (the built-in
   * counter and histogram queries of the sequential judges) from the simulated traffic, at the
   * cluster's clock. Use a real Prometheus (`startPrometheus`) for anything else.
   */
  prometheusUrl: string;
  clock: Clock;
  /** Set when time is virtual. */
  virtualClock: VirtualClock | undefined;
  faults: FaultInjector;
  /** Every API request served, in order. */
  requests: RequestRecord[];
  traffic: TrafficSimulator;
  /** Sets how pods of matching images/labels start (never ready, crash-looping, slow). */
  setPodBehavior(rule: PodBehaviorRule): void;
  /** Pods of a version (by image or labels) start crash-looping now, the running ones included. */
  crashPods(match: Omit<PodBehaviorRule, 'behavior'>): number;
  /** Creates or replaces objects directly (test setup, no HTTP); namespaces are created as needed. */
  apply(...objects: KubeObject[]): KubeObject[];
  /**
   * What the API server makes of `obj` (pruned, defaulted, validated) as `apply` would write it,
   * without writing it: a server-side dry run. For expectations about objects a person edits.
   */
  admit(obj: KubeObject): KubeObject;
  get(kind: string, namespace: string | undefined, name: string, group?: string): KubeObject | undefined;
  /**
   * Virtual time: runs `work` to completion, moving time to the next timer only when the API
   * server is idle (no request in flight, none for `quietMs` of real time), so time never jumps
   * while a client waits for an answer. `pace` slows virtual time to that many times the wall
   * clock (for demos people watch). Real time: just awaits `work`.
   */
  run<T>(
    work: Promise<T>,
    options?: { maxMs?: number; quietMs?: number; pace?: number; maxRequestsPerInstant?: number },
  ): Promise<T>;
  /**
   * A concurrent writer: `edit` runs (as field manager `user`) just before the next update or
   * patch of the object is processed, so that write meets a newer resourceVersion.
   */
  raceNextWrite(
    kind: string,
    namespace: string,
    name: string,
    edit: (obj: KubeObject) => KubeObject,
    group?: string,
  ): void;
  list(kind: string, namespace?: string, group?: string): KubeObject[];
  /**
   * Waits until `ready()` holds, as a test on a real cluster polls: in virtual time by moving the
   * clock 100 ms at a time, in real time every 20 ms. Throws naming `what` after `timeoutMs` of
   * clock time (default 30 s). For setups that must wait for the controllers ("blue serves").
   */
  until(ready: () => boolean, what: string, options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Waits until the objects in `namespace` (default `default`) have settled, as `kubectl rollout
   * status` and a look at the Endpoints would tell: every Deployment available at its size, every
   * Service's Endpoints listing exactly its ready pods. The setup step before a test that drives a
   * router by hand (the controllers react after each write, as a cluster's do).
   */
  settle(namespace?: string, options?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

function infoOf(obj: KubeObject): KindInfo {
  const group = obj.apiVersion?.includes('/') ? obj.apiVersion.split('/')[0] : '';
  const info = KINDS.find((k) => k.kind === obj.kind && k.group === group);
  if (!info) throw new Error(`the emulator does not serve ${obj.apiVersion} ${obj.kind}`);
  return info;
}

/** Starts the emulator on an ephemeral loopback port. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const virtualClock =
    options.time === 'real'
      ? undefined
      : typeof options.time === 'object'
        ? options.time
        : createVirtualClock(options.startTime ?? Date.UTC(2026, 0, 1));
  const clock: Clock = virtualClock ?? systemClock;
  const store = new ObjectStore(() => clock.now());
  const faults = createFaultInjector(
    () => clock.now(),
    options.seed ?? 1,
    (ms) => clock.sleep(ms),
  );
  if (options.faults) faults.set(options.faults);
  const controllers = new ControllerManager(store, clock, {
    ...(options.podReadyAfterMs !== undefined ? { podReadyAfterMs: options.podReadyAfterMs } : {}),
    ...(options.controllerLatency !== undefined ? { latency: options.controllerLatency } : {}),
    seed: options.seed ?? 1,
  });
  const nsInfo = kindByName('Namespace') as KindInfo;
  const ensureNamespace = (name: string) => {
    if (!store.get(nsInfo, undefined, name))
      store.create(
        nsInfo,
        undefined,
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
        { manager: 'testkit' },
      );
  };
  for (const ns of ['default', 'kube-system', ...(options.namespaces ?? [])]) ensureNamespace(ns);
  const races: RaceHook[] = [];
  const rbac = options.rbac;
  const masters = new Set(['testkit', ...(rbac?.admins ?? [])]);
  const rbacKind = (kind: string) => kindByName(kind, 'rbac.authorization.k8s.io') as KindInfo;
  const api = await startApiServer(
    store,
    faults,
    {
      ...(options.servedVersions ? { servedVersions: options.servedVersions } : {}),
      ...(options.tls ? { tls: true } : {}),
      ...(options.featureGates ? { featureGates: options.featureGates } : {}),
      ...(rbac
        ? {
            authorize: (a: RequestAttributes) =>
              masters.has(a.user) ||
              rbacAllows(
                {
                  list: (kind, namespace) => store.list(rbacKind(kind), namespace),
                  get: (kind, namespace, name) => store.get(rbacKind(kind), namespace, name),
                },
                a,
              ),
          }
        : {}),
    },
    races,
  );
  const traffic = new TrafficSimulator(store, clock, { seed: options.seed ?? 1, ...options.traffic });
  const metrics = await startMetricsServer(traffic.metrics, () => clock.now(), api.activity);

  const kubeConfigFor = (user: string) => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        options.tls
          ? {
              name: 'kanary-testkit',
              server: api.url,
              caData: Buffer.from(TESTKIT_CA).toString('base64'),
              skipTLSVerify: false,
            }
          : { name: 'kanary-testkit', server: api.url, skipTLSVerify: true },
      ],
      users: [{ name: user, token: user }],
      contexts: [{ name: 'kanary-testkit', cluster: 'kanary-testkit', user, namespace: 'default' }],
      currentContext: 'kanary-testkit',
    });
    return kc;
  };
  const kubeConfig = kubeConfigFor('testkit');

  const write = (obj: KubeObject, dryRun: boolean): KubeObject => {
    const info = infoOf(obj);
    const ns = info.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    if (ns && !dryRun) ensureNamespace(ns);
    const existing = store.get(info, ns, obj.metadata.name as string);
    const opts = { manager: 'testkit', dryRun };
    try {
      return existing
        ? store.update(
            info,
            ns,
            { ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata.resourceVersion } },
            opts,
          )
        : store.create(info, ns, obj, opts);
    } catch (error) {
      if (error instanceof ApiError)
        throw new Error(`apply ${obj.kind} ${obj.metadata.name}: ${error.message}`);
      throw error;
    }
  };

  const cluster: Cluster = {
    kubeConfig,
    kubeConfigFor,
    url: api.url,
    get connections() {
      return api.connections.opened;
    },
    get watches() {
      return api.watches;
    },
    dropWatches: () => api.dropWatches(),
    compact: () => store.compact(),
    metricsUrl: metrics.url,
    prometheusUrl: metrics.queryUrl,
    clock,
    virtualClock,
    faults,
    requests: api.requests,
    traffic,
    setPodBehavior: (rule) => controllers.setPodBehavior(rule),
    crashPods: (match) => controllers.crashPods(match),
    apply(...objects) {
      return objects.map((obj) => write(obj, false));
    },
    admit: (obj) => write(obj, true),
    get(kind, namespace, name, group) {
      const info = kindByName(kind, group);
      if (!info) throw new Error(`unknown kind ${kind}`);
      return store.get(info, info.namespaced ? namespace : undefined, name);
    },
    list(kind, namespace, group) {
      const info = kindByName(kind, group);
      if (!info) throw new Error(`unknown kind ${kind}`);
      return store.list(info, namespace);
    },
    raceNextWrite(kind, namespace, name, edit, group) {
      const info = kindByName(kind, group);
      if (!info) throw new Error(`unknown kind ${kind}`);
      races.push({
        plural: info.plural,
        namespace,
        name,
        edit: (s) => {
          const current = s.get(info, namespace, name);
          if (current) s.update(info, namespace, edit(current), { manager: 'user' });
        },
      });
    },
    async run(work, runOptions = {}) {
      if (!virtualClock) return work;
      const quiet = runOptions.quietMs ?? 3;
      const limit = clock.now() + (runOptions.maxMs ?? 7 * 24 * 3_600_000);
      let settled = false;
      work.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      const realSleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const v0 = clock.now();
      const r0 = performance.now();
      // A livelock: clients that keep the API busy never let virtual time move (two drive loops
      // taking one Lease from each other, chaos seed 8416). Said, instead of hanging the run.
      const perInstant = runOptions.maxRequestsPerInstant ?? 20_000;
      let instant = { at: clock.now(), requests: api.requests.length };
      while (!settled) {
        if (clock.now() !== instant.at) instant = { at: clock.now(), requests: api.requests.length };
        else if (api.requests.length - instant.requests > perInstant)
          throw new LivelockError(
            `cluster.run: ${api.requests.length - instant.requests} requests without virtual time moving (a livelock)`,
          );
        const flushStart = performance.now();
        await flushAsync(10);
        if (settled) break;
        // On a loaded machine a client takes longer to get from one response to its next request:
        // wait for quiet in proportion to how slowly the event loop turns, or virtual time would
        // jump while a driver is still reacting (chaos seeds 66 and 295 differed in a batch).
        const lag = performance.now() - flushStart;
        const busy =
          api.activity.inflight > 0 || performance.now() - api.activity.lastAt < Math.max(quiet, lag * 3);
        if (busy || virtualClock.pending() === 0) {
          await realSleep(1);
          continue;
        }
        if (clock.now() > limit)
          throw new Error('cluster.run: work still running after maxMs of virtual time');
        await virtualClock.advanceToNext();
        if (runOptions.pace) {
          const behind = (clock.now() - v0) / runOptions.pace - (performance.now() - r0);
          if (behind > 0) await realSleep(behind);
        }
      }
      return work;
    },
    async until(ready, what, untilOptions = {}) {
      const deadline = clock.now() + (untilOptions.timeoutMs ?? 30_000);
      while (!ready()) {
        if (clock.now() >= deadline)
          throw new Error(
            `cluster.until: ${what} did not happen within ${untilOptions.timeoutMs ?? 30_000} ms`,
          );
        if (virtualClock) await virtualClock.advance(100);
        else await new Promise((r) => setTimeout(r, 20));
      }
    },
    settle(namespace = 'default', settleOptions = {}) {
      return this.until(
        () => controllers.idle() && settled(this, namespace),
        `the objects in ${namespace} to settle`,
        settleOptions,
      );
    },
    async close() {
      traffic.stop();
      controllers.stop();
      await Promise.all([api.close(), metrics.close()]);
    },
  };
  return cluster;
}

/** Thrown by `cluster.run` when clients keep the API busy and virtual time cannot move. */
export class LivelockError extends Error {
  override name = 'LivelockError';
}
