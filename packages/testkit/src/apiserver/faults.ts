import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Verb } from './server.ts';
import { errors } from './status.ts';

/** A fault rule: for matching requests, with probability `rate`, do one thing. */
export interface FaultRule {
  verbs?: Verb[];
  /** Resource plurals (`deployments`, `virtualservices`); all when omitted. */
  resources?: string[];
  rate: number;
  /** Answer with this status instead of serving the request. */
  status?: 409 | 429 | 500 | 503;
  /** Delay the request this many (real) milliseconds before serving it. */
  latencyMs?: number;
  /** Drop the connection without an answer. */
  drop?: boolean;
  /** Stop after injecting this many times (e.g. rate 1, times 2: the next two matching requests fail). */
  times?: number;
}

export interface FaultInjector {
  /** Replaces the active rules. */
  set(rules: FaultRule[]): void;
  clear(): void;
  /** Every request fails with 503 (or a dropped connection) for `ms` of clock time. */
  outage(ms: number, options?: { drop?: boolean }): void;
  /** How many faults were injected, by kind. */
  readonly injected: Record<string, number>;
  before(verb: Verb, resource: string, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Deterministic PRNG (mulberry32) so a failing run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createFaultInjector(now: () => number, seed = 1): FaultInjector {
  let rules: FaultRule[] = [];
  let outage: { until: number; drop: boolean } | undefined;
  const random = seededRandom(seed);
  const injected: Record<string, number> = {};
  const used = new WeakMap<FaultRule, number>();
  const count = (k: string) => {
    injected[k] = (injected[k] ?? 0) + 1;
  };
  return {
    injected,
    set(next) {
      rules = next;
    },
    clear() {
      rules = [];
      outage = undefined;
    },
    outage(ms, options = {}) {
      outage = { until: now() + ms, drop: options.drop ?? false };
    },
    async before(verb, resource, req, res) {
      if (outage && now() < outage.until) {
        count('outage');
        if (outage.drop) {
          req.socket.destroy();
          res.destroy();
          return;
        }
        throw errors.unavailable();
      }
      for (const rule of rules) {
        if (rule.verbs && !rule.verbs.includes(verb)) continue;
        if (rule.resources && !rule.resources.includes(resource)) continue;
        if (rule.times !== undefined && (used.get(rule) ?? 0) >= rule.times) continue;
        if (random() >= rule.rate) continue;
        used.set(rule, (used.get(rule) ?? 0) + 1);
        if (rule.latencyMs) {
          count('latency');
          await new Promise((r) => setTimeout(r, rule.latencyMs));
        }
        if (rule.drop) {
          count('drop');
          req.socket.destroy();
          res.destroy();
          return;
        }
        if (rule.status) {
          count(String(rule.status));
          if (rule.status === 409)
            throw errors.conflict(
              { group: '', plural: resource, kind: resource },
              'injected',
              'injected conflict',
            );
          if (rule.status === 429) throw errors.tooManyRequests(1);
          if (rule.status === 500) throw errors.internal('injected fault');
          throw errors.unavailable();
        }
      }
    },
  };
}
