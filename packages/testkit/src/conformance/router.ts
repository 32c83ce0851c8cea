import {
  type KubeObject as CoreObject,
  createDeploymentDriver,
  createKubeClient,
  createRollout,
  isKanaryError,
  parseRolloutSpec,
  type RolloutSpecInput,
  type TrafficRouter,
} from '@kanary/core';
import { canonicalJson, digest, type PortContext } from '@kanary/core/adapter';
import { initialState } from '@kanary/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../apiserver/object.ts';
import { type Cluster, type ClusterOptions, startCluster } from '../cluster/start.ts';
import { REALISTIC_LATENCY } from '../controllers/queue.ts';
import { expectShare } from '../testing/tolerance.ts';
import type { Entry } from '../traffic/simulator.ts';

export interface ObjectId {
  kind: string;
  namespace: string;
  name: string;
  group?: string;
}

export interface ConformanceSetup {
  router: TrafficRouter;
  /** A spec the router serves (its strategy decides which steps are tried). */
  spec: RolloutSpecInput;
  /** Where simulated users enter. */
  entry: Entry;
  stableWorkload: string;
  canaryWorkload: string;
  /** Objects the router writes, whose spec must be exactly as before once it finishes or aborts. */
  restored?: ObjectId[];
  /** The object a concurrent user edit should hit. */
  raceTarget: ObjectId;
}

/**
 * A person's edit of one routing object, made with their own client while a rollout runs. `edit`
 * must be a pure change of the object (applied to the live object, and to the object as it was
 * before the rollout to know what the end state must be) or return undefined to delete it.
 */
export interface PersonEdit {
  /** What they do, as a sentence's predicate: `adds a route above the managed one`. */
  does: string;
  target: ObjectId;
  /** The version the person's client speaks (default: the one the emulator stores). */
  apiVersion?: string;
  edit(obj: KubeObject): KubeObject | undefined;
  /**
   * `own` (default): a field of theirs, which must survive every later write and be there at the
   * end. `zero`: they set the canary's weight to 0 in Kanary's fields (an emergency): `status()`
   * must report 0 so the engine sees the drift, and the end state is the one before the rollout.
   * `dropOwned`: they delete what Kanary added (its header rule, its canary Ingress): `status()`
   * no longer reports it, and reset and finalize still end where the user started.
   */
  kind?: 'own' | 'zero' | 'dropOwned';
}

export interface RouterConformanceOptions {
  name: string;
  /** Creates workloads, Services and routing objects in a fresh cluster, and the router. */
  setup(cluster: Cluster): ConformanceSetup | Promise<ConformanceSetup>;
  /** Options for the emulator (e.g. an Istio that serves only v1beta1). */
  clusterOptions?: ClusterOptions;
  /** What a person does to the routing objects mid-rollout, each tried on its own. */
  personEdits?: PersonEdit[];
}

const N = 2000;
const WRITES = new Set(['create', 'update', 'patch', 'delete']);

/**
 * The router conformance suite. Every TrafficRouter — Istio, ingress-nginx, Gateway API, and
 * core's Service-selector and replica-ratio routers — runs the same checks against the emulator
 * with simulated traffic: weights observed in traffic, idempotent repeats, read-back, exact
 * restoration, refusal of an unsupported capability before any write, a concurrent edit between
 * read and write, and the API server failing mid-write.
 */
