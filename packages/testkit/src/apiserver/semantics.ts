import type { KindInfo } from './kinds.ts';
import { isPlainObject, jsonEqual, type KubeObject } from './object.ts';
import { matchesSelector } from './selectors.ts';
import type { StatusCause } from './status.ts';

// The validation rules of kube-apiserver (and, for Istio kinds, of istiod's validating webhook)
// that schemas cannot express. Messages follow the real ones closely, so errors look familiar.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

type Obj = Record<string, unknown>;
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>(
    (v, p) => (v !== null && typeof v === 'object' ? (v as Obj)[p as string] : undefined),
    o,
  );

/** A FieldValueInvalid cause, worded as kube-apiserver words them. */
export function invalid(field: string, value: unknown, detail: string): StatusCause {
  return {
    reason: 'FieldValueInvalid',
    field,
    message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
  };
}
function required(field: string): StatusCause {
  return { reason: 'FieldValueRequired', field, message: 'Required value' };
}

function checkMeta(info: KindInfo, obj: KubeObject, causes: StatusCause[]): void {
  const name = obj.metadata.name ?? '';
  const serviceName = info.kind === 'Service';
  const pattern = serviceName ? DNS1035_LABEL : info.kind === 'Namespace' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  const max = serviceName || info.kind === 'Namespace' ? 63 : 253;
  if (!name) causes.push(required('metadata.name'));
  else if (!pattern.test(name) || name.length > max) {
    causes.push(
      invalid(
        'metadata.name',
        name,
        serviceName
          ? "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"
          : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      ),
    );
  }
  for (const [key, value] of Object.entries(obj.metadata.labels ?? {})) {
    if (!QUALIFIED_NAME.test(key) || key.split('/').at(-1)!.length > 63) {
      causes.push(
        invalid('metadata.labels', key, "name part must consist of alphanumeric characters, '-', '_' or '.'"),
      );
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      causes.push(
        invalid(
          'metadata.labels',
          value,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
      );
    }
  }
  for (const key of Object.keys(obj.metadata.annotations ?? {})) {
    if (!QUALIFIED_NAME.test(key))
      causes.push(invalid('metadata.annotations', key, 'name part must consist of alphanumeric characters'));
  }
}

function checkIntOrPercent(field: string, v: unknown, causes: StatusCause[]): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+%$/.test(v)) return Number.parseInt(v, 10);
  causes.push(invalid(field, v, "must be an integer or percentage (e.g '5%')"));
  return undefined;
}

function checkPodTemplate(field: string, spec: unknown, causes: StatusCause[]): void {
  const containers = at(spec, 'containers');
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push(required(`${field}.containers`));
    return;
  }
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const name = at(c, 'name');
    if (typeof name !== 'string' || !DNS1123_LABEL.test(name))
      causes.push(
        invalid(
          `${field}.containers[${i}].name`,
          name,
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
        ),
      );
    else if (names.has(name))
      causes.push({
        reason: 'FieldValueDuplicate',
        field: `${field}.containers[${i}].name`,
        message: `Duplicate value: "${name}"`,
      });
    names.add(name as string);
    if (!at(c, 'image')) causes.push(required(`${field}.containers[${i}].image`));
  });
}

