#!/usr/bin/env node
import { unsupportedNode } from './node-version.ts';

// Checked before the CLI loads: on an older Node its HTTP stack fails while loading.
const tooOld = unsupportedNode();
if (tooOld) {
  process.stderr.write(tooOld);
  process.exit(1);
}
const { main } = await import('./main.ts');

const controller = new AbortController();
let interrupts = 0;
// SIGINT (Ctrl-C) and SIGTERM (Kubernetes stopping the agent's pod): stop driving, release the
// leases so a successor starts at once, and say how to resume; a second signal exits at once.
const stop = () => {
  if (++interrupts > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const code = await main(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: Boolean(process.stdout.isTTY),
  ...(process.stdin.isTTY ? { keys: process.stdin } : {}),
  signal: controller.signal,
});
process.exit(code);
