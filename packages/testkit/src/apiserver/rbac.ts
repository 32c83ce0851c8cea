import type { KindInfo } from './kinds.ts';
import type { KubeObject } from './object.ts';
import { ApiError } from './status.ts';

/** What kube-apiserver's authorizer is asked about one request. */
export interface RequestAttributes {
  user: string;
  verb: string;
  group: string;
  /** The plural, e.g. `deployments`. */
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

/** Reads the RBAC objects of the store the request is against. */
export interface RbacObjects {
  list(kind: 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding', namespace?: string): KubeObject[];
  get(kind: 'Role' | 'ClusterRole', namespace: string | undefined, name: string): KubeObject | undefined;
}

const covers = (list: string[] | undefined, value: string) =>
  (list ?? []).some((v) => v === '*' || v === value);

/** RBAC's rule match, as the authorizer's `RuleAllows`: verb, group, resource (or resource/sub), name. */
function allows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!covers(rule.verbs, a.verb)) return false;
  if (!covers(rule.apiGroups, a.group)) return false;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resources = rule.resources ?? [];
  const resourceOk = resources.some(
    (r) => r === '*' || r === resource || (a.subresource !== undefined && r === `*/${a.subresource}`),
  );
  if (!resourceOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (a.name !== undefined && names.includes(a.name));
}

/** Whether a binding names this user: a User by name, or a ServiceAccount by its user name. */
function binds(subjects: Subject[] | undefined, user: string): boolean {
  return (subjects ?? []).some(
    (s) =>
      (s.kind === 'User' && s.name === user) ||
      (s.kind === 'ServiceAccount' && `system:serviceaccount:${s.namespace ?? ''}:${s.name}` === user),
  );
}

/**
 * The RBAC authorizer over the store's Roles and bindings: ClusterRoleBindings apply everywhere,
 * RoleBindings in their namespace (to a Role there or a ClusterRole). Deny unless a rule allows.
 */
export function rbacAllows(objects: RbacObjects, a: RequestAttributes): boolean {
  // kube-apiserver's bootstrap policy: system:basic-user lets every authenticated user review itself.
  if (
    a.user !== 'system:anonymous' &&
    a.verb === 'create' &&
    a.group === 'authorization.k8s.io' &&
    a.resource === 'selfsubjectaccessreviews'
  )
    return true;
  const rulesOf = (ref: { kind?: string; name?: string } | undefined, namespace: string | undefined) => {
    if (!ref?.name) return [];
    const role =
      ref.kind === 'ClusterRole'
        ? objects.get('ClusterRole', undefined, ref.name)
        : objects.get('Role', namespace, ref.name);
    return ((role as { rules?: PolicyRule[] } | undefined)?.rules ?? []) as PolicyRule[];
  };
  for (const b of objects.list('ClusterRoleBinding')) {
    const binding = b as unknown as { subjects?: Subject[]; roleRef?: { kind?: string; name?: string } };
    if (binds(binding.subjects, a.user) && rulesOf(binding.roleRef, undefined).some((r) => allows(r, a)))
      return true;
  }
  if (a.namespace === undefined) return false;
  for (const b of objects.list('RoleBinding', a.namespace)) {
    const binding = b as unknown as { subjects?: Subject[]; roleRef?: { kind?: string; name?: string } };
    if (binds(binding.subjects, a.user) && rulesOf(binding.roleRef, a.namespace).some((r) => allows(r, a)))
      return true;
  }
  return false;
}

/** kube-apiserver's 403, worded as it words it. */
export function forbidden(info: KindInfo, a: RequestAttributes): ApiError {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const qualified = info.group ? `${a.resource}.${info.group}` : a.resource;
  const what = a.name ? `${qualified} "${a.name}"` : qualified;
  const where = a.namespace !== undefined ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return new ApiError({
    code: 403,
    reason: 'Forbidden',
    message: `${what} is forbidden: User "${a.user}" cannot ${a.verb} resource "${resource}" in API group "${info.group}" ${where}`,
    details: { ...(a.name ? { name: a.name } : {}), group: info.group, kind: a.resource },
  });
}
