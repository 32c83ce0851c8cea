/**
 * The part of JSONPath a metric needs: `$`, `.field`, `['field']`, `[index]` (negative from the
 * end) and `[*]`. A wildcard turns the answer into a list.
 */
export function selectJsonPath(doc: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new SyntaxError(`a JSONPath starts with "$": ${path}`);
  const steps: Array<string | number | '*'> = [];
  const re =
    /\.([A-Za-z_$][\w$-]*)|\[\s*(?:(-?\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\*))\s*\]|\.(\*)/y;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const at = re.lastIndex;
    const m = re.exec(path);
    if (!m) throw new SyntaxError(`cannot read the JSONPath at "${path.slice(at)}"`);
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else if (m[3] !== undefined || m[4] !== undefined) steps.push((m[3] ?? m[4]) as string);
    else steps.push('*');
  }
  let nodes: unknown[] = [doc];
  let many = false;
  for (const step of steps) {
    const next: unknown[] = [];
    for (const node of nodes) {
      if (step === '*') {
        many = true;
        if (Array.isArray(node)) next.push(...node);
        else if (node && typeof node === 'object') next.push(...Object.values(node));
      } else if (typeof step === 'number') {
        if (Array.isArray(node)) {
          const v = node[step < 0 ? node.length + step : step];
          if (v !== undefined) next.push(v);
        }
      } else if (node && typeof node === 'object' && !Array.isArray(node) && Object.hasOwn(node, step)) {
        next.push((node as Record<string, unknown>)[step]);
      }
    }
    nodes = next;
  }
  return many ? nodes : nodes[0];
}
