import type { Rollout, RolloutSpecInput } from '@kanary/core';

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

/** A weighted rollout of three 1-minute pauses: 10 → 25 → 50 → 100%. */
export const THREE_PAUSES = [
  { setWeight: 10 },
  { pause: { duration: '1m' } },
  { setWeight: 25 },
  { pause: { duration: '1m' } },
  { setWeight: 50 },
  { pause: { duration: '1m' } },
  { setWeight: 100 },
];

/** Wall time from each setWeight step's start to its weight being read back from the cluster. */
export function timeSteps(rollout: Rollout, into: number[]) {
  let started = 0;
  rollout.on('step', ({ step }) => {
    if (step.title.startsWith('set weight')) started = performance.now();
  });
  rollout.on('weight', ({ verified }) => {
    if (verified && started) {
      into.push(performance.now() - started);
      started = 0;
    }
  });
}
