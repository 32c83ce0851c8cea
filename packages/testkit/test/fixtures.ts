import type { KubeObject } from '@kanary/testkit';

/** A Deployment and its Service, as seed 000 creates them (`kubectl create deployment nginx01 ...`). */
export function deployment(
  name: string,
  ns: string,
  image: string,
  replicas = 4,
  extra: Partial<Record<string, unknown>> = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: name.replace(/[^a-z0-9-]/g, ''), image, ports: [{ containerPort: 80 }] }],
        },
      },
      ...extra,
    },
  };
}

export function service(name: string, ns: string, selector: Record<string, string>, port = 80): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: { selector, ports: [{ port, targetPort: 80, protocol: 'TCP' }] },
  };
}
