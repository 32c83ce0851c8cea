import { KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';
import type { PortContext } from '../ports/context.ts';
import { NO_CAPABILITIES, type RouterStatus, type TrafficRouter } from '../ports/router.ts';
import { partWiring } from '../ports/wiring.ts';
import { canaryNameOf } from '../workloads/deployment-driver.ts';

type Deployment = KubeObject & {
  spec: { replicas?: number };
  status?: {
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    observedGeneration?: number;
  };
};

export interface ReplicaSplit {
  stable: number;
  canary: number;
}

/**
 * The rounding rule: canary pods = round(total × weight / 100), half up; then, for a weight
 * strictly between 0 and 100, each side keeps at least `minPodsPerSide` pods (when the total
 * allows both floors). 0% and 100% put every pod on one side.
 */
export function replicaSplit(total: number, weight: number, minPodsPerSide: number): ReplicaSplit {
  let canary = Math.floor((total * weight) / 100 + 0.5);
  if (weight > 0 && weight < 100 && total >= 2 * minPodsPerSide) {
    canary = Math.min(Math.max(canary, minPodsPerSide), total - minPodsPerSide);
  }
  if (weight <= 0) canary = 0;
  if (weight >= 100) canary = total;
  return { stable: total - canary, canary };
}

export interface ReplicaRatioRouterOptions {
  client: KubeClient;
}

/**
 * Seed 001's gray release without a mesh: one Service selects both Deployments, so the split
 * is the ratio of ready pods. A weight becomes replica counts; pods are added on the growing
 * side first and removed from the shrinking side only once the new ones are ready, never
 * exceeding total + maxSurge pods.
 */
export function createReplicaRatioRouter(options: ReplicaRatioRouterOptions): TrafficRouter {
  const { client } = options;
  const ref = (ctx: PortContext, name: string): ObjectRef => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ctx.spec.namespace,
    name,
  });
  const settings = (ctx: PortContext) => {
    const s = ctx.spec.strategy;
    const total =
      (s.type === 'replicaRatio' ? s.totalReplicas : undefined) ??
      ctx.targets.stable?.original?.replicas ??
      1;
    const surgeSpec = s.type === 'replicaRatio' ? s.maxSurge : 0;
    const surge =
      typeof surgeSpec === 'number' ? surgeSpec : Math.ceil((total * Number.parseInt(surgeSpec, 10)) / 100);
    const minPods = s.type === 'replicaRatio' ? s.minPodsPerSide : 1;
    return { total, surge, minPods };
  };
  const read = async (ctx: PortContext) => {
    const stable = await client.get<Deployment>(ref(ctx, ctx.spec.target.name));
    const canary = await client.get<Deployment>(ref(ctx, canaryNameOf(ctx)));
    // Gone mid-release (deleted by someone): wait, within the progress deadline, for it to be back.
    if (!stable)
      throw new KanaryError('NOT_FOUND', `Deployment ${ctx.spec.target.name} does not exist`, {
        retryable: true,
        details: { progress: true },
      });
    const info = (d: Deployment | undefined) => ({
      replicas: d?.spec.replicas ?? 0,
      // Ready pods of the current template only: what the Service really sends traffic to.
      ready:
        d && (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
          ? Math.min(d.status?.availableReplicas ?? 0, d.status?.updatedReplicas ?? 0)
          : 0,
      exists: d !== undefined,
    });
    return { stable: info(stable), canary: info(canary) };
  };
  const effective = (s: { ready: number }, c: { ready: number }) =>
    s.ready + c.ready === 0 ? 0 : (100 * c.ready) / (s.ready + c.ready);
  const scaleTo = (ctx: PortContext, name: string, replicas: number) =>
    client.mergePatch(ref(ctx, name), { spec: { replicas } });

  /** One move towards the split; throws a retryable "waiting" error until it is reached. */
  const moveTo = async (ctx: PortContext, weight: number): Promise<RouterStatus> => {
    const { total, surge, minPods } = settings(ctx);
    const want = replicaSplit(total, weight, minPods);
    const canaryName = canaryNameOf(ctx);
    // Fewer replicas than a split needs (preflight refuses that, but a person may scale the stable
    // down and a changed target restart the release on it): a side would get its share with no pod
    // (chaos: a 20% step of 1 replica recorded 20% with no canary pod). Wait for more, within the
    // progress deadline, and say what would help.
    if (weight > 0 && weight < 100 && minPods > 0 && (want.canary === 0 || want.stable === 0))
      throw new KanaryError(
        'ROUTER',
        `${weight}% of ${total} replica${total === 1 ? '' : 's'} leaves a side without a pod (at least ${minPods} per side while both get traffic): scale ${ctx.spec.target.name} to ${2 * minPods} or more, or set strategy.totalReplicas`,
        { retryable: true, details: { progress: true } },
      );
    const now = await read(ctx);
    if (!now.canary.exists) {
      if (want.canary === 0)
        return { canaryWeight: weight, verified: true, effectiveWeight: 0, headerRoutes: [], mirrors: [] };
      throw new KanaryError('ROUTER', `canary Deployment ${canaryName} does not exist`, {
        retryable: true,
        details: { progress: true },
      });
    }
    const budget = total + surge;
    const sides = [
      { name: ctx.spec.target.name, have: now.stable, want: want.stable },
      { name: canaryName, have: now.canary, want: want.canary },
    ];
    const growing = sides.find((s) => s.have.replicas < s.want);
    const shrinking = sides.find((s) => s.have.replicas > s.want);
    if (growing) {
      const room = budget - sides.reduce((sum, s) => sum + s.have.replicas, 0);
      const step = Math.min(growing.want, growing.have.replicas + Math.max(room, 0));
      if (step > growing.have.replicas) {
        await scaleTo(ctx, growing.name, step);
        throw new KanaryError('ROUTER', `scaling ${growing.name} to ${step} pods`, {
          retryable: true,
          details: { progress: true },
        });
      }
    }
    if (shrinking) {
      // Keep serving capacity: ready pods never drop below the total (below it by one pod when
      // there is no surge, or nothing could ever move).
      const other = sides.find((x) => x !== shrinking) as (typeof sides)[number];
      const slack = surge === 0 ? 1 : 0;
      const next = Math.max(shrinking.want, total - slack - other.have.ready);
      if (next < shrinking.have.replicas) await scaleTo(ctx, shrinking.name, next);
      throw new KanaryError(
        'ROUTER',
        `moving pods: ${ctx.spec.target.name} ${now.stable.replicas}, ${canaryName} ${now.canary.replicas} → ${want.stable}/${want.canary}`,
        { retryable: true, details: { progress: true } },
      );
    }
    if (growing)
      throw new KanaryError('ROUTER', `waiting for room to add pods to ${growing.name}`, {
        retryable: true,
        details: { progress: true },
      });
    // Exactly the split, not at least: a side scaled down still counts the pods it is losing until
    // its status catches up, and the Service sends them their share meanwhile.
    if (now.stable.ready !== want.stable || now.canary.ready !== want.canary) {
      throw new KanaryError(
        'ROUTER',
        `waiting for the split: ${now.stable.ready} of ${want.stable} stable and ${now.canary.ready} of ${want.canary} canary pods ready`,
        { retryable: true, details: { progress: true } },
      );
    }
    return {
      canaryWeight: weight,
      verified: true,
      effectiveWeight: Math.round(effective(now.stable, now.canary) * 100) / 100,
      headerRoutes: [],
      mirrors: [],
    };
  };

  return {
    name: 'replica-ratio',
    wiring: partWiring('replicaRatio', options),
    permissions: () => [
      {
        apiGroup: 'apps',
        resource: 'deployments',
        verbs: ['get', 'patch'],
        why: 'users moved by scaling the two sides',
      },
    ],
    capabilities: { ...NO_CAPABILITIES, weights: 'replicas', weightResolution: 1 },
    async validate(ctx) {
      if (ctx.spec.strategy.type !== 'replicaRatio')
        return [
          {
            path: 'strategy.type',
            message: 'the replica-ratio router serves the replicaRatio strategy',
            hint: 'use strategy.type: replicaRatio',
            severity: 'error',
          },
        ];
      // Every side that gets a share needs a pod to serve it: refuse what the replicas cannot give.
      const s = ctx.spec.strategy;
      const stable = await client.get<Deployment>(ref(ctx, ctx.spec.target.name));
      const total = s.totalReplicas ?? stable?.spec.replicas ?? 1;
      const split = ctx.spec.steps.flatMap((step, i) =>
        'setWeight' in step && step.setWeight > 0 && step.setWeight < 100
          ? [{ i, weight: step.setWeight }]
          : [],
      );
      const needed = 2 * s.minPodsPerSide;
      const first = split[0];
      if (first && s.minPodsPerSide > 0 && total < needed) {
        return [
          {
            path: `steps[${first.i}].setWeight`,
            message: `${first.weight}% with ${total} replica${total === 1 ? '' : 's'} leaves one side without a pod (at least ${s.minPodsPerSide} per side while both get traffic)`,
            hint: `set strategy.totalReplicas to ${needed} or more, or scale ${ctx.spec.target.name} to ${needed}`,
            severity: 'error',
          },
        ];
      }
      return [];
    },
    setWeight: moveTo,
    setHeaderRoute: async () => {
      throw new KanaryError('UNSUPPORTED_CAPABILITY', 'the replica-ratio router cannot route by header');
    },
    removeHeaderRoute: async () => undefined,
    setMirror: async () => {
      throw new KanaryError('UNSUPPORTED_CAPABILITY', 'the replica-ratio router cannot mirror traffic');
    },
    removeMirror: async () => undefined,
    async reset(ctx) {
      // Rolling back is one write when the stable has a ready pod to take everyone: the canary's
      // pods go at once, then the stable grows back to size (users wait on fewer pods, never on
      // the version being rolled back). With no stable pod ready, pod by pod as in a step.
      const now = await read(ctx);
      if (now.canary.exists && now.canary.replicas > 0 && now.stable.ready > 0)
        await scaleTo(ctx, canaryNameOf(ctx), 0);
      return moveTo(ctx, 0);
    },
    async finalize(ctx) {
      const status = await moveTo(ctx, 0);
      // The release is over: a stable Kanary sized to totalReplicas goes back to the user's count
      // (a count someone else set meanwhile stays theirs).
      const s = ctx.spec.strategy;
      const original = ctx.targets.stable?.original?.replicas;
      if (s.type === 'replicaRatio' && s.totalReplicas !== undefined && original !== undefined) {
        const stable = await client.get<Deployment>(ref(ctx, ctx.spec.target.name));
        if (stable?.spec.replicas === s.totalReplicas && original !== s.totalReplicas)
          await scaleTo(ctx, ctx.spec.target.name, original);
      }
      return status;
    },
    async status(ctx) {
      const now = await read(ctx);
      const total = now.stable.replicas + now.canary.replicas;
      // Sized as this router sizes the weight last recorded, or near it: that weight (whole-pod
      // rounding is Kanary's own, and a person's scale that moves the share by less than half again
      // its planned size is within it: 1 canary pod beside 3 instead of 4 at a 10% step). Sized
      // further off (the stable scaled from 3 to 1 beside 1 canary pod at 20%), the share the sizes give.
      const { total: planned, minPods } = settings(ctx);
      const written = ctx.state.weights.canary;
      const want = replicaSplit(planned, written, minPods);
      const share = total === 0 ? 0 : (100 * now.canary.replicas) / total;
      const near =
        (now.stable.replicas === want.stable && now.canary.replicas === want.canary) ||
        (written > 0 && written < 100 && share <= (150 * want.canary) / planned);
      return {
        canaryWeight: near ? written : Math.round(share),
        verified: true,
        effectiveWeight: effective(now.stable, now.canary),
        headerRoutes: [],
        mirrors: [],
      };
    },
  };
}
