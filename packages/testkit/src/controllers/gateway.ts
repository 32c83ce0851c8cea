import { KIND } from '../apiserver/kinds.ts';
import { jsonEqual, type KubeObject } from '../apiserver/object.ts';
import type { ObjectStore, StoreEvent } from '../apiserver/store.ts';
import { ControllerBase } from './controller.ts';
import type { WorkKey } from './queue.ts';

// A Gateway API implementation's controller, as the standard channel specifies one (GEP-1364 route
// status, GEP-709 ReferenceGrant, listener attachment in the Gateway and HTTPRoute API docs): it
// owns the GatewayClasses naming its controllerName, accepts their Gateways, and writes each
// HTTPRoute's `status.parents` for the Gateways it owns — Accepted (the route attached to a
// listener) and ResolvedRefs (every backendRef a Service it may reach, on a port it has). The data
// plane (traffic/dataplanes/gateway-api.ts) routes only through routes accepted here.

/** The controllerName of the emulator's Gateway implementation. */
export const GATEWAY_CONTROLLER = 'testkit.kanary.dev/gateway-controller';
const GROUP = 'gateway.networking.k8s.io';

type Obj = Record<string, unknown>;

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Keeps a condition's lastTransitionTime while its status stays the same, as conditions do. */
function condition(
  old: Condition[] | undefined,
  c: Omit<Condition, 'lastTransitionTime'>,
  now: number,
): Condition {
  const before = old?.find((o) => o.type === c.type);
  return { ...c, lastTransitionTime: before?.status === c.status ? before.lastTransitionTime : iso(now) };
}

const ours = (store: ObjectStore, gateway: KubeObject | undefined): boolean => {
  if (!gateway) return false;
  const className = (gateway.spec as Obj | undefined)?.gatewayClassName as string | undefined;
  const cls = className ? store.get(KIND.gatewayClass, undefined, className) : undefined;
  return (cls?.spec as Obj | undefined)?.controllerName === GATEWAY_CONTROLLER;
};

/** Whether a listener's hostname and a route's hostnames have a host in common (wildcards as the spec). */
export function hostnamesIntersect(listener: string | undefined, route: string[] | undefined): boolean {
  if (!listener || !route || route.length === 0) return true;
  const covers = (wild: string, host: string) =>
    wild.startsWith('*.') ? host.endsWith(wild.slice(1)) && host.length > wild.length - 1 : wild === host;
  return route.some((h) => covers(listener, h) || covers(h, listener) || h === listener);
}

interface ParentVerdict {
  accepted: { ok: boolean; reason: string; message: string };
}

function attach(store: ObjectStore, route: KubeObject, gateway: KubeObject, ref: Obj): ParentVerdict {
  const listeners = ((gateway.spec as Obj).listeners as Obj[] | undefined) ?? [];
  const byRef = listeners.filter(
    (l) =>
      (ref.sectionName === undefined || l.name === ref.sectionName) &&
      (ref.port === undefined || l.port === ref.port) &&
      (l.protocol === 'HTTP' || l.protocol === 'HTTPS'),
  );
  if (byRef.length === 0)
    return {
      accepted: {
        ok: false,
        reason: 'NoMatchingParent',
        message: `Gateway ${gateway.metadata.name} has no HTTP listener${ref.sectionName ? ` named ${String(ref.sectionName)}` : ''}${ref.port ? ` on port ${String(ref.port)}` : ''}`,
      },
    };
  const routeNs = route.metadata.namespace as string;
  const allowed = byRef.filter((l) => {
    const from = (((l.allowedRoutes as Obj | undefined)?.namespaces as Obj | undefined)?.from ??
      'Same') as string;
    if (from === 'All') return true;
    if (from === 'Same') return routeNs === gateway.metadata.namespace;
    const selector = (((l.allowedRoutes as Obj).namespaces as Obj).selector as Obj | undefined)
      ?.matchLabels as Record<string, string> | undefined;
    const labels = store.get(KIND.namespace, undefined, routeNs)?.metadata.labels ?? {};
    return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
  });
  if (allowed.length === 0)
    return {
      accepted: {
        ok: false,
        reason: 'NotAllowedByListeners',
        message: `no listener of Gateway ${gateway.metadata.name} allows routes from namespace ${routeNs}`,
      },
    };
  const hostnames = (route.spec as Obj).hostnames as string[] | undefined;
  if (!allowed.some((l) => hostnamesIntersect(l.hostname as string | undefined, hostnames)))
    return {
      accepted: {
        ok: false,
        reason: 'NoMatchingListenerHostname',
        message: `no listener hostname of Gateway ${gateway.metadata.name} matches the route's hostnames`,
      },
    };
  return { accepted: { ok: true, reason: 'Accepted', message: 'Route is accepted' } };
}

