import type { Clock } from '@kanary/core';
import type { KubeObject } from '../apiserver/object.ts';
import type { ObjectStore } from '../apiserver/store.ts';
import { type GatewayEntry, gatewayApiPlane } from './dataplanes/gateway-api.ts';
import { type IstioEntry, istioPlane } from './dataplanes/istio.ts';
import { type IngressEntry, nginxPlane } from './dataplanes/nginx.ts';
import {
  type Backend,
  ClusterView,
  type DataPlane,
  type RouteOutcome,
  type SeriesWriter,
  type SimRequest,
} from './dataplanes/plane.ts';
import { type ServiceEntry, servicePlane } from './dataplanes/service.ts';
import { MetricsRegistry, type SeriesHandle } from './metrics.ts';
import { createRandom, type Random } from './random.ts';

/** How a version answers: error probability and a log-normal latency. */
export interface VersionBehavior {
  errorRate?: number;
  latency?: { medianMs: number; sigma?: number };
}

export interface BehaviorRule {
  image?: string | RegExp;
  labels?: Record<string, string>;
  /** A fixed behaviour, or one that changes with (virtual) time. */
  behavior: VersionBehavior | ((now: number) => VersionBehavior);
}

/** Where requests enter. A list of hops is a call chain carrying the same headers (a front-end calling its back-end). */
export type Entry = ServiceEntry | IstioEntry | IngressEntry | GatewayEntry;

/** Each entry kind's data plane: how it routes, and the series it writes. */
const PLANES: { [K in Entry['kind']]: DataPlane<Extract<Entry, { kind: K }>> } = {
  service: servicePlane,
  istio: istioPlane,
  ingress: nginxPlane,
  gateway: gatewayApiPlane,
};
/** The generic series' buckets (seconds), as a typical HTTP middleware exports them. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const planeOf = <E extends Entry>(entry: E) => PLANES[entry.kind] as DataPlane<E>;

export interface UserClass {
  share: number;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
}

export interface Load {
  name: string;
  rps: number;
  entry: Entry | Entry[];
  users?: UserClass[];
  path?: string;
  method?: string;
}

export interface TrafficOptions {
  seed?: number;
  /** Generation interval in ms of clock time (default 1000). */
  tickMs?: number;
  /** Default behaviour of versions no rule matches. */
  defaultBehavior?: VersionBehavior;
}

/** What happened to one request, for tests of routing semantics. */
export interface SimResult {
  status: number;
  latencyMs: number;
  hops: Array<{ outcome: RouteOutcome; status: number }>;
  /** Workload that served the last hop (or undefined when the data plane answered itself). */
  workload: string | undefined;
  /** `Set-Cookie` values the data plane added to the response. */
  setCookie: string[];
}

/** A browser: sends requests with the cookies earlier responses set, until their Max-Age ends. */
export interface Session {
  send(): SimResult;
  /** The cookies it would send now. */
  cookies(): Record<string, string>;
}

/**
 * Sends simulated requests through the cluster's routing objects and records what the real
 * data planes would export. Requests are generated every tick of the cluster clock.
 */
export class TrafficSimulator {
  /** The data planes' series, stamped with the cluster clock (range queries work in virtual time). */
  readonly metrics: MetricsRegistry;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #view: ClusterView;
  readonly #tickMs: number;
  readonly #rules: BehaviorRule[] = [];
  readonly #loads = new Map<string, Load>();
  readonly #default: VersionBehavior;
  #running: AbortController | undefined;
  #unsubscribe: () => void;
  /** Requests served per workload, for quick split assertions. */
  readonly served = new Map<string, { requests: number; errors: number }>();
  /** Series handles by a short key of the labels that vary (see `#series`). */
  readonly #handles = new Map<string, SeriesHandle[]>();
  /** What the data planes write through. */
  readonly #writer: SeriesWriter;

  constructor(store: ObjectStore, clock: Clock, options: TrafficOptions = {}) {
    this.#clock = clock;
    this.metrics = new MetricsRegistry(() => clock.now());
    this.#random = createRandom(options.seed ?? 1);
    this.#view = new ClusterView(store);
    this.#tickMs = options.tickMs ?? 1000;
    this.#default = options.defaultBehavior ?? { errorRate: 0, latency: { medianMs: 50, sigma: 0.5 } };
    this.#unsubscribe = store.subscribe(() => this.#view.invalidate());
    this.#writer = { metrics: this.metrics, series: (key, make) => this.#series(key, make) };
    for (const plane of Object.values(PLANES)) plane.declare(this.metrics);
    this.metrics.counter(
      'http_requests_total',
      'Requests by serving workload, for every entry kind incl. Gateway API routes (simulated).',
    );
    this.metrics.histogram(
      'http_request_duration_seconds',
      'Request duration by serving workload (simulated).',
      HTTP_BUCKETS,
    );
  }

  /** Sets the behaviour of versions matched by image or labels; later rules take precedence. */
  setBehavior(rule: BehaviorRule): void {
    this.#rules.unshift(rule);
  }

