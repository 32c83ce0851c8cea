import type { StrategyType } from '../spec/strategy.ts';
import { blueGreenStrategy } from './blue-green.ts';
import { rollingStrategy } from './rolling.ts';
import type { Strategy } from './strategy.ts';
import { headerMatchStrategy, replicaRatioStrategy, weightedStrategy } from './weighted.ts';

export const strategies: Readonly<Record<StrategyType, Strategy>> = {
  weighted: weightedStrategy,
  headerMatch: headerMatchStrategy,
  rolling: rollingStrategy,
  blueGreen: blueGreenStrategy,
  replicaRatio: replicaRatioStrategy,
};

export type { PlanOptions, Strategy } from './strategy.ts';
export { blueGreenStrategy, headerMatchStrategy, replicaRatioStrategy, rollingStrategy, weightedStrategy };
