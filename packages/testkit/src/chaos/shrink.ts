import fc from 'fast-check';
import { type ChaosOptions, type ChaosReport, runChaos } from './runner.ts';
import { type ChaosScenario, chaosScenario, scenarioOf } from './scenario.ts';

export interface ShrinkResult {
  /** The smallest scenario found that still breaks an invariant (the seed's own if none is smaller). */
  scenario: ChaosScenario;
  report: ChaosReport;
  /** How many scenarios were run while shrinking. */
  runs: number;
}

/**
 * Reduces a failing seed's scenario to a minimal one with fast-check's shrinking (fewer
 * disturbances, earlier and shorter ones, fewer steps), each candidate run in full with every
 * invariant checked. Returns undefined when the seed does not fail.
 */
export async function shrinkChaos(
  options: Omit<ChaosOptions, 'scenario'> & {
    onRun?: (report: ChaosReport) => void;
    /** What counts as failing (default: any invariant broken); a narrower one keeps one bug in view. */
    fails?: (report: ChaosReport) => boolean;
  },
): Promise<ShrinkResult | undefined> {
  const fails = options.fails ?? ((r: ChaosReport) => r.violations.length > 0);
  let runs = 0;
  let smallest: ChaosReport | undefined;
  const result = await fc.check(
    fc.asyncProperty(chaosScenario, async (generated) => {
      runs += 1;
      // The server the seed runs on stays the same while the release shrinks.
      const { noWatchList } = scenarioOf(options.seed);
      const scenario = noWatchList ? { ...generated, noWatchList } : generated;
      const report = await runChaos({ ...options, scenario });
      options.onRun?.(report);
      if (!fails(report)) return true;
      smallest = report;
      return false;
    }),
    // The seed's first value is the scenario `scenarioOf(seed)` stands for.
    { seed: options.seed, numRuns: 1, endOnFailure: false },
  );
  if (!result.failed || !smallest) return undefined;
  return { scenario: smallest.scenario, report: smallest, runs };
}
