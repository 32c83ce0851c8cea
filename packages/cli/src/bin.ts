#!/usr/bin/env node
import { main } from './main.ts';

const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  // First Ctrl-C: stop driving and say how to resume; a second one exits at once.
  if (++interrupts > 1) process.exit(130);
  controller.abort();
});
const code = await main(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: Boolean(process.stdout.isTTY),
  signal: controller.signal,
});
process.exit(code);
