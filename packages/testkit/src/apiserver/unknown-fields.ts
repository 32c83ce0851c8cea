import * as models from '@kubernetes/client-node';
import { pruneCustomResource } from './crd/index.ts';
import type { KindInfo } from './kinds.ts';
import type { KubeObject } from './object.ts';
import { errors } from './status.ts';

// Field validation as kube-apiserver does it (`fieldValidation` = Strict, Warn or Ignore; Warn by
// default): a field the kind's schema does not know is refused (Strict: 400 "strict decoding
// error"), or dropped with a `Warning` header (Warn), or dropped (Ignore). The schema of the
// built-in kinds is client-node's model table (each model's attributeTypeMap, generated from the
// upstream OpenAPI): no hand-written field list. A custom resource's schema is its vendored CRD's, and
// its metadata is an ObjectMeta.

const ROOTS: Record<string, string> = {
  Namespace: 'V1Namespace',
  Service: 'V1Service',
  Pod: 'V1Pod',
  ConfigMap: 'V1ConfigMap',
  Endpoints: 'V1Endpoints',
  Deployment: 'V1Deployment',
  ReplicaSet: 'V1ReplicaSet',
  Ingress: 'V1Ingress',
  Lease: 'V1Lease',
  Event: 'CoreV1Event',
};

interface Attribute {
  baseName: string;
  type: string;
}
const table = models as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] } | undefined>;

function walk(value: unknown, type: string, path: string, prune: boolean, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value))
      for (const [i, v] of value.entries()) walk(v, array[1] as string, `${path}[${i}]`, prune, out);
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value)) walk(v, map[1] as string, `${path}[${k}]`, prune, out);
    return;
  }
  const attributes = table[type]?.getAttributeTypeMap?.();
  if (!attributes || attributes.length === 0) return; // a scalar, a quantity, free-form JSON
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const at = attributes.find((a) => a.baseName === key);
    const here = path ? `${path}.${key}` : key;
    if (!at) {
      out.push(here);
      if (prune) delete obj[key];
    } else walk(obj[key], at.type, here, prune, out);
  }
}

/**
 * Applies the request's `fieldValidation` to an object about to be written: throws 400 under
 * Strict, else drops unknown fields (in place) and returns the warnings to send under Warn.
 */
export function validateFields(
  info: KindInfo,
  obj: KubeObject,
  mode: string | null,
  version: string,
): string[] {
  const root = info.builtin ? ROOTS[info.kind] : undefined;
  if (info.builtin && !root) return [];
  const level = mode ?? 'Warn';
  if (!['Strict', 'Warn', 'Ignore'].includes(level))
    throw errors.badRequest(
      `fieldValidation must be one of Ignore, Warn or Strict, not ${JSON.stringify(level)}`,
    );
  const unknown: string[] = [];
  if (root) walk(obj, root, '', level !== 'Strict', unknown);
  else {
    walk(obj.metadata, 'V1ObjectMeta', 'metadata', level !== 'Strict', unknown);
    // Under Strict nothing is written, so a copy is pruned only to name the fields. Pruned paths are
    // reported sorted, as the custom resource handler sorts them.
    const target = level === 'Strict' ? structuredClone(obj) : obj;
    unknown.push(...pruneCustomResource(info, target, version).sort());
  }
  if (unknown.length > 0 && level === 'Strict')
    throw errors.badRequest(
      `strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
    );
  return level === 'Warn' ? unknown.map((f) => `unknown field "${f}"`) : [];
}

/** `Warning` header values (RFC 7234 warn-code 299), as kube-apiserver sends them. */
export function warningHeaders(warnings: string[]): Record<string, string[]> {
  return warnings.length === 0 ? {} : { warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}
