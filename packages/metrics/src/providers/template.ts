/**
 * Query templates with `{{name}}` placeholders whose values cannot change the query. Each
 * placeholder is escaped for where it stands: inside a PromQL string it is escaped as a string
 * (and, after `=~` or `!~`, as a regular expression that matches only the value itself); outside
 * any string only a duration or a number is accepted. In URLs it is percent-encoded.
 */

export class TemplateError extends Error {
  override name = 'TemplateError';
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

/** Renders a PromQL template. Throws `TemplateError` naming the placeholder when a value cannot be placed safely. */
export function renderPromQL(template: string, vars: TemplateVars): string {
  let out = '';
  let quote: string | undefined;
  let regex = false;
  for (let i = 0; i < template.length; ) {
    PLACEHOLDER.lastIndex = i;
    const m = PLACEHOLDER.exec(template);
    if (m) {
      const name = m[1] as string;
      const value = lookup(vars, name);
      if (quote !== undefined) {
        const literal = regex ? value.replace(REGEX_META, '\\$&') : value;
        out += escapeString(literal, quote);
      } else if (BARE_SAFE.test(value)) {
        out += value;
      } else {
        throw new TemplateError(
          `"{{${name}}}" stands outside a quoted string, where only a duration or number is allowed, and its value is ${JSON.stringify(value)}; put it inside quotes, e.g. label="{{${name}}}"`,
        );
      }
      i = PLACEHOLDER.lastIndex;
      continue;
    }
    const c = template[i] as string;
    if (quote !== undefined) {
      if (c === '\\' && quote !== '`') {
        out += template.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c === quote) {
        quote = undefined;
        regex = false;
      }
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
      regex = /[=!]~\s*$/.test(out);
    }
    out += c;
    i += 1;
  }
  if (quote !== undefined) throw new TemplateError('the query has an unclosed string');
  return out;
}

/** Renders a URL template, percent-encoding every value. */
export function renderUrl(template: string, vars: TemplateVars): string {
  return template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g, (_, name: string) =>
    encodeURIComponent(lookup(vars, name)),
  );
}

/** The placeholder names a template uses (for validation before anything runs). */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g)].map((m) => m[1] as string);
}
