import { z } from 'zod';

/**
 * What a kanary file holds besides the rollout spec: which router shifts the traffic and where
 * the metrics are. The rollout itself is checked against core's exported JSON Schema.
 */

const Name = z.string().min(1);

export const RouterSchema = z.union(
  [
    z.strictObject({
      istio: z.strictObject({
        virtualService: Name,
        routes: z.array(Name).optional(),
        destinationRule: z
          .strictObject({
            name: Name,
            stableSubset: Name.optional(),
            canarySubset: Name.optional(),
          })
          .optional(),
        canaryService: Name.optional(),
      }),
    }),
    z.strictObject({
      nginx: z.strictObject({
        stableIngress: Name,
        canaryIngress: Name.optional(),
        canaryService: Name.optional(),
        weightTotal: z.number().int().min(100).optional(),
        annotationPrefix: Name.optional(),
      }),
    }),
    z.strictObject({
      gatewayApi: z.strictObject({ httpRoute: Name, canaryService: Name.optional() }),
    }),
  ],
  { message: 'must have exactly one of istio, nginx or gatewayApi' },
);

const Http = z.strictObject({
  /** A token, or `@/path/to/file` to read it (e.g. a mounted service-account token). */
  bearerToken: z.string().min(1).optional(),
  basicAuth: z.strictObject({ username: z.string(), password: z.string() }).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Paths to PEM files. */
  tls: z
    .strictObject({
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      insecureSkipVerify: z.boolean().optional(),
    })
    .optional(),
  timeoutMs: z.number().int().positive().optional(),
  retries: z.number().int().min(0).max(10).optional(),
});

const PrometheusServer = Http.extend({ address: z.url() });

/** What to check in the target before a release starts, each an error (refuse), a warning or off. */
const Severity = z.enum(['error', 'warning', 'off']);
const Preflight = z.strictObject({
  readinessProbe: Severity.optional(),
  gracefulShutdown: Severity.optional(),
  resourceRequests: Severity.optional(),
});

export const KanaryFileSchema = z.strictObject({
  rollout: z.record(z.string(), z.unknown()),
  preflight: Preflight.optional(),
  router: RouterSchema.optional(),
  /** One Prometheus server, or several by name (a metric picks one with `server: name`). */
  prometheus: z
    .union([
      PrometheusServer,
      z.strictObject({ servers: z.record(z.string(), PrometheusServer), default: z.string().optional() }),
    ])
    .optional(),
  /** Web metrics: timing defaults, and the servers they may call, each with its own credentials. */
  web: z
    .strictObject({
      timeoutMs: Http.shape.timeoutMs,
      retries: Http.shape.retries,
      servers: z.record(z.string(), Http.extend({ url: z.url() })).optional(),
    })
    .optional(),
  /** Other addresses a rollout's metrics may name, called without credentials. */
  allowAddresses: z.array(z.url()).optional(),
  vars: z.record(z.string(), z.string()).optional(),
});

export type KanaryFile = z.infer<typeof KanaryFileSchema>;
export type RouterConfig = z.infer<typeof RouterSchema>;
export type HttpConfig = z.infer<typeof Http>;
