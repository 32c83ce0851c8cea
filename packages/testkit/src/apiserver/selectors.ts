/**
 * Label selectors as kube-apiserver parses them from `labelSelector=`: equality (`a=b`, `a==b`,
 * `a!=b`), set-based (`a in (x,y)`, `a notin (x)`), existence (`a`, `!a`).
 */
export type Requirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

export function parseLabelSelector(text: string): Requirement[] {
  const out: Requirement[] = [];
  // Split on commas that are not inside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      out.push({
        key: m[1] as string,
        op: m[2] as 'in' | 'notin',
        values: (m[3] as string)
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      });
    } else if ((m = p.match(/^([^\s!=]+)\s*!=\s*(.*)$/))) {
      out.push({ key: m[1] as string, op: 'neq', value: (m[2] as string).trim() });
    } else if ((m = p.match(/^([^\s!=]+)\s*==?\s*(.*)$/))) {
      out.push({ key: m[1] as string, op: 'eq', value: (m[2] as string).trim() });
    } else if ((m = p.match(/^!\s*([^\s!=]+)$/))) {
      out.push({ key: m[1] as string, op: 'notexists' });
    } else if ((m = p.match(/^([^\s!=()]+)$/))) {
      out.push({ key: m[1] as string, op: 'exists' });
    } else {
      throw new Error(`unable to parse requirement: ${p}`);
    }
  }
  return out;
}

export function matchesRequirements(
  labels: Record<string, string> | undefined,
  reqs: Requirement[],
): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'eq':
        return has && l[r.key] === r.value;
      case 'neq':
        return !has || l[r.key] !== r.value;
      case 'in':
        return has && r.values.includes(l[r.key] as string);
      case 'notin':
        return !has || !r.values.includes(l[r.key] as string);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

/** A `metav1.LabelSelector` (matchLabels + matchExpressions) applied to labels. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }>;
}

export function matchesSelector(
  labels: Record<string, string> | undefined,
  selector: LabelSelector | undefined,
): boolean {
  if (!selector) return false;
  const reqs: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    op: 'eq',
    value,
  }));
  for (const e of selector.matchExpressions ?? []) {
    if (e.operator === 'In') reqs.push({ key: e.key, op: 'in', values: e.values ?? [] });
    else if (e.operator === 'NotIn') reqs.push({ key: e.key, op: 'notin', values: e.values ?? [] });
    else if (e.operator === 'Exists') reqs.push({ key: e.key, op: 'exists' });
    else reqs.push({ key: e.key, op: 'notexists' });
  }
  // An empty selector selects everything for a Deployment; Services use `selectsService` instead.
  return matchesRequirements(labels, reqs);
}

/** A Service's plain map selector: empty or missing selects nothing (no endpoints are managed). */
export function selectsService(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
