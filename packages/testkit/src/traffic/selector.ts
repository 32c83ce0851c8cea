/**
 * Plain PromQL vector selectors (`name{label="v",code=~"5.."}`): what the sequential judges'
 * built-in queries are, so the emulator can answer them in virtual time without a Prometheus.
 * Anything else (functions, operators, ranges) is refused with a message saying so.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';
export interface Matcher {
  label: string;
  op: MatchOp;
  value: string;
}
export interface Selector {
  name: string;
  matchers: Matcher[];
}

export class SelectorError extends Error {
  override name = 'SelectorError';
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parseSelector(query: string): Selector {
  let rest = query.trim();
  const fail = (why: string): never => {
    throw new SelectorError(
      `the emulator answers plain selectors like name{label="value"} only (${why}); run a real Prometheus for "${query}"`,
    );
  };
  const name = NAME.exec(rest)?.[0] ?? fail('no metric name');
  rest = rest.slice(name.length).trimStart();
  const matchers: Matcher[] = [];
  if (rest.startsWith('{')) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith('}')) {
      const label = LABEL.exec(rest)?.[0] ?? fail('expected a label name');
      rest = rest.slice(label.length).trimStart();
      const op =
        (['=~', '!~', '!=', '='] as const).find((o) => rest.startsWith(o)) ??
        fail('expected =, !=, =~ or !~');
      rest = rest.slice(op.length).trimStart();
      if (!rest.startsWith('"')) fail('expected a double-quoted value');
      let value = '';
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\') i++;
        value += rest[i] ?? '';
      }
      if (i >= rest.length) fail('unterminated string');
      matchers.push({ label, op, value });
      rest = rest.slice(i + 1).trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith('}')) fail('expected , or }');
    }
    rest = rest.slice(1).trimStart();
  }
  if (rest !== '') fail(`unexpected "${rest.slice(0, 20)}"`);
  return { name, matchers };
}

/** Whether a label set satisfies every matcher (regexes fully anchored, as in Prometheus). */
export function matches(labels: Record<string, string>, matchers: Matcher[]): boolean {
  return matchers.every(({ label, op, value }) => {
    const v = labels[label] ?? '';
    switch (op) {
      case '=':
        return v === value;
      case '!=':
        return v !== value;
      case '=~':
        return new RegExp(`^(?:${value})$`).test(v);
      default:
        return !new RegExp(`^(?:${value})$`).test(v);
    }
  });
}
