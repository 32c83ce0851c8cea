// The README's two commands in either order in one checkout: the demo leaves its report and
// kubeconfig in the checkout, and the test command's linter must not check them (they are
// git-ignored; biome reads .gitignore). Checked with a report biome would reject if it looked.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

it('the linter passes with the demo’s outputs in the checkout (demo, then tests)', () => {
  const made: string[] = [];
  const leave = (name: string, text: string) => {
    const path = join(root, name);
    if (existsSync(path)) return; // a real demo's output: left as it is
    writeFileSync(path, text);
    made.push(path);
  };
  try {
    // No lang, an unused variable: two findings if the linter read it.
    leave('kanary-demo-report.html', '<html><body><script>var  unused=1</script></body></html>\n');
    leave('kanary-demo.kubeconfig', 'apiVersion: v1\nkind: Config\n');
    const biome = join(root, 'node_modules', '.bin', 'biome');
    const r = spawnSync(biome, ['check', '--error-on-warnings', '.'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/kanary-demo/);
    expect(r.status).toBe(0);
  } finally {
    for (const path of made) rmSync(path);
  }
});
