import { type KindInfo, kindByName } from '../apiserver/kinds.ts';
import type { KubeObject } from '../apiserver/object.ts';
import type { ObjectStore } from '../apiserver/store.ts';
import { attachedTo, backendProblem } from '../controllers/gateway.ts';
import { serving } from '../controllers/termination.ts';
import type { Random } from './random.ts';

/** A simulated HTTP request. Header names are lower-cased. */
export interface SimRequest {
  host: string;
  path: string;
  method: string;
  headers: Record<string, string>;
}

/** Where a request ended up. */
export interface Backend {
  namespace: string;
  service: string;
  /** The pod that served it, and its workload (owning Deployment) and labels. */
  pod: KubeObject;
  workload: string;
}

export type RouteOutcome =
  | { kind: 'backend'; backend: Backend; mirrors: Backend[]; meta: RouteMeta }
  /** No route, or no ready endpoint: the data plane answers itself (404/503). */
  | { kind: 'local'; status: number; reason: string; meta: RouteMeta };

export interface RouteMeta {
  /** ingress-nginx: the primary Ingress, and the canary upstream name when the canary served. */
  ingress?: string;
  canary?: string;
  primaryService?: string;
  /** Gateway API: the HTTPRoute that matched. */
  route?: string;
  routeNamespace?: string;
  /** Istio: the VirtualService rule that matched. */
  virtualService?: string;
  rule?: string;
  /** `Set-Cookie` values the route adds to the response (Istio `headers.response`). */
  setCookie?: string[];
}

type Obj = Record<string, unknown>;
const K = {
  service: kindByName('Service') as KindInfo,
  endpoints: kindByName('Endpoints') as KindInfo,
  pod: kindByName('Pod') as KindInfo,
  replicaSet: kindByName('ReplicaSet') as KindInfo,
  vs: kindByName('VirtualService') as KindInfo,
  dr: kindByName('DestinationRule') as KindInfo,
  ingress: kindByName('Ingress') as KindInfo,
  httpRoute: kindByName('HTTPRoute') as KindInfo,
};

/** Regexes evaluated as Envoy does (RE2, full match). Invalid ones match nothing. */
const regexCache = new Map<string, RegExp | null>();
function fullMatch(pattern: string, value: string): boolean {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 's');
    } catch {
      re = null;
    }
    regexCache.set(pattern, re);
  }
  return re ? re.test(value) : false;
}

/** A read-only view of the cluster for one routing decision batch (cached per tick). */
export class ClusterView {
  readonly #store: ObjectStore;
  #cache = new Map<string, unknown>();
  constructor(store: ObjectStore) {
    this.#store = store;
  }
  invalidate(): void {
    this.#cache.clear();
  }
  now(): number {
    return this.#store.now();
  }
  #memo<T>(key: string, make: () => T): T {
    let value = this.#cache.get(key) as T | undefined;
    if (value === undefined) {
      value = make();
      this.#cache.set(key, value);
    }
    return value;
  }
  list(info: KindInfo, ns?: string): KubeObject[] {
    return this.#memo(`list/${info.plural}/${ns ?? '*'}`, () => this.#store.list(info, ns));
  }
  service(ns: string, name: string): KubeObject | undefined {
    return this.list(K.service, ns).find((s) => s.metadata.name === name);
  }
  /** Ready pods behind a Service, as its Endpoints list them. */
  readyPods(ns: string, service: string): KubeObject[] {
    return this.#memo(`ready/${ns}/${service}`, () => {
      const ep = this.list(K.endpoints, ns).find((e) => e.metadata.name === service);
      const names = new Set(
        ((ep?.subsets as Obj[] | undefined) ?? []).flatMap((s) =>
          ((s.addresses as Obj[] | undefined) ?? []).map(
            (a) => (a.targetRef as Obj | undefined)?.name as string,
          ),
        ),
      );
      return this.list(K.pod, ns).filter((p) => names.has(p.metadata.name as string));
    });
  }
  /** Why a Gateway API backendRef cannot be used (see the gateway controller), memoized per batch. */
  backendProblem(route: KubeObject, ref: Obj): { reason: string; message: string } | undefined {
    return (
      this.#memo(
        `backend/${route.metadata.namespace}/${route.metadata.name}/${String(ref.namespace ?? '')}/${String(ref.name)}/${String(ref.port ?? '')}/${String(ref.kind ?? '')}`,
        () => backendProblem(this.#store, route, ref) ?? null,
      ) ?? undefined
    );
  }
  workloadOf(pod: KubeObject): string {
    const rsRef = pod.metadata.ownerReferences?.find((r) => r.kind === 'ReplicaSet');
    if (!rsRef) return pod.metadata.name as string;
    const rs = this.list(K.replicaSet, pod.metadata.namespace).find((r) => r.metadata.name === rsRef.name);
    return rs?.metadata.ownerReferences?.find((r) => r.kind === 'Deployment')?.name ?? rsRef.name;
  }
}

