/**
 * A small, safe evaluator for Argo-style conditions such as `result[0] >= 0.99`,
 * `result < baseline * 1.1 && len(result) > 0` or `not isNaN(result)`. It parses to a tree and
 * walks it: no `eval`, no property access beyond plain data, no loops, so a condition from a
 * spec can never run code.
 */

import { KanaryError } from '@kanary/core/adapter';

type Node =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'bool'; v: boolean }
  | { t: 'nil' }
  | { t: 'id'; name: string }
  | { t: 'index'; obj: Node; key: Node }
  | { t: 'member'; obj: Node; name: string }
  | { t: 'call'; fn: string; args: Node[] }
  | { t: 'unary'; op: '-' | '!'; arg: Node }
  | { t: 'binary'; op: string; left: Node; right: Node };

/** A condition that does not parse or cannot be evaluated: a KanaryError of code ANALYSIS. */
export class ExpressionError extends KanaryError {
  override readonly name: string = 'ExpressionError';
  constructor(message: string) {
    super('ANALYSIS', message);
  }
}

const TOKEN =
  /\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(==|!=|<=|>=|&&|\|\||[-+*/%<>!()[\],.]))/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    if (/^\s*$/.test(src.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m)
      throw new ExpressionError(`unexpected character at ${at}: "${src.slice(at).trim().slice(0, 10)}"`);
    out.push((m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
  }
  return out;
}

const BINARY: ReadonlyMap<string, number> = new Map(
  Object.entries({
    '||': 1,
    or: 1,
    '&&': 2,
    and: 2,
    '==': 3,
    '!=': 3,
    '<': 4,
    '<=': 4,
    '>': 4,
    '>=': 4,
    '+': 5,
    '-': 5,
    '*': 6,
    '/': 6,
    '%': 6,
  }),
);

export function parseExpression(src: string): Node {
  const tokens = tokenize(src);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const t = tokens[i++];
    if (t === undefined) throw new ExpressionError('unexpected end of expression');
    return t;
  };
  const expect = (t: string) => {
    const got = next();
    if (got !== t) throw new ExpressionError(`expected "${t}" but found "${got}"`);
  };
  const primary = (): Node => {
    const t = next();
    if (t === '(') {
      const e = expr(0);
      expect(')');
      return e;
    }
    if (t === '-' || t === '!' || t === 'not')
      return { t: 'unary', op: t === '-' ? '-' : '!', arg: postfix(primary()) };
    if (/^[\d.]/.test(t)) return { t: 'num', v: Number(t) };
    if (t.startsWith('"') || t.startsWith("'")) {
      const v = t.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
      return { t: 'str', v };
    }
    if (t === 'true' || t === 'false') return { t: 'bool', v: t === 'true' };
    if (t === 'nil' || t === 'null') return { t: 'nil' };
    if (/^[A-Za-z_]/.test(t) && !BINARY.has(t)) {
      if (peek() === '(') {
        next();
        const args: Node[] = [];
        if (peek() !== ')') {
          for (;;) {
            args.push(expr(0));
            if (peek() === ',') next();
            else break;
          }
        }
        expect(')');
        return { t: 'call', fn: t, args };
      }
      return { t: 'id', name: t };
    }
    throw new ExpressionError(`unexpected "${t}"`);
  };
  const postfix = (node: Node): Node => {
    for (;;) {
      if (peek() === '[') {
        next();
        const key = expr(0);
        expect(']');
        node = { t: 'index', obj: node, key };
      } else if (peek() === '.') {
        next();
        const name = next();
        if (!/^[A-Za-z_]/.test(name))
          throw new ExpressionError(`expected a field name after "." but found "${name}"`);
        node = { t: 'member', obj: node, name };
      } else return node;
    }
  };
  const expr = (minPrec: number): Node => {
    let left = postfix(primary());
    for (;;) {
      const op = peek();
      const prec = op === undefined ? undefined : BINARY.get(op);
      if (prec === undefined || prec < minPrec) return left;
      next();
      const right = expr(prec + 1);
      left = { t: 'binary', op: op === 'or' ? '||' : op === 'and' ? '&&' : (op as string), left, right };
    }
  };
  const tree = expr(0);
  if (i < tokens.length) throw new ExpressionError(`unexpected "${tokens[i]}"`);
  return tree;
}

