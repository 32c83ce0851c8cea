import type { RolloutState } from '../engine/state.ts';
import { corruptState } from '../engine/state-check.ts';
import { isKanaryError, KanaryError } from '../errors/kanary-error.ts';
import type { KubeClient, KubeObject, ObjectRef } from '../kubernetes/client.ts';
import { ownedLabels } from '../kubernetes/labels.ts';
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
      // Only read (the state is parsed from its text): the cache's frozen object, not a copy.
      const cm = await client.getView<ConfigMap>(ref(key));
      if (!cm) return undefined;
      const where = `ConfigMap ${key.namespace}/${ref(key).name}`;
      const revision = cm.metadata.resourceVersion as string;
      const text = cm.data?.['state.json'];
      if (!text) throw corruptState(key, where, ['it has no state.json'], { revision });
      try {
        return { state: JSON.parse(text) as RolloutState, revision };
      } catch (error) {
        throw corruptState(key, where, [`state.json is not JSON (${(error as Error).message})`], {
          revision,
        });
      }
    },
    async save(key, state, expectedRevision) {
      const body: ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: ref(key).name,
          namespace: key.namespace,
          labels: ownedLabels(key.name),
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
        if (isKanaryError(error, 'CONFLICT')) {
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
    onChange(key, listener) {
      const name = ref(key).name;
      // A relist (no object) may hide any change: told as one.
      return client.onChange('v1', 'ConfigMap', key.namespace, (changed) => {
        if (!changed || changed.metadata.name === name) listener();
      });
    },
    watching(key) {
      return client.watching('v1', 'ConfigMap', key.namespace);
    },
  };
}
