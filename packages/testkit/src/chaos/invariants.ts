import type { Plan, PlanAction, RolloutState } from '@kanary/core';
import { canonicalJson, stateProblems } from '@kanary/core/adapter';
import { currentAction } from '@kanary/core/testing';
import { jsonEqual, type KubeObject } from '../apiserver/object.ts';
import type { Cluster } from '../cluster/start.ts';
import { templateWithoutHash } from '../controllers/hash.ts';
import type { Entry } from '../traffic/simulator.ts';

/**
 * Release-safety invariants, checked on every tick of virtual time while a rollout runs. Each is a
 * predicate over what users get (the traffic simulator), the cluster and the saved state; see
 * packages/testkit/README.md for what each protects users from.
 */
export type InvariantName =
  | 'no-blackhole'
  | 'bounded-exposure'
  | 'abort-restores'
  | 'single-writer'
  | 'state-sane'
  | 'capacity'
  | 'edits-kept'
  | 'steady-driver'
  /** Checked by the chaos runner: a release nothing stopped ends `succeeded` on its own. */
  | 'progress';

export interface Violation {
  invariant: InvariantName;
  /** Cluster time of the tick it broke at. */
  at: number;
  detail: string;
}

export interface InvariantTarget {
  /** Where users enter; the watcher sends unmatched users (no headers, no cookies). */
  entry: Entry;
  namespace: string;
  /** The rollout's name: its state is the ConfigMap `kanary-<name>`. */
  rollout: string;
  /** Workload names as the simulator reports who served (Deployment names). */
  stable: string;
  canary: string;
  /**
   * The rollout's plan (`rollout.plan()`): a weight write in flight counts as reached, since a
   * router may move users (replica ratio moves pods) before the state records it.
   */
  plan?: Plan;
  /** The driver's poll interval: how long Kanary may take to notice a change in the world. */
  pollMs: number;
  /**
   * Check `capacity` (default true). A replica-ratio split has both sides behind one Service and
   * moves pods between them, so "the side taking 100%" is not one Deployment there.
   */
  capacity?: boolean;
  /** Users (emulator tokens) whose writes are people's, not Kanary's: not judged by single-writer (default `person`). */
  people?: string[];
  /**
   * Which side served, when that is not its Deployment's name: a rolling update runs both versions
   * in one Deployment (default: the Deployment that owns the pod).
   */
  sideOf?: (pod: KubeObject, workload: string) => string;
  /**
   * The most of the users a weight may send to the canary (default `weight / 100`); a rolling update
   * moves whole pods, so 10% of 5 replicas is one pod: a fifth of the users.
   */
  exposureOf?: (weight: number) => number;
  /** Routing objects and Services whose user-owned fields must be as they were after an abort. */
  routing: Array<{ kind: string; name: string; group?: string }>;
}

export interface InvariantOptions {
  /** Requests per tick (default 100). */
  requests?: number;
  /** Tick length in ms of cluster time (default 1000). */
  tickMs?: number;
  /** Slack on top of one poll interval for a reaction (the write and its propagation; default 2000). */
  graceMs?: number;
}

export interface InvariantWatch {
  readonly violations: Violation[];
  /**
   * The scenario made Kanary unable to act (an API outage, a stalled driver) from `from` to `to`:
   * reaction windows that overlap it are extended by its length.
   */
  blind(from: number, to: number): void;
  /**
   * A person changed this routing object: its end state is theirs, not compared with the one before
   * the rollout. `kept` says what of their change must still be there at the end, whatever the
   * outcome (`edits-kept`): it returns what is missing, or undefined.
   */
  edited(kind: string, name: string, kept?: (now: KubeObject | undefined) => string | undefined): void;
  /** Stops ticking; with the final state, runs the end-of-release checks. */
  stop(final?: RolloutState): Promise<Violation[]>;
}

type Obj = Record<string, unknown>;

