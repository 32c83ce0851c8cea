import { type CelResult, celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { isPlainObject } from '../object.ts';
import type { StatusCause } from '../status.ts';
import { type Schema, type ValidationRule, valuesSchema } from './load.ts';

// The CRDs' `x-kubernetes-validations` rules, evaluated with a maintained CEL implementation
// (@bufbuild/cel: tested against the cel-spec conformance suite, RE2 for `matches()` as in
// kube-apiserver, and the strings extension the Gateway API rules use; see docs/decisions.md).
// How the rules are applied follows apiextensions-apiserver's pkg/apiserver/schema/cel/validation.go:
// - a rule runs where its schema node has a value, with `self` that value typed by the schema
//   (integers are CEL ints);
// - a transition rule (one that names `oldSelf`) runs only on an update with a correlatable old
//   value: same property path, map lists by their keys — never list items by index;
// - a false rule is a FieldValueInvalid cause at the node (or its `fieldPath`) worded
//   `Invalid value: "<schema type>": <message>`; the message defaults to "failed rule: <rule>"; an
//   evaluation error is "<error> evaluating rule: <rule>".
// Not followed: cost budgets (the vendored rules are all cheap) and ratcheting (errors on
// unchanged values stay errors: stricter than a cluster with CRDValidationRatcheting, never kinder).

type Obj = Record<string, unknown>;

type Program = (bindings: Record<string, unknown>) => CelResult;
const env = celEnv({ funcs: strings });
const compiled = new Map<string, Program | Error>();

function compile(rule: string): Program | Error {
  let program = compiled.get(rule);
  if (!program) {
    try {
      program = plan(env, parse(rule)) as Program;
    } catch (error) {
      program = error as Error;
    }
    compiled.set(rule, program);
  }
  return program;
}

const RESERVED = new Set([
  ...['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function'],
  ...['if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while'],
]);

/**
 * A property's name in CEL: reserved words and characters CEL identifiers cannot hold are escaped
 * (`namespace` is `__namespace__`, `a.b-c` is `a__dot__b__dash__c`), as apiserver/pkg/cel escapes them.
 */
function celName(name: string): string {
  if (RESERVED.has(name)) return `__${name}__`;
  return name
    .replace(/__/g, '__underscores__')
    .replace(/\./g, '__dot__')
    .replace(/-/g, '__dash__')
    .replace(/\//g, '__slash__');
}

/** A JSON value as CEL sees it under its schema: objects are maps, integers CEL ints (bigint). */
function toCel(value: unknown, schema: Schema | undefined): unknown {
  if (value === undefined) return undefined;
  if (typeof value === 'number')
    return Number.isInteger(value) && schema?.type !== 'number' ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map((v) => toCel(v, schema?.items));
  if (isPlainObject(value)) {
    const extra = valuesSchema(schema);
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    // A map (additionalProperties) keeps its keys; an object's properties are CEL fields.
    if (extra) return new Map(entries.map(([k, v]) => [k, toCel(v, extra)]));
    return new Map(entries.map(([k, v]) => [celName(k), toCel(v, schema?.properties?.[k])]));
  }
  return value;
}

const schemaType = (schema: Schema, value: unknown): string =>
  schema.type ??
  (schema['x-kubernetes-int-or-string'] ? (typeof value === 'string' ? 'string' : 'integer') : 'object');

const ruleText = (rule: ValidationRule) => (rule.message ?? rule.rule).trim();

function causeFor(path: string, type: string, detail: string, rule?: ValidationRule): StatusCause {
  const field = rule?.fieldPath ? `${path}${rule.fieldPath}` : path;
  switch (rule?.reason) {
    case 'FieldValueForbidden':
      return { reason: rule.reason, field, message: `Forbidden: ${detail}` };
    case 'FieldValueRequired':
      return { reason: rule.reason, field, message: `Required value: ${detail}` };
    case 'FieldValueDuplicate':
      return { reason: rule.reason, field, message: `Duplicate value: ${JSON.stringify(type)}` };
    default:
      return {
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${JSON.stringify(type)}: ${detail}`,
      };
  }
}

function runRules(value: unknown, old: unknown, schema: Schema, path: string, causes: StatusCause[]): void {
  const rules = schema['x-kubernetes-validations'];
  if (!rules) return;
  const type = schemaType(schema, value);
  let self: unknown;
  let oldSelf: unknown;
  for (const rule of rules) {
    const transition = /\boldSelf\b/.test(rule.rule);
    if (transition && old === undefined) continue;
    const program = compile(rule.rule);
    if (program instanceof Error) {
      causes.push(causeFor(path, type, `rule compile error: ${program.message}`));
      continue;
    }
    self ??= toCel(value, schema);
    if (transition) oldSelf ??= toCel(old, schema);
    let result: unknown;
    try {
      result = program(transition ? { self, oldSelf } : { self });
    } catch (error) {
      result = error;
    }
    if (isCelError(result) || result instanceof Error) {
      const message = (result as Error).message.split('\n')[0];
      causes.push(causeFor(path, type, `${message} evaluating rule: ${ruleText(rule)}`));
      continue;
    }
    if (result !== true) {
      const detail = rule.message?.trim() || `failed rule: ${rule.rule.trim()}`;
      causes.push(causeFor(path, type, detail, rule));
    }
  }
}

/** The old value a new one is compared with by transition rules, or undefined. */
function mapListOld(item: unknown, olds: unknown, schema: Schema): unknown {
  if (schema['x-kubernetes-list-type'] !== 'map' || !Array.isArray(olds) || !isPlainObject(item))
    return undefined;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  return olds.find(
    (o) => isPlainObject(o) && keys.every((k) => JSON.stringify(o[k]) === JSON.stringify((item as Obj)[k])),
  );
}

function walk(value: unknown, old: unknown, schema: Schema, path: string, causes: StatusCause[]): void {
  if (value === undefined || value === null) return;
  runRules(value, old, schema, path, causes);
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    value.forEach((item, i) => {
      walk(item, mapListOld(item, old, schema), items, `${path}[${i}]`, causes);
    });
    return;
  }
  if (!isPlainObject(value)) return;
  const correlatable = schema['x-kubernetes-map-type'] !== 'atomic' && isPlainObject(old);
  const extra = valuesSchema(schema);
  for (const [key, child] of Object.entries(value)) {
    const prop = schema.properties?.[key];
    const oldChild = correlatable ? (old as Obj)[key] : undefined;
    if (prop) walk(child, oldChild, prop, path ? `${path}.${key}` : key, causes);
    else if (extra) walk(child, oldChild, extra, `${path}[${key}]`, causes);
  }
}

/** The CEL causes for a custom resource (metadata excluded), `old` set on updates. */
export function celCauses(obj: Obj, old: Obj | undefined, schema: Schema): StatusCause[] {
  const causes: StatusCause[] = [];
  const { metadata: _m, apiVersion: _a, kind: _k, ...rest } = obj;
  const oldRest = old ? (({ metadata: _om, apiVersion: _oa, kind: _ok, ...r }) => r)(old) : undefined;
  walk(rest, oldRest, schema, '', causes);
  return causes;
}
