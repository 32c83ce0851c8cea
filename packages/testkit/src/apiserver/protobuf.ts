/**
 * Request bodies in Kubernetes' protobuf encoding, read into the JSON form the rest of the
 * emulator works on. kubectl ≥ 1.32 (client-go's typed clients) sends built-in kinds as protobuf
 * and does not fall back to JSON on 415 (that fallback exists only for CBOR; kubernetes#86253),
 * so `kubectl create deployment` or `kubectl expose` need it. The schemas are the upstream
 * `generated.proto` files (see ../../vendor/kubernetes-proto/README.md); the envelope and the special types follow
 * apimachinery's runtime/serializer/protobuf and the types' own Marshal/MarshalJSON methods.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { KubeObject } from './object.ts';

/** `k8s\0`: the prefix of every protobuf-encoded object (runtime/serializer/protobuf). */
const MAGIC = [0x6b, 0x38, 0x73, 0x00];
const PROTO_DIR = fileURLToPath(new URL('../../vendor/kubernetes-proto/', import.meta.url));
const FILES = [
  'k8s.io/api/core/v1/generated.proto',
  'k8s.io/api/apps/v1/generated.proto',
  'k8s.io/api/networking/v1/generated.proto',
  'k8s.io/api/coordination/v1/generated.proto',
];
/** The protobuf package of each API group the emulator serves as built-in kinds. */
const PACKAGES: Record<string, string> = {
  '': 'k8s.io.api.core.v1',
  apps: 'k8s.io.api.apps.v1',
  'networking.k8s.io': 'k8s.io.api.networking.v1',
  'coordination.k8s.io': 'k8s.io.api.coordination.v1',
};
const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';

/**
 * Go writes every non-pointer field, so a zero on the wire usually means "not set" and is left
 * out, as JSON's omitempty would. These pointer fields default to something else when absent,
 * so an explicit 0 is kept (`kubectl create deployment --replicas=0`).
 */
const ZERO_MEANS_ZERO = new Set([
  'replicas',
  'revisionHistoryLimit',
  'progressDeadlineSeconds',
  'terminationGracePeriodSeconds',
  'activeDeadlineSeconds',
  'leaseDurationSeconds',
  'leaseTransitions',
]);

