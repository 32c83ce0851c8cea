import type { RolloutState } from '../engine/state.ts';
import type { RolloutKey } from './refs.ts';

export interface StoredState {
  state: RolloutState;
  /** Opaque version for compare-and-swap (a resourceVersion in the cluster store). */
  revision: string;
}

/**
 * Keeps rollout state. `save` is compare-and-swap: it writes only if the stored revision is still
 * `expectedRevision` (undefined = must not exist yet) and throws KanaryError `CONFLICT` otherwise,
 * so two processes can never overwrite each other's progress.
 */
export interface StateStore {
  load(key: RolloutKey): Promise<StoredState | undefined>;
  save(key: RolloutKey, state: RolloutState, expectedRevision: string | undefined): Promise<string>;
  delete?(key: RolloutKey): Promise<void>;
  /**
   * Calls `listener` when the stored state of `key` may have changed (another process's control),
   * so a held rollout reacts at once instead of at its next sync; returns how to stop. Absent: the
   * engine re-reads every `syncInterval`.
   */
  onChange?(key: RolloutKey, listener: () => void): () => void;
  /**
   * Whether `onChange` is being told now (its watch is open). While it is, a held rollout re-reads
   * the store only as a safety net (every 30 s) instead of every `syncInterval`.
   */
  watching?(key: RolloutKey): boolean;
}
