import { clone, isPlainObject, jsonEqual, type KubeObject, type ManagedFieldsEntry } from './object.ts';
import { MERGE_KEYS } from './patch.ts';
import type { StatusCause } from './status.ts';

// Server-side apply: who owns which field, and what an apply may change. A subset of
// structured-merge-diff: maps merge field by field, the keyed lists of built-in kinds merge item
// by item, every other list (all lists of custom resources, like a VirtualService's `http`) is
// atomic and owned whole.

/** A field path: segments like `f:spec`, `f:replicas`, `k:{"name":"nginx"}`. */
type FieldPath = string[];
const SEP = '\u0001';
const join = (p: FieldPath) => p.join(SEP);
const split = (s: string): FieldPath => (s === '' ? [] : s.split(SEP));

const IGNORED_TOP = new Set(['apiVersion', 'kind', 'status']);
const IGNORED_META = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'deletionTimestamp',
  'selfLink',
]);

function listKey(field: string, items: unknown[], builtin: boolean): string | undefined {
  if (!builtin) return undefined;
  if (field === 'ports') {
    const sample = items.find(isPlainObject);
    return sample && 'containerPort' in sample ? 'containerPort' : 'port';
  }
  return MERGE_KEYS[field];
}

/** The leaf fields a value sets. */
export function fieldSet(obj: unknown, builtin: boolean): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, path: FieldPath, field: string) => {
    if (isPlainObject(v)) {
      const all = Object.entries(v);
      const entries = all.filter(([k]) => {
        if (path.length === 0) return !IGNORED_TOP.has(k);
        if (path.length === 1 && path[0] === 'f:metadata') return !IGNORED_META.has(k);
        return true;
      });
      if (all.length === 0 && path.length > 0) out.add(join(path));
      for (const [k, child] of entries) walk(child, [...path, `f:${k}`], k);
      return;
    }
    if (Array.isArray(v)) {
      const key = listKey(field, v, builtin);
      if (key && v.every((i) => isPlainObject(i) && i[key] !== undefined)) {
        for (const item of v as Record<string, unknown>[]) {
          const itemPath = [...path, `k:${JSON.stringify({ [key]: item[key] })}`];
          out.add(join(itemPath));
          walk(item, itemPath, '');
        }
        return;
      }
    }
    out.add(join(path));
  };
  walk(obj, [], '');
  return out;
}

