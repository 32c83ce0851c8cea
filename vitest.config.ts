import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the workspace packages by name; point those names at the TypeScript sources so the
// suite needs no build step and always runs the code in the tree.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [{ find: /^@kanary\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` }],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'scripts/*.test.ts',
      'chaos/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest runs files on cores − 1 workers: one on a 2-core machine, where the suite then takes
    // 26 of CI's 30 minutes with a core idle. The tests wait on virtual time or bounded real loops,
    // so two at a time is safe there.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
