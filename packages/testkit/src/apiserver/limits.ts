import type { KindInfo } from './kinds.ts';
import type { KubeObject } from './object.ts';
import { invalid } from './semantics.ts';
import { ApiError, errors, type StatusCause } from './status.ts';

// The limits kube-apiserver enforces outside the schemas: what its JSON decoder refuses (400), the
// size limits of its validation (422) and etcd's request size (500). Followed upstream:
// k8s.io/apimachinery pkg/api/validation (annotations), pkg/apis/core/validation (ConfigMap keys
// and size), pkg/apis/apps/validation (Deployment and ReplicaSet numbers), pkg/apis/coordination
// validation (Lease), apimachinery's MicroTime (RFC 3339 with exactly six fraction digits) and
// etcd's default --max-request-bytes (1.5 MiB).

type Obj = Record<string, unknown>;

export const TOTAL_ANNOTATION_SIZE = 256 * 1024;
export const MAX_CONFIGMAP_SIZE = 1024 * 1024;
export const MAX_ETCD_OBJECT = 1.5 * 1024 * 1024;
export const MAX_REQUEST_BODY = 3 * 1024 * 1024;

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** The int32 fields of the built-in kinds Kanary and its tests write, as JSON paths (`*` any item). */
const INT32_FIELDS: Record<string, string[]> = {
  Deployment: [
    'spec.replicas',
    'spec.minReadySeconds',
    'spec.revisionHistoryLimit',
    'spec.progressDeadlineSeconds',
    'spec.template.spec.containers.*.ports.*.containerPort',
  ],
  ReplicaSet: [
    'spec.replicas',
    'spec.minReadySeconds',
    'spec.template.spec.containers.*.ports.*.containerPort',
  ],
  Pod: ['spec.containers.*.ports.*.containerPort'],
  Service: ['spec.ports.*.port', 'spec.ports.*.nodePort'],
  Lease: ['spec.leaseDurationSeconds', 'spec.leaseTransitions'],
};

function valuesAt(root: unknown, path: string[], prefix = ''): Array<[string, unknown]> {
  if (path.length === 0) return [[prefix, root]];
  if (root === null || typeof root !== 'object') return [];
  const [head, ...rest] = path as [string, ...string[]];
  if (head === '*')
    return Array.isArray(root) ? root.flatMap((v, i) => valuesAt(v, rest, `${prefix}[${i}]`)) : [];
  const next = (root as Obj)[head];
  return next === undefined ? [] : valuesAt(next, rest, prefix ? `${prefix}.${head}` : head);
}

/** RFC3339Micro, the only form `metav1.MicroTime` decodes. */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

/**
 * What kube-apiserver's decoder refuses before any validation runs (400 BadRequest): a number that
 * does not fit the field's int32, a MicroTime without microseconds.
 */
