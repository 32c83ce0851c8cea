import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '@kanary/cli';
import type { Cluster } from '@kanary/testkit';

/** Writes files into a fresh temporary directory (kubeconfigs, the reader's YAML), returning their paths. */
export function tempWriter(prefix: string): (name: string, text: string) => string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return (name, text) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
}

/** `kanary ...` in this process, as the reader types it: what it printed and its exit code. */
export async function kanary(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
  return { code, out, err };
}

/** Waits until every object in `namespace` has settled (see `Cluster.settle`). */
export const untilSettled = (c: Cluster, namespace: string) => c.settle(namespace);
