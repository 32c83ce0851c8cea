import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  type Clock,
  createKubeClient,
  createKubernetesRollout,
  formatIssues,
  type HookHandlers,
  isKanaryError,
  KanaryError,
  type KubeClient,
  type MetricGate,
  type Rollout,
  type TrafficRouter,
} from '@kanary/core';
import { createGatewayApiRouter } from '@kanary/gateway-api';
import { createIstioRouter } from '@kanary/istio';
import { createMetricGate, type PrometheusClientOptions } from '@kanary/metrics';
import { createNginxRouter } from '@kanary/nginx';
import { KubeConfig } from '@kubernetes/client-node';
import type { LoadedFile } from './file/load.ts';
import type { HttpConfig, KanaryFile, RouterConfig } from './file/schema.ts';

export interface ClusterOptions {
  /** A kubeconfig file; default: $KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig?: string;
  context?: string;
}

/** A kubeconfig problem the CLI can name before any request: exit 2, nothing written. */
export class KubeConfigError extends Error {}

/**
 * The standard kubeconfig resolution, as kubectl does it — but a missing file, no kubeconfig at all
 * and an unknown context are said in one sentence with the fix, before client-node turns them into
 * an ENOENT or a request to http://localhost:8080 ("HTTP protocol is not allowed…").
 */
export function loadKubeConfig(options: ClusterOptions, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(homedir(), '.kube', 'config');
  const inCluster =
    Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig))
      throw new KubeConfigError(
        `no kubeconfig at ${options.kubeconfig} (--kubeconfig): give the path of an existing file`,
      );
    kc.loadFromFile(options.kubeconfig);
  } else if (listed.length > 0 && !listed.some((f) => existsSync(f))) {
    throw new KubeConfigError(
      `KUBECONFIG names ${listed.join(', ')}, and no such file exists: point KUBECONFIG or --kubeconfig at your cluster's kubeconfig`,
    );
  } else if (listed.length === 0 && !existsSync(home) && !inCluster) {
    throw new KubeConfigError(
      `no kubeconfig: KUBECONFIG is not set, ${home} does not exist, and this is not a pod in a cluster; give --kubeconfig FILE (kubectl's config works)`,
    );
  } else kc.loadFromDefault();
  if (options.context) {
    if (!kc.getContexts().some((c) => c.name === options.context))
      throw new KubeConfigError(
        `no context "${options.context}" in the kubeconfig; it has ${
          kc
            .getContexts()
            .map((c) => `"${c.name}"`)
            .join(', ') || 'none'
        } (--context)`,
      );
    kc.setCurrentContext(options.context);
  }
  return kc;
}

function routerFor(config: RouterConfig, client: KubeClient): TrafficRouter {
  if ('istio' in config) return createIstioRouter({ client, ...config.istio });
  if ('nginx' in config) return createNginxRouter({ client, ...config.nginx });
  return createGatewayApiRouter({ client, ...config.gatewayApi });
}

const readSecret = (v: string | undefined) =>
  v?.startsWith('@') ? readFileSync(v.slice(1), 'utf8').trim() : v;

function http(config: HttpConfig | undefined) {
  if (!config) return {};
  const { tls, bearerToken, ...rest } = config;
  const file = (p: string | undefined) => (p ? readFileSync(p) : undefined);
  return {
    ...rest,
    ...(bearerToken ? { bearerToken: readSecret(bearerToken) as string } : {}),
    ...(tls
      ? {
          tls: {
            ...(tls.ca ? { ca: file(tls.ca) } : {}),
            ...(tls.cert ? { cert: file(tls.cert) } : {}),
            ...(tls.key ? { key: file(tls.key) } : {}),
            ...(tls.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
          },
        }
      : {}),
  };
}

/** The file's Prometheus server (its default one when it names several), with its credentials. */
export function filePrometheus(file: KanaryFile): PrometheusClientOptions | undefined {
  const p = file.prometheus;
  if (!p) return undefined;
  const s = 'servers' in p ? (p.default ? p.servers[p.default] : Object.values(p.servers)[0]) : p;
  return s ? { ...http(s), address: s.address } : undefined;
}

export interface WireOptions {
  kubeConfig: KubeConfig;
  clock?: Clock;
  pollInterval?: string;
  /** How long a silent driver's lease lasts before another process may take the rollout over. */
  leaseDuration?: string;
  /** Hook functions (a rollout group's barriers). */
  hooks?: HookHandlers;
}

/** The rollout a kanary file describes, on the cluster the kubeconfig points at. */
export function wireRollout(loaded: LoadedFile, options: WireOptions): Rollout {
  const { file } = loaded;
  const client = createKubeClient({
    kubeConfig: options.kubeConfig,
    fieldManager: 'kanary-cli',
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const server = (s: HttpConfig & { address: string }) => ({ ...http(s), address: s.address });
  const prometheus = file.prometheus;
  const gate: MetricGate = createMetricGate({
    ...(prometheus
      ? {
          prometheus:
            'servers' in prometheus
              ? {
                  servers: Object.fromEntries(
                    Object.entries(prometheus.servers).map(([n, s]) => [n, server(s)]),
                  ),
                  ...(prometheus.default ? { default: prometheus.default } : {}),
                }
              : server(prometheus),
        }
      : {}),
    ...(file.web
      ? {
          web: {
            ...(file.web.timeoutMs !== undefined ? { timeoutMs: file.web.timeoutMs } : {}),
            ...(file.web.retries !== undefined ? { retries: file.web.retries } : {}),
            ...(file.web.servers
              ? {
                  servers: Object.fromEntries(
                    Object.entries(file.web.servers).map(([n, s]) => [n, { ...http(s), url: s.url }]),
                  ),
                }
              : {}),
          },
        }
      : {}),
    ...(file.allowAddresses ? { allowAddresses: file.allowAddresses } : {}),
    ...(file.vars ? { vars: file.vars } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  try {
    return wired(loaded, client, gate, options);
  } catch (error) {
    throw atSpecPath(error, loaded.specPath);
  }
}

/**
 * The problems core and the gate find in a spec, at their place in the file (`rollout.steps[1]…`
 * rather than `steps[1]…`), as the file's own checks report them.
 */
function atSpecPath(error: unknown, specPath: string): unknown {
  if (!specPath || !isKanaryError(error) || error.issues.length === 0) return error;
  const issues = error.issues.map((i) => ({ ...i, path: [specPath, i.path].filter(Boolean).join('.') }));
  const listed = formatIssues(error.issues);
  const message = error.message.includes(listed)
    ? error.message.replace(listed, formatIssues(issues))
    : error.message;
  return new KanaryError(error.code, message, { issues, details: error.details, cause: error });
}

function wired(loaded: LoadedFile, client: KubeClient, gate: MetricGate, options: WireOptions): Rollout {
  const { file } = loaded;
  return createKubernetesRollout({
    spec: file.rollout,
    client,
    gate,
    ...(file.router ? { router: routerFor(file.router, client) } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.pollInterval ? { pollInterval: options.pollInterval } : {}),
    ...(options.leaseDuration ? { lockTtl: options.leaseDuration } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(file.preflight ? { preflight: file.preflight } : {}),
  });
}