  behaviorOf(pod: KubeObject): VersionBehavior {
    const images = ((pod.spec as { containers?: Array<{ image?: string }> }).containers ?? []).map(
      (c) => c.image ?? '',
    );
    for (const rule of this.#rules) {
      const imageOk =
        rule.image === undefined ||
        images.some((i) =>
          typeof rule.image === 'string' ? i === rule.image : (rule.image as RegExp).test(i),
        );
      const labelsOk =
        rule.labels === undefined ||
        Object.entries(rule.labels).every(([k, v]) => pod.metadata.labels?.[k] === v);
      if (imageOk && labelsOk)
        return typeof rule.behavior === 'function' ? rule.behavior(this.#clock.now()) : rule.behavior;
    }
    return this.#default;
  }

  /** Adds (or replaces) a load and starts generating it. */
  addLoad(load: Load): void {
    this.#loads.set(load.name, load);
    this.#start();
  }

  removeLoad(name: string): void {
    this.#loads.delete(name);
  }

  stop(): void {
    this.#running?.abort();
    this.#running = undefined;
    this.#unsubscribe();
  }

  #start(): void {
    if (this.#running) return;
    const controller = new AbortController();
    this.#running = controller;
    void (async () => {
      while (!controller.signal.aborted) {
        await this.#clock.sleep(this.#tickMs, controller.signal);
        if (controller.signal.aborted) return;
        this.tick(this.#tickMs);
      }
    })();
  }

  /** Generates one interval of every load now. */
  tick(ms: number = this.#tickMs): void {
    for (const load of this.#loads.values()) {
      const n = this.#random.poisson((load.rps * ms) / 1000);
      for (let i = 0; i < n; i++) this.send(load, this.#pickUser(load.users));
    }
  }

  #pickUser(users: UserClass[] | undefined): UserClass {
    if (!users || users.length === 0) return { share: 1 };
    const total = users.reduce((s, u) => s + u.share, 0);
    let x = this.#random.next() * total;
    for (const u of users) {
      x -= u.share;
      if (x < 0) return u;
    }
    return users[users.length - 1] as UserClass;
  }

  #request(load: Pick<Load, 'path' | 'method'>, entry: Entry, user: UserClass): SimRequest {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(user.headers ?? {})) headers[k.toLowerCase()] = v;
    const cookies = Object.entries(user.cookies ?? {});
    if (cookies.length > 0) headers.cookie = cookies.map(([k, v]) => `${k}=${v}`).join('; ');
    const host =
      entry.kind === 'service' ? `${entry.service}.${entry.namespace}.svc.cluster.local` : entry.host;
    const path = ('path' in entry ? entry.path : undefined) ?? load.path ?? '/';
    return { host, path, method: load.method ?? 'GET', headers };
  }

  #route(entry: Entry, req: SimRequest): RouteOutcome {
    return planeOf(entry).route(this.#view, this.#random, req, entry);
  }

  #serve(backend: Backend): { status: number; latencyMs: number } {
    const b = this.behaviorOf(backend.pod);
    const latency = b.latency ?? this.#default.latency ?? { medianMs: 50 };
    const latencyMs = this.#random.lognormal(latency.medianMs, latency.sigma ?? 0.5);
    const status = this.#random.next() < (b.errorRate ?? 0) ? 500 : 200;
    return { status, latencyMs };
  }

  /** Sends one request through the entry (or chain) and records its metrics. */
  send(load: Pick<Load, 'name' | 'entry' | 'path' | 'method'>, user: UserClass = { share: 1 }): SimResult {
    const entries = Array.isArray(load.entry) ? load.entry : [load.entry];
    const hops: SimResult['hops'] = [];
    let total = 0;
    let status = 200;
    let workload: string | undefined;
    let source = { workload: load.name, namespace: 'default' };
    for (const entry of entries) {
      const req = this.#request(load, entry, user);
      const outcome = this.#route(entry, req);
      if (outcome.kind === 'local') {
        hops.push({ outcome, status: outcome.status });
        status = outcome.status;
        workload = undefined;
        this.#record(entry, req, outcome, undefined, outcome.status, 0, source, false);
        break;
      }
      const served = this.#serve(outcome.backend);
      this.#record(entry, req, outcome, outcome.backend, served.status, served.latencyMs, source, false);
      for (const m of outcome.mirrors) {
        const shadow = this.#serve(m);
        this.#record(entry, req, outcome, m, shadow.status, shadow.latencyMs, source, true);
      }
      hops.push({ outcome, status: served.status });
      total += served.latencyMs;
      workload = outcome.backend.workload;
      source = { workload: outcome.backend.workload, namespace: outcome.backend.namespace };
      if (served.status >= 500) {
        status = served.status;
        break;
      }
    }
    const setCookie = hops.flatMap((h) => h.outcome.meta.setCookie ?? []);
    return { status, latencyMs: total, hops, workload, setCookie };
  }

