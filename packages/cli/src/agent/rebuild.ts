import {
  type Clock,
  createKubernetesRollout,
  createReplicaRatioRouter,
  createServiceSelectorRouter,
  KanaryError,
  type KubeClient,
  type Lock,
  type PartWiring,
  type Rollout,
  type RolloutWiring,
  type TrafficRouter,
} from '@kanary/core';
import {
  createGatewayApiRouter,
  ROUTER_ID as GATEWAY_API,
  type GatewayApiRouterOptions,
} from '@kanary/gateway-api';
import { createIstioRouter, ROUTER_ID as ISTIO, type IstioRouterOptions } from '@kanary/istio';
import {
  createMetricGate,
  type PrometheusClientOptions,
  type PrometheusServers,
  type WebOptions,
  type WebServer,
} from '@kanary/metrics';
import { createNginxRouter, ROUTER_ID as NGINX, type NginxRouterOptions } from '@kanary/nginx';

/**
 * What the process that rebuilds a rollout brings of its own: credentials are never saved with a
 * rollout. Each is bound to its server: a saved gate server gets them only if it has the same
 * address (a saved state names addresses, and whoever can write it must not redirect them).
 */
export interface Credentials {
  prometheus?: PrometheusClientOptions;
  /** Web servers by name, each with its URL and credentials. */
  web?: Record<string, WebServer>;
}

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** A router from its saved wiring, made with this process's client. */
export function routerFromWiring(wiring: PartWiring, client: KubeClient): TrafficRouter {
  const options = wiring.options ?? {};
  switch (wiring.kind) {
    case ISTIO:
      return createIstioRouter({ ...(options as unknown as IstioRouterOptions), client });
    case NGINX:
      return createNginxRouter({ ...(options as unknown as NginxRouterOptions), client });
    case GATEWAY_API:
      return createGatewayApiRouter({ ...(options as unknown as GatewayApiRouterOptions), client });
    case 'serviceSelector':
      return createServiceSelectorRouter({ ...options, client });
    case 'replicaRatio':
      return createReplicaRatioRouter({ ...options, client });
    default:
      throw new KanaryError(
        'INVALID_STATE',
        `the saved router kind "${wiring.kind}" is not known to this Kanary`,
      );
  }
}

export interface RebuildOptions {
  client: KubeClient;
  clock?: Clock;
  lock?: Lock;
  holder?: string;
  lockTtl?: string | number;
  pollInterval?: string | number;
  credentials?: Credentials;
}

/**
 * The rollout its saved wiring describes, without the parts that exist only as the original
 * host's code (hook functions, function providers): those are in `wiring.code`.
 */
export function rebuildRollout(wiring: RolloutWiring, options: RebuildOptions): Rollout {
  const { client, credentials } = options;
  const gateOptions = (wiring.gate?.options ?? {}) as {
    prometheus?: PrometheusClientOptions | PrometheusServers;
    web?: WebOptions;
    vars?: Record<string, string>;
    allowAddresses?: string[];
  };
  const withCredentials = (s: PrometheusClientOptions): PrometheusClientOptions => {
    const c = credentials?.prometheus;
    return c && sameUrl(c.address, s.address) ? { ...s, ...c } : s;
  };
  const saved = gateOptions.prometheus;
  const prometheus =
    saved === undefined
      ? undefined
      : 'servers' in saved
        ? {
            ...saved,
            servers: Object.fromEntries(
              Object.entries(saved.servers).map(([n, s]) => [
                n,
                withCredentials(s as PrometheusClientOptions),
              ]),
            ),
          }
        : withCredentials(saved);
  const webServers = { ...gateOptions.web?.servers };
  for (const [name, s] of Object.entries(credentials?.web ?? {})) {
    const before = webServers[name];
    if (!before || sameUrl(before.url, s.url)) webServers[name] = { ...before, ...s };
  }
  const web: WebOptions | undefined =
    gateOptions.web || credentials?.web
      ? { ...gateOptions.web, ...(Object.keys(webServers).length ? { servers: webServers } : {}) }
      : undefined;
  const gate = wiring.gate
    ? createMetricGate({
        ...(prometheus ? { prometheus } : {}),
        ...(web ? { web } : {}),
        ...(gateOptions.allowAddresses ? { allowAddresses: gateOptions.allowAddresses } : {}),
        ...(gateOptions.vars ? { vars: gateOptions.vars } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
      })
    : undefined;
  return createKubernetesRollout({
    spec: wiring.spec,
    client,
    ...(wiring.router ? { router: routerFromWiring(wiring.router, client) } : {}),
    ...(gate ? { gate } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.lock ? { lock: options.lock } : {}),
    ...(options.holder ? { holder: options.holder } : {}),
    ...(options.lockTtl !== undefined ? { lockTtl: options.lockTtl } : {}),
    ...(options.pollInterval !== undefined ? { pollInterval: options.pollInterval } : {}),
    waitForLock: true,
  });
}