export function describeRouterConformance(options: RouterConformanceOptions): void {
  describe(`router conformance: ${options.name}`, () => {
    let cluster: Cluster;
    let s: ConformanceSetup;
    let ctx: PortContext;
    /** The routing objects as the user made them, before the router touched anything. */
    let pristine: string[] = [];
    let pristineObjects: Array<KubeObject | undefined> = [];

    /** Runs a router call until it stops asking to be retried, as the engine would. */
    const settle = async <T>(call: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await cluster.run(call());
        } catch (error) {
          if (!isKanaryError(error) || !error.retryable || attempt > 300) throw error;
          await cluster.virtualClock?.advance(1_000);
        }
      }
    };
    const refresh = async () => {
      const driver = createDeploymentDriver({
        client: createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock }),
      });
      const described = await cluster.run(driver.describe(ctx));
      ctx = {
        ...ctx,
        targets: {
          stable: {
            ...described.stable,
            original: ctx.targets.stable?.original ?? described.stable.original,
          },
          ...(described.canary ? { canary: described.canary } : {}),
        },
      };
      return ctx;
    };
    const canaryShare = (n = N) => (cluster.traffic.sample(s.entry, n).get(s.canaryWorkload) ?? 0) / n;
    const writes = () => cluster.requests.filter((r) => WRITES.has(r.verb)).length;
    /** The canary share a weight should give: a replica router's is what its pods allow. */
    const shareFor = (status: { effectiveWeight?: number }, w: number) =>
      s.router.capabilities.weights === 'replicas' ? (status.effectiveWeight ?? w) / 100 : w / 100;
    // Key order is not part of an object (built-in kinds are stored as protobuf), so compare canonically.
    const comparable = (obj: KubeObject) =>
      canonicalJson({
        spec: obj.spec,
        labels: obj.metadata.labels ?? null,
        annotations: obj.metadata.annotations ?? null,
      });
    const snapshot = () =>
      (s.restored ?? []).map((o) =>
        comparable(cluster.get(o.kind, o.namespace, o.name, o.group) as KubeObject),
      );

    beforeEach(async () => {
      // Controllers react late, as a cluster's do: a router must not move on before the Endpoints follow.
      cluster = await startCluster({
        podReadyAfterMs: 1_000,
        seed: 42,
        controllerLatency: REALISTIC_LATENCY,
        ...options.clusterOptions,
      });
      s = await options.setup(cluster);
      await cluster.virtualClock?.advance(2_000);
      const spec = parseRolloutSpec(s.spec);
      const state = initialState(
        { namespace: spec.namespace, name: spec.name },
        digest(spec),
        cluster.clock.now(),
      );
      ctx = { key: state.key, spec, state, targets: {}, signal: new AbortController().signal };
      await refresh();
      pristine = snapshot();
      pristineObjects = (s.restored ?? []).map((o) => cluster.get(o.kind, o.namespace, o.name, o.group));
      await settle(() => s.router.prepare?.(ctx) ?? Promise.resolve());
      await refresh();
      await settle(() => s.router.prepare?.(ctx) ?? Promise.resolve());
    });
    afterEach(() => cluster.close());

    const weights = () =>
      s.router.capabilities.weights === 'binary'
        ? [0, 100, 0]
        : s.router.capabilities.weights === 'replicas'
          ? [25, 50, 100, 0]
          : [0, 10, 25, 50, 100, 0];

    it('sets each weight, and simulated traffic follows it', async () => {
      for (const w of weights()) {
        const status = await settle(() => s.router.setWeight(ctx, w));
        await refresh();
        const expected = shareFor(status, w);
        expectShare(Math.round(canaryShare() * N), N, expected, `weight ${w}`);
      }
    });

    it('repeating a weight writes nothing', async () => {
      const w = s.router.capabilities.weights === 'binary' ? 100 : 50;
      await settle(() => s.router.setWeight(ctx, w));
      await refresh();
      const before = writes();
      const again = await settle(() => s.router.setWeight(ctx, w));
      expect(again.canaryWeight).toBe(w);
      expect(writes()).toBe(before);
    });

    it('reads back what it wrote', async () => {
      // A weight every router can express exactly (replica routers: half of an even pod count).
      const w =
        s.router.capabilities.weights === 'binary'
          ? 100
          : s.router.capabilities.weights === 'replicas'
            ? 50
            : 30;
      const status = await settle(() => s.router.setWeight(ctx, w));
      expect(status).toMatchObject({ canaryWeight: w, verified: true });
      expect((await settle(() => s.router.status(ctx))).canaryWeight).toBe(w);
    });

    /** The canary's pods gone, as the engine's cleanup leaves them before the router's finalize. */
    const removeCanaryPods = async () => {
      const d = cluster.get('Deployment', 'default', s.canaryWorkload) as KubeObject;
      cluster.apply({ ...d, spec: { ...(d.spec as object), replicas: 0 } });
      await cluster.virtualClock?.advance(1_000);
    };
    const dirty = async () => {
      const w = s.router.capabilities.weights === 'binary' ? 100 : 50;
      await settle(() => s.router.setWeight(ctx, w));
      if (s.router.capabilities.headerMatch.exact) {
        await settle(() =>
          s.router.setHeaderRoute(ctx, {
            name: 'qa',
            match: [{ headers: [{ name: 'x-canary', exact: 'yes' }] }],
            weight: 100,
          }),
        );
      }
      if (s.router.capabilities.mirror)
        await settle(() => s.router.setMirror(ctx, { name: 'shadow', percentage: 100 }));
      await refresh();
    };

    /**
     * An abort to its end: reset (the canary still runs, as scale-down comes later, and gets nothing),
     * the canary's pods gone, then finalize, with nobody on the canary throughout. Returns reset's status.
     */
    const resetThenFinalize = async () => {
      const status = await settle(() => s.router.reset(ctx));
      expect(canaryShare(500)).toBe(0);
      await removeCanaryPods();
      await refresh();
      await settle(() => s.router.finalize(ctx));
      await refresh();
      expect(canaryShare(500)).toBe(0);
      return status;
    };

    it('aborting sends all traffic to stable at once, and restores what the user had once the canary is gone', async () => {
      await dirty();
      expect((await resetThenFinalize()).canaryWeight).toBe(0);
      if (s.restored) expect(snapshot()).toEqual(pristine);
    });

    it('finishing sends all traffic to stable and restores exactly what the user had', async () => {
      await dirty();
      await removeCanaryPods();
      await refresh();
      const status = await settle(() => s.router.finalize(ctx));
      expect(status.canaryWeight).toBe(0);
      await refresh();
      expect(canaryShare(500)).toBe(0);
      if (s.restored) expect(snapshot()).toEqual(pristine);
    });

    it('refuses an unsupported capability before writing anything', async () => {
      const before = writes();
      const caps = s.router.capabilities;
      // A weighted rollout with a weight finer than the router resolves (binary and replica routers
      // cannot do exact weights at all).
      const strategy = { type: 'weighted' as const };
      const steps =
        caps.weights === 'exact' ? [{ setWeight: caps.weightResolution / 2 }] : [{ setWeight: 10 }];
      const attempt = () =>
        createRollout({
          spec: { ...s.spec, strategy, steps, target: { name: 'x', service: 'x' }, update: { image: 'x:2' } },
          workload: createDeploymentDriver({ client: createKubeClient({ kubeConfig: cluster.kubeConfig }) }),
          router: s.router,
        });
      expect(attempt).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_CAPABILITY' }));
      expect(writes()).toBe(before);
    });

    it("keeps a user's concurrent edit made between its read and its write", async () => {
      const t = s.raceTarget;
      const w = s.router.capabilities.weights === 'binary' ? 100 : 40;
      cluster.raceNextWrite(
        t.kind,
        t.namespace,
        t.name,
        (obj) => ({
          ...obj,
          metadata: {
            ...obj.metadata,
            annotations: { ...(obj.metadata.annotations ?? {}), 'example.com/edited-by': 'user' },
          },
        }),
        t.group,
      );
      const status = await settle(() => s.router.setWeight(ctx, w));
      expect(status.canaryWeight).toBe(w);
      expect(
        cluster.get(t.kind, t.namespace, t.name, t.group)?.metadata.annotations?.['example.com/edited-by'],
      ).toBe('user');
    });

    it('gets there although the API server fails half of the writes', async () => {
      const w = s.router.capabilities.weights === 'binary' ? 100 : 60;
      // The first two writes fail for certain, then half of them.
      cluster.faults.set([
        { verbs: ['create', 'update', 'patch'], rate: 1, times: 2, status: 503 },
        { verbs: ['create', 'update', 'patch'], rate: 0.5, status: 503 },
      ]);
      const status = await settle(() => s.router.setWeight(ctx, w));
      cluster.faults.clear();
      expect(status.canaryWeight).toBe(w);
      expect(cluster.faults.injected['503'] ?? 0).toBeGreaterThanOrEqual(2);
      await refresh();
      const expected = shareFor(status, w);
      expectShare(Math.round(canaryShare() * N), N, expected, `weight ${w} after faults`);
    });

    for (const e of options.personEdits ?? []) {
      const kind = e.kind ?? 'own';
      it(`a person ${e.does} mid-rollout: ${
        kind === 'own'
          ? 'their change survives setWeight, reset and finalize'
          : kind === 'zero'
            ? 'status() reports 0% (drift), and reset and finalize end as the user started'
            : 'status() no longer reports it, and reset and finalize end as the user started'
      }`, async () => {
        await dirty();
        const person = createKubeClient({
          kubeConfig: cluster.kubeConfigFor('person'),
          clock: cluster.clock,
        });
        const t = e.target;
        const live = cluster.get(t.kind, t.namespace, t.name, t.group) as KubeObject;
        const ref = {
          apiVersion: e.apiVersion ?? (live.apiVersion as string),
          kind: t.kind,
          namespace: t.namespace,
          name: t.name,
        };
        const edited = e.edit(structuredClone(live));
        if (edited)
          await cluster.run(
            person.update<CoreObject>(
              ref,
              (obj) => e.edit(obj as unknown as KubeObject) as unknown as CoreObject,
            ),
          );
        else await cluster.run(person.delete(ref));
        const seen = await settle(() => s.router.status(ctx));
        if (kind === 'zero') expect(seen.canaryWeight).toBe(0);
        if (kind === 'dropOwned') expect(seen.headerRoutes ?? []).toEqual([]);
        if (kind === 'own' && s.router.capabilities.weights !== 'binary') {
          const status = await settle(() => s.router.setWeight(ctx, 20));
          await refresh();
          const expected = shareFor(status, 20);
          expectShare(Math.round(canaryShare() * N), N, expected, 'weight 20 after the edit');
        }
        await resetThenFinalize();
        if (!s.restored) return;
        const expected = (s.restored ?? []).map((o, i) => {
          const before = pristineObjects[i] as KubeObject;
          const same = o.kind === t.kind && o.name === t.name && o.namespace === t.namespace;
          // The person's edit as the server stores it (defaulted, pruned), on the pristine object.
          return comparable(
            kind === 'own' && same ? cluster.admit(e.edit(structuredClone(before)) as KubeObject) : before,
          );
        });
        expect(snapshot()).toEqual(expected);
      });
    }
  });
}
