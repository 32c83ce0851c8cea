export { expectShare } from '@kanary/testkit';
