// A driver process for the crash-safety test: runs one rollout against the emulator and exits.
// Started with `node crash-driver.ts` (Node 24 runs the TypeScript sources directly).
import { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesRollout } from '../../src/index.ts';

const server = process.env.KANARY_SERVER as string;
const spec = JSON.parse(process.env.KANARY_SPEC as string) as unknown;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: 'c', server, skipTLSVerify: true }],
  users: [{ name: 'u', token: 't' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});
const rollout = createKubernetesRollout({
  spec,
  kubeConfig,
  // A restarted bot usually keeps its identity (its pod name), so it may re-take its own Lease at once.
  holder: process.env.KANARY_HOLDER ?? `driver-${process.pid}`,
  waitForLock: true,
  lockTtl: '1s',
  pollInterval: '50ms',
  syncInterval: '200ms',
});
if (process.env.KANARY_TRACE) {
  const { appendFileSync } = await import('node:fs');
  rollout.on('state', (st) =>
    appendFileSync(
      process.env.KANARY_TRACE as string,
      `${process.pid} ${st.seq} ${JSON.stringify(st.cursor)} ${JSON.stringify(st.action ?? null)} ${st.phase}\n`,
    ),
  );
  rollout.on('action', (a) =>
    appendFileSync(
      process.env.KANARY_TRACE as string,
      `${process.pid} action ${a.action.type} ${a.status}\n`,
    ),
  );
}
// Tell the parent the imports are done, and start driving when it says so: the kill delay then
// measures time spent driving, not Node's start-up.
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const final = await rollout.run();
process.stdout.write(`${JSON.stringify({ phase: final.phase, seq: final.seq })}\n`);
process.exit(final.phase === 'succeeded' ? 0 : 1);
