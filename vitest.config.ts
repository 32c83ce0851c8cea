import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the workspace packages by name; point those names at the TypeScript sources so the
// suite needs no build step and always runs the code in the tree.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@kanary\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
      // Subpath entries (`@kanary/testkit/vitest`): src/<entry>.ts.
      { find: /^@kanary\/([a-z-]+)\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/$2.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'scripts/*.test.ts',
      'chaos/*.test.ts',
    ],
    // A guard against hangs, not a speed goal (speed belongs to the benchmarks): statistical tests
    // that run thousands of seeded canaries take 15–25 s on an idle machine and passed 30 s on a busy
    // CI one (a bursty false-rollback test: 30.1 s alongside the chaos files).
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
