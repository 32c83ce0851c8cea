import type { HttpOptions } from './http.ts';
import type { PrometheusClient, PrometheusClientOptions } from './prometheus.ts';

/**
 * Where a spec may send a gate's requests, and with whose credentials. A spec is input (a chat
 * command, a file in someone's repository); credentials are the host's. So a spec picks a server
 * the host configured (`server: main`), or names an address under one (it then gets that server's
 * credentials), or one the host allow-listed (called with no credentials). Anything else is refused
 * before the rollout starts. See SECURITY.md.
 */

/** One Prometheus server: its address with its own auth and TLS, or a ready client. */
export type PrometheusServer = PrometheusClientOptions | PrometheusClient;

/** Several Prometheus servers, each picked by name in a spec (`provider.prometheus.server`). */
export interface PrometheusServers {
  servers: Record<string, PrometheusServer>;
  /** The server of metrics that name none (default: the only one, when there is one). */
  default?: string;
}

/** A web API a spec's `web` metrics may call: its base URL, with the credentials only it gets. */
export interface WebServer extends HttpOptions {
  /** The base URL; a spec's `web.url` is under it (or relative to it, with `server: name`). */
  url: string;
}

/**
 * `web` metrics: timing defaults for all of them, and named servers with their credentials.
 * Credentials at this level would go to any URL a spec names, so they are refused here.
 */
export interface WebOptions extends Pick<HttpOptions, 'timeoutMs' | 'retries'> {
  servers?: Record<string, WebServer>;
}

/** What a spec's provider resolved to: a configured server by name, or an allow-listed address. */
export type Resolved<S> =
  | { kind: 'server'; name: string; server: S }
  | { kind: 'allowed'; address: string }
  | { kind: 'refused'; field: string; message: string; hint: string };

const isServers = (p: PrometheusServer | PrometheusServers): p is PrometheusServers =>
  typeof (p as PrometheusServers).servers === 'object' && (p as PrometheusServers).servers !== null;

const addressOf = (s: PrometheusServer) => s.address;

/** Normalised for comparing: no trailing slashes, scheme and host lower-case (URL parsing), no default port. */
export function normaliseBase(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    if (u.username || u.password || u.search || u.hash) return undefined;
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
}

