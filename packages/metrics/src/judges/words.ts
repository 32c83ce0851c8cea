// How the sequential judges say what they saw, for people: rates in percent, counts with
// separators, and the e-value as the share of the way to the rollback bound (1/alpha). The
// numbers themselves stay in each measurement's detail.

export const percent = (rate: number): string => `${(rate * 100).toFixed(rate < 0.001 && rate > 0 ? 3 : 2)}%`;

export const count = (n: number): string => Math.round(n).toLocaleString('en');

/** `evidence 0.3% of the way to rollback`: the e-value over the bound it must reach. */
export function towardsRollback(eValue: number, alpha: number): string {
  const share = 100 * eValue * alpha;
  const shown = share < 0.1 ? 'under 0.1' : share >= 99.95 ? '100' : share.toPrecision(2);
  return `evidence ${shown}% of the way to rollback`;
}