function pick(
  view: ClusterView,
  random: Random,
  ns: string,
  service: string,
  subsetLabels?: Record<string, string>,
): Backend | undefined {
  let pods = view.readyPods(ns, service);
  if (subsetLabels)
    pods = pods.filter((p) => Object.entries(subsetLabels).every(([k, v]) => p.metadata.labels?.[k] === v));
  if (pods.length === 0) return undefined;
  const pod = pods[Math.floor(random.next() * pods.length)] as KubeObject;
  // A pod still listed but no longer answering (deleted without a preStop hook, so its app got
  // SIGTERM while the Endpoints had not caught up): the connection fails, as on a cluster.
  if (!serving(pod, view.now())) return undefined;
  return { namespace: ns, service, pod, workload: view.workloadOf(pod) };
}

/** kube-proxy: uniform over the Service's ready endpoints — so replica counts set the split. */
export function routeService(view: ClusterView, random: Random, ns: string, service: string): RouteOutcome {
  const backend = pick(view, random, ns, service);
  return backend
    ? { kind: 'backend', backend, mirrors: [], meta: {} }
    : { kind: 'local', status: 503, reason: 'no healthy upstream', meta: {} };
}

// ------------------------------------------------------------------ Istio

/** Resolves an Istio destination host (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`) to a Service. */
function resolveHost(host: string, defaultNs: string): { ns: string; name: string } {
  const parts = host.split('.');
  if (parts.length === 1) return { ns: defaultNs, name: host };
  return { ns: parts[1] as string, name: parts[0] as string };
}

/** The Service a host names inside the cluster, or undefined for an external host. */
function kubeService(host: string, defaultNs: string): { ns: string; name: string } | undefined {
  const parts = host.split('.');
  const internal = parts.length <= 2 || host.endsWith('.svc') || host.endsWith('.svc.cluster.local');
  return internal ? resolveHost(host, defaultNs) : undefined;
}

function stringMatch(m: Obj | undefined, value: string | undefined): boolean {
  if (!m) return true;
  if (value === undefined) return false;
  if (typeof m.exact === 'string') return value === m.exact;
  if (typeof m.prefix === 'string') return value.startsWith(m.prefix);
  if (typeof m.regex === 'string') return fullMatch(m.regex, value);
  return true; // {} = presence
}

function istioMatch(match: Obj[] | undefined, req: SimRequest): boolean {
  if (!match || match.length === 0) return true;
  return match.some((m) => {
    for (const [name, sm] of Object.entries((m.headers as Obj | undefined) ?? {})) {
      if (!stringMatch(sm as Obj, req.headers[name.toLowerCase()])) return false;
    }
    for (const [name, sm] of Object.entries((m.withoutHeaders as Obj | undefined) ?? {})) {
      if (stringMatch(sm as Obj, req.headers[name.toLowerCase()])) return false;
    }
    if (m.uri && !stringMatch(m.uri as Obj, req.path)) return false;
    if (m.method && !stringMatch(m.method as Obj, req.method)) return false;
    if (m.authority && !stringMatch(m.authority as Obj, req.host)) return false;
    return true;
  });
}

