// @kanary/testkit/vitest — the helpers that run inside a vitest suite (they import vitest when
// loaded): the router conformance suite and the traffic-share assertion. Everything else is in
// '@kanary/testkit', which loads without vitest.

export type {
  ConformanceSetup,
  ObjectId,
  PersonEdit,
  RouterConformanceOptions,
} from './conformance/router.ts';
export { describeRouterConformance } from './conformance/router.ts';
export { expectShare } from './testing/tolerance.ts';