function checkWorkload(
  obj: KubeObject,
  old: KubeObject | undefined,
  causes: StatusCause[],
  deployment: boolean,
): void {
  const spec = obj.spec as Obj | undefined;
  if (!spec) return void causes.push(required('spec'));
  const selector = spec.selector as Obj | undefined;
  const labels = at(spec, 'template', 'metadata', 'labels') as Record<string, string> | undefined;
  if (
    !selector ||
    (Object.keys((selector.matchLabels as Obj) ?? {}).length === 0 &&
      ((selector.matchExpressions as unknown[]) ?? []).length === 0)
  ) {
    causes.push(required('spec.selector'));
  } else if (!matchesSelector(labels, selector as never)) {
    causes.push(
      invalid('spec.template.metadata.labels', labels ?? {}, '`selector` does not match template `labels`'),
    );
  }
  if (old && !jsonEqual(at(old.spec, 'selector'), selector)) {
    causes.push(invalid('spec.selector', selector, 'field is immutable'));
  }
  checkPodTemplate('spec.template.spec', at(spec, 'template', 'spec'), causes);
  if (deployment) {
    const ru = at(spec, 'strategy', 'rollingUpdate');
    const type = at(spec, 'strategy', 'type') ?? 'RollingUpdate';
    if (type === 'Recreate' && ru !== undefined)
      causes.push({
        reason: 'FieldValueForbidden',
        field: 'spec.strategy.rollingUpdate',
        message: "Forbidden: may not be specified when strategy `type` is 'Recreate'",
      });
    const surge = checkIntOrPercent('spec.strategy.rollingUpdate.maxSurge', at(ru, 'maxSurge'), causes);
    const unavailable = checkIntOrPercent(
      'spec.strategy.rollingUpdate.maxUnavailable',
      at(ru, 'maxUnavailable'),
      causes,
    );
    if (surge === 0 && unavailable === 0)
      causes.push(
        invalid(
          'spec.strategy.rollingUpdate.maxUnavailable',
          at(ru, 'maxUnavailable'),
          'may not be 0 when `maxSurge` is 0',
        ),
      );
    if (typeof at(ru, 'maxUnavailable') === 'string' && (unavailable ?? 0) > 100)
      causes.push(
        invalid(
          'spec.strategy.rollingUpdate.maxUnavailable',
          at(ru, 'maxUnavailable'),
          'must not be greater than 100%',
        ),
      );
  }
}

function checkService(obj: KubeObject, old: KubeObject | undefined, causes: StatusCause[]): void {
  const spec = (obj.spec ?? {}) as Obj;
  const type = spec.type ?? 'ClusterIP';
  const ports = spec.ports as Obj[] | undefined;
  if (type !== 'ExternalName' && (!ports || ports.length === 0)) causes.push(required('spec.ports'));
  (ports ?? []).forEach((p, i) => {
    const port = p.port as number;
    if (!(port >= 1 && port <= 65535))
      causes.push(invalid(`spec.ports[${i}].port`, port, 'must be between 1 and 65535, inclusive'));
    if ((ports?.length ?? 0) > 1 && !p.name) causes.push(required(`spec.ports[${i}].name`));
  });
  if (
    old &&
    at(old.spec, 'clusterIP') &&
    spec.clusterIP !== undefined &&
    spec.clusterIP !== at(old.spec, 'clusterIP')
  ) {
    causes.push(invalid('spec.clusterIP', spec.clusterIP, 'field is immutable'));
  }
}

function checkIngress(obj: KubeObject, causes: StatusCause[]): void {
  const rules = (at(obj.spec, 'rules') as Obj[] | undefined) ?? [];
  rules.forEach((rule, i) => {
    const paths = (at(rule, 'http', 'paths') as Obj[] | undefined) ?? [];
    paths.forEach((p, j) => {
      const f = `spec.rules[${i}].http.paths[${j}]`;
      if (!p.pathType) causes.push(required(`${f}.pathType`));
      if (
        (p.pathType === 'Prefix' || p.pathType === 'Exact') &&
        typeof p.path === 'string' &&
        !p.path.startsWith('/')
      ) {
        causes.push(invalid(`${f}.path`, p.path, 'must be an absolute path'));
      }
      if (!at(p, 'backend', 'service', 'name') && !at(p, 'backend', 'resource'))
        causes.push(required(`${f}.backend`));
    });
  });
}

/** RE2 (Envoy) refuses what JavaScript accepts: lookaround and backreferences. */
function re2Problem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch (e) {
    return (e as Error).message;
  }
  if (/\(\?<?[=!]/.test(pattern)) return 'invalid perl operator: (?=';
  if (/\\[1-9]/.test(pattern)) return 'invalid escape sequence: \\1';
  return undefined;
}

function checkStringMatch(field: string, m: unknown, causes: StatusCause[]): void {
  if (!isPlainObject(m)) return;
  const set = ['exact', 'prefix', 'regex'].filter((k) => m[k] !== undefined);
  if (set.length > 1) causes.push(invalid(field, m, 'only one of exact, prefix or regex may be set'));
  if (typeof m.regex === 'string') {
    const p = re2Problem(m.regex);
    if (p) causes.push(invalid(`${field}.regex`, m.regex, `error parsing regexp: ${p}`));
  }
}

