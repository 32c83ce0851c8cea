import type { KubeObject } from '@kanary/testkit';

export { deployment, readinessProbe as probe, service } from '@kanary/testkit';

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
