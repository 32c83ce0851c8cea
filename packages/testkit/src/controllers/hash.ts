import { canonicalJson } from '@kanary/core/adapter';

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * pod-template-hash as kube-controller-manager makes it: FNV-32a of the template (and the
 * collision count), its decimal digits mapped through SafeEncodeString's alphabet — which is
 * why real hashes look like `695cdcd7c8`.
 */
export function podTemplateHash(template: unknown, collisionCount = 0): string {
  const text = canonicalJson(withoutNulls(template)) + (collisionCount ? `#${collisionCount}` : '');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return [...String(h)].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');
}

/**
 * A JSON null is Go's zero value, the same as an absent field (`kubectl rollout undo` sends
 * `creationTimestamp: null` in the template; the controller, comparing Go structs, sees the same
 * template and reuses its ReplicaSet). Upstream hashes and compares the structs, so nulls go.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

/** The template without the pod-template-hash label: what "same template" means to the controller. */
export function templateWithoutHash(template: unknown): unknown {
  const t = withoutNulls(template) as { metadata?: { labels?: Record<string, string> } };
  if (t?.metadata?.labels) {
    delete t.metadata.labels['pod-template-hash'];
  }
  return t;
}
