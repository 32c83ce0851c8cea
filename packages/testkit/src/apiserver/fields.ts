import type { KindInfo } from './kinds.ts';
import { fieldAt, type KubeObject } from './object.ts';
import { parseLabelSelector, type Requirement } from './selectors.ts';
import { errors } from './status.ts';

type Getter = (o: KubeObject) => unknown;
const at =
  (...path: string[]): Getter =>
  (o) =>
    fieldAt(o, ...path);

/**
 * The field labels kube-apiserver selects on, beyond metadata.name and metadata.namespace: each
 * registry's GetAttrs / AddFieldLabelConversionFunc upstream (pkg/registry/core/pod/strategy.go
 * and the others). Any other field is refused with 400, never matched as empty.
 */
const BY_KIND: Record<string, Record<string, Getter>> = {
  Pod: {
    'spec.nodeName': at('spec', 'nodeName'),
    'spec.restartPolicy': at('spec', 'restartPolicy'),
    'spec.schedulerName': at('spec', 'schedulerName'),
    'spec.serviceAccountName': at('spec', 'serviceAccountName'),
    'spec.hostNetwork': (o) => String(at('spec', 'hostNetwork')(o) ?? false),
    'status.phase': at('status', 'phase'),
    'status.podIP': at('status', 'podIP'),
    'status.nominatedNodeName': at('status', 'nominatedNodeName'),
  },
  Service: { 'spec.clusterIP': at('spec', 'clusterIP'), 'spec.type': at('spec', 'type') },
  Namespace: { 'status.phase': at('status', 'phase') },
  ReplicaSet: { 'status.replicas': (o) => String(at('status', 'replicas')(o) ?? 0) },
  // pkg/registry/core/event/strategy.go: what `kubectl describe` selects a object's events by.
  Event: {
    'involvedObject.kind': at('involvedObject', 'kind'),
    'involvedObject.namespace': at('involvedObject', 'namespace'),
    'involvedObject.name': at('involvedObject', 'name'),
    'involvedObject.uid': at('involvedObject', 'uid'),
    'involvedObject.apiVersion': at('involvedObject', 'apiVersion'),
    'involvedObject.resourceVersion': at('involvedObject', 'resourceVersion'),
    'involvedObject.fieldPath': at('involvedObject', 'fieldPath'),
    reason: at('reason'),
    reportingComponent: at('reportingComponent'),
    source: at('source', 'component'),
    type: at('type'),
  },
};

/** The values of every selectable field of an object, as strings. */
export function fieldValuesOf(info: KindInfo, o: KubeObject): Record<string, string> {
  const values: Record<string, string> = {
    'metadata.name': o.metadata.name ?? '',
    'metadata.namespace': o.metadata.namespace ?? '',
  };
  for (const [field, get] of Object.entries(BY_KIND[info.kind] ?? {})) values[field] = String(get(o) ?? '');
  return values;
}

/** A `fieldSelector=` query: only =, == and != on fields the kind supports (400 otherwise). */
export function parseFieldSelector(text: string | null, info: KindInfo): Requirement[] {
  if (!text) return [];
  let parsed: Requirement[];
  try {
    parsed = parseLabelSelector(text);
  } catch {
    throw errors.badRequest(`invalid selector: '${text}'; can't understand '${text}'`);
  }
  for (const r of parsed) {
    if (r.op !== 'eq' && r.op !== 'neq')
      throw errors.badRequest(`invalid selector: '${text}'; can't understand '${text}'`);
    const known =
      r.key === 'metadata.name' || r.key === 'metadata.namespace' || r.key in (BY_KIND[info.kind] ?? {});
    if (!known) throw errors.badRequest(`field label not supported: ${r.key}`);
  }
  return parsed;
}
