import type { RouterClientOptions } from '@kanary/core/adapter';
import { z } from 'zod';

/** The id this router's options are saved and written under (a kanary file's `router.istio`). */
export const ROUTER_ID = 'istio';

const Name = z.string().min(1);

/** The Istio router's configuration: what a kanary file's `router.istio` holds, checked here and there. */
export const istioRouterOptionsSchema = z
  .strictObject({
    virtualService: z
      .union([
        Name,
        z.strictObject({
          name: Name.describe('The VirtualService.'),
          namespace: Name.optional().describe("Its namespace; default the rollout's."),
        }),
      ])
      .describe(
        "The VirtualService whose routes are split: a name in the rollout's namespace, or { name, namespace }.",
      ),
    routes: z
      .array(Name)
      .optional()
      .describe(
        'The http routes (by name) whose weights are shifted; default the one route without a match.',
      ),
    destinationRule: z
      .strictObject({
        name: Name.describe('The DestinationRule whose subsets tell the sides apart.'),
        namespace: Name.optional().describe("Its namespace; default the rollout's."),
        stableSubset: Name.optional().describe("Its stable subset's name; default stable."),
        canarySubset: Name.optional().describe("Its canary subset's name; default canary."),
      })
      .optional()
      .describe('Split by subsets of one host (else by two Services: stable and canary).'),
    canaryService: Name.optional().describe('The canary Service; default SERVICE-canary, made if missing.'),
    apiVersion: z
      .enum(['networking.istio.io/v1', 'networking.istio.io/v1beta1'])
      .optional()
      .describe(
        "Istio's API version; default networking.istio.io/v1, falling back to v1beta1 on older Istio.",
      ),
  })
  .describe('Istio: weights, header/cookie routes and mirrors in a VirtualService.');

export type IstioRouterConfig = z.input<typeof istioRouterOptionsSchema>;

/** The options of `createIstioRouter`: its configuration and how it reaches the cluster. */
export type IstioRouterOptions = IstioRouterConfig & RouterClientOptions;
