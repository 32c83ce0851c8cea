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

/**
 * Services that select one side each, for routers that split between two Services (Istio
 * host-level, ingress-nginx, Gateway API). The canary is made from the stable template and
 * carries its labels, so the stable Service is pinned to the stable pods' pod-template-hash
 * (the user's selector kept in an annotation) and a Kanary-owned canary Service selects the
 * canary's hash.
 */
export interface ServiceSides {
  /** Pins the stable Service to the stable ReplicaSet; idempotent. */
  pinStable(ctx: PortContext, stableService: string): Promise<void>;
  /** Creates (or re-points) the canary Service: the user's selector plus the canary's hash. */
  ensureCanary(ctx: PortContext, stableService: string, canaryService: string): Promise<void>;
  /** Deletes the canary Service this rollout made and gives the stable Service its own selector back. */
  release(ctx: PortContext, stableService: string, canaryService: string): Promise<void>;
}

export function createServiceSides(client: KubeClient): ServiceSides {
  const ref = (ctx: PortContext, name: string): ObjectRef => ({
    apiVersion: 'v1',
    kind: 'Service',
    namespace: ctx.spec.namespace,
    name,
  });
  const hashOf = (ctx: PortContext, side: 'stable' | 'canary') => {
    const h = ctx.targets[side]?.podTemplateHash;
    if (!h) throw new KanaryError('ROUTER', `the ${side} ReplicaSet is not known yet`, { retryable: true });
    return h;
  };
  return {
    async pinStable(ctx, stableService) {
      await pinService(client, ref(ctx, stableService), hashOf(ctx, 'stable'));
    },
    async ensureCanary(ctx, stableService, canaryService) {
      const hash = hashOf(ctx, 'canary');
      const stable = await client.get<Service>(ref(ctx, stableService));
      if (!stable)
        throw new KanaryError('NOT_FOUND', `Service ${ctx.spec.namespace}/${stableService} does not exist`);
      await ensureHashService(client, ref(ctx, canaryService), stable, hash, {
        [LABEL_ROLLOUT]: ctx.spec.name,
      });
    },
    async release(ctx, stableService, canaryService) {
      await deleteOwnedService(client, ref(ctx, canaryService), ctx.spec.name);
      await unpinService(client, ref(ctx, stableService));
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
