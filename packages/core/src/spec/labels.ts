/**
 * Kubernetes' syntax for label keys and values (apimachinery's IsQualifiedName / IsValidLabelValue):
 * checked in a spec's pod template before anything is written, so the API server's 422 does not
 * arrive after Kanary has already made its first writes.
 */
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a qualified name (`[prefix/]name`), or undefined. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'has more than one "/"';
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0] ?? ''];
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'has an empty prefix before "/"';
    if (prefix.length > 253) return 'has a prefix longer than 253 characters';
    if (!DNS_SUBDOMAIN.test(prefix))
      return 'has a prefix that is not a DNS subdomain (lowercase letters, digits, "-" and ".")';
  }
  if (!name) return 'has an empty name';
  if (name.length > 63) return 'has a name longer than 63 characters';
  if (!NAME.test(name))
    return 'has a name that must start and end with a letter or digit and hold only letters, digits, "-", "_" and "."';
  return undefined;
}

/** Why `value` is not a label value, or undefined. */
export function labelValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string')
    return `is ${value === null ? 'null' : typeof value}, and label values are strings`;
  if (value.length > 63) return 'is longer than 63 characters';
  if (value !== '' && !NAME.test(value))
    return 'must be empty, or start and end with a letter or digit and hold only letters, digits, "-", "_" and "."';
  return undefined;
}
