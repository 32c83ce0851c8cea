/** Label matchers of PromQL selectors (`name{label="v",code=~"5.."}`), as the emulator's registry applies them. */

export type MatchOp = '=' | '!=' | '=~' | '!~';
export interface Matcher {
  label: string;
  op: MatchOp;
  value: string;
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
