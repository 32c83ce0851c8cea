import { KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient, ObjectRef } from '../kubernetes/client.ts';
import { LABEL_ROLLOUT } from '../kubernetes/labels.ts';
import {
  deleteOwnedService,
  ensureHashService,
  pinService,
  type Service,
  unpinService,
} from '../kubernetes/service-pin.ts';
import type { PortContext } from '../ports/context.ts';
import type { Permission } from '../ports/permissions.ts';
import type { Side } from '../ports/refs.ts';

/** The two Services a split routes between: the user's stable one and the canary one Kanary owns. */
export interface SideNames {
  stable: string;
  canary: string;
}

/**
 * The stable Service (`target.service`) and the canary one: the router's `canaryService`
 * option, else the stable name with `-canary`. Validation has made sure `target.service` is set.
 */
export function sideNames(ctx: PortContext, canaryService?: string): SideNames {
  const stable = ctx.spec.target.service as string;
  return { stable, canary: canaryService ?? `${stable}-canary` };
}

/** A Service of the rollout's namespace. */
export function serviceRef(ctx: PortContext, name: string): ObjectRef {
  return { apiVersion: 'v1', kind: 'Service', namespace: ctx.spec.namespace, name };
}

/** The pod-template-hash of one side's ReplicaSet; a retryable error while it is not known yet. */
export function sideHash(ctx: PortContext, side: Side): string {
  const hash = ctx.targets[side]?.podTemplateHash;
  if (!hash) throw new KanaryError('ROUTER', `the ${side} ReplicaSet is not known yet`, { retryable: true });
  return hash;
}

/**
 * Services that select one side each, for routers that split between two Services (Istio
 * host-level, ingress-nginx, Gateway API). The canary is made from the stable template and
 * carries its labels, so the stable Service is pinned to the stable pods' pod-template-hash
 * (the user's selector kept in an annotation) and a Kanary-owned canary Service selects the
 * canary's hash.
 */
export interface ServiceSides {
  /** The Services' names for this rollout. */
  names(ctx: PortContext): SideNames;
  /** Pins the stable Service to the stable ReplicaSet; idempotent. */
  pinStable(ctx: PortContext): Promise<void>;
  /** Creates (or re-points) the canary Service: the user's selector plus the canary's hash. */
  ensureCanary(ctx: PortContext): Promise<void>;
  /** Deletes the canary Service this rollout made and gives the stable Service its own selector back. */
  release(ctx: PortContext): Promise<void>;
}

/** The stable/canary Service pair of a router whose option `canaryService` names the canary (default `<stable>-canary`). */
export function createServiceSides(
  client: KubeClient,
  options: { canaryService?: string } = {},
): ServiceSides {
  const names = (ctx: PortContext) => sideNames(ctx, options.canaryService);
  return {
    names,
    async pinStable(ctx) {
      await pinService(client, serviceRef(ctx, names(ctx).stable), sideHash(ctx, 'stable'));
    },
    async ensureCanary(ctx) {
      const hash = sideHash(ctx, 'canary');
      const { stable: stableName, canary } = names(ctx);
      const stable = await client.get<Service>(serviceRef(ctx, stableName));
      if (!stable)
        throw new KanaryError('NOT_FOUND', `Service ${ctx.spec.namespace}/${stableName} does not exist`);
      await ensureHashService(client, serviceRef(ctx, canary), stable, hash, {
        [LABEL_ROLLOUT]: ctx.spec.name,
      });
    },
    async release(ctx) {
      const { stable, canary } = names(ctx);
      await deleteOwnedService(client, serviceRef(ctx, canary), ctx.spec.name);
      await unpinService(client, serviceRef(ctx, stable));
    },
  };
}

/**
 * What the stable/canary Service pair costs in access (`createServiceSides`): the stable Service
 * pinned to its pods' revision, a canary Service made and removed, Endpoints and pods looked at
 * before a write moves anyone.
 */
export function serviceSidesPermissions(namespace?: string): Permission[] {
  const where = namespace ? { namespace } : {};
  return [
    {
      apiGroup: '',
      resource: 'services',
      verbs: ['get', 'create', 'update', 'patch', 'delete'],
      ...where,
      why: 'the stable Service pinned to its revision, the canary Service made and removed',
    },
    {
      apiGroup: '',
      resource: 'endpoints',
      verbs: ['get'],
      ...where,
      why: 'a pinned Service has ready endpoints before users move',
    },
    { apiGroup: '', resource: 'pods', verbs: ['list'], ...where, why: 'which pods a Service selects' },
  ];
}
