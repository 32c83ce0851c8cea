#!/usr/bin/env node
import { main } from './main.ts';

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
  signal: controller.signal,
});
process.exit(code);