/** What istiod's validating webhook refuses in a VirtualService. */
function checkVirtualService(obj: KubeObject, causes: StatusCause[]): void {
  const spec = (obj.spec ?? {}) as Obj;
  const hosts = spec.hosts as string[] | undefined;
  if (!hosts || hosts.length === 0)
    causes.push({
      reason: 'FieldValueRequired',
      field: 'spec.hosts',
      message: 'virtual service must have at least one host',
    });
  ((spec.http as Obj[] | undefined) ?? []).forEach((route, i) => {
    const f = `spec.http[${i}]`;
    const dests = (route.route as Obj[] | undefined) ?? [];
    if (dests.length === 0 && !route.redirect && !route.directResponse && !route.delegate)
      causes.push(
        invalid(f, route.name ?? i, 'HTTP route, redirect, direct response or delegate is required'),
      );
    dests.forEach((d, j) => {
      if (!at(d, 'destination', 'host')) causes.push(required(`${f}.route[${j}].destination.host`));
      const w = d.weight as number | undefined;
      if (w !== undefined && (w < 0 || w > 100))
        causes.push(invalid(`${f}.route[${j}].weight`, w, 'weight must be in range 0..100'));
    });
    if (dests.length > 1) {
      const total = dests.reduce((s, d) => s + ((d.weight as number | undefined) ?? 0), 0);
      if (total === 0) causes.push(invalid(`${f}.route`, total, 'total destination weight = 0'));
    }
    ((route.match as Obj[] | undefined) ?? []).forEach((m, j) => {
      for (const [name, sm] of Object.entries((m.headers as Obj | undefined) ?? {})) {
        if (name !== name.toLowerCase())
          causes.push(invalid(`${f}.match[${j}].headers`, name, 'header names must be lowercase'));
        checkStringMatch(`${f}.match[${j}].headers.${name}`, sm, causes);
      }
      checkStringMatch(`${f}.match[${j}].uri`, m.uri, causes);
    });
    const mp = at(route, 'mirrorPercentage', 'value');
    if (typeof mp === 'number' && (mp < 0 || mp > 100))
      causes.push(invalid(`${f}.mirrorPercentage.value`, mp, 'percentage must be in range 0..100'));
  });
}

function checkDestinationRule(obj: KubeObject, causes: StatusCause[]): void {
  const spec = (obj.spec ?? {}) as Obj;
  if (!spec.host) causes.push(required('spec.host'));
  const names = new Set<string>();
  ((spec.subsets as Obj[] | undefined) ?? []).forEach((s, i) => {
    if (!s.name) causes.push(required(`spec.subsets[${i}].name`));
    else if (names.has(s.name as string))
      causes.push({
        reason: 'FieldValueDuplicate',
        field: `spec.subsets[${i}].name`,
        message: `duplicate subset name "${String(s.name)}"`,
      });
    names.add(s.name as string);
  });
}

/**
 * What the CRD's schema and CEL rules leave to the implementation: a RegularExpression header
 * match must be one the data plane compiles (Envoy-based implementations use RE2).
 */
function checkHttpRoute(obj: KubeObject, causes: StatusCause[]): void {
  ((at(obj.spec, 'rules') as Obj[] | undefined) ?? []).forEach((rule, i) => {
    ((rule.matches as Obj[] | undefined) ?? []).forEach((m, j) => {
      ((m.headers as Obj[] | undefined) ?? []).forEach((h, k) => {
        if (h.type === 'RegularExpression' && typeof h.value === 'string') {
          const p = re2Problem(h.value);
          if (p)
            causes.push(
              invalid(
                `spec.rules[${i}].matches[${j}].headers[${k}].value`,
                h.value,
                `invalid regular expression: ${p}`,
              ),
            );
        }
      });
    });
  });
}

export function semanticChecks(info: KindInfo, obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  checkMeta(info, obj, causes);
  switch (info.kind) {
    case 'Deployment':
      checkWorkload(obj, old, causes, true);
      break;
    case 'ReplicaSet':
      checkWorkload(obj, old, causes, false);
      break;
    case 'Pod':
      checkPodTemplate('spec', obj.spec, causes);
      break;
    case 'Service':
      checkService(obj, old, causes);
      break;
    case 'Ingress':
      checkIngress(obj, causes);
      break;
    case 'VirtualService':
      checkVirtualService(obj, causes);
      break;
    case 'DestinationRule':
      checkDestinationRule(obj, causes);
      break;
    case 'HTTPRoute':
      checkHttpRoute(obj, causes);
      break;
  }
  return causes;
}