function subsetLabels(
  view: ClusterView,
  ns: string,
  host: string,
  subset: string | undefined,
): Record<string, string> | undefined | null {
  if (!subset) return undefined;
  const target = resolveHost(host, ns);
  for (const dr of view.list(K.dr)) {
    const drHost = resolveHost(String((dr.spec as Obj).host), dr.metadata.namespace as string);
    if (drHost.ns !== target.ns || drHost.name !== target.name) continue;
    const s = (((dr.spec as Obj).subsets as Obj[] | undefined) ?? []).find((x) => x.name === subset);
    if (s) return (s.labels as Record<string, string> | undefined) ?? {};
  }
  return null; // subset not found: Envoy answers 503 (no cluster)
}

function istioDestination(view: ClusterView, random: Random, vsNs: string, dest: Obj): Backend | undefined {
  const host = String(dest.host);
  const labels = subsetLabels(view, vsNs, host, dest.subset as string | undefined);
  if (labels === null) return undefined;
  const { ns, name } = resolveHost(host, vsNs);
  return pick(view, random, ns, name, labels);
}

function serviceForHost(
  view: ClusterView,
  host: string,
  ns: string,
): { ns: string; name: string } | undefined {
  const target = resolveHost(host, ns);
  return view.service(target.ns, target.name) ? target : undefined;
}

/** Istio: the VirtualService for the host, its `http` rules in order, first match wins. */
export function routeIstio(
  view: ClusterView,
  random: Random,
  req: SimRequest,
  sourceNs: string,
): RouteOutcome {
  const target = kubeService(req.host, sourceNs);
  const vs = view
    .list(K.vs)
    .filter((v) =>
      (((v.spec as Obj).hosts as string[] | undefined) ?? []).some((h) => {
        if (h === req.host) return true;
        const named = kubeService(h, v.metadata.namespace as string);
        return (
          target !== undefined && named !== undefined && named.ns === target.ns && named.name === target.name
        );
      }),
    )
    .sort((a, b) =>
      String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)),
    )[0];
  if (!vs) {
    const svc = serviceForHost(view, req.host, sourceNs);
    return svc
      ? routeService(view, random, svc.ns, svc.name)
      : { kind: 'local', status: 404, reason: 'no route', meta: {} };
  }
  const vsNs = vs.metadata.namespace as string;
  const meta: RouteMeta = { virtualService: vs.metadata.name as string };
  for (const [i, rule] of (((vs.spec as Obj).http as Obj[] | undefined) ?? []).entries()) {
    if (!istioMatch(rule.match as Obj[] | undefined, req)) continue;
    meta.rule = (rule.name as string | undefined) ?? String(i);
    const dests = (rule.route as Obj[] | undefined) ?? [];
    // Weights are relative; a single destination takes everything.
    const weights = dests.map((d) => (dests.length === 1 ? 1 : ((d.weight as number | undefined) ?? 0)));
    const total = weights.reduce((s, w) => s + w, 0);
    if (total <= 0) return { kind: 'local', status: 503, reason: 'no weighted destination', meta };
    let r = random.next() * total;
    let chosen = dests[dests.length - 1] as Obj;
    for (const [j, d] of dests.entries()) {
      r -= weights[j] as number;
      if (r < 0) {
        chosen = d;
        break;
      }
    }
    const backend = istioDestination(view, random, vsNs, chosen.destination as Obj);
    const mirrors: Backend[] = [];
    const mirrorList: Array<{ destination: Obj; percentage?: number }> = [];
    if (rule.mirror)
      mirrorList.push({
        destination: rule.mirror as Obj,
        percentage: ((rule.mirrorPercentage as Obj | undefined)?.value as number | undefined) ?? 100,
      });
    for (const m of (rule.mirrors as Obj[] | undefined) ?? []) {
      mirrorList.push({
        destination: m.destination as Obj,
        percentage: ((m.percentage as Obj | undefined)?.value as number | undefined) ?? 100,
      });
    }
    for (const m of mirrorList) {
      if (random.next() * 100 < (m.percentage ?? 100)) {
        const b = istioDestination(view, random, vsNs, m.destination);
        if (b) mirrors.push(b);
      }
    }
    const setCookie = [rule.headers, chosen.headers].flatMap((h) => responseCookies(h as Obj | undefined));
    if (setCookie.length > 0) meta.setCookie = setCookie;
    return backend
      ? { kind: 'backend', backend, mirrors, meta }
      : { kind: 'local', status: 503, reason: 'no healthy upstream', meta };
  }
  return { kind: 'local', status: 404, reason: 'no matching route', meta };
}

