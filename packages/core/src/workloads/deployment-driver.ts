import { KanaryError, type KanaryIssue } from '../errors/kanary-error.ts';
import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';
import { LABEL_REVISION, LABEL_ROLE, LABEL_ROLLOUT } from '../kubernetes/labels.ts';
import { readOwnedAnnotation, withOwnedAnnotation } from '../kubernetes/owned-annotation.ts';
import { labelSelector, type Pod, reachablePods, servesTraffic } from '../kubernetes/pods.ts';
import {
  deleteOwnedService,
  ensureHashService,
  pinService,
  type Service,
  selectorFor,
  unpinService,
} from '../kubernetes/service-pin.ts';
import type { PortContext } from '../ports/context.ts';
import type { Permission } from '../ports/permissions.ts';
import type { Side, WorkloadRef } from '../ports/refs.ts';
import { partWiring } from '../ports/wiring.ts';
import type { Readiness, RollProgress, WorkloadDriver } from '../ports/workload.ts';
import { watchDeployments } from './deployment-changes.ts';
import { mergeTemplate, sameRevision, templatesEqual, templatesIdentical } from './template.ts';

export type PreflightSeverity = 'error' | 'warning' | 'off';

/** How soon to look again while an in-place rolling burst is unpaused. */
const BURST_CHECK_MS = 10;

export interface DeploymentDriverOptions {
  client: KubeClient;
  /** What to check before a rollout starts (what production releases check first), each an error, a warning or off. */
  preflight?: {
    readinessProbe?: PreflightSeverity;
    gracefulShutdown?: PreflightSeverity;
    resourceRequests?: PreflightSeverity;
  };
}

type Obj = Record<string, unknown>;
interface DeploymentSpec {
  replicas?: number;
  paused?: boolean;
  minReadySeconds?: number;
  progressDeadlineSeconds?: number;
  selector: { matchLabels?: Record<string, string> };
  template: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Obj;
  };
  strategy?: { rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
}
interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
}
type Deployment = KubeObject & { spec: DeploymentSpec; status?: DeploymentStatus };
/** " (now running app:v3)": the images a template runs, for messages. */
function imagesOf(template: DeploymentSpec['template']): string {
  const images = ((template.spec.containers as Obj[] | undefined) ?? []).map((c) => String(c.image));
  return images.length > 0 ? ` (now running ${images.join(', ')})` : '';
}

/** The Deployment's own rolling parameters, while Kanary sizes each step's batch. */
export const ANNOTATION_ORIGINAL_STRATEGY = 'kanary.dev/original-strategy';
/** The Deployment's own minReadySeconds, while a rolling burst holds new pods unavailable. */
export const ANNOTATION_ORIGINAL_MIN_READY = 'kanary.dev/original-min-ready-seconds';

const deploymentRef = (ns: string, name: string): ObjectRef => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: ns,
  name,
});
const serviceRef = (ns: string, name: string): ObjectRef => ({
  apiVersion: 'v1',
  kind: 'Service',
  namespace: ns,
  name,
});

/** The rolling strategy's batch cap in pods: maxSurge as a number or a percentage of the replicas (rounded up). */
function rollingBatch(ctx: PortContext, total: number): number {
  const s = ctx.spec.strategy;
  const surge = s.type === 'rolling' ? s.maxSurge : '25%';
  return typeof surge === 'number'
    ? surge
    : Math.max(1, Math.ceil((total * Number.parseInt(surge, 10)) / 100));
}

/**
 * The retire write's `maxUnavailable`: the new pods, said as the share of the Deployment's size a
 * whole percentage gives exactly (rounded down, as the controller reads it), else as the number.
 * A person who scales the Deployment while the old pods retire then scales the allowance with it:
 * as a number, 3 new pods of 5 scaled to 3 let the controller retire every old pod and roll on,
 * and a 60% step served every user (chaos seed 15525); as 60% it allows 1 of 3.
 */
function retireAllowance(updated: number, total: number): number | string {
  if (!(total > 0)) return updated;
  const percent = Math.ceil((100 * updated) / total);
  return percent <= 100 && Math.floor((percent * total) / 100) === updated ? `${percent}%` : updated;
}

/** The canary's (or green's) Deployment name for a spec. */
export function canaryNameOf(ctx: Pick<PortContext, 'spec'>): string {
  const s = ctx.spec.strategy;
  const target = ctx.spec.target.name;
  if (s.type === 'blueGreen') {
    if (s.green.name) return s.green.name;
    if (target.endsWith('-blue')) return `${target.slice(0, -5)}-green`;
    if (target.endsWith('-green')) return `${target.slice(0, -6)}-blue`;
    return `${target}-green`;
  }
  if ('canary' in s && s.canary.name) return s.canary.name;
  return `${target}-canary`;
}

