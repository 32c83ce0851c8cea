import { isPlainObject } from '../object.ts';
import { type Schema, valuesSchema } from './load.ts';

// Pruning and defaulting of custom resources by their structural schema, in the order
// kube-apiserver applies them to a request body (k8s.io/apiextensions-apiserver,
// pkg/apiserver/schema/pruning/algorithm.go and pkg/apiserver/schema/defaulting/algorithm.go):
// unknown fields are dropped first (and reported, for fieldValidation), then defaults fill what is
// missing, top-down, so a default object is itself defaulted.

type Obj = Record<string, unknown>;

const childPath = (path: string, key: string) => (path ? `${path}.${key}` : key);

function pruneValue(value: unknown, schema: Schema | undefined, path: string, unknown: string[]): void {
  if (!schema || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      pruneValue(item, schema.items, `${path}[${i}]`, unknown);
    });
    return;
  }
  const obj = value as Obj;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const extra = schema.additionalProperties;
  for (const key of Object.keys(obj)) {
    const known = schema.properties?.[key];
    if (known) pruneValue(obj[key], known, childPath(path, key), unknown);
    else if (isPlainObject(extra)) pruneValue(obj[key], extra as Schema, `${path}[${key}]`, unknown);
    else if (!preserve && extra !== true) {
      unknown.push(childPath(path, key));
      delete obj[key];
    }
  }
}

/**
 * Drops (in place) every field the schema does not know and returns their paths. The root's
 * apiVersion, kind and metadata are the server's (metadata is pruned as an ObjectMeta elsewhere).
 */
export function prune(obj: Obj, schema: Schema): string[] {
  const unknown: string[] = [];
  const server: Schema = { 'x-kubernetes-preserve-unknown-fields': true };
  const root = {
    ...schema,
    properties: { ...schema.properties, apiVersion: server, kind: server, metadata: server },
  };
  pruneValue(obj, root, '', unknown);
  return unknown;
}

const nonNullableNull = (value: unknown, schema: Schema) => value === null && schema.nullable !== true;

/** Fills defaults (in place), and drops nulls the schema does not allow and has no default for. */
export function applySchemaDefaults(value: unknown, schema: Schema | undefined): void {
  if (!schema || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    for (let i = 0; i < value.length; i++) {
      if (nonNullableNull(value[i], items) && items.default !== undefined)
        value[i] = structuredClone(items.default);
      applySchemaDefaults(value[i], items);
    }
    return;
  }
  const obj = value as Obj;
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const missing = !(key in obj) || nonNullableNull(obj[key], prop);
    if (!missing) continue;
    if (prop.default !== undefined && !nonNullableNull(prop.default, prop))
      obj[key] = structuredClone(prop.default);
    else if (key in obj) delete obj[key];
  }
  const extra = valuesSchema(schema);
  for (const [key, child] of Object.entries(obj)) {
    const prop = schema.properties?.[key] ?? extra;
    if (prop) applySchemaDefaults(child, prop);
  }
}

/** Puts an object's keys in the order Go's encoding/json writes a map (sorted), at every level. */
export function sortKeysInPlace(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) sortKeysInPlace(item);
    return;
  }
  if (!isPlainObject(value)) return;
  const obj = value as Obj;
  const entries = Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key] of entries) delete obj[key];
  for (const [key, child] of entries) {
    sortKeysInPlace(child);
    obj[key] = child;
  }
}