const numbers = (v: unknown, fn: string): number[] => {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (typeof x !== 'number') throw new ExpressionError(`${fn}() needs numbers`);
    return x;
  });
};

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  len: (v) => {
    if (Array.isArray(v) || typeof v === 'string') return v.length;
    throw new ExpressionError('len() needs a list or a string');
  },
  abs: (v) => Math.abs(numbers(v, 'abs')[0] as number),
  isNaN: (v) => typeof v === 'number' && Number.isNaN(v),
  isInf: (v) => typeof v === 'number' && !Number.isNaN(v) && !Number.isFinite(v),
  min: (...a) => Math.min(...a.flatMap((v) => numbers(v, 'min'))),
  max: (...a) => Math.max(...a.flatMap((v) => numbers(v, 'max'))),
  sum: (v) => numbers(v, 'sum').reduce((s, x) => s + x, 0),
  mean: (v) => {
    const n = numbers(v, 'mean');
    return n.length ? n.reduce((s, x) => s + x, 0) / n.length : Number.NaN;
  },
  default: (v, d) => (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v)) ? d : v),
};

function own(obj: unknown, key: string | number): unknown {
  if (obj === null || typeof obj !== 'object')
    throw new ExpressionError(`cannot read "${key}" of ${String(obj)}`);
  if (Array.isArray(obj)) {
    if (typeof key !== 'number' || !Number.isInteger(key))
      throw new ExpressionError('lists are indexed by whole numbers');
    const idx = key < 0 ? obj.length + key : key;
    if (idx < 0 || idx >= obj.length)
      throw new ExpressionError(`index ${key} is out of range (length ${obj.length})`);
    return obj[idx];
  }
  if (!Object.hasOwn(obj, key)) throw new ExpressionError(`no field "${key}"`);
  return (obj as Record<string, unknown>)[key];
}

function num(v: unknown, op: string): number {
  // A JSON API may send numbers as strings ("0.99"): ordering them is unambiguous. (`==` stays strict.)
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  if (typeof v !== 'number')
    throw new ExpressionError(`"${op}" needs numbers, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  return v;
}

function evaluate(node: Node, env: Record<string, unknown>): unknown {
  switch (node.t) {
    case 'num':
    case 'str':
    case 'bool':
      return node.v;
    case 'nil':
      return null;
    case 'id':
      if (!Object.hasOwn(env, node.name)) throw new ExpressionError(`unknown name "${node.name}"`);
      return env[node.name];
    case 'index':
      return own(evaluate(node.obj, env), evaluate(node.key, env) as number);
    case 'member':
      return own(evaluate(node.obj, env), node.name);
    case 'call': {
      const fn = Object.hasOwn(FUNCTIONS, node.fn) ? FUNCTIONS[node.fn] : undefined;
      if (!fn) throw new ExpressionError(`unknown function "${node.fn}"`);
      return fn(...node.args.map((a) => evaluate(a, env)));
    }
    case 'unary': {
      const v = evaluate(node.arg, env);
      if (node.op === '-') return -num(v, '-');
      if (typeof v !== 'boolean') throw new ExpressionError('"not" needs true or false');
      return !v;
    }
    case 'binary': {
      if (node.op === '&&' || node.op === '||') {
        const l = evaluate(node.left, env);
        if (typeof l !== 'boolean') throw new ExpressionError(`"${node.op}" needs true or false`);
        if (node.op === '&&' ? !l : l) return l;
        const r = evaluate(node.right, env);
        if (typeof r !== 'boolean') throw new ExpressionError(`"${node.op}" needs true or false`);
        return r;
      }
      const l = evaluate(node.left, env);
      const r = evaluate(node.right, env);
      switch (node.op) {
        case '==':
          return l === r;
        case '!=':
          return l !== r;
        case '<':
          return num(l, '<') < num(r, '<');
        case '<=':
          return num(l, '<=') <= num(r, '<=');
        case '>':
          return num(l, '>') > num(r, '>');
        case '>=':
          return num(l, '>=') >= num(r, '>=');
        case '+':
          return num(l, '+') + num(r, '+');
        case '-':
          return num(l, '-') - num(r, '-');
        case '*':
          return num(l, '*') * num(r, '*');
        case '/':
          return num(l, '/') / num(r, '/');
        case '%':
          return num(l, '%') % num(r, '%');
      }
      throw new ExpressionError(`unknown operator "${node.op}"`);
    }
  }
}

/** A parsed condition, reusable across measurements. Parsing errors surface when the spec is checked. */
export interface Condition {
  source: string;
  test(env: Record<string, unknown>): boolean;
}

export function compileCondition(source: string): Condition {
  const tree = parseExpression(source);
  return {
    source,
    test(env) {
      const v = evaluate(tree, env);
      if (typeof v !== 'boolean')
        throw new ExpressionError(`"${source}" gave ${JSON.stringify(v)}, not true or false`);
      return v;
    },
  };
}
