// @kanary/nginx — a TrafficRouter for ingress-nginx canary Ingresses.
export type { NginxRouterOptions } from './router.ts';
export { createNginxRouter, nginxRouteProblems } from './router.ts';
