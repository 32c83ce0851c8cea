import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';
import { SelfSubjectAccessReview } from 'kubernetes-models/authorization.k8s.io/v1/SelfSubjectAccessReview';
import { Lease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Endpoints } from 'kubernetes-models/v1/Endpoints';
import { Event } from 'kubernetes-models/v1/Event';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Service } from 'kubernetes-models/v1/Service';
import { validateCustomResource } from './crd/index.ts';
import type { KubeObject } from './object.ts';
import { semanticChecks } from './semantics.ts';
import type { StatusCause } from './status.ts';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

export interface KindInfo {
  group: string;
  /** Versions served; the first is the storage version. */
  versions: string[];
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  /** Built-in kinds accept strategic merge patch; custom resources answer 415 as the real server does. */
  builtin: boolean;
  subresources: { status: boolean; scale: boolean };
  shortNames?: string[];
  /** Discovery categories: `kubectl get all` lists the kinds in `all`. */
  categories?: string[];
  /** A built-in kind's kubernetes-models classes by version; custom resources use their vendored CRD. */
  models?: Record<string, ModelClass>;
  /** Verbs served, when not all of them (a review is only ever created: nothing is stored). */
  verbs?: string[];
}

const k = (info: Omit<KindInfo, 'singular'>): KindInfo => ({ ...info, singular: info.kind.toLowerCase() });

export const KINDS: KindInfo[] = [
  k({
    group: '',
    versions: ['v1'],
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    builtin: true,
    subresources: { status: true, scale: false },
    models: { v1: Namespace as never },
  }),
  k({
    group: '',
    versions: ['v1'],
    kind: 'Service',
    plural: 'services',
    namespaced: true,
    builtin: true,
    subresources: { status: true, scale: false },
    shortNames: ['svc'],
    models: { v1: Service as never },
    categories: ['all'],
  }),
  k({
    group: '',
    versions: ['v1'],
    kind: 'Pod',
    plural: 'pods',
    namespaced: true,
    builtin: true,
    subresources: { status: true, scale: false },
    shortNames: ['po'],
    models: { v1: Pod as never },
    categories: ['all'],
  }),
  k({
    group: '',
    versions: ['v1'],
    kind: 'ConfigMap',
    plural: 'configmaps',
    namespaced: true,
    builtin: true,
    subresources: { status: false, scale: false },
    shortNames: ['cm'],
    models: { v1: ConfigMap as never },
  }),
  k({
    group: '',
    versions: ['v1'],
    kind: 'Endpoints',
    plural: 'endpoints',
    namespaced: true,
    builtin: true,
    subresources: { status: false, scale: false },
    shortNames: ['ep'],
    models: { v1: Endpoints as never },
  }),
  k({
    group: 'apps',
    versions: ['v1'],
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
    builtin: true,
    subresources: { status: true, scale: true },
    shortNames: ['deploy'],
    models: { v1: Deployment as never },
    categories: ['all'],
  }),
  k({
    group: 'apps',
    versions: ['v1'],
    kind: 'ReplicaSet',
    plural: 'replicasets',
    namespaced: true,
    builtin: true,
    subresources: { status: true, scale: true },
    shortNames: ['rs'],
    models: { v1: ReplicaSet as never },
    categories: ['all'],
  }),
  k({
    group: 'networking.k8s.io',
    versions: ['v1'],
    kind: 'Ingress',
    plural: 'ingresses',
    namespaced: true,
    builtin: true,
    subresources: { status: true, scale: false },
    shortNames: ['ing'],
    models: { v1: Ingress as never },
  }),
  k({
    group: '',
    versions: ['v1'],
    kind: 'Event',
    plural: 'events',
    namespaced: true,
    builtin: true,
    subresources: { status: false, scale: false },
    shortNames: ['ev'],
    models: { v1: Event as never },
  }),
  ...(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const).map((kind) =>
    k({
      group: 'rbac.authorization.k8s.io',
      versions: ['v1'],
      kind,
      plural: `${kind.toLowerCase()}s`,
      namespaced: !kind.startsWith('Cluster'),
      builtin: true,
      subresources: { status: false, scale: false },
      models: {
        v1: { Role, ClusterRole, RoleBinding, ClusterRoleBinding }[kind] as never,
      },
    }),
  ),
  k({
    group: 'authorization.k8s.io',
    versions: ['v1'],
    kind: 'SelfSubjectAccessReview',
    plural: 'selfsubjectaccessreviews',
    namespaced: false,
    builtin: true,
    subresources: { status: false, scale: false },
    models: { v1: SelfSubjectAccessReview as never },
    verbs: ['create'],
  }),
  k({
    group: 'coordination.k8s.io',
    versions: ['v1'],
    kind: 'Lease',
    plural: 'leases',
    namespaced: true,
    builtin: true,
    subresources: { status: false, scale: false },
    models: { v1: Lease as never },
  }),
  k({
    group: 'networking.istio.io',
    versions: ['v1', 'v1alpha3', 'v1beta1'],
    kind: 'VirtualService',
    plural: 'virtualservices',
    namespaced: true,
    builtin: false,
    subresources: { status: true, scale: false },
    shortNames: ['vs'],
    categories: ['istio-io', 'networking-istio-io'],
  }),
  k({
    group: 'networking.istio.io',
    versions: ['v1', 'v1alpha3', 'v1beta1'],
    kind: 'DestinationRule',
    plural: 'destinationrules',
    namespaced: true,
    builtin: false,
    subresources: { status: true, scale: false },
    shortNames: ['dr'],
    categories: ['istio-io', 'networking-istio-io'],
  }),
  k({
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    kind: 'HTTPRoute',
    plural: 'httproutes',
    namespaced: true,
    builtin: false,
    subresources: { status: true, scale: false },
    categories: ['gateway-api'],
  }),
  k({
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    kind: 'Gateway',
    plural: 'gateways',
    namespaced: true,
    builtin: false,
    subresources: { status: true, scale: false },
    shortNames: ['gtw'],
    categories: ['gateway-api'],
  }),
  k({
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    kind: 'GatewayClass',
    plural: 'gatewayclasses',
    namespaced: false,
    builtin: false,
    subresources: { status: true, scale: false },
    shortNames: ['gc'],
    categories: ['gateway-api'],
  }),
  k({
    group: 'gateway.networking.k8s.io',
    versions: ['v1beta1', 'v1'],
    kind: 'ReferenceGrant',
    plural: 'referencegrants',
    namespaced: true,
    builtin: false,
    subresources: { status: false, scale: false },
    shortNames: ['refgrant'],
    categories: ['gateway-api'],
  }),
];