/** Whether `url` is `base` or under it, on path-segment boundaries (`/api` is not under `/ap`). */
export function isUnder(url: string, base: string): boolean {
  const u = normaliseBase(url.split(/[?#]/)[0] ?? url);
  const b = normaliseBase(base);
  if (u === undefined || b === undefined) return false;
  return u === b || u.startsWith(`${b}/`);
}

/** The host's Prometheus configuration as named servers (one unnamed server is `default`). */
export function prometheusServers(
  config: PrometheusServer | PrometheusServers | undefined,
): PrometheusServers {
  if (!config) return { servers: {} };
  if (isServers(config)) return config;
  return { servers: { default: config }, default: 'default' };
}

/** The name of the server used when a metric names none. */
export function defaultServer(config: PrometheusServers): string | undefined {
  if (config.default !== undefined) return config.default;
  const names = Object.keys(config.servers);
  return names.length === 1 ? names[0] : undefined;
}

/** A spec named a server by a name the host did not configure. */
function unknownServer(
  kind: 'Prometheus' | 'web',
  name: string,
  names: string[],
  field: string,
): Resolved<never> {
  return {
    kind: 'refused',
    field: `${field}.server`,
    message: `names "${name}", which is not a ${kind} server the host configured`,
    hint: names.length
      ? `use one of ${names.map((n) => `"${n}"`).join(', ')}`
      : kind === 'web'
        ? 'configure it: createMetricGate({ web: { servers: { name: { url } } } })'
        : 'configure it: createMetricGate({ prometheus: { servers: { name: { address } } } })',
  };
}

const allowHint = (address: string) =>
  `name a configured server with server: <name>, or have the host allow it: createMetricGate({ allowAddresses: [${JSON.stringify(address)}] }) (it is then called without credentials)`;

/** Which Prometheus a metric reads: by `server`, by `address`, or the default. */
export function resolvePrometheus(
  config: PrometheusServers,
  allow: readonly string[],
  wanted: { server?: string | undefined; address?: string | undefined },
  field: string,
): Resolved<PrometheusServer> | undefined {
  const names = Object.keys(config.servers);
  if (wanted.server !== undefined) {
    const server = config.servers[wanted.server];
    if (server) return { kind: 'server', name: wanted.server, server };
    return unknownServer('Prometheus', wanted.server, names, field);
  }
  if (wanted.address !== undefined) {
    const exact = names.find((n) => {
      const s = config.servers[n];
      return s !== undefined && normaliseBase(addressOf(s)) === normaliseBase(wanted.address as string);
    });
    if (exact !== undefined)
      return { kind: 'server', name: exact, server: config.servers[exact] as PrometheusServer };
    if (allow.some((a) => isUnder(wanted.address as string, a)))
      return { kind: 'allowed', address: wanted.address };
    return {
      kind: 'refused',
      field: `${field}.address`,
      message: `is ${wanted.address}, which is not a server the host configured or allowed; the gate's credentials go only to its own servers`,
      hint: allowHint(wanted.address),
    };
  }
  const name = defaultServer(config);
  if (name === undefined) return undefined;
  const server = config.servers[name];
  return server ? { kind: 'server', name, server } : undefined;
}

/**
 * Which web server a `web` metric calls: `server` with a URL relative to it, or an absolute `url`
 * under a server's base (the longest base wins) or under an allow-listed address. Checked on the
 * template before the rollout starts (its fixed part: a placeholder never reaches the host, and
 * may extend only the path segment it stands in) and again on each rendered URL.
 */
export function resolveWeb(
  config: WebOptions | undefined,
  allow: readonly string[],
  wanted: { server?: string | undefined; url: string },
  field: string,
): Resolved<WebServer> {
  const servers = config?.servers ?? {};
  const names = Object.keys(servers);
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(wanted.url);
  const fixed = wanted.url.includes('{{')
    ? (wanted.url.split('{{')[0] ?? '').replace(/[^/]*$/, '')
    : wanted.url;
  if (wanted.server !== undefined) {
    const server = servers[wanted.server];
    if (!server) return unknownServer('web', wanted.server, names, field);
    if (absolute)
      return {
        kind: 'refused',
        field: `${field}.url`,
        message: 'is absolute, and a server is named',
        hint: 'give the path under the server\'s URL, e.g. "v1/ratio", or drop server',
      };
    if (!isUnder(joinUrl(server.url, fixed), server.url))
      return {
        kind: 'refused',
        field: `${field}.url`,
        message: `leaves the server's URL ${server.url} (a "." or ".." path step)`,
        hint: "give a path under the server's URL",
      };
    return { kind: 'server', name: wanted.server, server };
  }
  if (!absolute)
    return {
      kind: 'refused',
      field: `${field}.url`,
      message: 'is relative, and no server is named',
      hint: names.length
        ? `add server: one of ${names.map((n) => `"${n}"`).join(', ')}`
        : 'give an absolute URL',
    };
  const best = names
    .filter((n) => isUnder(fixed, (servers[n] as WebServer).url))
    .sort((a, b) => (servers[b] as WebServer).url.length - (servers[a] as WebServer).url.length)[0];
  if (best !== undefined) return { kind: 'server', name: best, server: servers[best] as WebServer };
  if (allow.some((a) => isUnder(fixed, a))) return { kind: 'allowed', address: wanted.url };
  let origin = fixed;
  try {
    origin = new URL(fixed).origin;
  } catch {}
  return {
    kind: 'refused',
    field: `${field}.url`,
    message: `is under ${origin}, which is not a web server the host configured or allowed`,
    hint: allowHint(origin),
  };
}

/** A server's URL joined with a spec's relative path. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
