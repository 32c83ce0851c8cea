import { isPlainObject, jsonEqual } from '../object.ts';
import type { StatusCause } from '../status.ts';
import { type Schema, valuesSchema } from './load.ts';

// Schema validation of a custom resource, with the messages kube-apiserver gives (kube-openapi's
// validate package, converted to field errors by apiextensions-apiserver's
// pkg/apiserver/validation/validation.go, and pkg/apiserver/schema/listtype for list types).

type Obj = Record<string, unknown>;

const jsonType = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? 'integer'
          : 'number'
        : typeof v;

const quote = (v: unknown): string => JSON.stringify(v);

/** Patterns are RE2; JavaScript's unicode mode reads the ones CRDs use the same way. */
const patterns = new Map<string, RegExp>();
function pattern(source: string): RegExp {
  let re = patterns.get(source);
  if (!re) {
    try {
      re = new RegExp(source, 'u');
    } catch {
      re = new RegExp(source);
    }
    patterns.set(source, re);
  }
  return re;
}
const invalid = (field: string, value: unknown, detail: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${quote(value)}: ${detail}`,
});

function typeMatches(v: unknown, schema: Schema): boolean {
  const t = jsonType(v);
  if (schema['x-kubernetes-int-or-string']) return t === 'integer' || t === 'string';
  if (!schema.type) return true;
  if (schema.type === 'number') return t === 'number' || t === 'integer';
  return t === schema.type;
}

const FORMATS: Record<string, (s: string) => boolean> = {
  ipv4: (s) => /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s),
  ipv6: (s) => /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':') && s.split('::').length <= 2,
  'date-time': (s) =>
    /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) &&
    !Number.isNaN(Date.parse(s)),
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
};

function goValue(v: unknown): string {
  if (isPlainObject(v))
    return `map[string]interface {}{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${JSON.stringify(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v);
}

/** Duplicates in `x-kubernetes-list-type: set` and `map` lists. */
function listTypeCauses(items: unknown[], schema: Schema, path: string, causes: StatusCause[]): void {
  const type = schema['x-kubernetes-list-type'];
  if (type !== 'set' && type !== 'map') return;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const keyOf = (item: unknown): unknown =>
    type === 'set'
      ? item
      : Object.fromEntries(
          keys.map((k) => [k, (item as Obj)[k] ?? (schema.items?.properties?.[k]?.default as unknown)]),
        );
  const seen: unknown[] = [];
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (seen.some((s) => jsonEqual(s, key)))
      causes.push({
        reason: 'FieldValueDuplicate',
        field: `${path}[${i}]`,
        message: `Duplicate value: ${goValue(key)}`,
      });
    else seen.push(key);
  });
}

function combinators(v: unknown, schema: Schema, path: string, causes: StatusCause[]): void {
  const passes = (s: Schema) => {
    const inner: StatusCause[] = [];
    validateValue(v, s, path, inner, true);
    return inner.length === 0;
  };
  const name = path || '<root>';
  if (schema.allOf && !schema.allOf.every(passes))
    causes.push(invalid(path, jsonType(v), `${name} in body must validate all the schemas (allOf)`));
  if (schema.anyOf && !schema.anyOf.some(passes))
    causes.push(invalid(path, jsonType(v), `${name} in body must validate at least one schema (anyOf)`));
  if (schema.oneOf && schema.oneOf.filter(passes).length !== 1)
    causes.push(invalid(path, jsonType(v), `${name} in body must validate one and only one schema (oneOf)`));
  if (schema.not && passes(schema.not))
    causes.push(invalid(path, jsonType(v), `${name} in body must not validate the schema (not)`));
}

/**
 * Validates a value against its schema, appending causes. `inner` is set inside allOf/anyOf/oneOf/not,
 * whose branches are value validations only (structural schemas put no types there).
 */
