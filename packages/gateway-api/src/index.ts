// @kanary/gateway-api — a TrafficRouter for Gateway API HTTPRoutes.
export type { GatewayApiRouterOptions, HttpRouteRule } from './router.ts';
export { cookieHeaderRegex, createGatewayApiRouter } from './router.ts';
