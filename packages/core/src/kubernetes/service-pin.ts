import { KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient, KubeObject, ObjectRef } from './client.ts';
import { LABEL_ROLLOUT } from './labels.ts';
import { readOwnedAnnotation, withOwnedAnnotation } from './owned-annotation.ts';
import { labelSelector, type Pod, servesTraffic } from './pods.ts';

// Selecting one side of a rollout with a Service: the user's selector plus a pod-template-hash.
// A canary made from the stable template carries its labels, so only the hash tells them apart;
// the user's own selector is kept in an annotation so it can be put back exactly.

export const ANNOTATION_ORIGINAL_SELECTOR = 'kanary.dev/original-selector';
const HASH = 'pod-template-hash';

export type Service = KubeObject & {
  spec: { selector?: Record<string, string>; ports?: Array<Record<string, unknown>> };
};

/** A Service's selector as the user wrote it, before Kanary pinned a pod-template-hash. */
export function originalSelector(svc: {
  metadata: { annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
}): Record<string, string> {
  return (
    readOwnedAnnotation<Record<string, string>>(svc, ANNOTATION_ORIGINAL_SELECTOR) ?? {
      ...(svc.spec.selector ?? {}),
    }
  );
}

/**
 * The user's selector aimed at pods labelled `labels`: each key those pods carry takes their value
 * (`color: blue` becomes `color: green` for green's pods), a key they lack is left
 * out. Without labels, the selector as it is.
 */
export function selectorFor(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): Record<string, string> {
  if (!labels) return { ...selector };
  const out: Record<string, string> = {};
  for (const key of Object.keys(selector)) {
    const value = labels[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * Points a Service at the pods of one ReplicaSet (`labels`: what those pods carry, so a selector
 * that tells the sides apart by a label of its own still matches them); idempotent, read back.
 * Returns the Service as written.
 */
export async function pinService(
  client: KubeClient,
  ref: ObjectRef,
  hash: string,
  labels?: Record<string, string>,
): Promise<Service> {
  const svc = await client.get<Service>(ref);
  if (!svc) throw new KanaryError('NOT_FOUND', `Service ${ref.namespace}/${ref.name} does not exist`);
  const want = (s: Service) => ({ ...selectorFor(originalSelector(s), labels), [HASH]: hash });
  if (
    svc.metadata.annotations?.[ANNOTATION_ORIGINAL_SELECTOR] &&
    JSON.stringify(svc.spec.selector) === JSON.stringify(want(svc))
  ) {
    await awaitEndpoints(client, ref, svc.spec.selector);
    return svc;
  }
  const updated = await client.update<Service>(ref, (s) =>
    withOwnedAnnotation(
      { ...s, spec: { ...s.spec, selector: want(s) } },
      ANNOTATION_ORIGINAL_SELECTOR,
      originalSelector(s),
    ),
  );
  if (updated.spec.selector?.[HASH] !== hash) {
    throw new KanaryError('ROUTER', `Service ${ref.name} did not take the new selector`, { retryable: true });
  }
  await awaitEndpoints(client, ref, updated.spec.selector);
  return updated;
}

type EndpointsObject = KubeObject & {
  subsets?: Array<{
    addresses?: Array<{ targetRef?: { name?: string } }>;
    notReadyAddresses?: Array<{ targetRef?: { name?: string } }>;
  }>;
};

/** How long a Service's Endpoints may take to follow its selector before the write is retried. */
const ENDPOINTS_WAIT_MS = 10_000;
const ENDPOINTS_POLL_MS = 100;

/**
 * Whether a Service's Endpoints have caught up with `selector`: none of the pods it lists falls
 * outside it, and if any pod it selects is ready, at least one ready address is listed.
 */
export async function endpointsFollow(
  client: KubeClient,
  ref: ObjectRef,
  selector: Record<string, string> | undefined,
): Promise<{ caughtUp: boolean; message: string }> {
  const query = labelSelector(selector);
  const [endpoints, pods] = await Promise.all([
    client.get<EndpointsObject>({
      apiVersion: 'v1',
      kind: 'Endpoints',
      namespace: ref.namespace,
      name: ref.name,
    }),
    query ? client.listView<Pod>('v1', 'Pod', ref.namespace, query) : Promise.resolve([]),
  ]);
  const selected = new Set(pods.map((p) => p.metadata.name));
  const listed = (kind: 'addresses' | 'notReadyAddresses') =>
    (endpoints?.subsets ?? []).flatMap((sub) => (sub[kind] ?? []).map((a) => a.targetRef?.name ?? ''));
  const ready = listed('addresses');
  const outside = [...ready, ...listed('notReadyAddresses')].filter((name) => !selected.has(name));
  const readyPods = pods.filter(servesTraffic).length;
  if (outside.length > 0)
    return {
      caughtUp: false,
      message: `the Endpoints of Service ${ref.name} still list ${outside.length} pod${outside.length === 1 ? '' : 's'} its selector no longer matches`,
    };
  if (readyPods > 0 && ready.length === 0)
    return {
      caughtUp: false,
      message: `the Endpoints of Service ${ref.name} list none of its ${readyPods} ready pod${readyPods === 1 ? '' : 's'} yet`,
    };
  return { caughtUp: true, message: `the Endpoints of Service ${ref.name} follow its selector` };
}

/**
 * Waits (on the client's clock) until the endpoints controller has followed a selector Kanary just
 * wrote, so that no share is routed while the Service still sends users to the other side's pods or
 * to none: on a cluster that takes tens of milliseconds to seconds after the write. Past the wait it
 * throws a retryable error, and the caller's write is tried again.
 */
export async function awaitEndpoints(
  client: KubeClient,
  ref: ObjectRef,
  selector: Record<string, string> | undefined,
): Promise<void> {
  for (let waited = 0; ; waited += ENDPOINTS_POLL_MS) {
    const { caughtUp, message } = await endpointsFollow(client, ref, selector);
    if (caughtUp) return;
    if (waited >= ENDPOINTS_WAIT_MS)
      throw new KanaryError('ROUTER', `${message} after ${ENDPOINTS_WAIT_MS / 1000}s`, { retryable: true });
    await client.clock.sleep(ENDPOINTS_POLL_MS);
  }
}

/**
 * Gives a pinned Service the user's selector back; an annotation map that held only ours goes too.
 * `labels`: the pods that serve now, when they differ from the ones the user's selector named (a
 * blue-green switch by colour): the selector follows them, as the user would have edited it.
 */
export async function unpinService(
  client: KubeClient,
  ref: ObjectRef,
  labels?: Record<string, string>,
): Promise<void> {
  const svc = await client.get<Service>(ref);
  if (!svc?.metadata.annotations?.[ANNOTATION_ORIGINAL_SELECTOR]) return;
  await client.update<Service>(ref, (s) => {
    const saved = readOwnedAnnotation<Record<string, string>>(s, ANNOTATION_ORIGINAL_SELECTOR);
    if (saved === undefined) return undefined;
    return withOwnedAnnotation(
      { ...s, spec: { ...s.spec, selector: selectorFor(saved, labels) } },
      ANNOTATION_ORIGINAL_SELECTOR,
      undefined,
    );
  });
}

/**
 * A Kanary-owned Service selecting `from`'s (original) selector plus `hash`, with `from`'s ports:
 * created, or re-pointed when the hash changed.
 */
export async function ensureHashService(
  client: KubeClient,
  ref: ObjectRef,
  from: Service,
  hash: string,
  labels: Record<string, string>,
  expose: { type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer'; nodePort?: number } = {},
): Promise<void> {
  const selector = { ...originalSelector(from), [HASH]: hash };
  const existing = await client.get<Service>(ref);
  if (!existing) {
    // `from`'s ports without its node ports (those are taken); the first gets the one asked for.
    const ports = (from.spec.ports ?? []).map(({ nodePort: _n, ...p }, i) =>
      i === 0 && expose.nodePort !== undefined ? { ...p, nodePort: expose.nodePort } : p,
    );
    await client.create<Service>({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: ref.name, namespace: ref.namespace as string, labels },
      spec: { selector, ports, ...(expose.type ? { type: expose.type } : {}) },
    });
  } else if (existing.spec.selector?.[HASH] !== hash) {
    await client.update<Service>(ref, (s) => ({ ...s, spec: { ...s.spec, selector } }));
  }
  await awaitEndpoints(client, ref, selector);
}

/** Deletes a Service only if this rollout made it. */
export async function deleteOwnedService(client: KubeClient, ref: ObjectRef, rollout: string): Promise<void> {
  const svc = await client.get(ref);
  if (svc?.metadata.labels?.[LABEL_ROLLOUT] === rollout) await client.delete(ref);
}