/** The `Set-Cookie` values an Istio `headers` block adds (or sets) on the response. */
function responseCookies(headers: Obj | undefined): string[] {
  const response = headers?.response as Obj | undefined;
  return [response?.add, response?.set].flatMap((h) =>
    Object.entries((h as Record<string, string> | undefined) ?? {})
      .filter(([name]) => name.toLowerCase() === 'set-cookie')
      .map(([, value]) => value),
  );
}

// ------------------------------------------------------------------ ingress-nginx

const ANN = 'nginx.ingress.kubernetes.io/';
const CANARY_VALUE = /^[/\-._~a-zA-Z0-9/:]*$/;

interface IngressPath {
  ingress: KubeObject;
  path: string;
  pathType: string;
  service: string;
  port: string;
}

function ingressPaths(ing: KubeObject, host: string): IngressPath[] {
  const out: IngressPath[] = [];
  for (const rule of ((ing.spec as Obj).rules as Obj[] | undefined) ?? []) {
    if (rule.host !== undefined && rule.host !== host) continue;
    for (const p of ((rule.http as Obj | undefined)?.paths as Obj[] | undefined) ?? []) {
      const svc = (p.backend as Obj).service as Obj | undefined;
      if (!svc) continue;
      const port = svc.port as Obj | undefined;
      out.push({
        ingress: ing,
        path: String(p.path ?? '/'),
        pathType: String(p.pathType),
        service: String(svc.name),
        port: String(port?.number ?? port?.name ?? ''),
      });
    }
  }
  return out;
}

function pathMatches(p: IngressPath, path: string): boolean {
  if (p.pathType === 'Exact') return path === p.path;
  if (p.path === '/') return true;
  const base = p.path.replace(/\/$/, '');
  return (
    path === base ||
    path.startsWith(`${base}/`) ||
    (p.pathType === 'ImplementationSpecific' && path.startsWith(p.path))
  );
}

const isCanary = (ing: KubeObject) => ing.metadata.annotations?.[`${ANN}canary`] === 'true';

/** The canary settings as ingress-nginx parses them (internal/ingress/annotations/canary). */
function canaryConfig(ing: KubeObject) {
  const a = ing.metadata.annotations ?? {};
  const weight = Number.parseInt(a[`${ANN}canary-weight`] ?? '0', 10);
  const totalRaw = Number.parseInt(a[`${ANN}canary-weight-total`] ?? '100', 10);
  const header = a[`${ANN}canary-by-header`] ?? '';
  const headerValue = a[`${ANN}canary-by-header-value`] ?? '';
  const headerPattern = a[`${ANN}canary-by-header-pattern`] ?? '';
  const cookie = a[`${ANN}canary-by-cookie`] ?? '';
  const valid = [header, headerValue, cookie].every((v) => CANARY_VALUE.test(v));
  return {
    valid,
    weight: Number.isFinite(weight) && weight >= 0 ? weight : 0,
    total: Number.isFinite(totalRaw) && totalRaw > 100 ? totalRaw : 100,
    header,
    headerValue,
    headerPattern,
    cookie,
  };
}

function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** ingress-nginx's balancer decision (balancer.lua route_to_alternative_balancer), traps included. */
function nginxChoosesCanary(cfg: ReturnType<typeof canaryConfig>, req: SimRequest, random: Random): boolean {
  if (cfg.header) {
    const value = req.headers[cfg.header.toLowerCase()];
    if (value !== undefined) {
      if (cfg.headerValue) {
        if (value === cfg.headerValue) return true;
      } else if (cfg.headerPattern) {
        let re: RegExp | undefined;
        try {
          re = new RegExp(cfg.headerPattern);
        } catch {
          return false; // a regex error sends the request to primary at once, skipping cookie and weight
        }
        if (re.test(value)) return true;
      } else if (value === 'always') return true;
      else if (value === 'never') return false;
    }
  }
  if (cfg.cookie) {
    const value = cookieValue(req.headers.cookie, cfg.cookie);
    if (value === 'always') return true;
    if (value === 'never') return false;
  }
  return random.int1(cfg.total) <= cfg.weight;
}

