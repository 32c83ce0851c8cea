/**
 * Query templates with `{{name}}` placeholders whose values cannot change the query. Each
 * placeholder is escaped for where it stands: inside a PromQL string it is escaped as a string
 * (and, after `=~` or `!~`, as a regular expression that matches only the value itself); outside
 * any string only a duration or a number is accepted; in a `#` comment it stays on the comment's
 * line. Then the result is parsed with the Prometheus project's own grammar
 * (`@prometheus-io/lezer-promql`), and every value must have landed as exactly one string literal,
 * number or duration (or inside its comment): correct by construction, not by escaping alone. In
 * URLs each value is percent-encoded as one path segment or query value.
 */
import { KanaryError } from '@kanary/core/adapter';
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';

/** A value that cannot be placed in a query safely, or a query that does not parse: code ANALYSIS. */
export class TemplateError extends KanaryError {
  override readonly name: string = 'TemplateError';
  constructor(message: string) {
    super('ANALYSIS', message);
  }
}

export type TemplateVars = Record<string, string | number | undefined>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/y;
const BARE_SAFE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y)?)+$/;
const REGEX_META = /[\\^$.|?*+()[\]{}]/g;

function lookup(vars: TemplateVars, name: string): string {
  const value = vars[name];
  if (value === undefined) {
    const known = Object.keys(vars).filter((k) => vars[k] !== undefined);
    throw new TemplateError(`"{{${name}}}" has no value (known: ${known.join(', ') || 'none'})`);
  }
  return String(value);
}

function escapeString(value: string, quote: string): string {
  if (quote === '`') {
    if (value.includes('`'))
      throw new TemplateError(`a value with "\`" cannot go in a raw string: ${JSON.stringify(value)}`);
    return value;
  }
  return value.replace(/[\\"'\n\r\t]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : c === quote || c === '\\' ? `\\${c}` : c,
  );
}

/** Where one placeholder's value went in the rendered query. */
interface Slot {
  name: string;
  /** Position of the placeholder in the template, for messages. */
  at: number;
  from: number;
  to: number;
  kind: 'string' | 'bare' | 'comment';
}

/** Fills the placeholders, escaped for where each stands, and says where each value went. */
function substitute(template: string, value: (name: string, kind: Slot['kind']) => string) {
  let out = '';
  let quote: string | undefined;
  let regex = false;
  let comment = false;
  const slots: Slot[] = [];
  for (let i = 0; i < template.length; ) {
    PLACEHOLDER.lastIndex = i;
    const m = PLACEHOLDER.exec(template);
    if (m) {
      const name = m[1] as string;
      const kind = comment ? 'comment' : quote !== undefined ? 'string' : 'bare';
      const raw = value(name, kind);
      let text: string;
      if (kind === 'comment') text = raw.replace(/[\r\n]+/g, ' ');
      else if (kind === 'string')
        text = escapeString(regex ? raw.replace(REGEX_META, '\\$&') : raw, quote as string);
      else if (BARE_SAFE.test(raw)) text = raw;
      else
        throw new TemplateError(
          `"{{${name}}}" stands outside a quoted string, where only a duration or number is allowed, and its value is ${JSON.stringify(raw)}; put it inside quotes, e.g. label="{{${name}}}"`,
        );
      slots.push({ name, at: i, from: out.length, to: out.length + text.length, kind });
      out += text;
      i = PLACEHOLDER.lastIndex;
      continue;
    }
    const c = template[i] as string;
    if (comment) {
      if (c === '\n') comment = false;
    } else if (quote !== undefined) {
      if (c === '\\' && quote !== '`') {
        out += template.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c === quote) {
        quote = undefined;
        regex = false;
      }
    } else if (c === '#') comment = true;
    else if (c === '"' || c === "'" || c === '`') {
      quote = c;
      regex = /[=!]~\s*$/.test(out);
    }
    out += c;
    i += 1;
  }
  if (quote !== undefined) throw new TemplateError('the query has an unclosed string');
  return { text: out, slots };
}

const NUMBER = new Set(['NumberDurationLiteral', 'NumberDurationLiteralInDurationContext']);

/** Throws unless the query parses and every value sits in exactly one literal (or its comment). */
function verify(query: string, slots: Slot[]): void {
  const tree = parser.parse(query);
  const nodes: SyntaxNode[] = [];
  let error: SyntaxNode | undefined;
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) error ??= n.node;
      if (n.name === 'StringLiteral' || n.name === 'LineComment' || NUMBER.has(n.name)) nodes.push(n.node);
    },
  });
  if (error) {
    const near = query.slice(Math.max(0, error.from - 10), error.to + 10).replace(/\s+/g, ' ');
    throw new TemplateError(`the query does not parse as PromQL at position ${error.from} (near "${near}")`);
  }
  for (const s of slots) {
    const fits = nodes.some((n) =>
      s.kind === 'bare'
        ? NUMBER.has(n.name) && n.from === s.from && n.to === s.to
        : s.kind === 'string'
          ? n.name === 'StringLiteral' && n.from < s.from && s.to < n.to
          : n.name === 'LineComment' && n.from < s.from && s.to <= n.to,
    );
    if (!fits)
      throw new TemplateError(
        `"{{${s.name}}}" (position ${s.at} of the template) does not land as one ${
          s.kind === 'bare' ? 'number or duration' : s.kind === 'string' ? 'string' : 'comment'
        } in the query`,
      );
  }
}

/** Renders a PromQL template. Throws `TemplateError` naming the placeholder when a value cannot be placed safely. */
export function renderPromQL(template: string, vars: TemplateVars): string {
  const { text, slots } = substitute(template, (name) => lookup(vars, name));
  verify(text, slots);
  return text;
}

/**
 * Checks a PromQL template before anything runs: rendered with sample values (a word in strings,
 * `1m` outside them), it must parse and every placeholder must land in one literal. Returns the
 * problem, or undefined.
 */
export function promQLTemplateProblem(template: string): string | undefined {
  try {
    const { text, slots } = substitute(template, (_name, kind) => (kind === 'bare' ? '1m' : 'kanary'));
    verify(text, slots);
    return undefined;
  } catch (error) {
    if (error instanceof TemplateError) return error.message;
    throw error;
  }
}

/**
 * Renders a URL template. A value is percent-encoded as one path segment (a `/` in it is encoded,
 * and `.` or `..` are refused: URL parsing would resolve them) or one query value; a placeholder
 * in the scheme or host is refused (a value must not choose the server).
 */
export function renderUrl(template: string, vars: TemplateVars): string {
  const authorityEnd = (() => {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(template);
    if (!scheme) return 0;
    const rest = template.slice(scheme[0].length);
    const end = rest.search(/[/?#]/);
    return scheme[0].length + (end < 0 ? rest.length : end);
  })();
  return template.replace(
    /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g,
    (match, name: string, offset: number) => {
      if (offset < authorityEnd)
        throw new TemplateError(
          `"${match}" stands in the URL's scheme or host; a value may not choose the server`,
        );
      const value = lookup(vars, name);
      const inPath = !template.slice(0, offset).includes('?');
      if (inPath && (value === '.' || value === '..'))
        throw new TemplateError(
          `"${match}" is ${JSON.stringify(value)}, which URL parsing would resolve as a path step`,
        );
      return encodeURIComponent(value);
    },
  );
}

/** The placeholder names a template uses (for validation before anything runs). */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g)].map((m) => m[1] as string);
}
