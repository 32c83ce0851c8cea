// Which addresses a spec may make Kanary call. A spec is input: whoever may write one must not be
// able to point Kanary's requests at the cloud's metadata service (instance credentials) or other
// link-local services from inside the cluster. Loopback and cluster-internal names stay callable
// (test gates and in-cluster approval services live there); `plan()` warns about them.

/** What a host may let spec-declared webhooks call. */
export interface WebhookPolicy {
  /**
   * Only these hosts (exact names or `*.suffix`); unset: any host except link-local and metadata
   * addresses. A spec naming another host is refused before the rollout starts.
   */
  allowHosts?: string[];
  /** Also allow link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata names. */
  allowLinkLocal?: boolean;
}

const METADATA_NAMES = new Set([
  'metadata.google.internal',
  'metadata',
  'metadata.azure.internal',
  'instance-data',
]);

/** The host of a URL as compared: lowercase, no brackets, no trailing dot. */
function hostOf(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/** A link-local or metadata address: 169.254.0.0/16, fe80::/10, fd00:ec2::254, the metadata names. */
export function isLinkLocal(host: string): boolean {
  if (METADATA_NAMES.has(host)) return true;
  if (/^169\.254\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  if (/^fe[89ab][0-9a-f]?:/i.test(host)) return true;
  if (host === 'fd00:ec2::254') return true;
  // IPv4-mapped IPv6 (::ffff:169.254.169.254, or its hex form ::ffff:a9fe:a9fe).
  const mapped = /^::ffff:(.+)$/i.exec(host)?.[1];
  if (mapped) return isLinkLocal(mapped) || /^a9fe:/i.test(mapped);
  return false;
}

/** Loopback or an in-cluster Service name: allowed, but worth a warning in a plan. */
export function isInternal(host: string): boolean {
  return (
    host === 'localhost' ||
    /^127\./.test(host) ||
    host === '::1' ||
    host === 'kubernetes.default' ||
    /\.svc(\.cluster\.local)?$/.test(host) ||
    /^kubernetes\.default\./.test(host) ||
    /^10\./.test(host) ||
    /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host)
  );
}

const matchesHost = (host: string, pattern: string) => {
  const p = pattern.toLowerCase();
  return p.startsWith('*.') ? host.endsWith(p.slice(1)) : host === p;
};

/** Why a webhook URL may not be called under the policy, or undefined when it may. */
export function webhookAddressProblem(url: string, policy: WebhookPolicy = {}): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL';
  }
  const host = hostOf(parsed);
  if (policy.allowHosts && !policy.allowHosts.some((p) => matchesHost(host, p)))
    return `names host ${host}, which is not among the hosts this program allows for webhooks (${policy.allowHosts.join(', ')})`;
  if (!policy.allowLinkLocal && isLinkLocal(host))
    return `names ${host}, a link-local or cloud metadata address, which webhooks may not call`;
  return undefined;
}
