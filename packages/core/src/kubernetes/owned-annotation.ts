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
