import { rolloutSpecJsonSchema } from '@kanary/core';
import { ROUTER_ID as GATEWAY_API, gatewayApiRouterOptionsSchema } from '@kanary/gateway-api';
import { ROUTER_ID as ISTIO, istioRouterOptionsSchema } from '@kanary/istio';
import { ROUTER_ID as NGINX, nginxRouterOptionsSchema } from '@kanary/nginx';
import { z } from 'zod';

/**
 * What a kanary file holds besides the rollout spec: which router shifts the traffic and where
 * the metrics are. The rollout itself is checked against core's exported JSON Schema.
 */

export const RouterSchema = z.union(
  [
    // Each data plane's options are its router package's own schema: what createXRouter checks.
    z.strictObject({ [ISTIO]: istioRouterOptionsSchema }),
    z.strictObject({ [NGINX]: nginxRouterOptionsSchema }),
    z.strictObject({ [GATEWAY_API]: gatewayApiRouterOptionsSchema }),
  ],
  { message: 'must have exactly one of istio, nginx or gatewayApi' },
);

const Http = z.strictObject({
  bearerToken: z
    .string()
    .min(1)
    .optional()
    .describe('A token, or @/path/to/file to read it (e.g. a mounted service-account token).'),
  basicAuth: z
    .strictObject({
      username: z.string().describe('The user name.'),
      password: z.string().describe('The password.'),
    })
    .optional()
    .describe('HTTP basic authentication.'),
  headers: z.record(z.string(), z.string()).optional().describe('Headers sent with every request.'),
  tls: z
    .strictObject({
      ca: z
        .string()
        .optional()
        .describe("Path to the PEM file of the CA that signed the server's certificate."),
      cert: z.string().optional().describe('Path to a PEM client certificate.'),
      key: z.string().optional().describe('Path to its PEM key.'),
      insecureSkipVerify: z
        .boolean()
        .optional()
        .describe("Do not check the server's certificate (tests only)."),
    })
    .optional()
    .describe('TLS settings: paths to PEM files.'),
  timeoutMs: z.number().int().positive().optional().describe('How long one request may take, in ms.'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(10)
    .optional()
    .describe('Requests repeated after a transient failure.'),
});

const PrometheusServer = Http.extend({
  address: z.url().describe("The server's URL, e.g. http://prometheus.monitoring:9090."),
});

/** What to check in the target before a release starts, each an error (refuse), a warning or off. */
const Severity = z.enum(['error', 'warning', 'off']);
const Preflight = z.strictObject({
  readinessProbe: Severity.optional().describe(
    'Containers without a readinessProbe, where traffic could reach pods not yet ready (default warning).',
  ),
  gracefulShutdown: Severity.optional().describe(
    'No preStop hook or grace period to drain requests on scale-down (default warning).',
  ),
  resourceRequests: Severity.optional().describe(
    'Containers without CPU and memory requests (default warning).',
  ),
});

export const KanaryFileSchema = z.strictObject({
  rollout: z
    .record(z.string(), z.unknown())
    .describe('The rollout spec: every field in docs/spec-reference.md.'),
  preflight: Preflight.optional().describe(
    'What to check in the target before a release starts: error (refuse), warning or off.',
  ),
  router: RouterSchema.optional().describe(
    'Which data plane shifts the traffic (needed by the weighted and headerMatch strategies): exactly one of istio, nginx, gatewayApi.',
  ),
  prometheus: z
    .union([
      PrometheusServer,
      z.strictObject({
        servers: z.record(z.string(), PrometheusServer).describe('The servers by name.'),
        default: z.string().optional().describe('The one a metric without `server` asks.'),
      }),
    ])
    .optional()
    .describe(
      'Where analyses query: one Prometheus server, or several by name (a metric picks one with server: NAME).',
    ),
  web: z
    .strictObject({
      timeoutMs: Http.shape.timeoutMs,
      retries: Http.shape.retries,
      servers: z
        .record(z.string(), Http.extend({ url: z.url().describe("The server's base URL.") }))
        .optional()
        .describe('The servers web metrics may call by name, each with its own credentials.'),
    })
    .optional()
    .describe('Web (JSON over HTTP) metrics: timing defaults and the servers they may call.'),
  allowAddresses: z
    .array(z.url())
    .optional()
    .describe("Other addresses a rollout's metrics may name, called without credentials."),
  vars: z
    .record(z.string(), z.string())
    .optional()
    .describe('Values of {{vars.NAME}} in metric queries and URLs.'),
});

export type KanaryFile = z.infer<typeof KanaryFileSchema>;
export type RouterConfig = z.infer<typeof RouterSchema>;
export type HttpConfig = z.infer<typeof Http>;

/**
 * The kanary file's JSON Schema (draft 2020-12), with the rollout spec's inside it: what
 * `kanary-file.schema.json` holds, for editors validating kanary files.
 */
export function kanaryFileJsonSchema(): Record<string, unknown> {
  const { $schema, properties, ...rest } = z.toJSONSchema(KanaryFileSchema, {
    io: 'input',
    unrepresentable: 'any',
  }) as { $schema: string; properties: Record<string, { description?: string }> };
  const { $schema: _s, $id: _i, title: _t, description: _d, ...spec } = rolloutSpecJsonSchema();
  return {
    $schema,
    $id: 'https://kanary.dev/schema/kanary-file.json',
    title: 'Kanary file',
    description: 'A file for the kanary CLI: the rollout, its router, and where its metrics are.',
    ...rest,
    properties: { ...properties, rollout: { ...spec, description: properties.rollout?.description } },
  };
}