function validateValue(v: unknown, schema: Schema, path: string, causes: StatusCause[], inner = false): void {
  if (v === null && (schema.nullable || inner)) return;
  if (!inner && !typeMatches(v, schema)) {
    const expected = schema['x-kubernetes-int-or-string'] ? 'integer,string' : schema.type;
    causes.push(
      invalid(
        path,
        jsonType(v),
        `${path} in body must be of type ${expected}: ${JSON.stringify(jsonType(v))}`,
      ),
    );
    return;
  }
  if (inner && schema.type && !typeMatches(v, schema)) {
    causes.push(invalid(path, jsonType(v), 'type'));
    return;
  }
  if (schema.enum && !schema.enum.some((e) => jsonEqual(e, v)))
    causes.push({
      reason: 'FieldValueNotSupported',
      field: path,
      message: `Unsupported value: ${quote(v)}: supported values: ${schema.enum.map((e) => quote(e)).join(', ')}`,
    });
  if (typeof v === 'string') {
    const length = [...v].length;
    if (schema.maxLength !== undefined && length > schema.maxLength)
      causes.push({
        reason: 'FieldValueTooLong',
        field: path,
        message: `Too long: may not be more than ${schema.maxLength} bytes`,
      });
    if (schema.minLength !== undefined && length < schema.minLength)
      causes.push(invalid(path, v, `${path} in body should be at least ${schema.minLength} chars long`));
    if (schema.pattern !== undefined && !pattern(schema.pattern).test(v))
      causes.push(invalid(path, v, `${path} in body should match '${schema.pattern}'`));
    const format = schema.format ? FORMATS[schema.format] : undefined;
    if (format && !format(v))
      causes.push(invalid(path, v, `${path} in body must be of type ${schema.format}: ${JSON.stringify(v)}`));
  }
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? v <= schema.minimum : v < schema.minimum))
      causes.push(
        invalid(
          path,
          v,
          `${path} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`,
        ),
      );
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? v >= schema.maximum : v > schema.maximum))
      causes.push(
        invalid(
          path,
          v,
          `${path} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`,
        ),
      );
  }
  if (Array.isArray(v)) {
    if (schema.maxItems !== undefined && v.length > schema.maxItems)
      causes.push({
        reason: 'FieldValueTooMany',
        field: path,
        message: `Too many: ${v.length}: must have at most ${schema.maxItems} items`,
      });
    if (schema.minItems !== undefined && v.length < schema.minItems)
      causes.push(invalid(path, v.length, `${path} in body should have at least ${schema.minItems} items`));
    listTypeCauses(v, schema, path, causes);
    if (schema.items)
      v.forEach((item, i) => {
        validateValue(item, schema.items as Schema, `${path}[${i}]`, causes, inner);
      });
  }
  if (isPlainObject(v)) {
    const obj = v as Obj;
    for (const name of schema.required ?? [])
      if (obj[name] === undefined)
        causes.push({
          reason: 'FieldValueRequired',
          field: path ? `${path}.${name}` : name,
          message: 'Required value',
        });
    const count = Object.values(obj).filter((x) => x !== undefined).length;
    if (schema.maxProperties !== undefined && count > schema.maxProperties)
      causes.push({
        reason: 'FieldValueTooMany',
        field: path,
        message: `Too many: ${count}: must have at most ${schema.maxProperties} items`,
      });
    if (schema.minProperties !== undefined && count < schema.minProperties)
      causes.push(
        invalid(path, count, `${path} in body should have at least ${schema.minProperties} properties`),
      );
    const extra = valuesSchema(schema);
    for (const [key, child] of Object.entries(obj)) {
      if (child === undefined) continue;
      const prop = schema.properties?.[key];
      if (prop) validateValue(child, prop, path ? `${path}.${key}` : key, causes, inner);
      else if (extra) validateValue(child, extra, `${path}[${key}]`, causes, inner);
    }
  }
  combinators(v, schema, path, causes);
}

/** The schema's causes for a custom resource's fields (metadata is the server's and checked elsewhere). */
export function validateSchema(obj: Obj, schema: Schema): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata' || value === undefined) continue;
    const prop = schema.properties?.[key];
    if (prop) validateValue(value, prop, key, causes);
  }
  for (const name of schema.required ?? [])
    if (obj[name] === undefined)
      causes.push({ reason: 'FieldValueRequired', field: name, message: 'Required value' });
  return causes;
}