let root: protobuf.Root | undefined;
function schemas(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => `${PROTO_DIR}${target}`;
  r.loadSync(FILES, { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

/** A kind with no protobuf form (custom resources): kube-apiserver answers 415. */
export class NoProtobufForm extends Error {
  constructor(apiVersion: string, kind: string) {
    super(`no kind "${kind}" is registered for version "${apiVersion}" in protobuf`);
  }
}

/** Whether a body is protobuf by its bytes (the media type is checked by the caller). */
export function isProtobufObject(body: Uint8Array): boolean {
  return MAGIC.every((b, i) => body[i] === b);
}

/** Decodes one object; throws with a reason kube-apiserver would give as 400. */
export function decodeProtobufObject(body: Uint8Array): KubeObject {
  if (!isProtobufObject(body)) throw new Error('provided data does not have the protobuf type prefix');
  const r = schemas();
  const unknown = r
    .lookupType('k8s.io.apimachinery.pkg.runtime.Unknown')
    .decode(body.subarray(4)) as unknown as {
    typeMeta?: { apiVersion?: string; kind?: string };
    raw?: Uint8Array;
  };
  const apiVersion = unknown.typeMeta?.apiVersion ?? '';
  const kind = unknown.typeMeta?.kind ?? '';
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const pkg = PACKAGES[group];
  const type = pkg ? (r.lookup(`${pkg}.${kind}`) as protobuf.Type | null) : null;
  if (!type || !(type instanceof protobuf.Type)) throw new NoProtobufForm(apiVersion, kind);
  const message = type.decode(unknown.raw ?? new Uint8Array());
  return { apiVersion, kind, ...(toJson(type, message) as object) } as KubeObject;
}

type Decoded = Record<string, unknown>;

/** A decoded message as the JSON kube-apiserver would have received. */
function toJson(type: protobuf.Type, message: unknown): unknown {
  const special = SPECIAL[type.fullName.slice(1)];
  if (special) return special(message as Decoded);
  const out: Record<string, unknown> = {};
  const m = message as Decoded;
  for (const field of type.fieldsArray) {
    if (!Object.hasOwn(m, field.name)) continue;
    const value = m[field.name];
    let json: unknown;
    if (field.map) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) continue;
      json = Object.fromEntries(entries.map(([k, v]) => [k, scalarOrMessage(field, v)]));
    } else if (field.repeated) {
      const list = value as unknown[];
      if (list.length === 0) continue;
      json = list.map((v) => scalarOrMessage(field, v));
    } else {
      json = scalarOrMessage(field, value);
      if (json === undefined) continue;
      // A Service port's zero targetPort is "the same as port" (its defaulting upstream).
      if (field.name === 'targetPort' && isZero(json)) continue;
      if (!field.resolvedType && isZero(json) && !ZERO_MEANS_ZERO.has(field.name)) continue;
    }
    out[field.name] = json;
  }
  return out;
}

function scalarOrMessage(field: protobuf.Field, value: unknown): unknown {
  if (field.resolvedType instanceof protobuf.Type) return toJson(field.resolvedType, value);
  if (field.type === 'bytes') return Buffer.from(value as Uint8Array).toString('base64');
  return isLong(value) ? Number(value.toString()) : value;
}

const isZero = (v: unknown) => v === '' || v === false || v === 0;
const isLong = (v: unknown): v is { toString(): string } =>
  typeof v === 'object' && v !== null && 'low' in v && 'high' in v;
const num = (v: unknown) => (isLong(v) ? Number(v.toString()) : ((v as number | undefined) ?? 0));

/** Go's RFC 3339 with seconds (Time) or microseconds (MicroTime); the zero time is null, i.e. absent. */
function rfc3339(m: Decoded, fraction: boolean): string | undefined {
  const seconds = num(m.seconds);
  const nanos = num(m.nanos);
  if (seconds === 0 && nanos === 0) return undefined;
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
  return fraction ? `${iso}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${iso}Z`;
}

/** Go's time.Duration.String(), e.g. 1h2m3.5s. */
function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let rest = Math.abs(ns);
  if (rest < 1e9)
    return `${sign}${rest >= 1e6 ? `${rest / 1e6}ms` : rest >= 1e3 ? `${rest / 1e3}µs` : `${rest}ns`}`;
  const h = Math.floor(rest / 3.6e12);
  rest -= h * 3.6e12;
  const min = Math.floor(rest / 6e10);
  rest -= min * 6e10;
  return `${sign}${h ? `${h}h` : ''}${h || min ? `${min}m` : ''}${rest / 1e9}s`;
}

const rawJson = (raw: unknown) =>
  raw && (raw as Uint8Array).length > 0
    ? JSON.parse(Buffer.from(raw as Uint8Array).toString('utf8'))
    : undefined;

/** Types whose JSON is not their fields (their MarshalJSON methods upstream). */
const SPECIAL: Record<string, (m: Decoded) => unknown> = {
  [`${META}.Time`]: (m) => rfc3339(m, false),
  [`${META}.MicroTime`]: (m) => rfc3339(m, true),
  [`${META}.Duration`]: (m) => goDuration(num(m.duration)),
  [`${META}.FieldsV1`]: (m) => rawJson(m.Raw),
  'k8s.io.apimachinery.pkg.runtime.RawExtension': (m) => rawJson(m.raw),
  'k8s.io.apimachinery.pkg.api.resource.Quantity': (m) => m.string,
  'k8s.io.apimachinery.pkg.util.intstr.IntOrString': (m) =>
    num(m.type) === 1 ? ((m.strVal as string | undefined) ?? '') : num(m.intVal),
};