/** Without Kanary's own bookkeeping: what a person owns in an object. */
function ownedByPerson(obj: KubeObject | undefined): string {
  if (!obj) return 'absent';
  const annotations = Object.fromEntries(
    Object.entries((obj.metadata?.annotations as Record<string, string> | undefined) ?? {}).filter(
      // Kanary's bookkeeping, and the Deployment controller's revision count.
      ([k]) => !k.startsWith('kanary.dev/') && !k.startsWith('deployment.kubernetes.io/'),
    ),
  );
  return canonicalJson({ labels: obj.metadata?.labels ?? {}, annotations, spec: obj.spec ?? {} });
}

/** The rollout's saved state as the ConfigMap holds it: undefined when absent; throws when it does not parse. */
export function savedState(cluster: Cluster, namespace: string, rollout: string): RolloutState | undefined {
  const cm = cluster.get('ConfigMap', namespace, `kanary-${rollout}`);
  if (!cm) return undefined;
  return JSON.parse((cm.data as Record<string, string> | undefined)?.['state.json'] ?? '') as RolloutState;
}

/** Four standard deviations of a binomial share over n requests, at least one request's worth. */
const tolerance = (p: number, n: number) => Math.max(4 * Math.sqrt((p * (1 - p)) / n), 1 / n) + 0.02;

/** The share of users an action sends to the canary: a route's weight, or a rolling update's pods. */
const weightOf = (a: PlanAction): number =>
  a.type === 'router.setWeight' ? a.weight : a.type === 'workload.rollTo' ? a.percent : 0;

const ROUTING_WRITES = new Set([
  'services',
  'virtualservices',
  'destinationrules',
  'ingresses',
  'httproutes',
  'deployments',
]);

