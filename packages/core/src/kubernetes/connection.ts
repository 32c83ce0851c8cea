import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';
import { KanaryError } from '../errors/kanary-error.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import { closeConnections, withSharedConnections } from './kubeconfig-pool.ts';

/** What one request to the API server carries: its credentials and the pool it goes through. */
export interface PreparedRequest {
  headers: Record<string, string>;
  dispatcher: Dispatcher;
}

/**
 * Where a KubeClient's requests go and as whom: the API server, and the headers and connection
 * pool of the next request (credentials are re-read as their source says, so rotated tokens and
 * certificates take effect). Made from a client-node `KubeConfig` (`kubeConfig` option), or
 * without client-node at all by `inClusterConnection` — a driver running in a Pod then loads
 * neither client-node nor its generated API (about 80 MiB of a process's memory).
 */
export interface ClusterConnection {
  /** The API server's URL, without a trailing slash. */
  readonly server: string;
  /** Who the requests are made as (a kubeconfig user's name, a service account): never a secret. */
  readonly user: string;
  /** The host's KubeConfig, when the connection was made from one. */
  readonly kubeConfig?: KubeConfig;
  prepare(): Promise<PreparedRequest>;
  /** Closes the connections it opened (open requests finish first). */
  close(): Promise<void>;
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

/**
 * Requests through the host's KubeConfig: client-node's handling of contexts, users, exec and
 * token auth, proxies and TLS, with one connection pool per server and TLS material
 * (`withSharedConnections`). Only the transport is Kanary's.
 */
export function kubeConfigConnection(host: KubeConfig): ClusterConnection {
  const kubeConfig = withSharedConnections(host);
  let plain: Agent | undefined;
  return {
    get server() {
      return trimSlash(kubeConfig.getCurrentCluster()?.server ?? '');
    },
    get user() {
      return kubeConfig.getCurrentUser()?.name ?? '';
    },
    kubeConfig,
    async prepare() {
      if (!kubeConfig.getCurrentCluster())
        throw configError(
          'kubeConfig',
          'the kubeconfig has no current cluster',
          'set a current context (kubectl config use-context NAME) or pass a KubeConfig with one',
        );
      const headers: Record<string, string> = {};
      let dispatcher: Dispatcher | undefined;
      // The public seam client-node's own API classes and Watch go through: it sets the
      // Authorization header (token, exec, OIDC…) and the dispatcher (TLS, proxy).
      await kubeConfig.applySecurityAuthentication({
        setHeaderParam: (key: string, value: string) => {
          headers[key] = value;
        },
        setDispatcher: (d: Dispatcher) => {
          dispatcher = d;
        },
      } as never);
      if (dispatcher) return { headers, dispatcher };
      // No TLS option and no proxy (plain http): client-node leaves the dispatcher to fetch's global one.
      plain ??= new Agent();
      return { headers, dispatcher: plain };
    },
    async close() {
      await Promise.all([closeConnections(kubeConfig), plain?.close()]);
      plain = undefined;
    },
  };
}

/** The connection of `loadFromDefault()` (KUBECONFIG, ~/.kube/config, in-cluster), client-node loaded only now. */
export function defaultConnection(): ClusterConnection {
  // Loaded on demand, synchronously (Node ≥ 22.12 requires ES modules): a host that passes its own
  // KubeConfig or an in-cluster connection never loads client-node through Kanary.
  const { KubeConfig: Config } = createRequire(import.meta.url)(
    '@kubernetes/client-node',
  ) as typeof import('@kubernetes/client-node');
  const kc = new Config();
  kc.loadFromDefault();
  return kubeConfigConnection(kc);
}

export interface InClusterOptions {
  /** Where the service account's files are (default `/var/run/secrets/kubernetes.io/serviceaccount`). */
  directory?: string;
  /** The API server (default from `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`). */
  server?: string;
  /** The clock the token's re-reads are timed on. */
  clock?: Clock;
  /** How often the token file is read again (default 60 s: kubelet rotates projected tokens well before they expire). */
  refreshMs?: number;
  env?: NodeJS.ProcessEnv;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The Pod's own service account, as client-go's `rest.InClusterConfig` reads it: the server from
 * the environment, the CA from `ca.crt`, a bearer token from `token` — read again every minute,
 * because projected tokens expire and the kubelet rewrites the file. Needs no client-node.
 */
export function inClusterConnection(options: InClusterOptions = {}): ClusterConnection {
  const env = options.env ?? process.env;
  const directory = options.directory ?? SERVICE_ACCOUNT;
  const clock = options.clock ?? systemClock;
  const refreshMs = options.refreshMs ?? 60_000;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!options.server && (!host || !port))
    throw configError(
      'server',
      'not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set',
      'run inside a Pod, pass `server`, or give the client a kubeConfig instead',
    );
  const server = trimSlash(options.server ?? `https://${host?.includes(':') ? `[${host}]` : host}:${port}`);
  const read = (file: string) => {
    try {
      return readFileSync(`${directory}/${file}`);
    } catch (e) {
      throw configError(
        'directory',
        `cannot read the service account's ${file} in ${directory}: ${(e as Error).message}`,
        'mount the service account token (automountServiceAccountToken) or pass `directory`',
        e,
      );
    }
  };
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  let ca: string | undefined;
  let pool: Agent | undefined;
  return {
    server,
    user: `serviceaccount:${readNamespace(directory) ?? ''}`,
    async prepare() {
      const now = clock.now();
      if (now - readAt >= refreshMs) {
        token = read('token').toString('utf8').trim();
        const nextCa = read('ca.crt').toString('utf8');
        // A rotated CA gets a new pool; the old one closes once its requests are done.
        if (pool && nextCa !== ca) {
          void pool.close();
          pool = undefined;
        }
        ca = nextCa;
        readAt = now;
      }
      pool ??= new Agent({ connect: { ca, keepAlive: true, keepAliveInitialDelay: 30_000 } });
      return { headers: { Authorization: `Bearer ${token}` }, dispatcher: pool };
    },
    async close() {
      await pool?.close();
      pool = undefined;
    },
  };
}

/** A connection that cannot be made: what is missing and how to give it, nothing sent. */
function configError(path: string, message: string, hint: string, cause?: unknown): KanaryError {
  return new KanaryError('KUBERNETES', message, { cause, issues: [{ path, message, hint }] });
}

function readNamespace(directory: string): string | undefined {
  try {
    return readFileSync(`${directory}/namespace`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
