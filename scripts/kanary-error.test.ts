import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * One error type: library code throws KanaryError (or a subclass, with its code) and recognises it
 * with `isKanaryError`, which also knows a KanaryError from a second copy of the package (a host
 * with two versions installed), where `instanceof` does not. The exceptions, each with its reason:
 */
const OWN_ERRORS: Record<string, string> = {
  'packages/cli/src/wiring.ts':
    'KubeConfigError: a bad --kubeconfig/--context, turned into exit code 3 by main',
  'packages/cli/src/main.ts': 'UsageError: a bad command line, turned into the usage text and exit code 2',
};
/** The emulator answers as an API server does (its own Status errors), not as Kanary. */
const SKIP_DIRS = ['packages/testkit/src/'];

const root = join(import.meta.dirname, '..');
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}
const librarySources = () =>
  readdirSync(join(root, 'packages')).flatMap((pkg) => {
    const src = join(root, 'packages', pkg, 'src');
    return statSync(src, { throwIfNoEntry: false })?.isDirectory() ? sources(src) : [];
  });

describe('one error type', () => {
  it('no `instanceof KanaryError` outside its own module: isKanaryError everywhere', () => {
    const offenders = librarySources()
      .map((f) => relative(root, f))
      .filter((rel) => rel !== 'packages/core/src/errors/kanary-error.ts')
      .flatMap((rel) =>
        readFileSync(join(root, rel), 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${rel}:${i + 1}` }))
          .filter(({ line }) => /instanceof\s+KanaryError\b/.test(line))
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });

  it('error classes of the library extend KanaryError, except the CLI’s own command-line errors', () => {
    const offenders = librarySources()
      .map((f) => relative(root, f))
      .filter(
        (rel) =>
          rel !== 'packages/core/src/errors/kanary-error.ts' &&
          !SKIP_DIRS.some((d) => rel.startsWith(d)) &&
          !OWN_ERRORS[rel],
      )
      .flatMap((rel) =>
        readFileSync(join(root, rel), 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${rel}:${i + 1}` }))
          .filter(({ line }) => /class\s+\w+\s+extends\s+Error\b/.test(line))
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });
});
