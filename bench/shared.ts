import type { RolloutSpecInput } from '@kanary/core';

/** The weighted rollout every benchmark drives: app `name` in namespace `bench`, image `<name>:2`. */
export const benchSpec = (
  name: string,
  steps: unknown[],
  extra: Partial<RolloutSpecInput> = {},
): RolloutSpecInput => ({
  name,
  namespace: 'bench',
  target: { name, service: name },
  update: { image: `${name}:2` },
  strategy: { type: 'weighted' },
  steps: steps as RolloutSpecInput['steps'],
  ...extra,
});

/** The q-quantile (nearest rank) of measured times. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