function valueAt(obj: unknown, path: FieldPath): unknown {
  let cur = obj;
  for (const seg of path) {
    if (seg.startsWith('f:')) cur = isPlainObject(cur) ? cur[seg.slice(2)] : undefined;
    else {
      const key = JSON.parse(seg.slice(2)) as Record<string, unknown>;
      const [k, v] = Object.entries(key)[0] as [string, unknown];
      cur = Array.isArray(cur) ? cur.find((i) => isPlainObject(i) && i[k] === v) : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

function removeAt(obj: unknown, path: FieldPath): void {
  const parent = valueAt(obj, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  if (last.startsWith('f:') && isPlainObject(parent)) delete parent[last.slice(2)];
  else if (last.startsWith('k:') && Array.isArray(parent)) {
    const [k, v] = Object.entries(JSON.parse(last.slice(2)) as Record<string, unknown>)[0] as [
      string,
      unknown,
    ];
    const i = parent.findIndex((it) => isPlainObject(it) && it[k] === v);
    if (i >= 0) parent.splice(i, 1);
  }
}

function mergeApplied(cur: unknown, cfg: unknown, field: string, builtin: boolean): unknown {
  if (isPlainObject(cfg)) {
    const out: Record<string, unknown> = isPlainObject(cur) ? { ...cur } : {};
    for (const [k, v] of Object.entries(cfg)) out[k] = mergeApplied(out[k], v, k, builtin);
    return out;
  }
  if (Array.isArray(cfg) && Array.isArray(cur)) {
    const key = listKey(field, cfg, builtin);
    if (key) {
      const out = cur.map(clone);
      for (const item of cfg) {
        const i = out.findIndex((o) => isPlainObject(o) && isPlainObject(item) && o[key] === item[key]);
        if (i >= 0) out[i] = mergeApplied(out[i], item, '', builtin);
        else out.push(clone(item));
      }
      return out;
    }
  }
  return clone(cfg);
}

/** `{"f:spec":{"f:replicas":{}}}` ⇄ a set of paths. */
export function toFieldsV1(set: Set<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of set) {
    let node = root;
    for (const seg of split(p)) {
      node[seg] ??= {};
      node = node[seg] as Record<string, unknown>;
    }
    node['.'] = {};
  }
  // A node that is both a leaf and a parent keeps "."; a pure leaf becomes {}.
  const tidy = (n: Record<string, unknown>) => {
    const keys = Object.keys(n);
    if (keys.length === 1 && keys[0] === '.') delete n['.'];
    for (const k of Object.keys(n)) if (k !== '.') tidy(n[k] as Record<string, unknown>);
  };
  tidy(root);
  return root;
}

export function fromFieldsV1(fields: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const walk = (n: Record<string, unknown>, path: FieldPath) => {
    const keys = Object.keys(n);
    if (path.length > 0 && (keys.length === 0 || keys.includes('.'))) out.add(join(path));
    for (const k of keys) if (k !== '.') walk(n[k] as Record<string, unknown>, [...path, k]);
  };
  walk(fields, []);
  return out;
}

const overlaps = (a: string, b: string) => a === b || a.startsWith(b + SEP) || b.startsWith(a + SEP);
const display = (p: string) =>
  split(p)
    .map((s) => (s.startsWith('f:') ? `.${s.slice(2)}` : `[${s.slice(2)}]`))
    .join('');

export interface ApplyResult {
  object: KubeObject;
  conflicts: StatusCause[];
}

/** Applies `config` as `manager`. Conflicts (a field another manager set to a different value) refuse the apply unless forced. */
export function serverSideApply(
  current: KubeObject | undefined,
  config: KubeObject,
  manager: string,
  options: { force: boolean; builtin: boolean; apiVersion: string; now: string },
): ApplyResult {
  const base: KubeObject = current ? clone(current) : { metadata: {} };
  const entries = (base.metadata.managedFields ?? []).map((e) => ({ ...e, set: fromFieldsV1(e.fieldsV1) }));
  const applied = fieldSet(config, options.builtin);
  const conflicts: StatusCause[] = [];
  for (const f of applied) {
    for (const e of entries) {
      if (e.manager === manager && e.operation === 'Apply') continue;
      for (const owned of [...e.set]) {
        if (!overlaps(owned, f)) continue;
        const shorter = split(owned.length < f.length ? owned : f);
        if (jsonEqual(valueAt(base, shorter), valueAt(config, shorter))) continue;
        if (options.force) e.set.delete(owned);
        else
          conflicts.push({
            reason: 'FieldManagerConflict',
            field: display(owned),
            message: `conflict with "${e.manager}"${e.operation === 'Update' ? ` using ${e.apiVersion}` : ''}: ${display(owned)}`,
          });
      }
    }
  }
  if (conflicts.length > 0) return { object: base, conflicts };

  const mine = entries.find((e) => e.manager === manager && e.operation === 'Apply');
  // Fields this manager applied before and no longer applies are removed, unless someone else owns them.
  for (const f of mine?.set ?? []) {
    if (applied.has(f)) continue;
    const ownedElsewhere = entries.some((e) => e !== mine && [...e.set].some((o) => overlaps(o, f)));
    if (!ownedElsewhere) removeAt(base, split(f));
  }
  const { apiVersion: _a, kind: _k, status: _s, ...cfgRest } = config;
  const merged = mergeApplied(base, cfgRest, '', options.builtin) as KubeObject;
  for (const e of entries)
    if (e !== mine)
      for (const f of applied)
        for (const o of [...e.set]) if (o === f && e.operation === 'Update') e.set.delete(o);
  const next = entries.filter((e) => e !== mine && e.set.size > 0);
  next.push({
    manager,
    operation: 'Apply',
    apiVersion: options.apiVersion,
    time: options.now,
    fieldsType: 'FieldsV1',
    fieldsV1: {},
    set: applied,
  });
  merged.metadata.managedFields = next.map(({ set, ...e }) => ({
    ...e,
    fieldsV1: toFieldsV1(set),
  })) as ManagedFieldsEntry[];
  return { object: merged, conflicts: [] };
}

/** After a non-apply write: the writer owns every field it changed, taken from whoever had it. */
export function recordUpdate(
  old: KubeObject | undefined,
  next: KubeObject,
  manager: string,
  options: { builtin: boolean; apiVersion: string; now: string; subresource?: string },
): void {
  const before = old ? fieldSet(old, options.builtin) : new Set<string>();
  const after = fieldSet(next, options.builtin);
  const changed = new Set<string>();
  for (const f of after)
    if (!before.has(f) || !jsonEqual(valueAt(old, split(f)), valueAt(next, split(f)))) changed.add(f);
  const entries = (old?.metadata.managedFields ?? []).map((e) => ({ ...e, set: fromFieldsV1(e.fieldsV1) }));
  for (const e of entries) {
    for (const o of [...e.set]) {
      if (!after.has(o) && ![...after].some((a) => a.startsWith(o + SEP))) e.set.delete(o);
      else if (
        [...changed].some((c) => overlaps(c, o)) &&
        !(e.manager === manager && e.operation === 'Update')
      )
        e.set.delete(o);
    }
  }
  if (changed.size > 0) {
    let mine = entries.find(
      (e) => e.manager === manager && e.operation === 'Update' && e.subresource === options.subresource,
    );
    if (!mine) {
      mine = {
        manager,
        operation: 'Update',
        apiVersion: options.apiVersion,
        time: options.now,
        fieldsType: 'FieldsV1',
        fieldsV1: {},
        set: new Set(),
        ...(options.subresource ? { subresource: options.subresource } : {}),
      };
      entries.push(mine);
    }
    for (const c of changed) mine.set.add(c);
    mine.time = options.now;
  }
  next.metadata.managedFields = entries
    .filter((e) => e.set.size > 0)
    .map(({ set, ...e }) => ({ ...e, fieldsV1: toFieldsV1(set) })) as ManagedFieldsEntry[];
}
