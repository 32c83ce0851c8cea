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
    const set = p.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/);
    const neq = p.match(/^([^\s!=]+)\s*!=\s*(.*)$/);
    const eq = p.match(/^([^\s!=]+)\s*==?\s*(.*)$/);
    const absent = p.match(/^!\s*([^\s!=]+)$/);
    const present = p.match(/^([^\s!=()]+)$/);
    if (set) {
      const values = (set[3] as string)
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      out.push({ key: set[1] as string, op: set[2] as 'in' | 'notin', values });
    } else if (neq) out.push({ key: neq[1] as string, op: 'neq', value: (neq[2] as string).trim() });
    else if (eq) out.push({ key: eq[1] as string, op: 'eq', value: (eq[2] as string).trim() });
    else if (absent) out.push({ key: absent[1] as string, op: 'notexists' });
    else if (present) out.push({ key: present[1] as string, op: 'exists' });
    else throw new Error(`unable to parse requirement: ${p}`);
  }
  return out;
}

export function matchesRequirements(
  labels: Record<string, string> | undefined,
  reqs: Requirement[],
): boolean {
  const l = labels ?? {};
  const holds = (r: Requirement): boolean => {
    const has = Object.hasOwn(l, r.key);
    if (r.op === 'eq') return has && l[r.key] === r.value;
    if (r.op === 'neq') return !has || l[r.key] !== r.value;
    if (r.op === 'in') return has && r.values.includes(l[r.key] as string);
    if (r.op === 'notin') return !has || !r.values.includes(l[r.key] as string);
    return r.op === 'exists' ? has : !has;
  };
  return reqs.every(holds);
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
    else reqs.push({ key: e.key, op: e.operator === 'Exists' ? 'exists' : 'notexists' });
  }
  // An empty selector selects everything for a Deployment; a Service's selects nothing (see the
  // store's `servicesSelecting` and `selectLabeled`, which the Endpoints controller uses).
  return matchesRequirements(labels, reqs);
}