  /**
   * A user with a browser behind `entry`: each request carries the cookies earlier responses set
   * (plus `cookies`), and a cookie is dropped once its `Max-Age` has passed on the cluster clock.
   */
  session(entry: Entry | Entry[], user: Omit<UserClass, 'share'> = {}): Session {
    const jar = new Map<string, { value: string; until: number }>();
    const now = () => this.#clock.now();
    const current = () => {
      const out: Record<string, string> = { ...(user.cookies ?? {}) };
      for (const [name, c] of jar) if (c.until > now()) out[name] = c.value;
      return out;
    };
    return {
      cookies: current,
      send: () => {
        const result = this.send({ name: 'session', entry }, { ...user, share: 1, cookies: current() });
        for (const header of result.setCookie) {
          const [pair = '', ...attributes] = header.split(';').map((p) => p.trim());
          const eq = pair.indexOf('=');
          if (eq <= 0) continue;
          const maxAge = attributes.find((a) => a.toLowerCase().startsWith('max-age='));
          const seconds = maxAge ? Number(maxAge.slice(8)) : Number.POSITIVE_INFINITY;
          jar.set(pair.slice(0, eq), { value: pair.slice(eq + 1), until: now() + seconds * 1000 });
        }
        return result;
      },
    };
  }

  /** Routes `n` requests (recording metrics) and counts which workload served each. */
  sample(
    entry: Entry | Entry[],
    n: number,
    user: UserClass = { share: 1 },
    path?: string,
  ): Map<string, number> {
    return this.sampleBy(entry, n, (served) => served.workload, user, path);
  }

  /**
   * Routes `n` requests and counts them by `keyOf` of the pod that served each (its image, its
   * version label: both versions of a rolling update run in one Deployment); requests the data
   * plane answered itself count as `status-<code>`.
   */
  sampleBy(
    entry: Entry | Entry[],
    n: number,
    keyOf: (served: Backend) => string,
    user: UserClass = { share: 1 },
    path?: string,
  ): Map<string, number> {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = this.send({ name: 'sample', entry, ...(path ? { path } : {}) }, user);
      const last = r.hops.at(-1)?.outcome;
      const key =
        r.workload !== undefined && last?.kind === 'backend' ? keyOf(last.backend) : `status-${r.status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Which workload served each user over `repeats` requests: its name when all went to the same
   * one, `mixed` when they did not (a split by request, not by user), `status-<code>` when the
   * data plane answered itself.
   */
  servedPerUser(entry: Entry | Entry[], users: Array<Omit<UserClass, 'share'>>, repeats = 3): string[] {
    return users.map((user) => {
      const seen = new Set(this.sample(entry, repeats, { share: 1, ...user }).keys());
      return seen.size === 1 ? ([...seen][0] as string) : 'mixed';
    });
  }

  /**
   * The share (0–1) of `n` requests through `entry` that `workload` served, for a user with these
   * headers and cookies: what a tester sees behind a route right now.
   */
  shareServed(
    entry: Entry | Entry[],
    workload: string,
    user: Omit<UserClass, 'share'> = {},
    n = 4_000,
  ): number {
    return (this.sample(entry, n, { share: 1, ...user }).get(workload) ?? 0) / n;
  }

  #record(
    entry: Entry,
    req: SimRequest,
    outcome: RouteOutcome,
    backend: Backend | undefined,
    status: number,
    latencyMs: number,
    source: { workload: string; namespace: string },
    mirrored: boolean,
  ): void {
    const code = String(status);
    if (backend) {
      const key = backend.workload;
      const s = this.served.get(key) ?? { requests: 0, errors: 0 };
      if (!mirrored) {
        s.requests += 1;
        if (status >= 500) s.errors += 1;
        this.served.set(key, s);
      }
      if (!mirrored) {
        const route = outcome.meta.route ?? outcome.meta.ingress ?? outcome.meta.virtualService ?? '';
        const h = this.#series(
          `http\u0000${backend.namespace}\u0000${backend.service}\u0000${backend.workload}\u0000${entry.kind}\u0000${route}\u0000${code}`,
          () => {
            const generic = {
              namespace: backend.namespace,
              service: backend.service,
              workload: backend.workload,
              entry: entry.kind,
              route,
              code,
            };
            return [
              this.metrics.handle('http_requests_total', generic),
              this.metrics.handle('http_request_duration_seconds', generic),
            ];
          },
        );
        h[0]?.inc();
        h[1]?.observe(latencyMs / 1000);
      }
    }
    planeOf(entry).record(this.#writer, { req, outcome, backend, code, latencyMs, source, mirrored });
  }

  /** The series one request writes, found once per distinct label set (made by `make`). */
  #series(key: string, make: () => SeriesHandle[]): SeriesHandle[] {
    let handles = this.#handles.get(key);
    if (!handles) {
      handles = make();
      this.#handles.set(key, handles);
    }
    return handles;
  }

  exposition(): string {
    return this.metrics.exposition();
  }
}
