import type { KubeObject } from '@kanary/testkit';

export const probe = { httpGet: { path: '/', port: 80 }, periodSeconds: 5 };

/** A Deployment shaped like the seeds' (probes, preStop and requests set so preflight is quiet). */
export function deployment(
  name: string,
  ns: string,
  image: string,
  replicas: number,
  labels: Record<string, string> = { app: name },
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'app',
              image,
              ports: [{ containerPort: 80 }],
              readinessProbe: probe,
              lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              resources: { requests: { cpu: '50m', memory: '50Mi' } },
            },
          ],
        },
      },
    },
  };
}

export function service(
  name: string,
  ns: string,
  selector: Record<string, string>,
  nodePort?: number,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: {
      type: nodePort ? 'NodePort' : 'ClusterIP',
      selector,
      ports: [{ port: 80, targetPort: 80, protocol: 'TCP', ...(nodePort ? { nodePort } : {}) }],
    },
  };
}

export const imagesBehind = (
  cluster: { get: (k: string, ns: string, n: string) => KubeObject | undefined },
  ns: string,
  svc: string,
): string[] => {
  const ep = cluster.get('Endpoints', ns, svc) as
    | { subsets?: Array<{ addresses?: Array<{ targetRef: { name: string } }> }> }
    | undefined;
  return (ep?.subsets?.[0]?.addresses ?? [])
    .map(
      (a) =>
        (
          (cluster.get('Pod', ns, a.targetRef.name)!.spec as { containers: Array<{ image: string }> })
            .containers[0] as { image: string }
        ).image,
    )
    .sort();
};
