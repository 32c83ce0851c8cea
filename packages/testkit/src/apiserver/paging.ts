import type { KubeObject } from './object.ts';
import { errors } from './status.ts';

interface Snapshot {
  items: KubeObject[];
  resourceVersion: string;
}

/**
 * `limit` and `continue` on lists. kube-apiserver serves every page of a chunked list from the
 * snapshot of its first page (etcd at that revision) and answers 410 Expired once that revision
 * is compacted; here the first page keeps its result, and the oldest snapshots are dropped
 * beyond a bound, which expires their tokens the same way.
 */
export class ListPages {
  readonly #snapshots = new Map<string, Snapshot>();
  #seq = 0;
  readonly #keep: number;
  constructor(keep = 64) {
    this.#keep = keep;
  }

  page(
    list: () => KubeObject[],
    resourceVersion: string,
    limitParam: string | null,
    continueParam: string | null,
  ): {
    items: KubeObject[];
    metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  } {
    const limit = limitParam === null ? 0 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 0) throw errors.badRequest(`invalid limit: ${limitParam}`);
    let id: string;
    let offset = 0;
    let snapshot: Snapshot | undefined;
    if (continueParam) {
      const token = decodeToken(continueParam);
      snapshot = this.#snapshots.get(token.id);
      if (!snapshot)
        throw errors.gone(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      id = token.id;
      offset = token.offset;
    } else {
      id = String(++this.#seq);
      snapshot = { items: list(), resourceVersion };
    }
    const end = limit > 0 ? offset + limit : snapshot.items.length;
    const items = snapshot.items.slice(offset, end);
    const remaining = snapshot.items.length - end;
    if (remaining <= 0) {
      this.#snapshots.delete(id);
      return { items, metadata: { resourceVersion: snapshot.resourceVersion } };
    }
    this.#snapshots.set(id, snapshot);
    while (this.#snapshots.size > this.#keep)
      this.#snapshots.delete(this.#snapshots.keys().next().value as string);
    return {
      items,
      metadata: {
        resourceVersion: snapshot.resourceVersion,
        continue: Buffer.from(JSON.stringify({ id, offset: end })).toString('base64url'),
        remainingItemCount: remaining,
      },
    };
  }
}

function decodeToken(text: string): { id: string; offset: number } {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as {
      id?: unknown;
      offset?: unknown;
    };
    if (typeof token.id === 'string' && typeof token.offset === 'number' && token.offset >= 0)
      return { id: token.id, offset: token.offset };
  } catch {
    // falls through to the refusal
  }
  throw errors.badRequest('continue key is not valid');
}
