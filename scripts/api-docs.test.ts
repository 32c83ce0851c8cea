import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { apiDocPath, PACKAGES, renderPackage } from './api-docs.ts';

// The API reference is generated from the emitted declarations (CI builds before testing).
it.each(PACKAGES)(
  'docs/api/%s.md matches the code (regenerate with `pnpm build && pnpm api-docs`)',
  (pkg) => {
    const doc = renderPackage(pkg);
    expect(doc).toMatch(/^### `/m);
    expect(readFileSync(apiDocPath(pkg), 'utf8')).toBe(doc);
  },
);
