// The routers that live in their own packages, made for the chaos runner's objects (all named `web`).
import { createGatewayApiRouter } from '@kanary/gateway-api';
import { createIstioRouter } from '@kanary/istio';
import { createNginxRouter } from '@kanary/nginx';
import type { ChaosRouters } from '@kanary/testkit';

export const routers: ChaosRouters = {
  istio: (client) => createIstioRouter({ client, virtualService: 'web', destinationRule: { name: 'web' } }),
  nginx: (client) => createNginxRouter({ client, stableIngress: 'web' }),
  gateway: (client) => createGatewayApiRouter({ client, httpRoute: 'web' }),
};
