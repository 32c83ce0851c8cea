import type { RouterClientOptions } from '@kanary/core/adapter';
import { z } from 'zod';

/** The id this router's options are saved and written under (a kanary file's `router.gatewayApi`). */
export const ROUTER_ID = 'gatewayApi';

const Name = z.string().min(1);

/** The Gateway API router's configuration: what a kanary file's `router.gatewayApi` holds, checked here and there. */
export const gatewayApiRouterOptionsSchema = z
  .strictObject({
    httpRoute: Name.describe(
      'The HTTPRoute (gateway.networking.k8s.io/v1) users reach the stable Service through; its backendRefs are weighted.',
    ),
    canaryService: Name.optional().describe('The canary Service; default SERVICE-canary, made if missing.'),
    statusTimeoutMs: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'How long (ms) a weight change waits for the Gateway to report the route accepted at its new generation before it is recorded unverified; default 10000.',
      ),
  })
  .describe('Gateway API: backendRef weights, header/cookie rules and mirrors in an HTTPRoute.');

export type GatewayApiRouterConfig = z.input<typeof gatewayApiRouterOptionsSchema>;

/** The options of `createGatewayApiRouter`: its configuration and how it reaches the cluster. */
export type GatewayApiRouterOptions = GatewayApiRouterConfig & RouterClientOptions;
