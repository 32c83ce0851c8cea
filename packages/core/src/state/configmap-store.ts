import type { RolloutState } from '../engine/state.ts';
import { KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';
import type { RolloutKey } from '../ports/refs.ts';
import type { StateStore, StoredState } from '../ports/store.ts';

export interface ConfigMapStateStoreOptions {
  client: KubeClient;
  /** Prefix of the ConfigMap's name (default `kanary-`): the ConfigMap is `<prefix><rollout name>`. */
  prefix?: string;
}

type ConfigMap = KubeObject & { data?: Record<string, string> };

/**
 * Rollout state in a ConfigMap next to the workload, written with resourceVersion
 * compare-and-swap: the cluster is the source of truth, and two processes cannot both advance
 * a rollout from the same state.
 */
export function createConfigMapStateStore(options: ConfigMapStateStoreOptions): StateStore {
  const { client } = options;
  const prefix = options.prefix ?? 'kanary-';
  const ref = (key: RolloutKey): ObjectRef => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: key.namespace,
    name: `${prefix}${key.name}`,
  });
  return {
    async load(key): Promise<StoredState | undefined> {
      const cm = await client.get<ConfigMap>(ref(key));
      const text = cm?.data?.['state.json'];
      if (!cm || !text) return undefined;
      return { state: JSON.parse(text) as RolloutState, revision: cm.metadata.resourceVersion as string };
    },
    async save(key, state, expectedRevision) {
      const body: ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: ref(key).name,
          namespace: key.namespace,
          labels: { 'kanary.dev/rollout': key.name, 'app.kubernetes.io/managed-by': 'kanary' },
          annotations: { 'kanary.dev/phase': state.phase },
          ...(expectedRevision ? { resourceVersion: expectedRevision } : {}),
        },
        data: { 'state.json': JSON.stringify(state) },
      };
      try {
        const saved = expectedRevision ? await client.replace(body) : await client.create(body);
        return saved.metadata.resourceVersion as string;
      } catch (error) {
        // Stale revision (Conflict) or someone created it first (AlreadyExists): both are lost races.
        if (error instanceof KanaryError && error.code === 'CONFLICT') {
          throw new KanaryError(
            'CONFLICT',
            `state of ${key.namespace}/${key.name} was changed by another process`,
            { cause: error, retryable: true },
          );
        }
        throw error;
      }
    },
    async delete(key) {
      await client.delete(ref(key));
    },
  };
}
