import { type AnalysisSpec, parseRolloutSpec } from '@kanary/core';

/** The smallest weighted release the gate's tests hang their analyses on. */
export const spec = parseRolloutSpec({
  name: 'shop',
  namespace: 'shop',
  target: { name: 'shop', service: 'shop' },
  update: { image: 'shop:2' },
  strategy: { type: 'weighted' },
  steps: [{ setWeight: 10 }],
});

/** An analysis of these metrics as a step of that release carries it, parsed (defaults filled). */
export const analysisOf = (metrics: Array<Record<string, unknown>>): AnalysisSpec =>
  (
    parseRolloutSpec({ ...spec, steps: [{ analysis: { metrics } }] }).steps[0] as unknown as {
      analysis: AnalysisSpec;
    }
  ).analysis;
