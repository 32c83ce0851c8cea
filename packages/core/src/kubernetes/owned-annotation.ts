// What an object was before Kanary changed it, kept on the object itself in an annotation of
// Kanary's own, so any process (a successor, the agent, `abort --force`) can put it back. One
// place for reading, writing and removing it, used by every router and the Deployment driver.

interface Annotated {
  metadata: { annotations?: Record<string, string> };
}

/** The record Kanary keeps under `key`, parsed; undefined when there is none. */
export function readOwnedAnnotation<T>(obj: Annotated | undefined, key: string): T | undefined {
  const saved = obj?.metadata.annotations?.[key];
  return saved === undefined ? undefined : (JSON.parse(saved) as T);
}

/**
 * The object with Kanary's record under `key` set to `value` (as JSON), or removed when `value` is
 * undefined. Removing the last annotation drops the map as well, unless the object had one before
 * Kanary touched it (`hadAnnotations`): the person's object ends as it was, byte for byte.
 */
export function withOwnedAnnotation<T extends Annotated>(
  obj: T,
  key: string,
  value: unknown,
  hadAnnotations = false,
): T {
  const annotations = { ...(obj.metadata.annotations ?? {}) };
  if (value === undefined) delete annotations[key];
  else annotations[key] = JSON.stringify(value);
  const metadata = { ...obj.metadata, annotations };
  if (value === undefined && Object.keys(annotations).length === 0 && !hadAnnotations)
    delete (metadata as { annotations?: unknown }).annotations;
  return { ...obj, metadata };
}

/** A snapshot as kept on the object: the router's record plus whether the object had annotations. */
export type Snapshot<S> = S & { hadAnnotations: boolean };

/**
 * What an object was before Kanary first changed it, kept under one owned annotation so that
 * finishing can put it back. Taken at the first write and never again: later writes carry the
 * saved one, so a restore always returns to the person's object, not to an intermediate state.
 */
export interface OwnedSnapshot<S, O extends Annotated> {
  readonly key: string;
  /** The snapshot saved on `obj`; undefined before Kanary's first write. */
  saved(obj: O | undefined): Snapshot<S> | undefined;
  /** The saved snapshot, or `obj` as it is now (what the first write saves). */
  of(obj: O): Snapshot<S>;
  /** `next` carrying `snapshot`. */
  keep<T extends Annotated>(next: T, snapshot: Snapshot<S>): T;
  /**
   * `next` without the snapshot, and without the annotation map when Kanary brought it; an
   * unknown snapshot keeps the map (the safe side: an empty map is harmless, a lost one is not).
   */
  drop<T extends Annotated>(next: T, snapshot: Snapshot<S> | undefined): T;
}

/**
 * Where a router keeps one rollout's snapshot of an object it shares with people and other
 * rollouts (a VirtualService, an HTTPRoute): one annotation per rollout.
 */
export const originalAnnotation = (rollout: string): string => `kanary.dev/original.${rollout}`;

/** An owned snapshot under `key`, `capture` saying what of the object to keep. */
export function ownedSnapshot<S extends object, O extends Annotated>(
  key: string,
  capture: (obj: O) => S,
): OwnedSnapshot<S, O> {
  const saved = (obj: O | undefined) => readOwnedAnnotation<Snapshot<S>>(obj, key);
  return {
    key,
    saved,
    of: (obj) => saved(obj) ?? { ...capture(obj), hadAnnotations: obj.metadata.annotations !== undefined },
    keep: (next, snapshot) => withOwnedAnnotation(next, key, snapshot),
    drop: (next, snapshot) => withOwnedAnnotation(next, key, undefined, snapshot?.hadAnnotations ?? true),
  };
}