export function decodeCheck(info: KindInfo, version: string, obj: KubeObject): void {
  const cannot = (why: string) =>
    errors.badRequest(`${info.kind} in version "${version}" cannot be handled as a ${info.kind}: ${why}`);
  for (const path of INT32_FIELDS[info.kind] ?? []) {
    for (const [field, v] of valuesAt(obj, path.split('.'))) {
      if (typeof v !== 'number') continue;
      if (!Number.isInteger(v) || v > INT32_MAX || v < INT32_MIN)
        throw cannot(`json: cannot unmarshal number ${v} into Go struct field .${field} of type int32`);
    }
  }
  if (info.kind === 'Lease') {
    for (const field of ['acquireTime', 'renewTime']) {
      const v = (obj.spec as Obj | undefined)?.[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' || !MICRO_TIME.test(v))
        throw cannot(
          `parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": spec.${field} must be RFC 3339 with exactly six fraction digits`,
        );
    }
  }
}

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

function configKeyProblem(key: string): string | undefined {
  if (key.length > 253) return 'must be no more than 253 characters';
  if (!CONFIG_KEY.test(key))
    return "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
  if (key === '.') return "must not be '.'";
  if (key === '..') return "must not be '..'";
  if (key.startsWith('..')) return "must not start with '..'";
  return undefined;
}

const tooLong = (field: string, max: number): StatusCause => ({
  reason: 'FieldValueTooLong',
  field,
  message: `Too long: may not be more than ${max} bytes`,
});

/** The size limits and number ranges kube-apiserver's validation refuses with 422. */
export function limitChecks(info: KindInfo, obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  let annotations = 0;
  for (const [k, v] of Object.entries(obj.metadata.annotations ?? {}))
    annotations += bytes(k) + bytes(String(v));
  if (annotations > TOTAL_ANNOTATION_SIZE)
    causes.push(tooLong('metadata.annotations', TOTAL_ANNOTATION_SIZE));
  const spec = (obj.spec ?? {}) as Obj;
  const nonNegative = (field: string, v: unknown) => {
    if (typeof v === 'number' && v < 0) causes.push(invalid(field, v, 'must be greater than or equal to 0'));
  };
  switch (info.kind) {
    case 'ConfigMap': {
      const data = (obj as { data?: Record<string, string> }).data ?? {};
      const binary = (obj as { binaryData?: Record<string, string> }).binaryData ?? {};
      let total = 0;
      for (const [map, entries] of [
        ['data', data],
        ['binaryData', binary],
      ] as const) {
        for (const [key, value] of Object.entries(entries)) {
          const problem = configKeyProblem(key);
          if (problem) causes.push(invalid(`${map}[${key}]`, key, problem));
          if (map === 'data' && key in binary)
            causes.push(invalid(`data[${key}]`, key, 'duplicate of key present in binaryData'));
          total += map === 'data' ? bytes(String(value)) : Buffer.from(String(value), 'base64').length;
        }
      }
      // The whole object's data: the path is empty, as upstream's.
      if (total > MAX_CONFIGMAP_SIZE) causes.push(tooLong('', MAX_CONFIGMAP_SIZE));
      break;
    }
    case 'Deployment':
    case 'ReplicaSet': {
      nonNegative('spec.replicas', spec.replicas);
      nonNegative('spec.minReadySeconds', spec.minReadySeconds);
      nonNegative('spec.revisionHistoryLimit', spec.revisionHistoryLimit);
      const deadline = spec.progressDeadlineSeconds;
      if (info.kind === 'Deployment' && typeof deadline === 'number') {
        nonNegative('spec.progressDeadlineSeconds', deadline);
        if (deadline <= ((spec.minReadySeconds as number | undefined) ?? 0))
          causes.push(
            invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds'),
          );
      }
      const pod = ((spec.template as Obj | undefined)?.spec ?? {}) as Obj;
      if (pod.restartPolicy !== undefined && pod.restartPolicy !== 'Always')
        causes.push({
          reason: 'FieldValueNotSupported',
          field: 'spec.template.spec.restartPolicy',
          message: `Unsupported value: ${JSON.stringify(pod.restartPolicy)}: supported values: "Always"`,
        });
      if (pod.activeDeadlineSeconds !== undefined)
        causes.push({
          reason: 'FieldValueForbidden',
          field: 'spec.template.spec.activeDeadlineSeconds',
          message: `Forbidden: activeDeadlineSeconds in ${info.kind} is not Supported`,
        });
      break;
    }
    case 'Lease': {
      const duration = spec.leaseDurationSeconds;
      if (typeof duration === 'number' && duration <= 0)
        causes.push(invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0'));
      nonNegative('spec.leaseTransitions', spec.leaseTransitions);
      break;
    }
  }
  return causes;
}

/** etcd refuses a request larger than its --max-request-bytes; kube-apiserver passes that on as 500. */
export function storageCheck(obj: KubeObject): void {
  if (bytes(JSON.stringify(obj)) > MAX_ETCD_OBJECT)
    throw new ApiError({ code: 500, reason: 'InternalError', message: 'etcdserver: request is too large' });
}