/** Why a backendRef cannot be used (the reason and message of ResolvedRefs False), or undefined. */
export function backendProblem(
  store: ObjectStore,
  route: KubeObject,
  ref: Obj,
): { reason: string; message: string } | undefined {
  const group = (ref.group as string | undefined) ?? '';
  const kind = (ref.kind as string | undefined) ?? 'Service';
  if (group !== '' || kind !== 'Service')
    return {
      reason: 'InvalidKind',
      message: `backendRef kind ${group ? `${group}/` : ''}${kind} is not supported`,
    };
  const routeNs = route.metadata.namespace as string;
  const ns = (ref.namespace as string | undefined) ?? routeNs;
  const name = String(ref.name);
  if (ns !== routeNs) {
    const permitted = store.select(KIND.referenceGrant, ns, (g) => {
      const spec = g.spec as { from?: Obj[]; to?: Obj[] };
      return (
        (spec.from ?? []).some(
          (f) => f.group === GROUP && f.kind === 'HTTPRoute' && f.namespace === routeNs,
        ) &&
        (spec.to ?? []).some(
          (t) => (t.group ?? '') === '' && t.kind === 'Service' && (t.name === undefined || t.name === name),
        )
      );
    });
    if (permitted.length === 0)
      return {
        reason: 'RefNotPermitted',
        message: `backendRef ${ns}/${name} is in another namespace and no ReferenceGrant there allows it`,
      };
  }
  const service = store.get(KIND.service, ns, name);
  if (!service) return { reason: 'BackendNotFound', message: `Service ${ns}/${name} not found` };
  const ports = ((service.spec as Obj).ports as Obj[] | undefined) ?? [];
  if (ref.port !== undefined && !ports.some((p) => p.port === ref.port))
    return { reason: 'BackendNotFound', message: `Service ${ns}/${name} has no port ${String(ref.port)}` };
  return undefined;
}

function backendRefsOf(route: KubeObject): Obj[] {
  const rules = ((route.spec as Obj).rules as Obj[] | undefined) ?? [];
  return rules.flatMap((r) => [
    ...((r.backendRefs as Obj[] | undefined) ?? []),
    ...((r.filters as Obj[] | undefined) ?? [])
      .filter((f) => f.type === 'RequestMirror')
      .map((f) => (f.requestMirror as Obj).backendRef as Obj),
  ]);
}

