// @kanary/istio — a TrafficRouter for Istio VirtualService / DestinationRule.

export { cookieRegex, type StringMatch, toIstioMatch } from './match.ts';
export type { HttpRoute, IstioDestination, IstioRoute, IstioRouterOptions } from './router.ts';
export { createIstioRouter } from './router.ts';
