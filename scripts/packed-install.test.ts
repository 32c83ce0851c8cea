// What users install: every package packed as it would be published (`pnpm pack` turns workspace:*
// into versions), installed with npm into a fresh project outside the workspace, then an example,
// the CLI and the testkit run from there. Needs the build (CI builds first) and the npm registry for
// the packages' own dependencies.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MINIMUM_NODE, unsupportedNode } from '../packages/cli/src/node-version.ts';

const root = join(import.meta.dirname, '..');
const node = process.execPath;
let project = '';

/** Runs `args` with this Node in the installed project; PATH puts this Node first (the bin's shebang). */
function run(args: string[], options: { node?: string } = {}) {
  const r = spawnSync(options.node ?? node, args, {
    cwd: project,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PATH: `${dirname(options.node ?? node)}:${process.env.PATH}`, NO_COLOR: '1' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'kanary-installed-'));
  const tarballs = join(project, 'tarballs');
  mkdirSync(tarballs);
  execFileSync('pnpm', ['-r', '--filter', './packages/*', 'pack', '--pack-destination', tarballs], {
    cwd: root,
    stdio: 'pipe',
  });
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'));
  // @kanary/core-0.1.0 → kanary-core-0.1.0.tgz; one spec per package, used for its dependents too.
  const specs = Object.fromEntries(
    files.map((f) => [
      `@kanary/${f.replace(/^kanary-/, '').replace(/-\d+\.\d+\.\d+\.tgz$/, '')}`,
      `file:./tarballs/${f}`,
    ]),
  );
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'installed',
      private: true,
      type: 'module',
      dependencies: specs,
      overrides: specs,
    }),
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: project,
    stdio: 'pipe',
    timeout: 240_000,
  });
}, 300_000);

describe('the packed packages installed with npm in a fresh project', () => {
  it('holds every package, each with its LICENSE, and no vitest (an optional peer)', () => {
    for (const pkg of ['core', 'istio', 'nginx', 'gateway-api', 'metrics', 'testkit', 'cli']) {
      const dir = join(project, 'node_modules', '@kanary', pkg);
      expect(existsSync(join(dir, 'dist', 'index.js')), pkg).toBe(true);
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(JSON.stringify(manifest)).not.toMatch(/workspace:|example\.invalid/);
    }
    expect(existsSync(join(project, 'node_modules', 'vitest'))).toBe(false);
  });

  it('runs an example: Istio weights, then users by cookie, on the installed testkit without vitest', () => {
    copyFileSync(join(root, 'examples/istio-weighted-cookie/src/main.ts'), join(project, 'main.ts'));
    const r = run(['main.ts']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/paused at step 2/);
    expect(r.out.trim().split('\n').at(-1)).toBe('succeeded');
    expect(r.code).toBe(0);
  }, 120_000);

  it('the installed `kanary`: --help, --version and `version`', () => {
    const bin = join(project, 'node_modules', '.bin', 'kanary');
    const help = run([bin, '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^kanary — progressive delivery on Kubernetes/);
    const version = run([bin, '--version']);
    expect(version.code).toBe(0);
    expect(version.out).toBe(`kanary 0.1.0 (@kanary/core 0.1.0, Node.js ${process.versions.node})\n`);
    expect(run([bin, 'version']).out).toBe(version.out);
  });

  // The machine's own Node (Debian's) when it is older than Kanary needs: the check has to speak
  // before anything loads. Skipped, with this reason, where no such Node is installed.
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
    if (!existsSync(path)) return false;
    const version = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    return unsupportedNode(version) !== undefined;
  });
  it.skipIf(!oldNode)(`on a Node older than ${MINIMUM_NODE}: says which Node it needs, exit 1`, () => {
    const r = run([join(project, 'node_modules', '.bin', 'kanary'), '--help'], { node: oldNode as string });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(`^kanary needs Node.js ${MINIMUM_NODE} or newer; this is Node.js 2\\d\\.`),
    );
    expect(r.out).toBe('');
  });
});

it('unsupportedNode: versions below the minimum, by major and minor', () => {
  expect(unsupportedNode('20.20.2')).toMatch(/needs Node.js 22.19.0 or newer; this is Node.js 20.20.2/);
  expect(unsupportedNode('22.18.9')).toBeDefined();
  expect(unsupportedNode('22.19.0')).toBeUndefined();
  expect(unsupportedNode('24.1.0')).toBeUndefined();
  expect(unsupportedNode('23.0.0')).toBeUndefined();
});