export function routeNginx(
  view: ClusterView,
  random: Random,
  req: SimRequest,
  ingressClass?: string,
): RouteOutcome {
  const ingresses = view
    .list(K.ingress)
    .filter(
      (i) =>
        !ingressClass ||
        (i.spec as Obj).ingressClassName === ingressClass ||
        i.metadata.annotations?.['kubernetes.io/ingress.class'] === ingressClass,
    )
    .sort(
      (a, b) =>
        String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) ||
        Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion),
    );
  // Locations come from non-canary Ingresses; for a duplicate host+path the oldest wins.
  const primaries = ingresses
    .filter((i) => !isCanary(i))
    .flatMap((i) => ingressPaths(i, req.host))
    .filter((p) => pathMatches(p, req.path));
  if (primaries.length === 0) return { kind: 'local', status: 404, reason: 'no ingress rule', meta: {} };
  const best = primaries.reduce((a, b) =>
    b.path.length > a.path.length || (b.pathType === 'Exact' && a.pathType !== 'Exact') ? b : a,
  );
  const ns = best.ingress.metadata.namespace as string;
  const meta: RouteMeta = { ingress: best.ingress.metadata.name as string, primaryService: best.service };
  // A canary merges only into a location with the same host, path and pathType; only the first counts.
  const canary = ingresses
    .filter((i) => isCanary(i) && i.metadata.namespace === ns)
    .flatMap((i) => ingressPaths(i, req.host))
    .find((p) => p.path === best.path && p.pathType === best.pathType && p.service !== best.service);
  let service = best.service;
  if (canary) {
    const cfg = canaryConfig(canary.ingress);
    if (cfg.valid && nginxChoosesCanary(cfg, req, random)) {
      service = canary.service;
      meta.canary = `${ns}-${canary.service}-${canary.port}`;
    }
  }
  const backend = pick(view, random, ns, service);
  return backend
    ? { kind: 'backend', backend, mirrors: [], meta }
    : { kind: 'local', status: 503, reason: 'no endpoints', meta };
}

// ------------------------------------------------------------------ Gateway API

interface RouteCandidate {
  route: KubeObject;
  ruleIndex: number;
  rule: Obj;
  exact: boolean;
  prefixLength: number;
  method: boolean;
  headers: number;
  queries: number;
}

function hostnameMatches(hostnames: string[] | undefined, host: string): boolean {
  if (!hostnames || hostnames.length === 0) return true;
  return hostnames.some((h) =>
    h.startsWith('*.')
      ? host.endsWith(h.slice(1)) && host.split('.').length > h.split('.').length - 1
      : h === host,
  );
}

function gatewayMatch(
  m: Obj,
  req: SimRequest,
): Omit<RouteCandidate, 'route' | 'ruleIndex' | 'rule'> | undefined {
  const path = (m.path as Obj | undefined) ?? { type: 'PathPrefix', value: '/' };
  const type = (path.type as string | undefined) ?? 'PathPrefix';
  const value = (path.value as string | undefined) ?? '/';
  let exact = false;
  let prefixLength = 0;
  if (type === 'Exact') {
    if (req.path !== value) return undefined;
    exact = true;
  } else if (type === 'PathPrefix') {
    const base = value.replace(/\/$/, '');
    if (!(value === '/' || req.path === base || req.path.startsWith(`${base}/`))) return undefined;
    prefixLength = value.length;
  } else if (type === 'RegularExpression') {
    if (!fullMatch(value, req.path)) return undefined;
  }
  const headers = (m.headers as Obj[] | undefined) ?? [];
  for (const h of headers) {
    const v = req.headers[String(h.name).toLowerCase()];
    if (v === undefined) return undefined;
    if ((h.type ?? 'Exact') === 'Exact' ? v !== h.value : !fullMatch(String(h.value), v)) return undefined;
  }
  if (m.method && m.method !== req.method) return undefined;
  const queries = (m.queryParams as Obj[] | undefined) ?? [];
  if (queries.length > 0) return undefined; // the simulator sends no query strings
  return {
    exact,
    prefixLength,
    method: m.method !== undefined,
    headers: headers.length,
    queries: queries.length,
  };
}

