import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

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

const root = join(import.meta.dirname, '..');
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('no waits on real time in library code', () => {
  it('packages/*/src use the injected Clock for every wait and timeout', () => {
    const offenders: string[] = [];
    for (const pkg of readdirSync(join(root, 'packages'))) {
      const src = join(root, 'packages', pkg, 'src');
      if (!statSync(src, { throwIfNoEntry: false })?.isDirectory()) continue;
      for (const file of sources(src)) {
        const rel = relative(root, file);
        if (ALLOWED[rel] || ALLOWED_DIRS.some((d) => rel.startsWith(d))) continue;
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (REAL_TIME.test(line) && !line.trim().startsWith('//'))
              offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    expect(offenders).toEqual([]);
  });
});
