// "Did you mean": the known field nearest to a misspelt one, by edit distance, found in the JSON
// Schema at the misspelt field's place (every branch of a union counts).

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d = Array.from({ length: s.length + 1 }, (_, i) =>
    Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[s.length] as number[])[t.length] as number;
}

/**
 * The candidate nearest to `word`, if it is near enough to be a slip of the keyboard: at most a
 * third of the word's letters changed (at least one), and no tie with another candidate.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const c of new Set(candidates)) {
    if (c === word) continue;
    const distance = editDistance(word, c);
    if (distance < bestDistance) [best, bestDistance, tie] = [c, distance, false];
    else if (distance === bestDistance) tie = true;
  }
  return best !== undefined && bestDistance <= limit && !tie ? best : undefined;
}

type Schema = Record<string, unknown>;

/** The schemas a value at `path` may be checked against (unions give several). */
function schemasAt(root: Schema, path: readonly PropertyKey[]): Schema[] {
  const defs = {
    ...((root.$defs as Record<string, Schema>) ?? {}),
    ...((root.definitions as Record<string, Schema>) ?? {}),
  };
  const expand = (s: unknown, seen = new Set<unknown>()): Schema[] => {
    if (typeof s !== 'object' || s === null || seen.has(s)) return [];
    seen.add(s);
    const schema = s as Schema;
    const ref =
      typeof schema.$ref === 'string'
        ? defs[schema.$ref.replace(/^#\/(\$defs|definitions)\//, '')]
        : undefined;
    const branches = ['anyOf', 'oneOf', 'allOf'].flatMap((k) => (schema[k] as unknown[] | undefined) ?? []);
    return [schema, ...(ref ? expand(ref, seen) : []), ...branches.flatMap((b) => expand(b, seen))];
  };
  let at = expand(root);
  for (const part of path) {
    at = at.flatMap((s) => {
      if (typeof part === 'number') return expand(s.items);
      const props = s.properties as Record<string, unknown> | undefined;
      return [
        ...(props && String(part) in props ? expand(props[String(part)]) : []),
        ...(typeof s.additionalProperties === 'object' ? expand(s.additionalProperties) : []),
      ];
    });
  }
  return at;
}

/** The field names the schema allows in the object at `path`. */
export function fieldsAt(root: Schema, path: readonly PropertyKey[]): string[] {
  return schemasAt(root, path).flatMap((s) => Object.keys((s.properties as Schema | undefined) ?? {}));
}
