import {
  type Clock,
  createConfigMapStateStore,
  type KubeClient,
  type KubeObject,
  type LeaseView,
  type Plan,
  type Rollout,
  type RolloutKey,
  type RolloutState,
} from '@kanary/core';
import type { RouterStatus, TrafficRouter } from '@kanary/core/adapter';
import { rebuildRollout, routerFromWiring } from '../agent/rebuild.ts';

/** One side's Deployment as the cluster has it now. */
export interface SideLook {
  name: string;
  images: string[];
  /** The Deployment's revision (`deployment.kubernetes.io/revision`). */
  revision?: string;
  ready: number;
  desired: number;
  /** Pods on the current template, for a rolling update. */
  updated: number;
  /** The Deployment is gone (a removed canary) or could not be read. */
  missing?: string;
}

/** Everything `kanary get` shows, read in one pass. */
export interface Look {
  state: RolloutState;
  plan?: Plan;
  sides: { stable?: SideLook; canary?: SideLook };
  /** The routing objects' own content, or why it could not be read. */
  routing?: RouterStatus | { error: string };
  lease?: LeaseView;
  /** Why parts are missing: a rollout made only by code has no saved wiring to read them with. */
  notes: string[];
  /** The time of this look, on the injected clock. */
  at: number;
}

/** Reads a rollout's state and the world around it; keeps what it built between looks (a watch). */
export interface Looker {
  look(): Promise<Look | undefined>;
}

interface Deployment extends KubeObject {
  spec?: { replicas?: number; template?: { spec?: { containers?: Array<{ image?: string }> } } };
  status?: { readyReplicas?: number; updatedReplicas?: number };
}

export function createLooker(key: RolloutKey, client: KubeClient, clock: Clock): Looker {
  const store = createConfigMapStateStore({ client });
  // Built once from the saved wiring, so the lease's silence is measured across looks.
  let parts: { rollout: Rollout; router?: TrafficRouter; digest: string } | undefined;

  const side = async (name: string | undefined): Promise<SideLook | undefined> => {
    if (!name) return undefined;
    try {
      const d = await client.get<Deployment>({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: key.namespace,
        name,
      });
      if (!d) return { name, images: [], ready: 0, desired: 0, updated: 0, missing: 'not found' };
      const revision = d.metadata.annotations?.['deployment.kubernetes.io/revision'];
      return {
        name,
        images: (d.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '?'),
        ...(revision ? { revision } : {}),
        ready: d.status?.readyReplicas ?? 0,
        desired: d.spec?.replicas ?? 1,
        updated: d.status?.updatedReplicas ?? 0,
      };
    } catch (error) {
      return { name, images: [], ready: 0, desired: 0, updated: 0, missing: (error as Error).message };
    }
  };

  return {
    async look() {
      const stored = await store.load(key);
      if (!stored) return undefined;
      const state = stored.state;
      const notes: string[] = [];
      if (state.wiring && parts?.digest !== state.specDigest) {
        // On the view's clock: the lease's silence is measured on it, across looks.
        const rollout = rebuildRollout(state.wiring, { client, clock });
        const router = state.wiring.router ? routerFromWiring(state.wiring.router, client) : undefined;
        parts = { rollout, ...(router ? { router } : {}), digest: state.specDigest };
      }
      if (!state.wiring) notes.push('no saved wiring (a rollout made by code): routing and lease not shown');
      const [stable, canary, lease, routing] = await Promise.all([
        side(state.targets.stable?.name),
        state.targets.canary?.name !== state.targets.stable?.name
          ? side(state.targets.canary?.name)
          : undefined,
        parts?.rollout.inspectLease().catch(() => undefined),
        parts?.router && state.wiring ? routerStatus(parts.router, parts.rollout, state) : undefined,
      ]);
      let plan: Plan | undefined;
      try {
        plan = parts?.rollout.plan();
      } catch {
        notes.push('the saved spec no longer plans with this Kanary: steps shown by number');
      }
      return {
        state,
        ...(plan ? { plan } : {}),
        sides: { ...(stable ? { stable } : {}), ...(canary ? { canary } : {}) },
        ...(routing ? { routing } : {}),
        ...(lease ? { lease } : {}),
        notes,
        at: clock.now(),
      };
    },
  };
}

/** What the routing objects hold now, by the router's own reading of them. */
async function routerStatus(
  router: TrafficRouter,
  rollout: Rollout,
  state: RolloutState,
): Promise<RouterStatus | { error: string }> {
  try {
    return await router.status({
      key: state.key,
      spec: rollout.spec,
      targets: state.targets,
      state,
      signal: new AbortController().signal,
    });
  } catch (error) {
    return { error: (error as Error).message };
  }
}
