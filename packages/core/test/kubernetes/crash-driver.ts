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
  holder: `driver-${process.pid}`,
  waitForLock: true,
  lockTtl: '1s',
  pollInterval: '50ms',
  syncInterval: '200ms',
});
const final = await rollout.run();
process.stdout.write(`${JSON.stringify({ phase: final.phase, seq: final.seq })}\n`);
process.exit(final.phase === 'succeeded' ? 0 : 1);
