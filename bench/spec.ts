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
