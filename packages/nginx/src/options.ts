import type { RouterClientOptions } from '@kanary/core/adapter';
import { z } from 'zod';

/** The id this router's options are saved and written under (a kanary file's `router.nginx`). */
export const ROUTER_ID = 'nginx';

const Name = z.string().min(1);

/** The ingress-nginx router's configuration: what a kanary file's `router.nginx` holds, checked here and there. */
export const nginxRouterOptionsSchema = z
  .strictObject({
    stableIngress: Name.describe('The Ingress users reach; a canary Ingress is made beside it.'),
    canaryIngress: Name.optional().describe("The canary Ingress's name; default INGRESS-canary."),
    canaryService: Name.optional().describe('The canary Service; default SERVICE-canary, made if missing.'),
    weightTotal: z
      .number()
      .int()
      .min(100)
      .optional()
      .describe('canary-weight-total, for weights finer than 1% (e.g. 1000 for 0.1%); default 100.'),
    annotationPrefix: Name.optional().describe(
      "The controller's annotation prefix, if not nginx.ingress.kubernetes.io.",
    ),
  })
  .describe('ingress-nginx: a canary Ingress with weight, header and cookie annotations.');

export type NginxRouterConfig = z.input<typeof nginxRouterOptionsSchema>;

/** The options of `createNginxRouter`: its configuration and how it reaches the cluster. */
export type NginxRouterOptions = NginxRouterConfig & RouterClientOptions;
