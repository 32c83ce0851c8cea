/**
 * How to rebuild one part of a rollout in another process (the agent): a kind its factory is
 * known by, and JSON options. Credentials are never part of it: the process that rebuilds the
 * part brings its own.
 */
export interface PartWiring {
  kind: string;
  options?: Record<string, unknown>;
  /** Parts of it that exist only as the host's code (function providers), by name. */
  code?: string[];
}

/** Everything a process needs to continue a rollout it did not start, saved with its state. */
export interface RolloutWiring {
  /** The spec as it was given. */
  spec: unknown;
  router?: PartWiring;
  gate?: PartWiring;
  /** What only the host's code provides (hook functions, a custom router or gate): these cannot be rebuilt. */
  code: string[];
}

const SECRET = /token|password|secret|key|cert|ca$|auth|headers/i;

/**
 * A part's wiring from its factory options: clients, configs, functions and anything that looks
 * like a credential are dropped (a process rebuilding it brings its own).
 */
export function partWiring(kind: string, options: object, code: string[] = []): PartWiring {
  const plain = (value: unknown, depth: number): unknown => {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value;
    if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
    if (typeof value !== 'object' || depth > 4) return undefined;
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (SECRET.test(k) || k === 'client' || k === 'kubeConfig' || k === 'clock') continue;
      const p = plain(v, depth + 1);
      if (p !== undefined) out[k] = p;
    }
    return out;
  };
  return { kind, options: plain(options, 0) as Record<string, unknown>, ...(code.length ? { code } : {}) };
}
