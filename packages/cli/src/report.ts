// `@kanary/cli/report`: the HTML report of a rollout, and the SVG charts it is drawn with.
export type { Mark, Series } from './report/chart.ts';
export { chart, esc } from './report/chart.ts';
export type { ReportInput, SideSeries } from './report/html.ts';
export { renderRolloutReport, timelineOf } from './report/html.ts';
