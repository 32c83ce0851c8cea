import { clone, isPlainObject, jsonEqual } from './object.ts';

/** RFC 7386: objects merge, `null` deletes, everything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class PatchError extends Error {}

type Op = { op: string; path: string; value?: unknown; from?: string };

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, path: string[]): unknown {
  let cur = doc;
  for (const p of path) {
    if (Array.isArray(cur)) {
      const i = Number(p);
      if (!/^\d+$/.test(p) || i >= cur.length) throw new PatchError(`path /${path.join('/')} does not exist`);
      cur = cur[i];
    } else if (isPlainObject(cur) && Object.hasOwn(cur, p)) cur = cur[p];
    else throw new PatchError(`path /${path.join('/')} does not exist`);
  }
  return cur;
}

function parentOf(doc: unknown, path: string[]): { parent: unknown; key: string } {
  if (path.length === 0) throw new PatchError('cannot operate on the document root');
  return { parent: getAt(doc, path.slice(0, -1)), key: path[path.length - 1] as string };
}

function add(doc: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!(key === '-' || /^\d+$/.test(key)) || i > parent.length)
      throw new PatchError(`index ${key} is out of range`);
    parent.splice(i, 0, clone(value));
  } else if (isPlainObject(parent)) parent[key] = clone(value);
  else throw new PatchError(`path /${path.join('/')} has no parent object`);
  return doc;
}

function remove(doc: unknown, path: string[]): unknown {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!/^\d+$/.test(key) || i >= parent.length) throw new PatchError(`index ${key} is out of range`);
    parent.splice(i, 1);
  } else if (isPlainObject(parent) && Object.hasOwn(parent, key)) delete parent[key];
  else throw new PatchError(`path /${path.join('/')} does not exist`);
  return doc;
}

/** RFC 6902, including `test`: a failed test refuses the whole patch (the safe read-modify-write). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops as Op[]) {
    const path = parsePointer(raw.path);
    switch (raw.op) {
      case 'add':
        doc = add(doc, path, raw.value);
        break;
      case 'remove':
        doc = remove(doc, path);
        break;
      case 'replace':
        getAt(doc, path);
        doc = path.length === 0 ? clone(raw.value) : add(remove(doc, path), path, raw.value);
        break;
      case 'move': {
        const from = parsePointer(raw.from ?? '');
        const value = getAt(doc, from);
        doc = add(remove(doc, from), path, value);
        break;
      }
      case 'copy':
        doc = add(doc, path, getAt(doc, parsePointer(raw.from ?? '')));
        break;
      case 'test':
        if (!jsonEqual(getAt(doc, path), raw.value)) {
          throw new PatchError(`testing value ${raw.path} failed: test operation does not apply`);
        }
        break;
      default:
        throw new PatchError(`unexpected op "${String(raw.op)}"`);
    }
  }
  return doc;
}

/**
 * The list fields of built-in kinds that strategic merge patch merges by key instead of
 * replacing (the `patchMergeKey`s of the Kubernetes types Kanary's users touch).
 */
export const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  tolerations: 'key',
};

/** Container ports merge by containerPort, Service ports by port. */
function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  if (field === 'ports') {
    const sample = items.find(isPlainObject);
    return sample && 'containerPort' in sample ? 'containerPort' : 'port';
  }
  return MERGE_KEYS[field];
}

/** Strategic merge patch for built-in kinds: keyed lists merge item by item; `$patch` directives. */
export function strategicMergePatch(target: unknown, patch: unknown, field = ''): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    if (Array.isArray(v)) {
      const key = mergeKeyFor(k, v);
      const current = out[k];
      if (key && Array.isArray(current)) {
        const merged = current.map(clone);
        for (const item of v) {
          if (!isPlainObject(item)) continue;
          const idx = merged.findIndex((m) => isPlainObject(m) && m[key] === item[key]);
          if (item.$patch === 'delete') {
            if (idx >= 0) merged.splice(idx, 1);
          } else if (idx >= 0) merged[idx] = strategicMergePatch(merged[idx], item, k);
          else merged.push(strategicMergePatch(undefined, item, k));
        }
        out[k] = merged;
      } else
        out[k] = v
          .filter((i) => !(isPlainObject(i) && i.$patch === 'delete'))
          .map((i) => strategicMergePatch(undefined, i, k));
      continue;
    }
    const next = strategicMergePatch(out[k], v, k);
    if (next === undefined) delete out[k];
    else out[k] = next;
  }
  void field;
  return out;
}
