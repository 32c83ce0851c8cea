import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `pnpm test:e2e`: the opt-in suite against a real cluster (KANARY_E2E_KUBECONFIG). Not part of
// `pnpm test`: without the variable every case is skipped, with the reason in its name.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@kanary\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
      { find: /^@kanary\/([a-z-]+)\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/$2.ts` },
    ],
  },
  test: {
    include: ['packages/*/test/e2e/**/*.e2e.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
