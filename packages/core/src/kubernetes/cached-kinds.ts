import { OWNED_SELECTOR } from './labels.ts';

/**
 * The kinds a rollout reads over and over, served from watches, and the label selector each watch
 * carries: `''` watches every object of the kind in the namespace; Kanary's state ConfigMaps are
 * watched by their label, so other ConfigMaps (possibly large) are never held.
 */
const SCOPES: Record<string, string> = {
  'apps|Deployment': '',
  'apps|ReplicaSet': '',
  '|Pod': '',
  '|Endpoints': '',
  '|Service': '',
  '|ConfigMap': OWNED_SELECTOR,
  'coordination.k8s.io|Lease': OWNED_SELECTOR,
  'networking.istio.io|VirtualService': '',
  'networking.istio.io|DestinationRule': '',
  'gateway.networking.k8s.io|HTTPRoute': '',
  'networking.k8s.io|Ingress': '',
};

/** The API group of an apiVersion (`''` for the core group). */
export const groupOf = (apiVersion: string): string =>
  apiVersion.includes('/') ? (apiVersion.split('/')[0] as string) : '';

/** The selector a watch of this kind carries, or undefined when the kind is not watched. */
export function cacheScope(apiVersion: string, kind: string): string | undefined {
  return SCOPES[`${groupOf(apiVersion)}|${kind}`];
}

/** The API groups and plurals watched, for the permissions a watching client needs. */
export const WATCHED_RESOURCES: ReadonlyArray<{ apiGroup: string; resource: string }> = [
  { apiGroup: 'apps', resource: 'deployments' },
  { apiGroup: 'apps', resource: 'replicasets' },
  { apiGroup: '', resource: 'pods' },
  { apiGroup: '', resource: 'endpoints' },
  { apiGroup: '', resource: 'services' },
  { apiGroup: '', resource: 'configmaps' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases' },
  { apiGroup: 'networking.istio.io', resource: 'virtualservices' },
  { apiGroup: 'networking.istio.io', resource: 'destinationrules' },
  { apiGroup: 'gateway.networking.k8s.io', resource: 'httproutes' },
  { apiGroup: 'networking.k8s.io', resource: 'ingresses' },
];

/**
 * `a=b,c==d` as a map, or undefined for any other selector (set-based, inequality, existence):
 * those are sent to the server.
 */
export function equalityLabels(selector: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (selector.trim() === '') return out;
  for (const term of selector.split(',')) {
    const m = /^\s*([A-Za-z0-9._/-]+)\s*==?\s*([A-Za-z0-9._-]*)\s*$/.exec(term);
    if (!m) return undefined;
    out[m[1] as string] = m[2] as string;
  }
  return out;
}