function weightedPick(refs: Obj[], random: Random): Obj | undefined {
  const weights = refs.map((r) => (r.weight as number | undefined) ?? 1);
  const total = weights.reduce((s, w) => s + w, 0);
  if (total <= 0) return undefined;
  let x = random.next() * total;
  for (const [i, r] of refs.entries()) {
    x -= weights[i] as number;
    if (x < 0) return r;
  }
  return refs[refs.length - 1];
}

/** Gateway API HTTPRoute: the most specific matching rule across routes, then weighted backends. */
export function routeGateway(
  view: ClusterView,
  random: Random,
  req: SimRequest,
  gateway?: { namespace: string; name: string },
): RouteOutcome {
  const candidates: RouteCandidate[] = [];
  for (const route of view.list(K.httpRoute)) {
    // A route no Gateway accepted is not in any data plane (a wrong parentRef, a listener that does
    // not allow its namespace): as on a cluster, its rules do nothing.
    if (!attachedTo(route, gateway)) continue;
    const spec = route.spec as Obj;
    if (!hostnameMatches(spec.hostnames as string[] | undefined, req.host)) continue;
    for (const [ruleIndex, rule] of (((spec.rules as Obj[] | undefined) ?? [{}]) as Obj[]).entries()) {
      const matches = (rule.matches as Obj[] | undefined) ?? [{}];
      for (const m of matches) {
        const r = gatewayMatch(m, req);
        if (r) candidates.push({ route, ruleIndex, rule, ...r });
      }
    }
  }
  if (candidates.length === 0)
    return { kind: 'local', status: 404, reason: 'no matching HTTPRoute rule', meta: {} };
  candidates.sort(
    (a, b) =>
      Number(b.exact) - Number(a.exact) ||
      b.prefixLength - a.prefixLength ||
      Number(b.method) - Number(a.method) ||
      b.headers - a.headers ||
      b.queries - a.queries ||
      String(a.route.metadata.creationTimestamp).localeCompare(String(b.route.metadata.creationTimestamp)) ||
      `${a.route.metadata.namespace}/${a.route.metadata.name}`.localeCompare(
        `${b.route.metadata.namespace}/${b.route.metadata.name}`,
      ) ||
      a.ruleIndex - b.ruleIndex,
  );
  const best = candidates[0] as RouteCandidate;
  const ns = best.route.metadata.namespace as string;
  const meta: RouteMeta = { route: best.route.metadata.name as string, routeNamespace: ns };
  const refs = (best.rule.backendRefs as Obj[] | undefined) ?? [];
  const chosen = weightedPick(refs, random);
  if (!chosen) return { kind: 'local', status: 500, reason: 'no backend with weight', meta };
  // A backendRef the controller could not resolve (no such Service or port, another namespace
  // without a ReferenceGrant): its share of requests gets 500, as the spec requires.
  const invalid = view.backendProblem(best.route, chosen);
  if (invalid) return { kind: 'local', status: 500, reason: invalid.message, meta };
  const backend = pick(view, random, (chosen.namespace as string | undefined) ?? ns, String(chosen.name));
  const mirrors: Backend[] = [];
  for (const f of (best.rule.filters as Obj[] | undefined) ?? []) {
    if (f.type !== 'RequestMirror') continue;
    const mirror = f.requestMirror as Obj;
    const fraction = mirror.fraction as Obj | undefined;
    const percent =
      mirror.percent !== undefined
        ? Number(mirror.percent)
        : fraction
          ? (100 * Number(fraction.numerator)) / Number(fraction.denominator ?? 100)
          : 100;
    if (random.next() * 100 < percent) {
      const ref = mirror.backendRef as Obj;
      const b = pick(view, random, (ref.namespace as string | undefined) ?? ns, String(ref.name));
      if (b) mirrors.push(b);
    }
  }
  return backend
    ? { kind: 'backend', backend, mirrors, meta }
    : { kind: 'local', status: 500, reason: 'invalid backend', meta };
}
