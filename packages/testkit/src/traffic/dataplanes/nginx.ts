import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { KIND } from '../../apiserver/kinds.ts';
import type { KubeObject } from '../../apiserver/object.ts';
import type { MetricsRegistry } from '../metrics.ts';
import type { Random } from '../random.ts';
import {
  type ClusterView,
  type DataPlane,
  pick,
  type RouteMeta,
  type RouteOutcome,
  type SimRequest,
} from './plane.ts';

// ingress-nginx: locations from the primary Ingresses (the longest path wins), a canary Ingress
// merged into the location with the same host, path and pathType, its annotations read as the
// controller reads them; the controller's request and duration series.
//
// The annotations' grammar is written here again rather than imported from @kanary/nginx: this is
// the other side of the wire, and a shared mistake would pass every test.

type Ingress = KubeObject & IIngress;

/** Entering through ingress-nginx (of `ingressClass`, or any). */
export interface IngressEntry {
  kind: 'ingress';
  host: string;
  path?: string;
  ingressClass?: string;
}

const ANN = 'nginx.ingress.kubernetes.io/';
/** What ingress-nginx accepts in canary-by-header, -value and -cookie (internal/ingress/annotations/canary). */
const CANARY_VALUE = /^[/\-._~a-zA-Z0-9/:]*$/;

interface IngressPath {
  ingress: Ingress;
  path: string;
  pathType: string;
  service: string;
  port: string;
}

function ingressPaths(ing: Ingress, host: string): IngressPath[] {
  const out: IngressPath[] = [];
  for (const rule of ing.spec?.rules ?? []) {
    if (rule.host !== undefined && rule.host !== host) continue;
    for (const p of rule.http?.paths ?? []) {
      const svc = p.backend.service;
      if (!svc) continue;
      out.push({
        ingress: ing,
        path: p.path ?? '/',
        pathType: p.pathType,
        service: svc.name,
        port: String(svc.port?.number ?? svc.port?.name ?? ''),
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

const isCanary = (ing: Ingress) => ing.metadata.annotations?.[`${ANN}canary`] === 'true';

/** The canary settings as ingress-nginx parses them (internal/ingress/annotations/canary). */
function canaryConfig(ing: Ingress) {
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
  const ingresses = (view.list(KIND.ingress) as Ingress[])
    .filter(
      (i) =>
        !ingressClass ||
        i.spec?.ingressClassName === ingressClass ||
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

const NGINX_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const nginxPlane: DataPlane<IngressEntry> = {
  declare(metrics: MetricsRegistry) {
    metrics.counter('nginx_ingress_controller_requests', 'Requests through ingress-nginx (simulated).');
    metrics.histogram(
      'nginx_ingress_controller_response_duration_seconds',
      'Upstream response time (simulated).',
      NGINX_BUCKETS,
    );
    metrics.histogram(
      'nginx_ingress_controller_request_duration_seconds',
      'Request processing time (simulated).',
      NGINX_BUCKETS,
    );
  },
  route: (view, random, req, entry) => routeNginx(view, random, req, entry.ingressClass),
  /** The controller's series: one per request it proxied (mirrors are not its own), the local answers too. */
  record(out, { req, outcome, backend, code, latencyMs, mirrored }) {
    if (mirrored || !outcome.meta.ingress) return;
    const ns = backend?.namespace ?? '';
    const { ingress } = outcome.meta;
    const service = outcome.meta.primaryService ?? '';
    const canary = outcome.meta.canary ?? '';
    const h = out.series(
      `nginx\u0000${req.host}\u0000${ingress}\u0000${req.method}\u0000${ns}\u0000${req.path}\u0000${service}\u0000${canary}\u0000${code}`,
      () => {
        const labels = {
          controller_class: 'k8s.io/ingress-nginx',
          controller_namespace: 'ingress-nginx',
          controller_pod: 'ingress-nginx-controller-0',
          host: req.host,
          ingress,
          method: req.method,
          namespace: ns,
          path: req.path,
          service,
          canary,
          status: code,
        };
        const { status: _s, method: _m, ...durationLabels } = labels;
        return [
          out.metrics.handle('nginx_ingress_controller_requests', labels),
          out.metrics.handle('nginx_ingress_controller_response_duration_seconds', durationLabels),
          out.metrics.handle('nginx_ingress_controller_request_duration_seconds', durationLabels),
        ];
      },
    );
    h[0]?.inc();
    h[1]?.observe(latencyMs / 1000);
    h[2]?.observe(latencyMs / 1000 + 0.001);
  },
};
