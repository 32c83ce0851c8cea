import { KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient } from '../kubernetes/client.ts';
import { pinService, type Service, unpinService } from '../kubernetes/service-pin.ts';
import type { PortContext } from '../ports/context.ts';
import { NO_CAPABILITIES, type RouterStatus, type TrafficRouter } from '../ports/router.ts';
import { partWiring } from '../ports/wiring.ts';
import { serviceRef, sideHash } from './service-sides.ts';

export interface ServiceSelectorRouterOptions {
  client: KubeClient;
  /** The Service users reach; default: the blue-green strategy's activeService, else target.service. */
  activeService?: string;
  /** A Service that always selects the new version (blue-green preview); default from the strategy. */
  previewService?: string;
}

/**
 * Seed 001's blue-green switch: the active Service's selector is the router. Each side is picked
 * by its pod-template-hash on top of the user's selector (which is kept in an annotation), so
 * the switch is one selector write, and switching back is another.
 */
export function createServiceSelectorRouter(options: ServiceSelectorRouterOptions): TrafficRouter {
  const { client } = options;
  const names = (ctx: PortContext) => {
    const s = ctx.spec.strategy;
    return {
      active: options.activeService ?? (s.type === 'blueGreen' ? s.activeService : ctx.spec.target.service),
      preview: options.previewService ?? (s.type === 'blueGreen' ? s.previewService : undefined),
    };
  };
  /** Points a Service at one side, keeping the user's selector in an annotation. Verified by reading back. */
  const point = async (ctx: PortContext, name: string, side: 'stable' | 'canary'): Promise<void> => {
    await pinService(client, serviceRef(ctx, name), sideHash(ctx, side), ctx.targets[side]?.podLabels);
  };

  const status = async (ctx: PortContext): Promise<RouterStatus> => {
    const svc = await client.get<Service>(serviceRef(ctx, names(ctx).active as string));
    const hash = svc?.spec.selector?.['pod-template-hash'];
    const onCanary = hash !== undefined && hash === ctx.targets.canary?.podTemplateHash;
    return { canaryWeight: onCanary ? 100 : 0, verified: true, headerRoutes: [], mirrors: [] };
  };
  const unsupported = (what: string) => {
    throw new KanaryError('UNSUPPORTED_CAPABILITY', `the Service-selector router cannot ${what}`);
  };

  return {
    name: 'service-selector',
    wiring: partWiring('serviceSelector', options),
    permissions: () => [
      {
        apiGroup: '',
        resource: 'services',
        verbs: ['get', 'create', 'update', 'patch', 'delete'],
        why: "the active (and preview) Service's selector switched between colours",
      },
      { apiGroup: '', resource: 'endpoints', verbs: ['get'], why: 'a switched Service has ready endpoints' },
      { apiGroup: '', resource: 'pods', verbs: ['list'], why: 'which pods a Service selects' },
    ],
    capabilities: NO_CAPABILITIES,
    async validate(ctx) {
      const { active } = names(ctx);
      if (!active)
        return [
          {
            path: 'strategy.activeService',
            message: 'no Service to switch',
            hint: 'set activeService or target.service',
            severity: 'error',
          },
        ];
      return [];
    },
    async prepare(ctx) {
      const { active, preview } = names(ctx);
      // Pin the active Service to the stable pods before any new pod exists.
      await point(ctx, active as string, 'stable');
      if (preview && ctx.targets.canary?.podTemplateHash) await point(ctx, preview, 'canary');
    },
    async setWeight(ctx, weight) {
      if (weight !== 0 && weight !== 100) unsupported(`send ${weight}% (only 0 or 100)`);
      await point(ctx, names(ctx).active as string, weight === 100 ? 'canary' : 'stable');
      return status(ctx);
    },
    setHeaderRoute: async () => unsupported('route by header'),
    removeHeaderRoute: async () => undefined,
    setMirror: async () => unsupported('mirror traffic'),
    removeMirror: async () => undefined,
    async reset(ctx) {
      await point(ctx, names(ctx).active as string, 'stable');
      return status(ctx);
    },
    /**
     * The release is over and only one colour has pods: the Services get the user's own selectors
     * back, so the next `kubectl set image` on the serving colour does not empty them.
     */
    async finalize(ctx) {
      const { active, preview } = names(ctx);
      // The side that serves now (the active Service's pin) keeps its users: a selector by colour
      // is handed back naming that colour.
      const svc = await client.get<Service>(serviceRef(ctx, active as string));
      const hash = svc?.spec.selector?.['pod-template-hash'];
      const serving = (['canary', 'stable'] as const).find(
        (side) => hash && ctx.targets[side]?.podTemplateHash === hash,
      );
      const labels = serving ? ctx.targets[serving]?.podLabels : undefined;
      await unpinService(client, serviceRef(ctx, active as string), labels);
      if (preview) await unpinService(client, serviceRef(ctx, preview), labels);
      return { canaryWeight: 0, verified: true, headerRoutes: [], mirrors: [] };
    },
    status,
  };
}