/** Writes `status.parents` of one HTTPRoute for the Gateways this implementation owns. */
export function syncHttpRoute(store: ObjectStore, route: KubeObject, now: number): void {
  const generation = route.metadata.generation ?? 1;
  const refs = ((route.spec as Obj).parentRefs as Obj[] | undefined) ?? [];
  const old = ((route.status as Obj | undefined)?.parents as Obj[] | undefined) ?? [];
  const problem = backendRefsOf(route)
    .map((b) => backendProblem(store, route, b))
    .find(Boolean);
  const parents: Obj[] = [];
  for (const ref of refs) {
    if ((ref.group ?? GROUP) !== GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') continue;
    const gateway = store.get(
      KIND.gateway,
      (ref.namespace as string | undefined) ?? route.metadata.namespace,
      String(ref.name),
    );
    // A Gateway nobody here implements: its own controller (if any) writes that entry, not this one.
    if (!ours(store, gateway)) continue;
    const before = old.find((p) => jsonEqual(p.parentRef, ref))?.conditions as Condition[] | undefined;
    const { accepted } = attach(store, route, gateway as KubeObject, ref);
    parents.push({
      parentRef: ref,
      controllerName: GATEWAY_CONTROLLER,
      conditions: [
        condition(
          before,
          {
            type: 'Accepted',
            status: accepted.ok ? 'True' : 'False',
            reason: accepted.reason,
            message: accepted.message,
            observedGeneration: generation,
          },
          now,
        ),
        condition(
          before,
          {
            type: 'ResolvedRefs',
            status: problem ? 'False' : 'True',
            reason: problem?.reason ?? 'ResolvedRefs',
            message: problem?.message ?? 'Resolved all the Object references for the Route',
            observedGeneration: generation,
          },
          now,
        ),
      ],
    });
  }
  // Entries other controllers wrote stay theirs.
  const others = old.filter((p) => p.controllerName !== GATEWAY_CONTROLLER);
  const next = [...others, ...parents];
  if (jsonEqual(next, old)) return;
  store.update(
    KIND.httpRoute,
    route.metadata.namespace,
    { ...route, status: { ...((route.status as Obj | undefined) ?? {}), parents: next } },
    { manager: 'gateway-controller', subresource: 'status' },
  );
}

/** Accepts the GatewayClass (if ours) and programs the Gateway, with how many routes each listener holds. */
export function syncGateway(store: ObjectStore, gateway: KubeObject, now: number): void {
  if (!ours(store, gateway)) return;
  const generation = gateway.metadata.generation ?? 1;
  const old = (gateway.status as Obj | undefined) ?? {};
  const before = old.conditions as Condition[] | undefined;
  const routes = store.select(KIND.httpRoute, undefined, () => true);
  const listeners = (((gateway.spec as Obj).listeners as Obj[] | undefined) ?? []).map((l) => {
    const attached = routes.filter((r) =>
      ((r.status as Obj | undefined)?.parents as Obj[] | undefined)?.some((p) => {
        const ref = p.parentRef as Obj;
        return (
          p.controllerName === GATEWAY_CONTROLLER &&
          ref.name === gateway.metadata.name &&
          ((ref.namespace as string | undefined) ?? r.metadata.namespace) === gateway.metadata.namespace &&
          (ref.sectionName === undefined || ref.sectionName === l.name) &&
          (p.conditions as Condition[]).some((c) => c.type === 'Accepted' && c.status === 'True')
        );
      }),
    ).length;
    const oldListener = ((old.listeners as Obj[] | undefined) ?? []).find((o) => o.name === l.name);
    return {
      name: l.name,
      attachedRoutes: attached,
      supportedKinds: [{ group: GROUP, kind: 'HTTPRoute' }],
      conditions: ['Accepted', 'Programmed', 'ResolvedRefs'].map((type) =>
        condition(
          oldListener?.conditions as Condition[] | undefined,
          { type, status: 'True', reason: type, message: '', observedGeneration: generation },
          now,
        ),
      ),
    };
  });
  const status = {
    conditions: ['Accepted', 'Programmed'].map((type) =>
      condition(
        before,
        { type, status: 'True', reason: type, message: '', observedGeneration: generation },
        now,
      ),
    ),
    listeners,
  };
  if (jsonEqual(status, old)) return;
  store.update(
    KIND.gateway,
    gateway.metadata.namespace,
    { ...gateway, status },
    { manager: 'gateway-controller', subresource: 'status' },
  );
}

/** Accepts a GatewayClass that names this implementation. */
export function syncGatewayClass(store: ObjectStore, cls: KubeObject, now: number): void {
  if ((cls.spec as Obj | undefined)?.controllerName !== GATEWAY_CONTROLLER) return;
  const old = (cls.status as Obj | undefined) ?? {};
  const status = {
    conditions: [
      condition(
        old.conditions as Condition[] | undefined,
        {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: '',
          observedGeneration: cls.metadata.generation ?? 1,
        },
        now,
      ),
    ],
  };
  if (jsonEqual(status, old)) return;
  store.update(
    KIND.gatewayClass,
    undefined,
    { ...cls, status },
    { manager: 'gateway-controller', subresource: 'status' },
  );
}

/** Whether a route is attached (Accepted True, for the current generation) to this Gateway, or any of ours. */
export function attachedTo(route: KubeObject, gateway?: { namespace: string; name: string }): boolean {
  return (((route.status as Obj | undefined)?.parents as Obj[] | undefined) ?? []).some((p) => {
    if (p.controllerName !== GATEWAY_CONTROLLER) return false;
    const ref = p.parentRef as Obj;
    if (
      gateway &&
      (ref.name !== gateway.name ||
        ((ref.namespace as string | undefined) ?? route.metadata.namespace) !== gateway.namespace)
    )
      return false;
    return (p.conditions as Condition[]).some((c) => c.type === 'Accepted' && c.status === 'True');
  });
}

/**
 * The implementation's controller loop: a route is looked at when it, its Gateways, a Service, a
 * ReferenceGrant or a namespace changes (what attaches and resolves depends on all of them); a
 * Gateway when it, its class or a route naming it does.
 */
export class GatewayController extends ControllerBase {
  readonly kinds = ['httproute', 'gateway', 'gatewayclass'] as const;

  onEvent(e: StoreEvent): void {
    const o = e.object;
    const namespace = o.metadata.namespace ?? '';
    const { queue, store } = this.ctx;
    switch (e.info.kind) {
      case 'HTTPRoute':
        queue.add({ kind: 'httproute', namespace, name: o.metadata.name as string });
        for (const ref of ((o.spec as Obj | undefined)?.parentRefs as Obj[] | undefined) ?? [])
          queue.add({
            kind: 'gateway',
            namespace: (ref.namespace as string | undefined) ?? namespace,
            name: String(ref.name),
          });
        break;
      case 'Gateway':
        queue.add({ kind: 'gateway', namespace, name: o.metadata.name as string });
        this.#allRoutes();
        break;
      case 'GatewayClass':
        queue.add({ kind: 'gatewayclass', name: o.metadata.name as string });
        for (const g of store.select(KIND.gateway, undefined, () => true))
          queue.add({
            kind: 'gateway',
            namespace: g.metadata.namespace as string,
            name: g.metadata.name as string,
          });
        break;
      case 'Service':
      case 'ReferenceGrant':
      case 'Namespace':
        this.#allRoutes();
        break;
    }
  }

  #allRoutes(): void {
    for (const r of this.ctx.store.select(KIND.httpRoute, undefined, () => true))
      this.ctx.queue.add({
        kind: 'httproute',
        namespace: r.metadata.namespace as string,
        name: r.metadata.name as string,
      });
  }

  reconcile(key: WorkKey): void {
    const { store, clock } = this.ctx;
    if (key.kind === 'httproute') {
      const route = store.get(KIND.httpRoute, key.namespace, key.name);
      if (route) syncHttpRoute(store, route, clock.now());
    } else if (key.kind === 'gateway') {
      const gateway = store.get(KIND.gateway, key.namespace, key.name);
      if (gateway) syncGateway(store, gateway, clock.now());
    } else if (key.kind === 'gatewayclass') {
      const cls = store.get(KIND.gatewayClass, undefined, key.name);
      if (cls) syncGatewayClass(store, cls, clock.now());
    }
  }
}
