// @kanary/metrics — metric providers, judges and the metric gate for Kanary's analyses.

export type { BuiltinRouter } from './builtins/queries.ts';
export { builtinSource } from './builtins/queries.ts';
export type { Condition } from './conditions/expression.ts';
export { compileCondition, ExpressionError } from './conditions/expression.ts';
export type { MetricPhase, Tally } from './gate/counting.ts';
export { assess, effectiveCount } from './gate/counting.ts';
export type { MetricGateOptions } from './gate/metric-gate.ts';
export { createMetricGate } from './gate/metric-gate.ts';
export type { JudgeSpec, MetricSource, PrometheusSource, ProviderSpec } from './gate/metric-spec.ts';
export { JudgeSchema, MetricSourceSchema, ProviderSchema } from './gate/metric-spec.ts';
export type { Judge, Look } from './judges/judge.ts';
export { judgeFor } from './judges/judge.ts';
export type {
  CanaryScore,
  Classification,
  Direction,
  MannWhitneyOptions,
  MetricClassification,
  ScoredMetric,
} from './judges/kayenta.ts';
export { classifyMetric, scoreCanary } from './judges/kayenta.ts';
export type { MannWhitneyJudgeOptions } from './judges/mann-whitney.ts';
export { createMannWhitneyJudge } from './judges/mann-whitney.ts';
export type { SequentialLatencyOptions } from './judges/sequential-latency.ts';
export { createSequentialLatencyJudge } from './judges/sequential-latency.ts';
export type { SequentialRateOptions } from './judges/sequential-rate.ts';
export { createSequentialRateJudge } from './judges/sequential-rate.ts';
export type { ThresholdOptions } from './judges/threshold.ts';
export { createThresholdJudge } from './judges/threshold.ts';
export type {
  CountsData,
  CountsHistory,
  DataKind,
  FunctionData,
  HistogramData,
  HistogramHistory,
  MetricData,
  SamplesData,
  ScalarData,
} from './providers/data.ts';
export type { HttpOptions } from './providers/http.ts';
export { HttpError } from './providers/http.ts';
export { selectJsonPath } from './providers/json-path.ts';
export type {
  InstantResult,
  PrometheusClient,
  PrometheusClientOptions,
  RangeSeries,
} from './providers/prometheus.ts';
export { createPrometheusClient } from './providers/prometheus.ts';
export type { PrometheusServer, PrometheusServers, WebOptions, WebServer } from './providers/servers.ts';
export type { MeasureRequest, MetricFunction } from './providers/sources.ts';
export { MeasureError } from './providers/sources.ts';
export type { TemplateVars } from './providers/template.ts';
export { promQLTemplateProblem, renderPromQL, renderUrl, TemplateError } from './providers/template.ts';
export type { CounterMemory, SeriesValue } from './stats/counters.ts';
export { counterDelta } from './stats/counters.ts';
export type { DispersionPrior, DispersionState } from './stats/dispersion.ts';
export {
  carefulVariance,
  DISPERSION_PRIOR,
  extraVariance,
  initialDispersion,
  observeBaseline,
  observeDispersion,
  SPLIT_SCREEN_WINDOWS,
  screenSplits,
  twoLevelSplit,
  withHistory,
} from './stats/dispersion.ts';
export type { FreshStartState, FreshWindow } from './stats/fresh-starts.ts';
export {
  FRESH_AFTER,
  FRESH_STARTS,
  FRESH_WEIGHT,
  foldFresh,
  initialFreshStarts,
  observeFresh,
  STEP_UP,
  startsHere,
  TIMED_WEIGHT,
  timedWeight,
  withFreshStarts,
} from './stats/fresh-starts.ts';
export { normalCdf, normalQuantile } from './stats/normal.ts';
export type { Lean, OwnShiftState, ShiftWindow } from './stats/own-shift.ts';
export {
  assumedStallRate,
  CANARY_SHIFT_PRIOR,
  carefulOwn,
  carefulRatios,
  chiSquareQuantile,
  FRESH_SCREEN_LEVEL,
  initialOwnShift,
  leanAllowance,
  lowerRatio,
  MAX_ASSUMED_STALL_RATE,
  MAX_STALL_RATE,
  observeShiftWindow,
  pairRatios,
  SCREEN_REQUESTS,
  SCREEN_WINDOWS,
  SPREAD_BET_LIMIT,
  STALL_PRIOR,
  STALL_Z,
  SURE_SHIFT_LEVEL,
  shiftAllowance,
  shiftBlockFactor,
  shiftRatios,
  shiftWindow,
  sideRatios,
  spreadAllowance,
  stallRate,
  TAIL_SCREEN_LEVEL,
  twoLevelDof,
  twoLevelScatter,
  withinVariance,
} from './stats/own-shift.ts';
export type { PairedTestState } from './stats/paired-e-process.ts';
export { initialPairedTest, pairedLogEValue, updatePairedTest } from './stats/paired-e-process.ts';
export { blockFactor } from './stats/persistence.ts';
export type { RankSumResult } from './stats/rank-sum.ts';
export { rankSumTest } from './stats/rank-sum.ts';
export type { RateTestState, WindowCounts } from './stats/rate-e-process.ts';
export {
  initialRateTest,
  RATE_GRID,
  RATE_WEIGHTS,
  rateLogEValue,
  temperings,
  updateRateTest,
} from './stats/rate-e-process.ts';
export { EXACT_UP_TO, logSampleMoment } from './stats/sampling.ts';
export type { Shape, ShapeTestState, StallAllowance } from './stats/shape-e-process.ts';
export {
  initialShapeTest,
  leansOf,
  SHAPE_WEIGHTS,
  SHAPES,
  scoreVariance,
  shapeLogEValue,
  shapeScores,
  shiftResponse,
  updateShapeTest,
} from './stats/shape-e-process.ts';
export { boundAtOrBelow, fasterBuckets, moveCounts, nonDecreasing } from './stats/slower-by.ts';
export type { SplitTestState } from './stats/split-e-process.ts';
export {
  initialSplitTest,
  OWN_ALTERNATIVES,
  SPLIT_NULL_GRID,
  splitLogEValue,
  splitLogEValues,
  updateSplitTest,
} from './stats/split-e-process.ts';
export { cappedWindow, stallCap } from './stats/stall-cap.ts';
