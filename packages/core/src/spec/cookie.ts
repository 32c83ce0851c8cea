/** Escapes text for use inside an RE2 (or JavaScript) pattern. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A cookie as a regex on the `Cookie` header, for data planes without a cookie matcher (Istio,
 * Gateway API). Browsers send `a=1; b=2` — a space after each `;` — so unlike the usual
 * `^name=` pattern, which matches only the first cookie, this one allows white space before the name.
 */
export function cookieHeaderRegex(name: string, value: { exact: string } | { regex: string }): string {
  const v = 'exact' in value ? escapeRegex(value.exact) : value.regex.replace(/^\^/, '').replace(/\$$/, '');
  return `^(.*?;\\s*)?(${escapeRegex(name)}=(${v}))(;.*)?$`;
}
