import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../src/index.ts';

// The official Kubernetes Python client (Debian's python3-kubernetes, which scripts/setup.sh
// installs with the other test packages) running a person's everyday calls against the emulator.

const run = promisify(execFile);
/** The first Python 3 with the client: PATH's, else the system's (a pyenv on PATH may lack it). */
async function findPython(): Promise<{ bin: string; version: string } | undefined> {
  for (const bin of ['python3', '/usr/bin/python3']) {
    const version = await run(bin, ['-c', 'import kubernetes; print(kubernetes.__version__)'])
      .then((r) => r.stdout.trim())
      .catch(() => undefined);
    if (version) return { bin, version };
  }
  return undefined;
}
const python = await findPython();

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

// Without the client there is nothing to run (setup.sh installs it on Debian); the API behaviour it
// relies on is tested through client-node elsewhere.
describe.skipIf(python === undefined)(
  `the Kubernetes Python client ${python?.version ?? '(not installed)'}`,
  () => {
    it('creates, lists, watches (watch=True), scales, writes a custom resource and reads API errors', async () => {
      cluster = await startCluster({ time: 'real', podReadyAfterMs: 50 });
      const path = join(mkdtempSync(join(tmpdir(), 'kanary-python-')), 'config');
      writeFileSync(path, cluster.kubeConfig.exportConfig());
      const script = fileURLToPath(new URL('./python/everyday.py', import.meta.url));
      const { stdout } = await run(python?.bin as string, [script, path], { timeout: 60_000 });
      const seen = JSON.parse(stdout) as Record<string, unknown>;
      expect(seen.deployments).toEqual(['web']);
      expect(seen.watchedPods).toBe(2);
      expect(seen.scaledTo).toBe(3);
      expect(cluster.get('Deployment', 'py', 'web')?.spec).toMatchObject({ replicas: 3 });
      // The CRD's defaults come back, as from a real server.
      expect(seen.backendRef).toEqual({ group: '', kind: 'Service', name: 'shop', port: 80, weight: 1 });
      expect(seen.refused).toMatchObject({ status: 422 });
      expect((seen.refused as { message: string }).message).toContain('Must have port for Service reference');
      expect(seen.missing).toBe(404);
    }, 90_000);
  },
);
