import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '@kanary/cli';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Namespace, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/** deploy/agent.yaml: valid against the Kubernetes schemas, and allowed to do what Kanary does. */
const docs = parseAllDocuments(
  readFileSync(join(import.meta.dirname, '../../../deploy/agent.yaml'), 'utf8'),
).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Namespace,
  ServiceAccount,
  ClusterRole,
  ClusterRoleBinding,
  Deployment,
};

describe('deploy/agent.yaml', () => {
  it('every object validates against the Kubernetes schemas', () => {
    expect(docs.map((d) => d.kind)).toEqual([
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
    ]);
    for (const doc of docs) {
      const Model = MODELS[doc.kind] as (typeof MODELS)[string];
      expect(() => new Model(doc as never).validate(), doc.kind).not.toThrow();
    }
  });

  it('the role covers every resource Kanary reads and writes', () => {
    const role = docs.find((d) => d.kind === 'ClusterRole') as unknown as {
      rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
    };
    const can = (group: string, resource: string, verb: string) =>
      role.rules.some(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    for (const [group, resource, verbs] of [
      ['', 'configmaps', ['list', 'get', 'create', 'update', 'patch']],
      ['coordination.k8s.io', 'leases', ['get', 'create', 'update']],
      ['apps', 'deployments', ['get', 'list', 'create', 'update', 'patch', 'delete']],
      ['apps', 'replicasets', ['list']],
      ['', 'services', ['get', 'create', 'update', 'patch', 'delete']],
      ['networking.istio.io', 'virtualservices', ['get', 'update', 'patch']],
      ['networking.istio.io', 'destinationrules', ['get', 'update', 'patch']],
      ['networking.k8s.io', 'ingresses', ['get', 'create', 'update', 'delete']],
      ['gateway.networking.k8s.io', 'httproutes', ['get', 'update', 'patch']],
    ] as const) {
      for (const verb of verbs) expect(can(group, resource, verb), `${verb} ${group}/${resource}`).toBe(true);
    }
  });

  it("the container's command is one the CLI accepts", async () => {
    const deployment = docs.find((d) => d.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: Array<{ command: string[] }> } } };
    };
    const command = deployment.spec.template.spec.containers[0]?.command ?? [];
    const args = command.slice(command.indexOf('agent'));
    expect(args[0]).toBe('agent');
    let err = '';
    // --help: parse the options and exit without connecting anywhere.
    const code = await main([...args, '--help'], { stdout: () => {}, stderr: (t) => (err += t) });
    expect(code, err).toBe(0);
  });
});