/**
 * The Deployments of this release's two sides. Blue-green swaps colours every release: when the
 * other colour was found serving at the start (`targets.stable` names it), it is the stable and
 * the spec's target is the one that takes the new version, so the same spec works every time.
 */
export function sideNamesOf(ctx: Pick<PortContext, 'spec' | 'targets'>): {
  stable: string;
  canary: string;
  swapped: boolean;
} {
  const target = ctx.spec.target.name;
  const green = canaryNameOf(ctx);
  const swapped = ctx.spec.strategy.type === 'blueGreen' && ctx.targets.stable?.name === green;
  return swapped ? { stable: green, canary: target, swapped } : { stable: target, canary: green, swapped };
}

/**
 * Whether a pod belongs to Deployment `name`: its ReplicaSet is `<name>-<pod-template-hash>`, as the
 * deployment controller names them (a Deployment `web-canary` is not `web`'s: `canary-…` has a dash).
 */
function ownedBy(name: string): (p: Pod) => boolean {
  return (p) =>
    (p.metadata.ownerReferences ?? []).some(
      (o) =>
        o.kind === 'ReplicaSet' &&
        o.name.startsWith(`${name}-`) &&
        /^[a-z0-9]+$/.test(o.name.slice(name.length + 1)),
    );
}

/** The pod-template-hash of a Deployment's newest ReplicaSet, if it has one yet. */
async function currentHash(client: KubeClient, d: Deployment): Promise<string | undefined> {
  const ns = d.metadata.namespace as string;
  const selector = labelSelector(d.spec.selector.matchLabels);
  const rss = await client.listView<KubeObject & { spec: { template: unknown } }>(
    'apps/v1',
    'ReplicaSet',
    ns,
    selector,
  );
  const owned = rss.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid));
  // Both templates come from the server, defaulted alike: the exact one is the current ReplicaSet.
  // Only if none is exact, one that covers it (the newest): an older ReplicaSet whose template
  // has a field the Deployment's no longer has (a probe removed) also covers it.
  const exact = owned.find((rs) => templatesIdentical(rs.spec.template, d.spec.template));
  const revision = (rs: KubeObject) =>
    Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
  const match =
    exact ??
    owned
      .filter((rs) => templatesEqual(rs.spec.template, d.spec.template))
      .sort((a, b) => revision(b) - revision(a))[0];
  return match?.metadata.labels?.['pod-template-hash'];
}

/** The Deployment's current ReplicaSet (`<name>-<pod-template-hash>`), once the controller has made it. */
async function newReplicaSet(
  client: KubeClient,
  d: Deployment,
): Promise<(KubeObject & { spec: { replicas: number }; status?: { readyReplicas?: number } }) | undefined> {
  const hash = await currentHash(client, d);
  if (!hash) return undefined;
  return client.get({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    namespace: d.metadata.namespace as string,
    name: `${d.metadata.name}-${hash}`,
  });
}

/**
 * The Deployment with its own minReadySeconds back (a burst held new pods unavailable with a longer
 * one) and Kanary's note of it gone; unchanged when there is no note.
 */
function withOwnMinReadyBack(x: Deployment): Deployment {
  const minReady = readOwnedAnnotation<number>(x, ANNOTATION_ORIGINAL_MIN_READY);
  if (minReady === undefined) return x;
  const spec: DeploymentSpec = { ...x.spec };
  if (minReady === 0) delete spec.minReadySeconds;
  else spec.minReadySeconds = minReady;
  // A Deployment always has the controller's revision annotation: the map stays.
  return withOwnedAnnotation({ ...x, spec }, ANNOTATION_ORIGINAL_MIN_READY, undefined, true);
}

/**
 * The Deployment with its own rolling parameters and minReadySeconds back and Kanary's notes of
 * them gone (unpaused), as at 100% and on undo.
 */
function withOwnRollingBack(x: Deployment): Deployment {
  const strategy = readOwnedAnnotation<DeploymentSpec['strategy']>(x, ANNOTATION_ORIGINAL_STRATEGY);
  const spec: DeploymentSpec = { ...x.spec, paused: false, ...(strategy ? { strategy } : {}) };
  const cleared = withOwnedAnnotation({ ...x, spec }, ANNOTATION_ORIGINAL_STRATEGY, undefined, true);
  return withOwnMinReadyBack(cleared);
}

async function refOf(client: KubeClient, d: Deployment, service?: string): Promise<WorkloadRef> {
  const hash = await currentHash(client, d);
  return {
    name: d.metadata.name,
    podLabels: { ...(d.spec.template.metadata?.labels ?? {}) },
    ...(hash ? { podTemplateHash: hash } : {}),
    ...(service ? { service } : {}),
  };
}

