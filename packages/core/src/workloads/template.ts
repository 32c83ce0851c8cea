import { canonicalJson } from '../engine/digest.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';

type Obj = Record<string, unknown>;
type Template = {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Obj;
};

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Deep merge where arrays of named items (containers, env, volumes) merge by name. */
function deepMerge(base: unknown, patch: unknown): unknown {
  if (
    Array.isArray(patch) &&
    Array.isArray(base) &&
    patch.every((p) => isObj(p) && typeof p.name === 'string')
  ) {
    const out = base.map((b) => structuredClone(b));
    for (const p of patch as Obj[]) {
      const i = out.findIndex((b) => isObj(b) && b.name === p.name);
      if (i >= 0) out[i] = deepMerge(out[i], p);
      else out.push(structuredClone(p));
    }
    return out;
  }
  if (!isObj(patch) || !isObj(base)) return structuredClone(patch);
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = v === null ? undefined : deepMerge(base[k], v);
  return out;
}

/** The stable pod template with the spec's `update` applied: a partial template merged, then the image. */
export function mergeTemplate(stable: Template, update: RolloutSpec['update']): Template {
  let template = structuredClone(stable);
  if (update?.template)
    template =
      update.templateMode === 'replace'
        ? (structuredClone(update.template) as Template)
        : (deepMerge(template, update.template) as Template);
  if (update?.image) {
    const containers = (template.spec.containers as Obj[] | undefined) ?? [];
    const index = update.container ? containers.findIndex((c) => c.name === update.container) : 0;
    const container = containers[index];
    if (container) container.image = update.image;
  }
  return template;
}

function withoutHash(t: unknown): unknown {
  const c = withoutNulls(t) as Template | undefined;
  if (c?.metadata?.labels) delete c.metadata.labels['pod-template-hash'];
  return c;
}

/**
 * A JSON null is Go's zero value, the same as an absent field: `kubectl rollout undo` writes the
 * template with `creationTimestamp: null` and the controller reuses the earlier ReplicaSet, whose
 * copy may not spell it out. Compared as the controller does, not as text.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObj(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

/** Every field `want` sets holds the same value in `have` (which may carry server defaults). */
function covers(have: unknown, want: unknown): boolean {
  if (want === undefined) return true;
  if (Array.isArray(want))
    return Array.isArray(have) && have.length === want.length && want.every((w, i) => covers(have[i], w));
  if (isObj(want)) return isObj(have) && Object.entries(want).every(([k, v]) => covers(have[k], v));
  return have === want;
}

/**
 * Whether the object's template (`actual`, as the server returns it, defaults filled in) is the
 * template we want. Ignores pod-template-hash; extra defaulted fields on `actual` do not count.
 */
/**
 * Whether two templates the server returned are the same revision: exactly equal but for the
 * pod-template-hash. An added annotation (`kubectl rollout restart`) is a new revision.
 */
export function sameRevision(a: unknown, b: unknown): boolean {
  return revisionText(a) === revisionText(b);
}

/** Exactly the same template, but for the pod-template-hash label (two server-defaulted templates). */
export function templatesIdentical(a: unknown, b: unknown): boolean {
  return revisionText(a) === revisionText(b);
}

// A frozen template (one the watch cache shares: a ReplicaSet's, compared on every look) cannot
// change, so its text is made once.
const revisionTexts = new WeakMap<object, string>();
function revisionText(t: unknown): string {
  const frozen = isObj(t) && Object.isFrozen(t);
  const known = frozen ? revisionTexts.get(t) : undefined;
  if (known !== undefined) return known;
  const text = canonicalJson(withoutHash(t));
  if (frozen) revisionTexts.set(t, text);
  return text;
}

export function templatesEqual(actual: unknown, wanted: unknown): boolean {
  const a = withoutHash(actual);
  const w = withoutHash(wanted);
  return canonicalJson(a) === canonicalJson(w) || covers(a, w);
}
