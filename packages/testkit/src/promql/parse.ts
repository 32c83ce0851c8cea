import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import type { Matcher, MatchOp } from '../traffic/selector.ts';

/**
 * PromQL as the emulator evaluates it: the Prometheus project's own grammar
 * (`@prometheus-io/lezer-promql`) parses, and this turns its tree into the expressions gates use.
 * What the emulator cannot evaluate (offset, @, subqueries, group_left) is refused by name.
 */
export type Expr =
  | { type: 'number'; value: number }
  | { type: 'string'; value: string }
  | { type: 'selector'; name: string; matchers: Matcher[] }
  | { type: 'matrix'; name: string; matchers: Matcher[]; rangeMs: number }
  | { type: 'call'; fn: string; args: Expr[] }
  | { type: 'aggregate'; op: string; grouping?: { by: boolean; labels: string[] }; param?: Expr; expr: Expr }
  | {
      type: 'binary';
      op: string;
      lhs: Expr;
      rhs: Expr;
      bool: boolean;
      matching?: { on: boolean; labels: string[] };
    }
  | { type: 'negate'; expr: Expr };

export class PromqlError extends Error {
  override name = 'PromqlError';
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** A Prometheus duration (`1m30s`) in ms. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new PromqlError(`"${text}" is not a duration like 30s, 5m or 1h30m`);
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNITS[p[2] as string] as number), 0);
}

function unquote(text: string): string {
  const quote = text[0];
  const body = text.slice(1, -1);
  if (quote === '`') return body;
  if (quote === "'") return JSON.parse(`"${body.replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string;
  return JSON.parse(text) as string;
}

export function parsePromql(query: string): Expr {
  const tree = parser.parse(query);
  const text = (n: SyntaxNode) => query.slice(n.from, n.to);
  const refuse = (n: SyntaxNode, what: string): never => {
    throw new PromqlError(
      `the emulator does not evaluate ${what} ("${text(n).slice(0, 40)}"); run a real Prometheus for it`,
    );
  };
  let broken: SyntaxNode | undefined;
  tree.iterate({
    enter: (n) => {
      if (n.type.isError && !broken) broken = n.node;
    },
  });
  if (broken)
    throw new PromqlError(
      `"${query}" is not valid PromQL: unexpected input at position ${broken.from}${
        broken.from < query.length ? ` ("${query.slice(broken.from, broken.from + 20)}")` : ' (it ends early)'
      }`,
    );
  const children = (n: SyntaxNode): SyntaxNode[] => {
    const out: SyntaxNode[] = [];
    for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
    return out;
  };

  const selector = (n: SyntaxNode): { name: string; matchers: Matcher[] } => {
    const matchers: Matcher[] = [];
    let name = '';
    for (const c of children(n)) {
      if (c.name === 'Identifier') name = text(c);
      else if (c.name === 'LabelMatchers') {
        for (const m of children(c)) {
          if (m.name !== 'UnquotedLabelMatcher') refuse(m, 'quoted label names');
          const label = m.getChild('LabelName');
          const op = m.getChild('MatchOp');
          const value = m.getChild('StringLiteral');
          if (!label || !op || !value) refuse(m, 'this matcher');
          matchers.push({
            label: text(label as SyntaxNode),
            op: text(op as SyntaxNode) as MatchOp,
            value: unquote(text(value as SyntaxNode)),
          });
        }
      }
    }
    const byName = matchers.find((m) => m.label === '__name__' && m.op === '=');
    if (!name && byName) name = byName.value;
    if (!name) refuse(n, 'a selector without a metric name');
    return { name, matchers: matchers.filter((m) => m !== byName) };
  };

  const grouping = (n: SyntaxNode) =>
    children(n.getChild('GroupingLabels') ?? n)
      .filter((c) => c.name === 'LabelName')
      .map(text);

  const expr = (n: SyntaxNode): Expr => {
    switch (n.name) {
      case 'PromQL':
      case 'ParenExpr': {
        const inner = children(n).find((c) => c.name !== '(' && c.name !== ')');
        if (!inner) return refuse(n, 'an empty expression');
        return expr(inner);
      }
      case 'NumberDurationLiteral': {
        const t = text(n);
        const value = /^[0-9.]+(e[+-]?\d+)?$|^0x[0-9a-f]+$|^(inf|nan)$/i.test(t)
          ? Number(t.toLowerCase() === 'inf' ? Infinity : t)
          : parseDuration(t) / 1000;
        return { type: 'number', value };
      }
      case 'StringLiteral':
        return { type: 'string', value: unquote(text(n)) };
      case 'VectorSelector':
        return { type: 'selector', ...selector(n) };
      case 'MatrixSelector': {
        const v = n.getChild('VectorSelector');
        const d = n.getChild('DurationExpr');
        if (!v || !d) return refuse(n, 'this range selector');
        return { type: 'matrix', ...selector(v), rangeMs: parseDuration(text(d)) };
      }
      case 'UnaryExpr': {
        const op = n.getChild('UnaryOp');
        const inner = children(n).find((c) => c.name !== 'UnaryOp');
        if (!inner) return refuse(n, 'this unary expression');
        return op && text(op) === '-' ? { type: 'negate', expr: expr(inner) } : expr(inner);
      }
      case 'FunctionCall': {
        const fn = text(n.getChild('FunctionIdentifier') as SyntaxNode);
        const body = n.getChild('FunctionCallBody');
        const args = body
          ? children(body).filter((c) => c.name !== ',' && c.name !== '(' && c.name !== ')')
          : [];
        return { type: 'call', fn, args: args.map(expr) };
      }
      case 'AggregateExpr': {
        const op = text(n.getChild('AggregateOp') as SyntaxNode);
        const modifier = n.getChild('AggregateModifier');
        const body = n.getChild('FunctionCallBody');
        const args = body
          ? children(body).filter((c) => c.name !== ',' && c.name !== '(' && c.name !== ')')
          : [];
        const inner = args.at(-1);
        if (!inner) return refuse(n, 'an aggregation of nothing');
        return {
          type: 'aggregate',
          op,
          ...(modifier
            ? { grouping: { by: modifier.getChild('By') !== null, labels: grouping(modifier) } }
            : {}),
          ...(args.length > 1 ? { param: expr(args[0] as SyntaxNode) } : {}),
          expr: expr(inner),
        };
      }
      case 'BinaryExpr': {
        const parts = children(n);
        const [lhs, opNode] = parts;
        const rhs = parts.at(-1);
        if (!lhs || !opNode || !rhs) return refuse(n, 'this binary expression');
        const matching = n.getChild('MatchingModifierClause');
        if (matching && (matching.getChild('GroupLeft') || matching.getChild('GroupRight')))
          refuse(matching, 'group_left/group_right');
        return {
          type: 'binary',
          op: text(opNode),
          lhs: expr(lhs),
          rhs: expr(rhs),
          bool: n.getChild('BoolModifier') !== null,
          ...(matching
            ? { matching: { on: matching.getChild('On') !== null, labels: grouping(matching) } }
            : {}),
        };
      }
      case 'OffsetExpr':
        return refuse(n, 'offset');
      case 'StepInvariantExpr':
        return refuse(n, '@ modifiers');
      case 'SubqueryExpr':
        return refuse(n, 'subqueries');
      default:
        return refuse(n, n.name);
    }
  };
  return expr(tree.topNode);
}
