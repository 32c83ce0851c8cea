import type { KubeObject as CoreObject, KubeClient } from '@kanary/core';
import type { KubeObject } from '../apiserver/object.ts';
import type { InvariantWatch } from './invariants.ts';
import type { ChaosRouter } from './scenario.ts';

// A person's edits of the routing objects the chaos runner's world has (all named `web`), as they
// would make them with kubectl, each followed by what of it must survive.

const NS = 'default';
type Obj = Record<string, unknown>;
const ref = (apiVersion: string, kind: string, name: string) => ({ apiVersion, kind, namespace: NS, name });
const NGINX = 'nginx.ingress.kubernetes.io/';

const VS = ref('networking.istio.io/v1', 'VirtualService', 'web');
const HTTP_ROUTE = ref('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web');
/** A person's read-modify-write of one object's spec. */
const editSpec = <T>(person: KubeClient, target: typeof VS, change: (spec: T) => void) =>
  person.update<CoreObject>(target, (obj) => {
    change(obj.spec as T);
    return obj;
  });

/** An emergency: the canary's weight set to 0 in the routing object. */
export async function routeZero(
  router: ChaosRouter,
  person: KubeClient,
  watch: InvariantWatch,
): Promise<void> {
  switch (router) {
    case 'istio':
      await editSpec<{ http?: Array<{ route?: Obj[] }> }>(person, VS, (spec) => {
        for (const r of spec.http ?? []) {
          if ((r.route?.length ?? 0) < 2) continue;
          for (const dest of r.route ?? [])
            dest.weight = (dest.destination as { subset?: string }).subset === 'stable' ? 100 : 0;
        }
      });
      watch.edited('VirtualService', 'web');
      return;
    case 'nginx':
      await annotate(
        person,
        ref('networking.k8s.io/v1', 'Ingress', 'web-canary'),
        `${NGINX}canary-weight`,
        '0',
      );
      watch.edited('Ingress', 'web-canary');
      return;
    case 'gateway':
      await editSpec<{ rules?: Array<{ backendRefs?: Obj[] }> }>(person, HTTP_ROUTE, (spec) => {
        for (const rule of spec.rules ?? []) {
          const refs = rule.backendRefs ?? [];
          if (!refs.some((b) => b.name === 'web-canary')) continue;
          for (const b of refs) b.weight = b.name === 'web-canary' ? 0 : 100;
        }
      });
      watch.edited('HTTPRoute', 'web');
      return;
    default:
      throw new Error(`no routing object to edit with ${router}`);
  }
}

/**
 * A field Kanary does not own: a timeout on the route users take, a proxy timeout on the Ingress,
 * an annotation on the Service. Whatever Kanary writes later, and however the release ends, it stays.
 */
export async function editRoute(
  router: ChaosRouter,
  person: KubeClient,
  watch: InvariantWatch,
): Promise<void> {
  switch (router) {
    case 'istio':
      await editSpec<{ http?: Obj[] }>(person, VS, (spec) => {
        for (const r of spec.http ?? []) r.timeout = '7s';
      });
      watch.edited('VirtualService', 'web', (vs) => {
        const routes = ((vs?.spec as { http?: Obj[] } | undefined)?.http ?? []).filter(
          (r) => !String(r.name ?? '').startsWith('kanary-'),
        );
        return routes.every((r) => r.timeout === '7s') ? undefined : 'timeout 7s on every route';
      });
      return;
    case 'nginx':
      await annotate(
        person,
        ref('networking.k8s.io/v1', 'Ingress', 'web'),
        `${NGINX}proxy-read-timeout`,
        '7',
      );
      watch.edited('Ingress', 'web', has(`${NGINX}proxy-read-timeout`, '7'));
      return;
    case 'gateway':
      await editSpec<{ rules?: Obj[] }>(person, HTTP_ROUTE, (spec) => {
        for (const r of spec.rules ?? []) r.timeouts = { request: '7s' };
      });
      watch.edited('HTTPRoute', 'web', (route) => {
        const rules = (route?.spec as { rules?: Obj[] } | undefined)?.rules ?? [];
        const first = rules[0] as { timeouts?: { request?: string } } | undefined;
        return first?.timeouts?.request === '7s' ? undefined : 'timeouts.request 7s on the first rule';
      });
      return;
    case 'service':
    case 'replicas':
    case 'deployment':
      await annotate(person, ref('v1', 'Service', 'web'), 'example.com/owner', 'payments-team');
      watch.edited('Service', 'web', has('example.com/owner', 'payments-team'));
      return;
  }
}

async function annotate(
  person: KubeClient,
  target: { apiVersion: string; kind: string; namespace: string; name: string },
  key: string,
  value: string,
): Promise<void> {
  await person.update<CoreObject>(target, (obj) => ({
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [key]: value } },
  }));
}

const has =
  (key: string, value: string) =>
  (obj: KubeObject | undefined): string | undefined =>
    obj?.metadata?.annotations?.[key] === value ? undefined : `annotation ${key}: ${value}`;
