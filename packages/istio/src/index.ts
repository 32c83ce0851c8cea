// @kanary/istio — a TrafficRouter for Istio VirtualService / DestinationRule.

export { cookieRegex, type StringMatch, toIstioMatch } from './match.ts';
export {
  type IstioRouterConfig,
  type IstioRouterOptions,
  istioRouterOptionsSchema,
  ROUTER_ID,
} from './options.ts';
export type { HttpRoute, IstioDestination, IstioRoute } from './router.ts';
export { createIstioRouter } from './router.ts';
