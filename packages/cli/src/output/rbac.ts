import type { RoleManifest } from '@kanary/core';
import { stringify } from 'yaml';

/**
 * Roles as YAML for `kubectl apply -f -`: each rule preceded by why it is there, and a commented
 * RoleBinding to fill in with the identity that runs Kanary.
 */
export function formatRoles(roles: readonly RoleManifest[]): string {
  return roles
    .map((role) => {
      const { reasons, ...manifest } = role;
      const rules = manifest.rules
        .map((rule, i) => {
          const why = (reasons[i] ?? []).map((r) => `  # ${r}`).join('\n');
          // JSON arrays are YAML flow sequences: one line per field, as people write Roles.
          const body = [
            `  - apiGroups: ${JSON.stringify(rule.apiGroups)}`,
            `    resources: ${JSON.stringify(rule.resources)}`,
            `    verbs: ${JSON.stringify(rule.verbs)}`,
          ].join('\n');
          return `${why}\n${body}`;
        })
        .join('\n');
      const head = stringify({
        apiVersion: manifest.apiVersion,
        kind: manifest.kind,
        metadata: manifest.metadata,
      }).trimEnd();
      const binding = [
        '# Bind it to whoever runs Kanary, e.g.:',
        '# apiVersion: rbac.authorization.k8s.io/v1',
        '# kind: RoleBinding',
        `# metadata: { name: ${manifest.metadata.name}, namespace: ${manifest.metadata.namespace} }`,
        `# roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: ${manifest.metadata.name} }`,
        '# subjects: [{ kind: ServiceAccount, name: deployer, namespace: ci }]',
      ].join('\n');
      return `${head}\nrules:\n${rules}\n${binding}\n`;
    })
    .join('---\n');
}
