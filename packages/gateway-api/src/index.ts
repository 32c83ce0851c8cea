// @kanary/gateway-api — a TrafficRouter for Gateway API HTTPRoutes.
export {
  type GatewayApiRouterConfig,
  type GatewayApiRouterOptions,
  gatewayApiRouterOptionsSchema,
  ROUTER_ID,
} from './options.ts';
export type { HttpRouteRule } from './router.ts';
export { createGatewayApiRouter } from './router.ts';
