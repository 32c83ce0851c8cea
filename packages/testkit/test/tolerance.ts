export { expectShare } from '@kanary/testkit/vitest';