export function watchInvariants(
  cluster: Cluster,
  target: InvariantTarget,
  options: InvariantOptions = {},
): InvariantWatch {
  const n = options.requests ?? 100;
  const tickMs = options.tickMs ?? 1_000;
  const grace = options.graceMs ?? 2_000;
  const violations: Violation[] = [];
  const blind: Array<[number, number]> = [];
  const edited = new Set<string>();
  const keptChecks: Array<{
    kind: string;
    name: string;
    check: (now: KubeObject | undefined) => string | undefined;
  }> = [];
  const before = new Map(
    target.routing.map((r) => [
      `${r.kind}/${r.name}`,
      ownedByPerson(cluster.get(r.kind, target.namespace, r.name, r.group)),
    ]),
  );
  const seen = new Set<string>();
  const report = (invariant: InvariantName, at: number, detail: string) => {
    // One report per invariant and cause: a broken tick usually stays broken for a while.
    const key = `${invariant}:${detail.replace(/\d+(\.\d+)?/g, '#')}`;
    if (seen.has(key)) return;
    seen.add(key);
    violations.push({ invariant, at, detail });
  };
  /** The reaction window from `since`: one poll plus grace, longer by any blind time inside it. */
  const windowEnd = (since: number) => {
    let end = since + target.pollMs + grace;
    for (const [from, to] of blind) if (from <= end && to >= since) end += to - Math.max(from, since);
    return end;
  };

  let blackholeSince: number | undefined;
  let exposedSince: number | undefined;
  let maxWeight = 0;
  let maxBound = 0;
  let abortAt: number | undefined;
  /** Since when the stable has had ready pods of the revision it now runs: an abort cannot move users to it before. */
  let stableServesSince: number | undefined;
  let shortSince: number | undefined;
  /** The saved state's driver epoch at each tick of the last poll interval. */
  const recentEpochs: Array<{ at: number; epoch: number }> = [];
  const epochs = new Map<string, number>();
  let requestIndex = cluster.requests.length;

  const readState = (at: number): RolloutState | undefined => {
    try {
      const state = savedState(cluster, target.namespace, target.rollout);
      if (!state) return undefined;
      const problems = stateProblems(state, { namespace: target.namespace, name: target.rollout }, undefined);
      if (problems.length > 0) report('state-sane', at, `saved state: ${problems.join('; ')}`);
      return state;
    } catch (error) {
      report('state-sane', at, `saved state does not parse: ${(error as Error).message}`);
      return undefined;
    }
  };

  const readyPods = (name: string) => {
    const d = cluster.get('Deployment', target.namespace, name);
    if (!d) return 0;
    return ((d.status as Obj | undefined)?.readyReplicas as number | undefined) ?? 0;
  };
  /**
   * Ready pods of the revision a Deployment now runs (the ReplicaSet of its template): what an abort
   * restores users to. An abort during a promotion writes the stable's old template back while its
   * pods of the promoted one are still ready; those serve the canary's version, and the routers
   * reach the stable through the restored revision (chaos seed 15088: users were kept on the canary,
   * the side that could serve, until the restored pods were ready, and the invariant counted the
   * promoted pods as the stable serving).
   */
  const readyOfCurrentRevision = (name: string) => {
    const d = cluster.get('Deployment', target.namespace, name);
    if (!d) return 0;
    const wanted = templateWithoutHash((d.spec as Obj | undefined)?.template);
    const rs = cluster
      .list('ReplicaSet', target.namespace)
      .find(
        (r) =>
          r.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name) &&
          jsonEqual(templateWithoutHash((r.spec as Obj | undefined)?.template), wanted),
      );
    return ((rs?.status as Obj | undefined)?.readyReplicas as number | undefined) ?? 0;
  };

  // no-blackhole, at every write: a tick looks once a virtual second and allows Kanary a poll to react,
  // so users sent nowhere between two of Kanary's own writes would pass it (the Istio write-order bug).
  // Right after each successful write by a driver, users are sampled: a write that takes them from
  // all served to some unserved while a side has ready pods is Kanary's doing.
  // A person's edit of anything that routes (the routing objects, and ones Kanary made, such as
  // ingress-nginx's canary Ingress: chaos seed 1444); a Deployment edit sizes pods, it routes nothing.
  const routingEdited = () => [...edited].some((k) => !k.startsWith('Deployment/'));
  let servedBefore = true;
  const people = target.people ?? ['person'];
  const sample = (): Map<string, number> => {
    const sideOf = target.sideOf;
    return sideOf
      ? cluster.traffic.sampleBy(target.entry, n, (served) => sideOf(served.pod, served.workload))
      : cluster.traffic.sample(target.entry, n);
  };
  const unserved = () => {
    const counts = sample();
    return (counts.get('status-503') ?? 0) + (counts.get('status-404') ?? 0);
  };
  // The world just before each routing write is processed: controllers change it between requests
  // too (a rolling update ends a pinned revision's last pod), and a driver told of that change by a
  // watch may answer with its very next request. Sampled once the fault injector lets the write on.
  const admit = cluster.faults.before;
  cluster.faults.before = async function (this: typeof cluster.faults, verb, resource, ...rest) {
    await admit.call(this, verb, resource, ...rest);
    if (ROUTING_WRITES.has(resource) && !['get', 'list', 'watch'].includes(verb))
      servedBefore = unserved() === 0;
  };
  const push = cluster.requests.push;
  cluster.requests.push = function (this: typeof cluster.requests, ...records) {
    const length = push.apply(this, records);
    for (const r of records) {
      // Every request is a look (the read before a write is the world just before it); only writes
      // that route or size the sides are judged (a state or Lease write merely happens to come next).
      const failures = unserved();
      const judged =
        ROUTING_WRITES.has(r.resource) &&
        !['get', 'list', 'watch', 'discovery'].includes(r.verb) &&
        r.code < 300;
      if (!judged) {
        servedBefore = failures === 0;
        continue;
      }
      const alternative = readyPods(target.stable) > 0 || readyPods(target.canary) > 0;
      const personal = people.includes(r.user ?? '') || routingEdited();
      if (failures > 0 && servedBefore && alternative && !personal)
        report(
          'no-blackhole',
          cluster.clock.now(),
          `${r.user ?? 'someone'}'s ${r.verb} of ${r.resource}/${r.name ?? ''} left ${failures} of ${n} requests without a backend`,
        );
      servedBefore = failures === 0;
    }
    return length;
  };

  const tick = () => {
    const at = cluster.clock.now();
    const state = readState(at);
    const counts = sample();
    const routingFailures = (counts.get('status-503') ?? 0) + (counts.get('status-404') ?? 0);
    const canaryShare = (counts.get(target.canary) ?? 0) / n;
    servedBefore = routingFailures === 0;

    // no-blackhole: routing failures may last no longer than Kanary needs to notice — when there is
    // a side with ready pods to send users to, and the routing is Kanary's (the release has not
    // ended) or the stable it restored can serve. A person who deleted every side is not Kanary's doing.
    const stableReady = readyPods(target.stable) > 0;
    if (readyOfCurrentRevision(target.stable) === 0) stableServesSince = undefined;
    else stableServesSince ??= at;
    const alternative = stableReady || readyPods(target.canary) > 0;
    // Kanary's until the release has ended and retired its old version.
    const managing = state !== undefined && state.cursor.section !== 'done';
    // A person who routed users to a stable without pods did that themselves: Kanary keeps their edit.
    const personRouted = !stableReady && routingEdited();
    if (routingFailures > 0 && alternative && (managing || stableReady) && !personRouted) {
      blackholeSince ??= at;
      if (at > windowEnd(blackholeSince))
        report(
          'no-blackhole',
          at,
          `${routingFailures} of ${n} requests answered 503 by the data plane since ${blackholeSince}`,
        );
    } else blackholeSince = undefined;

    if (state) {
      // A retry after an abort is a new attempt: its exposure and any later abort count afresh (chaos seed 29).
      if (abortAt !== undefined && !state.abort) {
        abortAt = undefined;
        maxWeight = 0;
        maxBound = 0;
      }
      const inFlight = target.plan && state.action ? currentAction(target.plan, state) : undefined;
      const writing = inFlight ? weightOf(inFlight) : 0;
      // Every step the cursor has passed counts as reached, even one skipped while its weight was
      // being written between two ticks (a replica-ratio router had started its pods: seed 290).
      const passed =
        target.plan && state.cursor.section === 'steps'
          ? target.plan.steps
              .slice(0, state.cursor.step + 1)
              .flatMap((step) => step.actions)
              .map(weightOf)
          : [];
      maxWeight = Math.max(maxWeight, state.weights.canary, state.weights.effective ?? 0, writing, ...passed);
      // When this watcher first saw it, on the cluster's clock: the state's own timestamp is the
      // clock of whoever sent the abort, which may be minutes off (chaos seed 108).
      if (state.abort && abortAt === undefined) abortAt = at;
    }
    // bounded-exposure: never more canary than the most Kanary has written, plus sampling noise.
    // The most the plan has exposed so far: with whole pods, a step rounded up at one size stays
    // reached when a person scales the Deployment afterwards (chaos seed 2376: 75% of 1 pod is 1).
    maxBound = Math.max(maxBound, target.exposureOf ? target.exposureOf(maxWeight) : maxWeight / 100);
    const bound = maxBound;
    // (With no ready stable pod, users can only reach the canary: that is the scenario's doing.)
    if (canaryShare > bound + tolerance(bound, n) && readyPods(target.stable) > 0) {
      exposedSince ??= at;
      if (at > windowEnd(exposedSince))
        report(
          'bounded-exposure',
          at,
          `canary served ${canaryShare} of users; the most written is ${maxWeight}%`,
        );
    } else exposedSince = undefined;

    // abort-restores: after an accepted abort, unmatched users are on stable within a poll (while it can serve).
    if (
      abortAt !== undefined &&
      stableServesSince !== undefined &&
      at > windowEnd(Math.max(abortAt, stableServesSince)) &&
      canaryShare > 0
    )
      report(
        'abort-restores',
        at,
        `canary still served ${canaryShare} of users after the abort at ${abortAt}`,
      );

    // capacity: the side taking everything has at least the stable's live size ready.
    if (target.capacity !== false && state?.phase === 'promoting' && state.weights.canary === 100) {
      const stable = cluster.get('Deployment', target.namespace, target.stable);
      const want = (stable?.spec as Obj | undefined)?.replicas as number | undefined;
      const have = readyPods(target.canary);
      // (A canary with no ready pod while the stable has none either is the scenario's doing: crash-
      // looping pods on both sides, chaos seed 2727; nothing Kanary writes can serve users then.)
      const someCapacity = have > 0 || readyPods(target.stable) > 0;
      if (
        want !== undefined &&
        want > 0 &&
        have < want &&
        someCapacity &&
        state.targets.stable?.name === target.stable
      ) {
        shortSince ??= at;
        if (at > windowEnd(shortSince))
          report('capacity', at, `canary has ${have} ready pods taking 100%; stable runs ${want}`);
      } else shortSince = undefined;
    } else shortSince = undefined;

    // steady-driver: a takeover costs an epoch; more than three within one poll interval is a driver
    // giving the Lease back and taking it again in a loop (chaos seed 8330: 20 epochs in 0.9 s).
    if (state?.driver) {
      recentEpochs.push({ at, epoch: state.driver.epoch });
      while ((recentEpochs[0]?.at ?? at) < at - target.pollMs) recentEpochs.shift();
      const first = recentEpochs[0]?.epoch ?? state.driver.epoch;
      if (state.driver.epoch - first > 3)
        report(
          'steady-driver',
          at,
          `the driver's epoch went from ${first} to ${state.driver.epoch} within ${target.pollMs} ms`,
        );
    }

    // single-writer: no write of an older driver lands after a newer one's.
    for (; requestIndex < cluster.requests.length; requestIndex++) {
      const r = cluster.requests[requestIndex];
      const epoch = r?.epochs?.[target.rollout];
      // A person's edit keeps whatever stamp the object had: it is not a driver's write (seed 879).
      if (epoch === undefined || (target.people ?? ['person']).includes(r?.user ?? '')) continue;
      const highest = Math.max(...epochs.values(), Number.NEGATIVE_INFINITY);
      if (epoch < highest)
        report(
          'single-writer',
          at,
          `${r?.user ?? 'someone'} wrote ${r?.resource}/${r?.name} with epoch ${epoch} after epoch ${highest}`,
        );
      epochs.set(r?.user ?? '', Math.max(epochs.get(r?.user ?? '') ?? 0, epoch));
    }
  };

  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      tick();
      await cluster.clock.sleep(tickMs, stopped.signal).catch(() => undefined);
    }
  })();

  return {
    violations,
    blind(from, to) {
      blind.push([from, to]);
    },
    edited(kind, name, kept) {
      edited.add(`${kind}/${name}`);
      if (kept) keptChecks.push({ kind, name, check: kept });
    },
    async stop(final) {
      stopped.abort();
      await loop;
      cluster.requests.push = push;
      cluster.faults.before = admit;
      const at = cluster.clock.now();
      if (!final) return violations;
      if (!['succeeded', 'aborted', 'failed', 'paused'].includes(final.phase))
        report('state-sane', at, `the rollout ended ${final.phase}`);
      if (final.phase === 'paused' && !final.held && !final.inconclusive && !final.userPause && !final.action)
        report('state-sane', at, 'paused with no cause');
      const failures = sample().get('status-503') ?? 0;
      if (final.phase === 'succeeded' && failures > 0 && readyPods(target.stable) > 0)
        report('state-sane', at, `succeeded while ${failures} of ${n} requests fail in routing`);
      for (const { kind, name, check } of keptChecks) {
        const group = target.routing.find((r) => r.kind === kind && r.name === name)?.group;
        const missing = check(cluster.get(kind, target.namespace, name, group));
        if (missing) report('edits-kept', at, `${kind}/${name}: a person's edit is gone: ${missing}`);
      }
      if (final.phase === 'aborted') {
        for (const r of target.routing) {
          const key = `${r.kind}/${r.name}`;
          if (edited.has(key)) continue;
          const now = ownedByPerson(cluster.get(r.kind, target.namespace, r.name, r.group));
          if (now !== before.get(key))
            report(
              'abort-restores',
              at,
              `${key} is not as it was before the rollout: ${now} (was ${before.get(key)})`,
            );
        }
      }
      return violations;
    },
  };
}
