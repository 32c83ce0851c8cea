/** A Kubernetes API verb, as RBAC rules name them. */
export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/**
 * One grant a part of a rollout needs: verbs on a resource of an API group, in a namespace (the
 * rollout's, unless it names another), and why — printed beside the rule, so a reviewer can check
 * each line against what the part does.
 */
export interface Permission {
  /** `''` for the core group. */
  apiGroup: string;
  /** The plural, or `plural/subresource`. */
  resource: string;
  verbs: ApiVerb[];
  namespace?: string;
  why: string;
}

/** An RBAC Role as `kubectl apply` takes it, rules commented with why. */
export interface RoleManifest {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'Role';
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  rules: Array<{ apiGroups: string[]; resources: string[]; verbs: ApiVerb[] }>;
  /** Per rule (same index), the reasons it is there. */
  reasons: string[][];
}

const VERB_ORDER: ApiVerb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/**
 * The Roles a set of permissions makes, one per namespace: a rule per API group and resource with
 * every verb any part asked for, in a stable order (so a generated Role diffs cleanly in review).
 */
export function rolesFor(
  permissions: readonly Permission[],
  options: { name: string; namespace: string },
): RoleManifest[] {
  const byNamespace = new Map<string, Map<string, { verbs: Set<ApiVerb>; why: Set<string> }>>();
  for (const p of permissions) {
    const ns = p.namespace ?? options.namespace;
    const rules = byNamespace.get(ns) ?? new Map();
    byNamespace.set(ns, rules);
    const key = `${p.apiGroup}\u0000${p.resource}`;
    const rule = rules.get(key) ?? { verbs: new Set<ApiVerb>(), why: new Set<string>() };
    rules.set(key, rule);
    for (const v of p.verbs) rule.verbs.add(v);
    rule.why.add(p.why);
  }
  return [...byNamespace.entries()]
    .sort(([a], [b]) => (a === options.namespace ? -1 : b === options.namespace ? 1 : a.localeCompare(b)))
    .map(([namespace, rules]) => {
      const sorted = [...rules.entries()].sort(([a], [b]) => a.localeCompare(b));
      return {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: options.name, namespace, labels: { 'app.kubernetes.io/managed-by': 'kanary' } },
        rules: sorted.map(([key, r]) => {
          const [group, resource] = key.split('\u0000') as [string, string];
          return {
            apiGroups: [group],
            resources: [resource],
            verbs: VERB_ORDER.filter((v) => r.verbs.has(v)),
          };
        }),
        reasons: sorted.map(([, r]) => [...r.why].sort()),
      };
    });
}

/**
 * Where a client answers reads from watches, every resource it reads needs `list` and `watch`
 * beside `get`: added to each permission that reads a watched resource.
 */
export function withWatches(
  permissions: readonly Permission[],
  watched: ReadonlyArray<{ apiGroup: string; resource: string }>,
): Permission[] {
  return permissions.map((p) =>
    (p.verbs.includes('get') || p.verbs.includes('list')) &&
    watched.some((w) => w.apiGroup === p.apiGroup && w.resource === p.resource)
      ? { ...p, verbs: [...new Set<ApiVerb>([...p.verbs, 'get', 'list', 'watch'])] }
      : p,
  );
}
