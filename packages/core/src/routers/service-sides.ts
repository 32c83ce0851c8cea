import { KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';
import type { PortContext } from '../ports/context.ts';
import { ANNOTATION_ORIGINAL_SELECTOR, originalSelector } from '../workloads/deployment-driver.ts';

type Service = KubeObject & {
  spec: { selector?: Record<string, string>; ports?: Array<Record<string, unknown>> };
};

const HASH = 'pod-template-hash';
const OWNER = 'kanary.dev/rollout';

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
  const getStable = async (ctx: PortContext, name: string) => {
    const svc = await client.get<Service>(ref(ctx, name));
    if (!svc) throw new KanaryError('NOT_FOUND', `Service ${ctx.spec.namespace}/${name} does not exist`);
    return svc;
  };
  return {
    async pinStable(ctx, stableService) {
      const hash = hashOf(ctx, 'stable');
      const svc = await getStable(ctx, stableService);
      if (svc.spec.selector?.[HASH] === hash && svc.metadata.annotations?.[ANNOTATION_ORIGINAL_SELECTOR])
        return;
      await client.update<Service>(ref(ctx, stableService), (s) => {
        const base = originalSelector(s);
        return {
          ...s,
          metadata: {
            ...s.metadata,
            annotations: {
              ...(s.metadata.annotations ?? {}),
              [ANNOTATION_ORIGINAL_SELECTOR]: JSON.stringify(base),
            },
          },
          spec: { ...s.spec, selector: { ...base, [HASH]: hash } },
        };
      });
    },
    async ensureCanary(ctx, stableService, canaryService) {
      const hash = hashOf(ctx, 'canary');
      const stable = await getStable(ctx, stableService);
      const selector = { ...originalSelector(stable), [HASH]: hash };
      const existing = await client.get<Service>(ref(ctx, canaryService));
      if (!existing) {
        await client.create<Service>({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name: canaryService,
            namespace: ctx.spec.namespace,
            labels: { [OWNER]: ctx.spec.name },
          },
          spec: { selector, ports: (stable.spec.ports ?? []).map(({ nodePort: _n, ...p }) => p) },
        });
      } else if (existing.spec.selector?.[HASH] !== hash) {
        await client.update<Service>(ref(ctx, canaryService), (s) => ({
          ...s,
          spec: { ...s.spec, selector },
        }));
      }
    },
    async release(ctx, stableService, canaryService) {
      const canary = await client.get(ref(ctx, canaryService));
      if (canary?.metadata.labels?.[OWNER] === ctx.spec.name) await client.delete(ref(ctx, canaryService));
      const svc = await client.get<Service>(ref(ctx, stableService));
      if (!svc?.metadata.annotations?.[ANNOTATION_ORIGINAL_SELECTOR]) return;
      await client.update<Service>(ref(ctx, stableService), (s) => {
        const { [ANNOTATION_ORIGINAL_SELECTOR]: saved, ...annotations } = s.metadata.annotations ?? {};
        if (saved === undefined) return undefined;
        const metadata = { ...s.metadata, annotations };
        // An annotation map that only held ours was not there before: leave none behind.
        if (Object.keys(annotations).length === 0) delete (metadata as { annotations?: unknown }).annotations;
        return { ...s, metadata, spec: { ...s.spec, selector: JSON.parse(saved) as Record<string, string> } };
      });
    },
  };
}
