import type { IDestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import type { IVirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { KIND } from '../../apiserver/kinds.ts';
import type { KubeObject } from '../../apiserver/object.ts';
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
import { routeService } from './service.ts';
import { declareSidecarSeries, recordSidecar } from './sidecar.ts';

// Istio: the sidecars route by VirtualService (first matching `http` rule, weighted destinations,
// DestinationRule subsets, mirrors); the destination's sidecar reports the series (sidecar.ts).

type VirtualService = KubeObject & IVirtualService;
type DestinationRule = KubeObject & IDestinationRule;
type HttpRule = NonNullable<NonNullable<IVirtualService['spec']>['http']>[number];
type HttpMatch = NonNullable<HttpRule['match']>[number];
type RouteDestination = NonNullable<HttpRule['route']>[number];
type Destination = RouteDestination['destination'];
interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

/** Entering through the mesh: a request to `host` from a pod in `namespace`. */
export interface IstioEntry {
  kind: 'istio';
  host: string;
  namespace?: string;
}

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

function stringMatch(m: StringMatch | undefined, value: string | undefined): boolean {
  if (!m) return true;
  if (value === undefined) return false;
  if (typeof m.exact === 'string') return value === m.exact;
  if (typeof m.prefix === 'string') return value.startsWith(m.prefix);
  if (typeof m.regex === 'string') return fullMatch(m.regex, value);
  return true; // {} = presence
}

function istioMatch(match: HttpMatch[] | undefined, req: SimRequest): boolean {
  if (!match || match.length === 0) return true;
  return match.some((m) => {
    for (const [name, sm] of Object.entries(m.headers ?? {})) {
      if (!stringMatch(sm, req.headers[name.toLowerCase()])) return false;
    }
    for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
      if (stringMatch(sm, req.headers[name.toLowerCase()])) return false;
    }
    if (m.uri && !stringMatch(m.uri, req.path)) return false;
    if (m.method && !stringMatch(m.method, req.method)) return false;
    if (m.authority && !stringMatch(m.authority, req.host)) return false;
    return true;
  });
}

/** A subset's labels; undefined without a subset, null when no DestinationRule defines it. */
function subsetLabels(
  view: ClusterView,
  ns: string,
  host: string,
  subset: string | undefined,
): Record<string, string> | undefined | null {
  if (!subset) return undefined;
  const target = resolveHost(host, ns);
  for (const dr of view.list(KIND.destinationRule) as DestinationRule[]) {
    const drHost = resolveHost(String(dr.spec?.host), dr.metadata.namespace as string);
    if (drHost.ns !== target.ns || drHost.name !== target.name) continue;
    const s = (dr.spec?.subsets ?? []).find((x) => x.name === subset);
    if (s) return s.labels ?? {};
  }
  return null; // subset not found: Envoy answers 503 (no cluster)
}

function istioDestination(
  view: ClusterView,
  random: Random,
  vsNs: string,
  dest: Destination,
): Backend | undefined {
  const labels = subsetLabels(view, vsNs, dest.host, dest.subset);
  if (labels === null) return undefined;
  const { ns, name } = resolveHost(dest.host, vsNs);
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

/** The `Set-Cookie` values an Istio `headers` block adds (or sets) on the response. */
function responseCookies(headers: HttpRule['headers']): string[] {
  const response = headers?.response;
  return [response?.add, response?.set].flatMap((h) =>
    Object.entries(h ?? {})
      .filter(([name]) => name.toLowerCase() === 'set-cookie')
      .map(([, value]) => value),
  );
}

/** Istio: the VirtualService for the host, its `http` rules in order, first match wins. */
export function routeIstio(
  view: ClusterView,
  random: Random,
  req: SimRequest,
  sourceNs: string,
): RouteOutcome {
  const target = kubeService(req.host, sourceNs);
  const vs = (view.list(KIND.virtualService) as VirtualService[])
    .filter((v) =>
      (v.spec?.hosts ?? []).some((h) => {
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
  for (const [i, rule] of (vs.spec?.http ?? []).entries()) {
    if (!istioMatch(rule.match, req)) continue;
    meta.rule = rule.name ?? String(i);
    const dests = rule.route ?? [];
    // Weights are relative; a single destination takes everything.
    const weights = dests.map((d) => (dests.length === 1 ? 1 : (d.weight ?? 0)));
    const total = weights.reduce((s, w) => s + w, 0);
    if (total <= 0) return { kind: 'local', status: 503, reason: 'no weighted destination', meta };
    let r = random.next() * total;
    let chosen = dests[dests.length - 1] as RouteDestination;
    for (const [j, d] of dests.entries()) {
      r -= weights[j] as number;
      if (r < 0) {
        chosen = d;
        break;
      }
    }
    const backend = istioDestination(view, random, vsNs, chosen.destination);
    const mirrors: Backend[] = [];
    const mirrorList: Array<{ destination: Destination; percentage: number }> = [];
    if (rule.mirror)
      mirrorList.push({ destination: rule.mirror, percentage: rule.mirrorPercentage?.value ?? 100 });
    for (const m of rule.mirrors ?? [])
      mirrorList.push({ destination: m.destination, percentage: m.percentage?.value ?? 100 });
    for (const m of mirrorList) {
      if (random.next() * 100 < m.percentage) {
        const b = istioDestination(view, random, vsNs, m.destination);
        if (b) mirrors.push(b);
      }
    }
    const setCookie = [rule.headers, chosen.headers].flatMap(responseCookies);
    if (setCookie.length > 0) meta.setCookie = setCookie;
    return backend
      ? { kind: 'backend', backend, mirrors, meta }
      : { kind: 'local', status: 503, reason: 'no healthy upstream', meta };
  }
  return { kind: 'local', status: 404, reason: 'no matching route', meta };
}

export const istioPlane: DataPlane<IstioEntry> = {
  declare: declareSidecarSeries,
  route: (view, random, req, entry) => routeIstio(view, random, req, entry.namespace ?? 'default'),
  record: recordSidecar,
};
