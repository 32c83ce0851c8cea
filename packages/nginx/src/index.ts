// @kanary/nginx — a TrafficRouter for ingress-nginx canary Ingresses.
export {
  type NginxRouterConfig,
  type NginxRouterOptions,
  nginxRouterOptionsSchema,
  ROUTER_ID,
} from './options.ts';
export { createNginxRouter, nginxRouteProblems } from './router.ts';
