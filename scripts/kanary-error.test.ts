import { describe, expect, it } from 'vitest';
import { librarySourceLines } from './sources.ts';

/**
 * One error type: library code throws KanaryError (or a subclass, with its code) and recognises it
 * with `isKanaryError`, which also knows a KanaryError from a second copy of the package (a host
 * with two versions installed), where `instanceof` does not. The exceptions, each with its reason:
 */
const OWN_ERRORS: Record<string, string> = {
  'packages/cli/src/wiring.ts':
    'KubeConfigError: a bad --kubeconfig/--context, turned into exit code 3 by main',
  'packages/cli/src/main.ts': 'UsageError: a bad command line, turned into the usage text and exit code 2',
  'packages/core/src/kubernetes/transport.ts':
    "KubeHttpError: an API server's answer outside 2xx, as client-node's ApiException is; it never leaves the client (fromKubeError turns it into a KanaryError with its code)",
};
const HOME = 'packages/core/src/errors/kanary-error.ts';
/** The emulator answers as an API server does (its own Status errors), not as Kanary. */
const SKIP_DIRS = ['packages/testkit/src/'];

describe('one error type', () => {
  it('no `instanceof KanaryError` outside its own module: isKanaryError everywhere', () => {
    const offenders = librarySourceLines()
      .filter(({ file, line }) => file !== HOME && /instanceof\s+KanaryError\b/.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it('error classes of the library extend KanaryError, except the CLI’s own command-line errors', () => {
    const offenders = librarySourceLines()
      .filter(({ file }) => file !== HOME && !OWN_ERRORS[file] && !SKIP_DIRS.some((d) => file.startsWith(d)))
      .filter(({ line }) => /class\s+\w+\s+extends\s+Error\b/.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });
});
