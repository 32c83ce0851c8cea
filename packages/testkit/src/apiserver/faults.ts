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
  /**
   * Delay the request this many milliseconds of cluster time (a slow API server under virtual
   * time: the clock moves on while the request waits).
   */
  delayMs?: number;
  /** Drop the connection without an answer. */
  drop?: boolean;
  /** Stop after injecting this many times (e.g. rate 1, times 2: the next two matching requests fail). */
  times?: number;
}

/** Which requests a stall holds. */
export interface StallMatch {
  /** The bearer token the client sends (see `cluster.kubeConfigFor(user)`): one process's requests. */
  user?: string;
  /**
   * Start holding at the first request matching this (e.g. the driver's write to a VirtualService);
   * from then on every request of `user` is held too, as from a process that froze. Default: at once.
   */
  from?: { verbs?: Verb[]; resources?: string[] };
}

/** Requests held as if the process sending them had frozen (a GC pause, a stopped VM, a slow network). */
export interface Stall {
  /** Whether the stall has started holding requests. */
  readonly started: boolean;
  /** How many requests are held now. */
  readonly held: number;
  /** Lets the held requests through, in the order they arrived, and stops holding. */
  release(): void;
}

export interface FaultInjector {
  /** Holds matching requests until released. Held requests do not count as API activity. */
  stall(match: StallMatch): Stall;
  /** Replaces the active rules. */
  set(rules: FaultRule[]): void;
  clear(): void;
  /**
   * Every request fails with 503 (or a dropped connection) for `ms` of clock time, and every open
   * watch ends at its start, as when an API server goes away.
   */
  outage(ms: number, options?: { drop?: boolean }): void;
  /** Calls `fn` when an outage starts (the server ends its watches then). */
  onOutage(fn: () => void): void;
  /** How many faults were injected, by kind. */
  readonly injected: Record<string, number>;
  before(
    verb: Verb,
    resource: string,
    req: IncomingMessage,
    res: ServerResponse,
    activity?: { inflight: number; lastAt: number },
  ): Promise<void>;
}

const userOf = (req: IncomingMessage) => /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];

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

export function createFaultInjector(
  now: () => number,
  seed = 1,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): FaultInjector {
  let rules: FaultRule[] = [];
  let outage: { until: number; drop: boolean } | undefined;
  const random = seededRandom(seed);
  const injected: Record<string, number> = {};
  const used = new WeakMap<FaultRule, number>();
  const outageListeners: Array<() => void> = [];
  interface StallState {
    match: StallMatch;
    started: boolean;
    released: boolean;
    queue: Array<() => void>;
  }
  const stalls: StallState[] = [];
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
      for (const fn of outageListeners) fn();
    },
    onOutage(fn) {
      outageListeners.push(fn);
    },
    stall(match) {
      const st: StallState = { match, started: false, released: false, queue: [] };
      stalls.push(st);
      return {
        get started() {
          return st.started;
        },
        get held() {
          return st.queue.length;
        },
        release() {
          st.released = true;
          stalls.splice(stalls.indexOf(st), 1);
          for (const go of st.queue.splice(0)) go();
        },
      };
    },
    async before(verb, resource, req, res, activity) {
      for (const st of stalls) {
        if (st.released || (st.match.user !== undefined && st.match.user !== userOf(req))) continue;
        const from = st.match.from;
        if (
          !st.started &&
          (!from ||
            ((!from.verbs || from.verbs.includes(verb)) &&
              (!from.resources || from.resources.includes(resource))))
        )
          st.started = true;
        if (!st.started) continue;
        count('stall');
        // A held request is not activity: virtual time goes on while the process is frozen.
        if (activity) activity.inflight -= 1;
        await new Promise<void>((go) => st.queue.push(go));
        if (activity) {
          activity.inflight += 1;
          activity.lastAt = performance.now();
        }
      }
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
        if (rule.delayMs) {
          count('delay');
          // Waiting on the cluster's clock is not activity, as for a stall: virtual time goes on.
          if (activity) activity.inflight -= 1;
          await sleep(rule.delayMs);
          if (activity) {
            activity.inflight += 1;
            activity.lastAt = performance.now();
          }
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
