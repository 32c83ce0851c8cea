/** log(Σ wᵢ·exp(xᵢ)) without overflow: e-values grow past 1e308 long before anyone reads them. */
export function logWeightedSumExp(logs: readonly number[], weights: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of logs) if (x > max) max = x;
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  logs.forEach((x, i) => {
    sum += (weights[i] ?? 0) * Math.exp(x - max);
  });
  return max + Math.log(sum);
}
