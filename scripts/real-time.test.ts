import { describe, expect, it } from 'vitest';
import { librarySourceLines } from './sources.ts';

/**
 * Library code waits only through the injected Clock: a real-time wait makes virtual-time tests
 * lie and a stalled driver act on stale time. The exceptions, each with its reason:
 */
const ALLOWED: Record<string, string> = {
  'packages/core/src/ports/clock.ts': 'the system clock itself, and the virtual clock yielding to real I/O',
};
/** The emulator is a world on the wall clock (HTTP server, controllers' real I/O pacing, fault latency). */
const ALLOWED_DIRS = ['packages/testkit/src/'];
const REAL_TIME = /\bsetTimeout\s*\(|\bsetInterval\s*\(|AbortSignal\.timeout\s*\(|\.setTimeout\s*\(/;

describe('no waits on real time in library code', () => {
  it('packages/*/src use the injected Clock for every wait and timeout', () => {
    const offenders = librarySourceLines()
      .filter(({ file }) => !ALLOWED[file] && !ALLOWED_DIRS.some((d) => file.startsWith(d)))
      .filter(({ line }) => REAL_TIME.test(line) && !line.trim().startsWith('//'))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });
});