function readinessOf(d: Deployment | undefined, side: Side): Readiness {
  if (!d) return { ready: false, desired: 0, readyReplicas: 0, message: `${side} Deployment does not exist` };
  const desired = d.spec.replicas ?? 1;
  const s = d.status ?? {};
  const observed = (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  const available = s.availableReplicas ?? 0;
  const ready =
    observed &&
    (s.updatedReplicas ?? 0) === desired &&
    available === desired &&
    (s.replicas ?? 0) === desired &&
    !d.spec.paused;
  const message = !observed
    ? `${d.metadata.name}: waiting for the controller to observe generation ${d.metadata.generation}`
    : progressing?.reason === 'ProgressDeadlineExceeded'
      ? `${d.metadata.name}: ${progressing.message ?? 'progress deadline exceeded'}`
      : `${d.metadata.name}: ${available}/${desired} available, ${s.updatedReplicas ?? 0} updated`;
  return { ready, desired, readyReplicas: s.readyReplicas ?? 0, updated: s.updatedReplicas ?? 0, message };
}

/**
 * The template the stable takes on promotion: the canary's, without Kanary's revision label (the
 * user's own manifest re-applied must not be a new revision) and with the stable's own selector
 * labels (an adopted canary selected by `color: green` cannot be copied into a Deployment that
 * selects `color: blue`: the API server refuses the mismatch).
 */
function promotedTemplate(
  source: DeploymentSpec['template'],
  selector: Record<string, string>,
): DeploymentSpec['template'] {
  const template = structuredClone(source);
  const { [LABEL_REVISION]: _r, ...labels } = template.metadata?.labels ?? {};
  template.metadata = { ...template.metadata, labels: { ...labels, ...selector } };
  return template;
}

/** Drives apps/v1 Deployments for every strategy. Every method is idempotent. */
export function createDeploymentDriver(options: DeploymentDriverOptions): WorkloadDriver {
  const { client } = options;
  const preflight = {
    readinessProbe: 'warning',
    gracefulShutdown: 'warning',
    resourceRequests: 'warning',
    ...options.preflight,
  } as const;
  const ns = (ctx: PortContext) => ctx.spec.namespace;
  const stableName = (ctx: PortContext) => sideNamesOf(ctx).stable;
  const canaryName = (ctx: PortContext) => sideNamesOf(ctx).canary;
  const getStable = async (ctx: PortContext): Promise<Deployment> => {
    const d = await client.get<Deployment>(deploymentRef(ns(ctx), stableName(ctx)));
    // Deleted mid-release by someone: wait (within the progress deadline) for it to be put back.
    if (!d)
      throw new KanaryError('NOT_FOUND', `Deployment ${ns(ctx)}/${stableName(ctx)} does not exist`, {
        retryable: true,
        details: { progress: true },
      });
    return d;
  };
  const getCanary = (ctx: PortContext) => client.get<Deployment>(deploymentRef(ns(ctx), canaryName(ctx)));
  // For looks (every poll of every rollout): the cache's shared, frozen objects, not copies.
  const viewSide = async (ctx: PortContext, side: Side): Promise<Deployment | undefined> => {
    const name = side === 'stable' ? stableName(ctx) : canaryName(ctx);
    const d = await client.getView<Deployment>(deploymentRef(ns(ctx), name));
    if (!d && side === 'stable')
      throw new KanaryError('NOT_FOUND', `Deployment ${ns(ctx)}/${name} does not exist`, {
        retryable: true,
        details: { progress: true },
      });
    return d;
  };
  /** Kanary updates and scales the canary but does not own it: it is scaled to 0, never deleted. */
  const adopted = (ctx: PortContext) => {
    const s = ctx.spec.strategy;
    if (sideNamesOf(ctx).swapped) return false;
    return s.type === 'blueGreen' ? s.green.adopt : 'canary' in s ? s.canary.adopt : false;
  };
  const userOwned = (ctx: PortContext) => adopted(ctx) || sideNamesOf(ctx).swapped;
  /** The new version's pod template: the stable one as it was, plus the spec's update. */
  const desiredTemplate = (ctx: PortContext, stableTemplate: DeploymentSpec['template']) => {
    const template = mergeTemplate(stableTemplate, ctx.spec.update);
    template.metadata = {
      ...template.metadata,
      labels: { ...(template.metadata?.labels ?? {}), [LABEL_REVISION]: ctx.state.specDigest.slice(0, 10) },
    };
    return template;
  };
  const originalTemplate = (ctx: PortContext, d: Deployment) =>
    (ctx.targets.stable?.original?.template as DeploymentSpec['template'] | undefined) ?? d.spec.template;

  return {
    wiring: partWiring('deployment', options),
    name: 'kubernetes-deployments',

    permissions(spec, plan) {
      const actions = [
        ...plan.prelude,
        ...plan.steps.flatMap((s) => s.actions),
        ...plan.promotion,
        ...plan.abort,
      ].map((a) => a.type);
      const canary = actions.includes('workload.ensureCanary');
      const isolates = actions.includes('workload.isolate');
      const out: Permission[] = [
        {
          apiGroup: 'apps',
          resource: 'deployments',
          verbs: ['get', 'update', 'patch', ...(canary ? (['create', 'delete'] as const) : [])],
          why: canary
            ? 'the canary Deployment made, sized and removed; the target Deployment updated at promotion'
            : 'the target Deployment rolled step by step',
        },
        {
          apiGroup: 'apps',
          resource: 'replicasets',
          verbs: ['get', 'list'],
          why: "each side's revision (pod-template-hash)",
        },
        {
          apiGroup: '',
          resource: 'pods',
          verbs: ['list'],
          why: 'ready pods behind each side before users move',
        },
        { apiGroup: '', resource: 'endpoints', verbs: ['get', 'list'], why: 'which pods the Services reach' },
      ];
      if (spec.target.service || spec.strategy.type === 'blueGreen')
        out.push({
          apiGroup: '',
          resource: 'services',
          verbs: ['get'],
          why: 'preflight: the Services exist',
        });
      if (isolates)
        out.push({
          apiGroup: '',
          resource: 'services',
          verbs: ['get', 'create', 'update', 'patch', 'delete'],
          why: "a held rolling update's new pods on a Service of their own, the user's Service on the old ones",
        });
      return out;
    },

    async validate(ctx) {
      const issues: KanaryIssue[] = [];
      const d = await client.get<Deployment>(deploymentRef(ns(ctx), ctx.spec.target.name));
      if (!d) {
        return [
          {
            path: 'target.name',
            message: `Deployment ${ns(ctx)}/${ctx.spec.target.name} does not exist`,
            hint: 'create it first, or fix the name',
            severity: 'error',
          },
        ];
      }
      const containers = (d.spec.template.spec.containers as Obj[] | undefined) ?? [];
      const container = ctx.spec.update?.container;
      if (container && !containers.some((c) => c.name === container)) {
        issues.push({
          path: 'update.container',
          message: `Deployment ${d.metadata.name} has no container "${container}"`,
          hint: `use one of: ${containers.map((c) => c.name).join(', ')}`,
          severity: 'error',
        });
      }
      if (ctx.spec.target.service || ctx.spec.strategy.type === 'blueGreen') {
        const names = [
          ctx.spec.target.service,
          ctx.spec.strategy.type === 'blueGreen' ? ctx.spec.strategy.activeService : undefined,
        ].filter(Boolean) as string[];
        for (const name of names) {
          if (!(await client.get(serviceRef(ns(ctx), name)))) {
            issues.push({
              path: ctx.spec.strategy.type === 'blueGreen' ? 'strategy.activeService' : 'target.service',
              message: `Service ${ns(ctx)}/${name} does not exist`,
              hint: 'create the Service first',
              severity: 'error',
            });
          }
        }
      }
      if (
        ctx.spec.strategy.type === 'rolling' &&
        ctx.spec.strategy.canaryService &&
        !ctx.spec.target.service
      ) {
        issues.push({
          path: 'target.service',
          message: 'isolating new pods needs the stable Service',
          hint: 'set target.service',
          severity: 'error',
        });
      }
      const check = (key: keyof typeof preflight, ok: boolean, issue: Omit<KanaryIssue, 'severity'>) => {
        if (ok || preflight[key] === 'off') return;
        issues.push({ ...issue, severity: preflight[key] });
      };
      for (const c of containers) {
        check('readinessProbe', c.readinessProbe !== undefined, {
          path: 'target',
          message: `container "${String(c.name)}" has no readinessProbe: new pods get traffic before they can serve it`,
          hint: 'add a readinessProbe to the container',
        });
        check('resourceRequests', (c.resources as Obj | undefined)?.requests !== undefined, {
          path: 'target',
          message: `container "${String(c.name)}" has no resource requests: canary pods may not be schedulable next to stable ones`,
          hint: 'set resources.requests for cpu and memory',
        });
        check('gracefulShutdown', (c.lifecycle as Obj | undefined)?.preStop !== undefined, {
          path: 'target',
          message: `container "${String(c.name)}" has no preStop hook: requests in flight fail while endpoints update (5xx on every scale-down)`,
          hint: 'add lifecycle.preStop (e.g. sleep 5) and keep terminationGracePeriodSeconds above it',
        });
      }
      return issues;
    },

    async settling(ctx) {
      const name = stableName(ctx);
      const d = await client.get<Deployment>(deploymentRef(ns(ctx), name));
      if (!d) return undefined; // preflight says so
      const desired = d.spec.replicas ?? 1;
      const s = d.status ?? {};
      const observed = (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
      const extra = (s.replicas ?? 0) - desired;
      if (observed && (s.updatedReplicas ?? 0) >= desired && extra <= 0) return undefined;
      const where = observed
        ? `${s.updatedReplicas ?? 0} of ${desired} pods updated${extra > 0 ? `, ${extra} more still running` : ''}`
        : `generation ${d.metadata.generation} not yet seen by its controller`;
      const progressing = s.conditions?.find((c) => c.type === 'Progressing');
      if (progressing?.reason === 'ProgressDeadlineExceeded')
        return {
          refuse: `Deployment ${name}'s own rollout is stuck (${where}): ${progressing.message ?? 'progress deadline exceeded'}`,
          hint: `fix it or \`kubectl rollout undo deployment/${name}\`, then start the release`,
        };
      if (d.spec.paused)
        return {
          refuse: `Deployment ${name} is paused halfway through its own rollout (${where})`,
          hint: `\`kubectl rollout resume deployment/${name}\` (or undo it), then start the release`,
        };
      return { wait: `Deployment ${name} is rolling out on its own (${where})` };
    },

    async describe(ctx) {
      if (!ctx.targets.stable && ctx.spec.strategy.type === 'blueGreen') {
        // The start of a release: the colour serving now is the stable, whichever the spec names.
        const target = await client.get<Deployment>(deploymentRef(ns(ctx), ctx.spec.target.name));
        const other = await client.get<Deployment>(deploymentRef(ns(ctx), canaryNameOf(ctx)));
        if (target?.spec.replicas === 0 && other && (other.spec.replicas ?? 1) > 0) {
          const stableRef = await refOf(client, other, ctx.spec.target.service);
          stableRef.original = { replicas: other.spec.replicas ?? 1, template: other.spec.template };
          return { stable: stableRef, canary: await refOf(client, target) };
        }
      }
      const known = ctx.targets.stable;
      const canary = await getCanary(ctx);
      // Deleted mid-release by someone: the stable as last seen, so the canary can still be
      // described (and users rescued onto it while it serves). Before one is known, it must exist.
      const found = await client.get<Deployment>(deploymentRef(ns(ctx), stableName(ctx)));
      if (!found && known)
        return { stable: known, ...(canary ? { canary: await refOf(client, canary) } : {}) };
      const stable = found ?? (await getStable(ctx));
      const stableRef = await refOf(client, stable, ctx.spec.target.service);
      stableRef.original = ctx.targets.stable?.original ?? {
        replicas: stable.spec.replicas ?? 1,
        template: stable.spec.template,
      };
      return { stable: stableRef, ...(canary ? { canary: await refOf(client, canary) } : {}) };
    },

    async ensureCanary(ctx, { replicas }) {
      const name = canaryName(ctx);
      const existing = await getCanary(ctx);
      if (adopted(ctx)) {
        if (!existing)
          throw new KanaryError('NOT_FOUND', `Deployment ${ns(ctx)}/${name} to adopt does not exist`);
        // The person's Deployment with the spec's update on top (nothing of Kanary's in its
        // template), and never used at 0/0: one scaled to zero (the last release's blue) is brought
        // to the stable's size.
        const template = ctx.spec.update ? mergeTemplate(existing.spec.template, ctx.spec.update) : undefined;
        const size =
          replicas ??
          (existing.spec.replicas ? existing.spec.replicas : (await getStable(ctx)).spec.replicas || 1);
        const retemplate = template !== undefined && !templatesEqual(existing.spec.template, template);
        if (retemplate || existing.spec.replicas !== size || existing.spec.paused) {
          await client.update<Deployment>(deploymentRef(ns(ctx), name), (d) => ({
            ...d,
            spec: {
              ...d.spec,
              ...(retemplate ? { template: template as DeploymentSpec['template'] } : {}),
              replicas: size,
              paused: false,
            },
          }));
        }
        return refOf(client, (await getCanary(ctx)) as Deployment);
      }
      if (
        existing &&
        existing.metadata.labels?.[LABEL_ROLLOUT] !== ctx.spec.name &&
        !sideNamesOf(ctx).swapped
      ) {
        throw new KanaryError(
          'WORKLOAD',
          `Deployment ${ns(ctx)}/${name} exists and was not created by this rollout`,
          {
            details: { hint: 'set adopt: true to use it, or name the canary differently' },
          },
        );
      }
      const stable = await getStable(ctx);
      const template = desiredTemplate(ctx, originalTemplate(ctx, stable));
      const size = replicas ?? ctx.targets.stable?.original?.replicas ?? stable.spec.replicas ?? 1;
      if (!existing) {
        const created = await client.create<Deployment>({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: {
            name,
            namespace: ns(ctx),
            labels: {
              ...(stable.metadata.labels ?? {}),
              [LABEL_ROLLOUT]: ctx.spec.name,
              [LABEL_ROLE]: 'canary',
            },
            annotations: { 'kanary.dev/stable': stable.metadata.name },
          },
          spec: {
            ...stable.spec,
            // A version told apart by a label in the stable's selector (`version: v2` in
            // update.template): the canary selects its own pods by it.
            selector: {
              ...stable.spec.selector,
              matchLabels: {
                ...(stable.spec.selector.matchLabels ?? {}),
                ...selectorFor(stable.spec.selector.matchLabels ?? {}, template.metadata?.labels ?? {}),
              },
            },
            replicas: size,
            paused: false,
            template,
          } as DeploymentSpec,
        });
        return refOf(client, created);
      }
      // The last release's other colour (or a canary left scaled to 0) is brought to size, not used at 0/0.
      if (!templatesEqual(existing.spec.template, template) || existing.spec.replicas !== size) {
        await client.update<Deployment>(deploymentRef(ns(ctx), name), (d) => ({
          ...d,
          spec: { ...d.spec, template, replicas: size, paused: false },
        }));
      }
      return refOf(client, (await getCanary(ctx)) as Deployment);
    },

    async scale(ctx, side, size) {
      const name = side === 'stable' ? stableName(ctx) : canaryName(ctx);
      // Sized from the stable as it is now: an HPA or a person may have scaled it since the start.
      const base = (await getStable(ctx)).spec.replicas ?? 1;
      const replicas = 'replicas' in size ? size.replicas : Math.ceil((base * size.percentOfStable) / 100);
      const d = await client.get<Deployment>(deploymentRef(ns(ctx), name));
      if (!d) throw new KanaryError('NOT_FOUND', `Deployment ${ns(ctx)}/${name} does not exist`);
      if (d.spec.replicas !== replicas)
        await client.mergePatch(deploymentRef(ns(ctx), name), { spec: { replicas } });
    },

    async readiness(ctx, side) {
      return readinessOf(await viewSide(ctx, side), side);
    },

    async endpoints(ctx, side) {
      const name = side === 'stable' ? stableName(ctx) : canaryName(ctx);
      const d = await client.getView<Deployment>(deploymentRef(ns(ctx), name));
      if (!d) return { exists: false, ready: 0, message: `${side} Deployment ${name} does not exist` };
      // The routers reach a side through its pod-template-hash; without one known, the whole Deployment.
      const hash = ctx.targets[side]?.podTemplateHash;
      const selector = labelSelector({
        ...(d.spec.selector.matchLabels ?? {}),
        ...(hash ? { 'pod-template-hash': hash } : {}),
      });
      const original = side === 'stable' ? ctx.targets.stable?.original : undefined;
      // Kanary's own promotion writes the canary's template into the stable: not a person's change.
      const changed =
        original &&
        !sameRevision(d.spec.template, original.template) &&
        !templatesEqual(
          d.spec.template,
          promotedTemplate(
            desiredTemplate(ctx, original.template as DeploymentSpec['template']),
            d.spec.selector.matchLabels ?? {},
          ),
        )
          ? `the pod template of Deployment ${name} was changed since the rollout began${imagesOf(d.spec.template)}`
          : undefined;
      // Only its own pods: a canary made from the stable's template selects the stable's pods too,
      // and before its revision is known its selector alone counted them as the canary's (chaos seed
      // 699: a crash-looping canary looked ready once the stable was back, and kept every user).
      const pods = (await client.listView<Pod>('v1', 'Pod', ns(ctx), selector)).filter(ownedBy(name));
      const ready = (await reachablePods(client, ns(ctx), pods)).length;
      return {
        exists: true,
        ready,
        message: `${side} ${name}: ${ready} of ${pods.length} pod${pods.length === 1 ? '' : 's'}${
          hash ? ` of revision ${hash}` : ''
        } ready`,
        ...(changed ? { changed } : {}),
      };
    },

    watch(ctx, onChange) {
      return watchDeployments(client, ns(ctx), [stableName(ctx), canaryName(ctx)], onChange);
    },

    async promote(ctx) {
      const canary = await getCanary(ctx);
      const stable = await getStable(ctx);
      const template = promotedTemplate(
        canary?.spec.template ?? desiredTemplate(ctx, originalTemplate(ctx, stable)),
        stable.spec.selector.matchLabels ?? {},
      );
      if (templatesEqual(stable.spec.template, template)) return;
      await client.update<Deployment>(deploymentRef(ns(ctx), stableName(ctx)), (d) => ({
        ...d,
        spec: { ...d.spec, template, paused: false },
      }));
    },

    async restoreStable(ctx) {
      const original = ctx.targets.stable?.original;
      if (!original) return;
      const stable = await getStable(ctx);
      const template = original.template as DeploymentSpec['template'];
      // Never fewer than it has now: an HPA or a person may have scaled it up while it waited.
      const replicas = Math.max(original.replicas, stable.spec.replicas ?? 1);
      if (
        templatesEqual(stable.spec.template, template) &&
        stable.spec.replicas === replicas &&
        !stable.spec.paused
      )
        return;
      await client.update<Deployment>(deploymentRef(ns(ctx), stableName(ctx)), (d) => ({
        ...d,
        spec: {
          ...d.spec,
          template,
          replicas: Math.max(original.replicas, d.spec.replicas ?? 1),
          paused: false,
        },
      }));
    },

    async cleanup(ctx) {
      const canary = await getCanary(ctx);
      if (canary && userOwned(ctx)) {
        if (canary.spec.replicas !== 0)
          await client.mergePatch(deploymentRef(ns(ctx), canary.metadata.name), { spec: { replicas: 0 } });
      } else if (canary?.metadata.labels?.[LABEL_ROLLOUT] === ctx.spec.name) {
        // Only what this rollout created.
        await client.delete(deploymentRef(ns(ctx), canary.metadata.name));
      }
      // Done once its pods no longer serve: the garbage collector and the kubelet take them away
      // after the write, and the routing handed back next (a DestinationRule subset or Service
      // selecting every pod of the app) would send users to them meanwhile (an abort left half the
      // users on the canary until they were gone, with controllers that react late).
      // Its pods are the ones its ReplicaSets own (`<canary>-<hash>`): the promoted stable may run
      // the very same template, labels and hash included.
      const ref = ctx.targets.canary;
      const labels = canary?.spec.selector.matchLabels ?? ref?.podLabels;
      if (!labels) return;
      const pods = (await client.listView<Pod>('v1', 'Pod', ns(ctx), labelSelector(labels))).filter(
        ownedBy(canaryName(ctx)),
      );
      // A terminating pod still answers until the Endpoints drop it (and the data plane with them).
      const service = ctx.spec.target.service;
      const endpoints = service
        ? await client.get<
            KubeObject & { subsets?: Array<{ addresses?: Array<{ targetRef?: { name?: string } }> }> }
          >({ apiVersion: 'v1', kind: 'Endpoints', namespace: ns(ctx), name: service })
        : undefined;
      const listed = new Set(
        (endpoints?.subsets ?? []).flatMap((sub) => (sub.addresses ?? []).map((x) => x.targetRef?.name)),
      );
      const serving = pods.filter((p) => servesTraffic(p) || listed.has(p.metadata.name));
      if (serving.length > 0)
        throw new KanaryError(
          'UNREADY',
          `waiting for the canary's ${serving.length} pod${serving.length === 1 ? '' : 's'} to stop serving`,
          { retryable: true, details: { progress: true } },
        );
    },

    async rollTo(ctx, percent): Promise<RollProgress> {
      const d = await getStable(ctx);
      const ref = deploymentRef(ns(ctx), d.metadata.name);
      const total = d.spec.replicas ?? 1;
      const target = Math.ceil((total * percent) / 100);
      // In place: the user's template with the update and nothing of Kanary's, so the Deployment
      // ends as their own manifest with the new image would make it (re-applying it is no change).
      const template = mergeTemplate(originalTemplate(ctx, d), ctx.spec.update);
      if (!templatesEqual(d.spec.template, template)) {
        // The new template goes in paused, so nothing moves until a step asks for it; the
        // user's rolling parameters are kept to be put back at the end.
        await client.update<Deployment>(ref, (x) =>
          withOwnedAnnotation(
            { ...x, spec: { ...x.spec, template, paused: true } },
            ANNOTATION_ORIGINAL_STRATEGY,
            readOwnedAnnotation(x, ANNOTATION_ORIGINAL_STRATEGY) ?? x.spec.strategy ?? {},
          ),
        );
        return { done: false, updated: 0, total, message: 'new template in place, paused' };
      }
      const s = d.status ?? {};
      const observed = (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
      const updated = s.updatedReplicas ?? 0;
      if (percent >= 100) {
        const notes = d.metadata.annotations ?? {};
        if (d.spec.paused || notes[ANNOTATION_ORIGINAL_STRATEGY] || notes[ANNOTATION_ORIGINAL_MIN_READY])
          await client.update<Deployment>(ref, withOwnRollingBack);
        const r = readinessOf(await getStable(ctx), 'stable');
        return { done: r.ready, updated, total, ...(r.message ? { message: r.message } : {}) };
      }
      if (!observed) return { done: false, updated, total, message: `${updated}/${target} pods updated` };
      const pods = s.replicas ?? 0;
      const fresh = await newReplicaSet(client, d);
      const freshReady =
        (fresh?.status?.readyReplicas ?? 0) >= (fresh?.spec.replicas ?? Number.POSITIVE_INFINITY);
      if (pods > total) {
        // A burst's new pods stand beside every old one, held unavailable (below). Once they serve,
        // the old ReplicaSet gives up as many pods as were added and nothing more: with maxSurge 0
        // the new one cannot grow, and with maxUnavailable = the new pods (all unavailable) the old
        // one cannot shrink further. Nothing here races the controller, however slow the API is.
        if (!freshReady)
          return {
            done: false,
            updated,
            total,
            message: `${updated}/${total} pods updated, waiting for them to be ready`,
          };
        const retire = { maxSurge: 0, maxUnavailable: retireAllowance(updated, total) };
        const now = d.spec.strategy?.rollingUpdate;
        if (d.spec.paused || now?.maxSurge !== 0 || now?.maxUnavailable !== retire.maxUnavailable)
          await client.mergePatch(ref, {
            spec: { paused: false, strategy: { type: 'RollingUpdate', rollingUpdate: retire } },
          });
        return {
          done: false,
          updated,
          total,
          message: `${updated}/${total} pods updated, ${pods - total} old pod${pods - total === 1 ? '' : 's'} to retire`,
        };
      }
      if (updated >= target) {
        // At the step: paused, with the Deployment's own minReadySeconds back.
        const original = readOwnedAnnotation<number>(d, ANNOTATION_ORIGINAL_MIN_READY);
        if (!d.spec.paused || original !== undefined)
          await client.update<Deployment>(ref, (x) =>
            withOwnMinReadyBack({ ...x, spec: { ...x.spec, paused: true } }),
          );
        return {
          done: freshReady,
          updated,
          total,
          message: `${updated}/${total} pods updated${freshReady ? '' : ', waiting for them to be ready'}`,
        };
      }
      // One burst: `batch` new pods beside every old one (maxSurge = batch, maxUnavailable 0), held
      // unavailable by a minReadySeconds just under the progress deadline, so the controller cannot
      // retire old pods and roll on before this driver looks again (chaos seeds 5223, 6414: on a slow
      // API the pause landed after the new pods were available, and the whole Deployment rolled).
      const cap = rollingBatch(ctx, total);
      const batch = Math.max(1, Math.min(target - updated, cap));
      const hold = (d.spec.progressDeadlineSeconds ?? 600) - 1;
      await client.update<Deployment>(ref, (x) => {
        const saved = withOwnedAnnotation(
          x,
          ANNOTATION_ORIGINAL_STRATEGY,
          readOwnedAnnotation(x, ANNOTATION_ORIGINAL_STRATEGY) ?? x.spec.strategy ?? {},
        );
        return withOwnedAnnotation(
          {
            ...saved,
            spec: {
              ...x.spec,
              paused: false,
              minReadySeconds: hold,
              strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: batch, maxUnavailable: 0 } },
            },
          },
          ANNOTATION_ORIGINAL_MIN_READY,
          readOwnedAnnotation<number>(x, ANNOTATION_ORIGINAL_MIN_READY) ?? x.spec.minReadySeconds ?? 0,
        );
      });
      return {
        done: false,
        updated,
        total,
        retryInMs: BURST_CHECK_MS,
        message: `rolling ${batch} more pod(s) towards ${target}`,
      };
    },

    async undo(ctx) {
      const d = await getStable(ctx);
      const template = originalTemplate(ctx, d);
      const notes = d.metadata.annotations ?? {};
      const ours = notes[ANNOTATION_ORIGINAL_STRATEGY] || notes[ANNOTATION_ORIGINAL_MIN_READY];
      if (templatesEqual(d.spec.template, template) && !d.spec.paused && !ours) return;
      // The template and the user's own rolling parameters back, and the notes that kept them gone.
      await client.update<Deployment>(deploymentRef(ns(ctx), d.metadata.name), (x) =>
        withOwnRollingBack({ ...x, spec: { ...x.spec, template } }),
      );
    },

    async isolate(ctx) {
      const s = ctx.spec.strategy;
      if (s.type !== 'rolling' || !s.canaryService || !ctx.spec.target.service) return;
      const newHash = await currentHash(client, await getStable(ctx));
      const oldHash = ctx.targets.stable?.podTemplateHash;
      if (!newHash || !oldHash)
        throw new KanaryError('WORKLOAD', 'the ReplicaSets to isolate are not known yet', {
          retryable: true,
        });
      const stableRef = serviceRef(ns(ctx), ctx.spec.target.service);
      const stableSvc = await client.get<Service>(stableRef);
      if (!stableSvc)
        throw new KanaryError('NOT_FOUND', `Service ${ns(ctx)}/${ctx.spec.target.service} does not exist`);
      await ensureHashService(
        client,
        serviceRef(ns(ctx), s.canaryService.name),
        stableSvc,
        newHash,
        { [LABEL_ROLLOUT]: ctx.spec.name, [LABEL_ROLE]: 'canary' },
        {
          ...(s.canaryService.type ? { type: s.canaryService.type } : {}),
          ...(s.canaryService.nodePort !== undefined ? { nodePort: s.canaryService.nodePort } : {}),
        },
      );
      if (s.canaryService.isolateStable) await pinService(client, stableRef, oldHash);
    },

    async unisolate(ctx) {
      const s = ctx.spec.strategy;
      if (s.type !== 'rolling' || !s.canaryService || !ctx.spec.target.service) return;
      await unpinService(client, serviceRef(ns(ctx), ctx.spec.target.service));
      await deleteOwnedService(client, serviceRef(ns(ctx), s.canaryService.name), ctx.spec.name);
    },
  };
}