export function findKind(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

export function kindByName(kind: string, group?: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind && (group === undefined || k.group === group));
}

/** A kind the emulator itself works with: defined above by construction. */
function known(kind: string, group?: string): KindInfo {
  const info = kindByName(kind, group);
  if (!info) throw new Error(`the emulator has no kind ${kind}`);
  return info;
}

/** The kinds the emulator's controllers and data planes read and write. */
export const KIND = {
  deployment: known('Deployment'),
  replicaSet: known('ReplicaSet'),
  pod: known('Pod'),
  service: known('Service'),
  endpoints: known('Endpoints'),
  event: known('Event'),
  namespace: known('Namespace', ''),
  ingress: known('Ingress'),
  virtualService: known('VirtualService'),
  destinationRule: known('DestinationRule'),
  httpRoute: known('HTTPRoute', 'gateway.networking.k8s.io'),
  gateway: known('Gateway', 'gateway.networking.k8s.io'),
  gatewayClass: known('GatewayClass', 'gateway.networking.k8s.io'),
  referenceGrant: known('ReferenceGrant', 'gateway.networking.k8s.io'),
};

/** `instancePath` "/spec/replicas" → "spec.replicas"; array indexes as `[0]`. */
function fieldOf(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('')
    .replace(/\.\[/g, '[');
}

interface AjvError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Validates an object against its kind's real schema, then the server's semantic rules. */
export function validateObject(
  info: KindInfo,
  version: string,
  obj: KubeObject,
  old: KubeObject | undefined,
): StatusCause[] {
  if (!info.models) {
    const causes = validateCustomResource(info, version, obj, old);
    return causes.length > 0 ? causes : semanticChecks(info, obj, old);
  }
  const causes: StatusCause[] = [];
  const Model = info.models[version] ?? info.models[info.versions[0] as string];
  try {
    new (Model as ModelClass)({
      ...obj,
      apiVersion: info.group ? `${info.group}/${version}` : version,
    } as never).validate();
  } catch (error) {
    const list = (error as { errors?: AjvError[] }).errors ?? [];
    for (const e of list) {
      const extra = e.params?.additionalProperty ? ` "${String(e.params.additionalProperty)}"` : '';
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${e.message ?? 'invalid'}${extra}`,
        field: fieldOf(e.instancePath) || '<root>',
      });
    }
    if (list.length === 0) causes.push({ reason: 'FieldValueInvalid', message: (error as Error).message });
  }
  if (causes.length > 0) return causes;
  return semanticChecks(info, obj, old);
}
