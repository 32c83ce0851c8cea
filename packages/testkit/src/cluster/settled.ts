import { GATEWAY_CONTROLLER } from '../controllers/gateway.ts';
import type { Cluster } from './start.ts';

type Obj = {
  metadata: { name?: string; labels?: Record<string, string>; generation?: number };
  spec?: unknown;
  status?: unknown;
};
const readyPod = (p: Obj) =>
  ((p.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some(
    (c) => c.type === 'Ready' && c.status === 'True',
  );

/**
 * Whether the reader's objects have settled, as `kubectl rollout status` and a look at the
 * Endpoints would tell them: every Deployment available at its size, and every Service listing
 * only pods it selects, ready ones among them whenever any is ready.
 */
export function settled(c: Pick<Cluster, 'list' | 'get'>, namespace: string): boolean {
  for (const d of c.list('Deployment', namespace) as unknown as Obj[]) {
    const spec = d.spec as { replicas?: number };
    const status = (d.status ?? {}) as {
      observedGeneration?: number;
      availableReplicas?: number;
      replicas?: number;
    };
    const want = spec.replicas ?? 1;
    if ((status.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return false;
    if ((status.availableReplicas ?? 0) !== want || (status.replicas ?? 0) !== want) return false;
  }
  const pods = c.list('Pod', namespace) as unknown as Obj[];
  for (const svc of c.list('Service', namespace) as unknown as Obj[]) {
    const selector = (svc.spec as { selector?: Record<string, string> }).selector;
    if (!selector || Object.keys(selector).length === 0) continue;
    const selected = pods.filter((p) =>
      Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v),
    );
    const ep = c.get('Endpoints', namespace, svc.metadata.name as string) as
      | {
          subsets?: Array<{
            addresses?: Array<{ targetRef?: { name?: string } }>;
            notReadyAddresses?: Array<{ targetRef?: { name?: string } }>;
          }>;
        }
      | undefined;
    const listed = (ep?.subsets ?? []).flatMap((s) => [
      ...(s.addresses ?? []),
      ...(s.notReadyAddresses ?? []),
    ]);
    const names = new Set(selected.map((p) => p.metadata.name));
    if (listed.some((a) => !names.has(a.targetRef?.name))) return false;
    const readyListed = (ep?.subsets ?? []).flatMap((s) => s.addresses ?? []).length;
    if (readyListed !== selected.filter(readyPod).length) return false;
  }
  // Every HTTPRoute the emulator's Gateway controller answers for has its answer for this generation.
  for (const route of c.list('HTTPRoute', namespace, 'gateway.networking.k8s.io') as unknown as Obj[]) {
    const parents =
      (
        route.status as {
          parents?: Array<{ controllerName?: string; conditions?: Array<{ observedGeneration?: number }> }>;
        }
      )?.parents ?? [];
    const mine = parents.filter((p) => p.controllerName === GATEWAY_CONTROLLER);
    if (
      mine.some((p) =>
        (p.conditions ?? []).some((x) => (x.observedGeneration ?? 0) < (route.metadata.generation ?? 1)),
      )
    )
      return false;
    const wanted = (
      (route.spec as { parentRefs?: Array<{ name?: string; namespace?: string }> }).parentRefs ?? []
    ).some((ref) =>
      c.get('Gateway', ref.namespace ?? namespace, ref.name ?? '', 'gateway.networking.k8s.io'),
    );
    if (wanted && mine.length === 0) return false;
  }
  return true;
}
