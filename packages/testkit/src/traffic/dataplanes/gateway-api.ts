import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { KIND } from '../../apiserver/kinds.ts';
import type { KubeObject } from '../../apiserver/object.ts';
import { attachedTo } from '../../controllers/gateway.ts';
import type { Random } from '../random.ts';
import {
  type Backend,
  type ClusterView,
  type DataPlane,
  fullMatch,
  pick,
  type RouteMeta,
  type RouteOutcome,
  type SimRequest,
} from './plane.ts';

// Gateway API: across the HTTPRoutes a Gateway accepted, the most specific matching rule (the
// spec's precedence), then its weighted backendRefs, RequestMirror filters and the 500s the spec
// requires for backends that cannot be used. It exports no series of its own (the generic
// http_requests_total covers it).

type HTTPRoute = KubeObject & IHTTPRoute;
type Rule = NonNullable<IHTTPRoute['spec']['rules']>[number];
type Match = NonNullable<Rule['matches']>[number];
type BackendRef = NonNullable<Rule['backendRefs']>[number];

/** Entering through a Gateway (`gateway`, default: any Gateway of the emulator's implementation). */
export interface GatewayEntry {
  kind: 'gateway';
  host: string;
  path?: string;
  gateway?: { namespace: string; name: string };
}

interface RouteCandidate {
  route: HTTPRoute;
  ruleIndex: number;
  rule: Rule;
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
  m: Match,
  req: SimRequest,
): Omit<RouteCandidate, 'route' | 'ruleIndex' | 'rule'> | undefined {
  const type = m.path?.type ?? 'PathPrefix';
  const value = m.path?.value ?? '/';
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
  const headers = m.headers ?? [];
  for (const h of headers) {
    const v = req.headers[h.name.toLowerCase()];
    if (v === undefined) return undefined;
    if ((h.type ?? 'Exact') === 'Exact' ? v !== h.value : !fullMatch(h.value, v)) return undefined;
  }
  if (m.method && m.method !== req.method) return undefined;
  const queries = m.queryParams ?? [];
  if (queries.length > 0) return undefined; // the simulator sends no query strings
  return {
    exact,
    prefixLength,
    method: m.method !== undefined,
    headers: headers.length,
    queries: queries.length,
  };
}

function weightedPick(refs: BackendRef[], random: Random): BackendRef | undefined {
  const weights = refs.map((r) => r.weight ?? 1);
  const total = weights.reduce((s, w) => s + w, 0);
  if (total <= 0) return undefined;
  let x = random.next() * total;
  for (const [i, r] of refs.entries()) {
    x -= weights[i] as number;
    if (x < 0) return r;
  }
  return refs[refs.length - 1];
}

/** The share of requests a RequestMirror copies: `percent`, or `fraction`, else all. */
function mirrorPercent(mirror: { percent?: number; fraction?: { numerator: number; denominator?: number } }) {
  if (mirror.percent !== undefined) return Number(mirror.percent);
  const f = mirror.fraction;
  return f ? (100 * Number(f.numerator)) / Number(f.denominator ?? 100) : 100;
}

/** Gateway API HTTPRoute: the most specific matching rule across routes, then weighted backends. */
export function routeGateway(
  view: ClusterView,
  random: Random,
  req: SimRequest,
  gateway?: { namespace: string; name: string },
): RouteOutcome {
  const candidates: RouteCandidate[] = [];
  for (const route of view.list(KIND.httpRoute) as HTTPRoute[]) {
    // A route no Gateway accepted is not in any data plane (a wrong parentRef, a listener that does
    // not allow its namespace): as on a cluster, its rules do nothing.
    if (!attachedTo(route, gateway)) continue;
    if (!hostnameMatches(route.spec.hostnames, req.host)) continue;
    for (const [ruleIndex, rule] of (route.spec.rules ?? [{}]).entries()) {
      for (const m of rule.matches ?? [{}]) {
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
  const chosen = weightedPick(best.rule.backendRefs ?? [], random);
  if (!chosen) return { kind: 'local', status: 500, reason: 'no backend with weight', meta };
  // A backendRef the controller could not resolve (no such Service or port, another namespace
  // without a ReferenceGrant): its share of requests gets 500, as the spec requires.
  const invalid = view.backendProblem(best.route, chosen);
  if (invalid) return { kind: 'local', status: 500, reason: invalid.message, meta };
  const backend = pick(view, random, chosen.namespace ?? ns, chosen.name);
  const mirrors: Backend[] = [];
  for (const f of best.rule.filters ?? []) {
    if (f.type !== 'RequestMirror' || !f.requestMirror) continue;
    if (random.next() * 100 < mirrorPercent(f.requestMirror)) {
      const ref = f.requestMirror.backendRef;
      const b = pick(view, random, ref.namespace ?? ns, ref.name);
      if (b) mirrors.push(b);
    }
  }
  return backend
    ? { kind: 'backend', backend, mirrors, meta }
    : { kind: 'local', status: 500, reason: 'invalid backend', meta };
}

export const gatewayApiPlane: DataPlane<GatewayEntry> = {
  declare: () => undefined,
  route: (view, random, req, entry) => routeGateway(view, random, req, entry.gateway),
  record: () => undefined,
};
