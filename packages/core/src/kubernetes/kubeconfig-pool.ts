import { createHash } from 'node:crypto';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';

type DispatcherOptions = ReturnType<KubeConfig['createDispatcherOptions']>;

/** A stable key for TLS material: same bytes, same pool; rotated files get a new one. */
function keyOf(server: string | undefined, options: DispatcherOptions): string {
  const hash = createHash('sha256');
  hash.update(server ?? '');
  const walk = (value: unknown): void => {
    if (value === undefined || value === null) hash.update('∅');
    else if (Buffer.isBuffer(value) || value instanceof Uint8Array) hash.update(value);
    else if (Array.isArray(value)) for (const v of value) walk(v);
    else if (typeof value === 'object')
      for (const k of Object.keys(value).sort()) {
        hash.update(`|${k}=`);
        walk((value as Record<string, unknown>)[k]);
      }
    else hash.update(String(value));
  };
  walk(options);
  return hash.digest('hex');
}

/**
 * The host's KubeConfig with one connection pool per API server and TLS material.
 *
 * client-node 2.0.1 builds a new undici Agent for every request whenever a TLS option is set (a CA,
 * a client certificate, skipTLSVerify: every real cluster), so each request opens a connection and
 * does a TLS handshake (see docs/decisions.md). The returned object inherits everything from the
 * host's KubeConfig (contexts, users, exec and token auth are read through it, never copied) and
 * only replaces how the dispatcher is made: keyed by server and TLS material, so certificate files
 * that rotate still take effect; proxies keep client-node's dispatcher, made once per key too.
 * The host's own object is not modified.
 */
export function withSharedConnections(kubeConfig: KubeConfig): KubeConfig {
  if ((kubeConfig as Pooled)[POOLED]) return kubeConfig;
  const pools = new Map<string, Dispatcher>();
  const pooled = Object.create(kubeConfig) as Pooled;
  pooled[POOLED] = pools;
  // `createDispatcher` is private in client-node's typings; it is the one seam every request and
  // watch goes through (applySecurityAuthentication, applyToFetchOptions).
  const upstream = kubeConfig as unknown as Dispatching;
  (pooled as unknown as Dispatching).createDispatcher = function createDispatcher(
    this: KubeConfig,
    cluster: Cluster | null,
    agentOptions: Parameters<KubeConfig['createDispatcherOptions']>[1],
  ): Dispatcher | undefined {
    const opts = kubeConfig.createDispatcherOptions.call(this, cluster, agentOptions);
    if (opts.type === 'none') return undefined;
    const key = keyOf(cluster?.server, opts);
    let pool = pools.get(key);
    if (!pool) {
      pool =
        opts.type === 'agent'
          ? // Unbounded: each watch holds a connection for its life; the client bounds its
            // requests in flight instead, so they reuse kept-alive connections.
            new Agent({ connect: opts.connect })
          : (upstream.createDispatcher.call(this, cluster, agentOptions) as Dispatcher);
      // Rotated TLS material leaves old pools behind: keep the newest few, and close the oldest
      // (its connections close once their requests finish).
      if (pools.size >= 8) {
        const [oldestKey, oldest] = pools.entries().next().value as [string, Dispatcher];
        pools.delete(oldestKey);
        void oldest.close();
      }
      pools.set(key, pool);
    }
    return pool;
  };
  return pooled;
}

/** Closes the pools a shared-connection KubeConfig opened (open requests finish first). */
export async function closeConnections(kubeConfig: KubeConfig): Promise<void> {
  const pools = (kubeConfig as Pooled)[POOLED];
  if (!pools) return;
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close()));
}

const POOLED = Symbol('kanary.pooled');
type Dispatching = {
  createDispatcher(
    cluster: Cluster | null,
    agentOptions: Parameters<KubeConfig['createDispatcherOptions']>[1],
  ): Dispatcher | undefined;
};
type Pooled = KubeConfig & { [POOLED]?: Map<string, Dispatcher> };
