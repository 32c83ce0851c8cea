import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { isPlainObject } from '../object.ts';

// The upstream CustomResourceDefinitions the emulator serves its custom resources from (vendored
// unchanged, see ../../../vendor/crds/README.md). Parsing 1.5 MB of YAML takes most of a second, so
// it happens on the first custom-resource write, and the parsed JSON is kept in the temp directory
// under the hash of the file's text (a changed file is parsed again).

/** The subset of an OpenAPI v3 schema a structural CRD schema may use. */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  default?: unknown;
  nullable?: boolean;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  not?: Schema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
}

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: Schema };
  subresources?: { status?: object; scale?: object };
  additionalPrinterColumns?: Array<{ name: string; type: string; jsonPath: string; format?: string }>;
}

export interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: {
      kind: string;
      plural: string;
      singular: string;
      listKind: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: CrdVersion[];
  };
}

const VENDOR = fileURLToPath(new URL('../../../vendor/crds/', import.meta.url));
const FILES = [
  'gateway-api/gateway.networking.k8s.io_httproutes.yaml',
  'gateway-api/gateway.networking.k8s.io_gateways.yaml',
  'gateway-api/gateway.networking.k8s.io_gatewayclasses.yaml',
  'gateway-api/gateway.networking.k8s.io_referencegrants.yaml',
  'istio/crd-all.gen.yaml',
];
/** Of Istio's bundle, the CRDs the emulator serves (the rest would only cost parsing time). */
const SERVED = /^ {2}name: (virtualservices|destinationrules)\.networking\.istio\.io$/m;

function parseFile(file: string): Crd[] {
  const text = readFileSync(join(VENDOR, file), 'utf8');
  const dir = join(tmpdir(), 'kanary-testkit-crds');
  const cached = join(dir, `${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
  try {
    return JSON.parse(readFileSync(cached, 'utf8')) as Crd[];
  } catch {
    // not cached yet (or unreadable): parse
  }
  const crds = text
    .split(/^---$/m)
    .filter((doc) => /^kind: CustomResourceDefinition$/m.test(doc))
    .filter((doc) => !file.startsWith('istio/') || SERVED.test(doc))
    .map((doc) => parse(doc) as Crd);
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${cached}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify(crds));
    renameSync(tmp, cached);
  } catch {
    // a read-only temp directory only costs the next process the parse
  }
  return crds;
}

let loaded: Crd[] | undefined;

/** Every vendored CRD the emulator serves. */
export function vendoredCrds(): Crd[] {
  loaded ??= FILES.flatMap(parseFile);
  return loaded;
}

const byKind = new Map<string, Crd | undefined>();

/** The CRD of a custom resource kind, or undefined for kinds no vendored CRD defines. */
export function crdOf(group: string, kind: string): Crd | undefined {
  const key = `${group}/${kind}`;
  if (!byKind.has(key))
    byKind.set(
      key,
      vendoredCrds().find((c) => c.spec.group === group && c.spec.names.kind === kind),
    );
  return byKind.get(key);
}

/** The structural schema of one served version of a custom resource kind. */
export function schemaOf(group: string, kind: string, version: string): Schema | undefined {
  return crdOf(group, kind)?.spec.versions.find((v) => v.name === version && v.served)?.schema
    .openAPIV3Schema;
}

/** The schema of a map's values (`additionalProperties` as a schema), or undefined. */
export function valuesSchema(schema: Schema | undefined): Schema | undefined {
  return isPlainObject(schema?.additionalProperties) ? (schema?.additionalProperties as Schema) : undefined;
}
