import type { KindInfo } from '../kinds.ts';
import type { KubeObject } from '../object.ts';
import type { StatusCause } from '../status.ts';
import { celCauses } from './cel.ts';
import { schemaOf } from './load.ts';
import { applySchemaDefaults, prune, sortKeysInPlace } from './structural.ts';
import { validateSchema } from './validate.ts';

// A custom resource's way through kube-apiserver, driven by its kind's vendored CRD: unknown
// fields pruned, defaults applied, keys in Go's map order (sorted), then schema and CEL validation.

type Obj = Record<string, unknown>;

const versionOf = (info: KindInfo, obj: KubeObject) =>
  String(obj.apiVersion ?? '').split('/')[1] ?? (info.versions[0] as string);

function schemaFor(info: KindInfo, version: string) {
  if (info.builtin) return undefined;
  const schema = schemaOf(info.group, info.kind, version);
  if (!schema) throw new Error(`no vendored CRD serves ${info.kind}.${info.group}/${version}`);
  return schema;
}

/** The paths of the fields the kind's schema does not know (dropped in place). */
export function pruneCustomResource(
  info: KindInfo,
  obj: KubeObject,
  version = versionOf(info, obj),
): string[] {
  const schema = schemaFor(info, version);
  return schema ? prune(obj as unknown as Obj, schema) : [];
}

/** Prunes, defaults and orders a custom resource about to be stored (in place). */
export function admitCustomResource(info: KindInfo, obj: KubeObject): void {
  const schema = schemaFor(info, versionOf(info, obj));
  if (!schema) return;
  prune(obj as unknown as Obj, schema);
  for (const key of Object.keys(obj))
    if (key !== 'metadata') applySchemaDefaults((obj as unknown as Obj)[key], schema.properties?.[key]);
  for (const key of Object.keys(obj)) if (key !== 'metadata') sortKeysInPlace((obj as unknown as Obj)[key]);
}

/** The schema's and the CEL rules' causes against a custom resource (`old` on updates). */
export function validateCustomResource(
  info: KindInfo,
  version: string,
  obj: KubeObject,
  old: KubeObject | undefined,
): StatusCause[] {
  const schema = schemaFor(info, version);
  if (!schema) return [];
  const causes = validateSchema(obj as unknown as Obj, schema);
  if (causes.length > 0) return causes;
  return celCauses(obj as unknown as Obj, old as unknown as Obj | undefined, schema);
}
