// @kanary/gateway-api — a TrafficRouter for Gateway API HTTPRoutes.
export type { GatewayApiRouterOptions, HttpRouteRule } from './router.ts';
export { createGatewayApiRouter } from './router.ts';
