/**
 * Shapes of regular expression that a backtracking engine (PCRE, which ingress-nginx runs on every
 * request carrying the header; JavaScript's) can take exponential or high-polynomial time on. RE2
 * (Istio, Gateway API) is linear whatever the pattern, so this matters only where PCRE evaluates.
 *
 * Recognised, on the pattern's syntax alone (no pattern is ever run):
 * - an unbounded quantifier inside a group that is itself repeated: `(a+)+`, `(\w+\s?)*`, `(.*a){20}`;
 * - a repeated alternation whose branches can start alike: `(a|ab)*`, `(\d|x)+`;
 * - three or more unbounded repeats of "almost anything" (`.`, `\S`, `\w`, `[^…]`) in one pattern:
 *   `.*a.*b.*c` is cubic on a non-matching header.
 * Conservative by design: a refused pattern can be rewritten (anchor it, make the repeated part
 * unambiguous), an admitted one costs every request.
 */
export function backtrackingProblem(pattern: string): string | undefined {
  interface Frame {
    /** The group contains an unbounded (or long) repeat somewhere. */
    repeats: boolean;
    /** First atom of each alternative: a literal character, or undefined for anything wider. */
    firsts: Array<string | undefined>;
    /** Whether the current alternative has its first atom yet. */
    started: boolean;
  }
  const stack: Frame[] = [{ repeats: false, firsts: [], started: false }];
  let wide = 0;
  let i = 0;
  const top = () => stack[stack.length - 1] as Frame;

  /** Reads a quantifier at `i`, if any: whether it repeats without (practical) bound. */
  const quantifier = (): 'none' | 'short' | 'long' => {
    const c = pattern[i];
    let kind: 'none' | 'short' | 'long' = 'none';
    if (c === '*' || c === '+') {
      kind = 'long';
      i++;
    } else if (c === '?') {
      kind = 'short';
      i++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (m) {
        const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
        kind = max > 16 ? 'long' : max > 1 ? 'short' : 'none';
        i += m[0].length;
      }
    }
    if (kind !== 'none' && (pattern[i] === '?' || pattern[i] === '+')) i++; // lazy or possessive
    return kind;
  };

  /** Notes an atom's first character in the current alternative. */
  const first = (literal: string | undefined) => {
    const f = top();
    if (f.started) return;
    f.started = true;
    f.firsts.push(literal);
  };

  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === '(') {
      i++;
      if (pattern[i] === '?') {
        // (?: (?<name> (?P<name> (?i) …: skip to the group's body.
        const m = /^\?(?:P?<[A-Za-z_]\w*>|[:=!>]|<[=!]|[a-zA-Z-]*:?)/.exec(pattern.slice(i));
        i += m ? m[0].length : 1;
      }
      stack.push({ repeats: false, firsts: [], started: false });
      continue;
    }
    if (c === '|') {
      top().started = false;
      i++;
      continue;
    }
    if (c === ')') {
      i++;
      const group =
        stack.length > 1 ? (stack.pop() as Frame) : { repeats: false, firsts: [], started: false };
      const q = quantifier();
      if (q === 'long' && group.repeats)
        return 'repeats a group that itself repeats without bound (like "(a+)+"): a backtracking engine takes exponential time on a near-match';
      if (q === 'long' && group.firsts.length > 1) {
        const seen = new Set<string>();
        for (const f of group.firsts) {
          if (f === undefined || seen.has(f))
            return 'repeats alternatives that can start alike (like "(a|ab)*"): a backtracking engine takes exponential time on a near-match';
          seen.add(f);
        }
      }
      const outer = top();
      if (q === 'long' || group.repeats) outer.repeats = true;
      const single = group.firsts.length === 1 ? group.firsts[0] : undefined;
      first(single);
      continue;
    }
    // One atom: an escape, a class, a dot, or a literal.
    let literal: string | undefined;
    let anything = false;
    if (c === '\\') {
      const e = pattern[i + 1] ?? '';
      anything = /[SWDw.]/.test(e);
      literal = /[A-Za-z0-9]/.test(e) ? undefined : e;
      i += 2;
      if (e === 'x' || e === 'u' || e === 'p' || e === 'P') {
        const m = /^(\{[^}]*\}|[0-9a-fA-F]{2,4})/.exec(pattern.slice(i));
        if (m) i += m[0].length;
      }
    } else if (c === '[') {
      anything = pattern[i + 1] === '^';
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j + 1;
    } else if (c === '.') {
      anything = true;
      i++;
    } else if (c === '^' || c === '$') {
      i++;
      continue;
    } else {
      literal = c.toLowerCase();
      i++;
    }
    first(literal);
    const q = quantifier();
    if (q === 'long') {
      top().repeats = true;
      if (anything) wide++;
    }
  }
  if (wide >= 3)
    return `repeats "almost anything" (like ".*") ${wide} times: a backtracking engine takes polynomial time of that degree on a header that does not match`;
  return undefined;
}
