import type { RolloutState } from '../engine/state.ts';
import { KanaryError } from '../errors/kanary-error.ts';
import type { RolloutKey } from '../ports/refs.ts';
import type { StateStore, StoredState } from '../ports/store.ts';

export interface MemoryStateStore extends StateStore {
  /** Every state saved, in order (deep copies), for tests that resume from any of them. */
  readonly history: ReadonlyArray<{ key: RolloutKey; state: RolloutState; revision: string }>;
}

const id = (k: RolloutKey) => `${k.namespace}/${k.name}`;

/**
 * Compare-and-swap store in memory. States go through JSON on the way in and out, so anything
 * that would not survive the cluster store fails here too.
 */
export function createMemoryStateStore(): MemoryStateStore {
  const data = new Map<string, { json: string; revision: number }>();
  const history: Array<{ key: RolloutKey; state: RolloutState; revision: string }> = [];
  let counter = 0;
  return {
    history,
    async load(key): Promise<StoredState | undefined> {
      const entry = data.get(id(key));
      return entry
        ? { state: JSON.parse(entry.json) as RolloutState, revision: String(entry.revision) }
        : undefined;
    },
    async save(key, state, expectedRevision) {
      const current = data.get(id(key));
      const currentRevision = current ? String(current.revision) : undefined;
      if (currentRevision !== expectedRevision) {
        throw new KanaryError(
          'CONFLICT',
          `state of ${id(key)} changed (revision ${currentRevision ?? 'none'}, expected ${expectedRevision ?? 'none'})`,
          { retryable: true },
        );
      }
      const json = JSON.stringify(state);
      counter += 1;
      data.set(id(key), { json, revision: counter });
      history.push({ key, state: JSON.parse(json) as RolloutState, revision: String(counter) });
      return String(counter);
    },
    async delete(key) {
      data.delete(id(key));
    },
  };
}
