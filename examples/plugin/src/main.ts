// The host tool runs the Kanary plugin with its own KubeConfig (here: the emulator's, built in
// code the way hosts build theirs) and its own structured logger.
import { deployment, service, startCluster } from '@kanary/testkit';
import { canaryPlugin } from './canary-plugin.ts';
import type { HostContext } from './host.ts';

export async function main(options: { cancelAfterMs?: number; print?: (line: string) => void } = {}) {
  const print = options.print ?? console.log;
  const cluster = await startCluster({ time: 'real', podReadyAfterMs: 50, namespaces: ['payments'] });
  const logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const controller = new AbortController();
  try {
    cluster.apply(
      deployment('ledger', 'payments', 'ledger:7', 4),
      service('ledger', 'payments', { app: 'ledger' }),
    );
    const ctx: HostContext = {
      kubeConfig: cluster.kubeConfig,
      signal: controller.signal,
      log: {
        info: (msg, fields) => {
          logs.push({ level: 'info', msg, ...(fields ? { fields } : {}) });
          print(JSON.stringify({ level: 'info', plugin: canaryPlugin.name, msg, ...fields }));
        },
        warn: (msg, fields) => {
          logs.push({ level: 'warn', msg, ...(fields ? { fields } : {}) });
          print(JSON.stringify({ level: 'warn', plugin: canaryPlugin.name, msg, ...fields }));
        },
      },
    };
    if (options.cancelAfterMs !== undefined) setTimeout(() => controller.abort(), options.cancelAfterMs);
    const result = await canaryPlugin.run(ctx, {
      namespace: 'payments',
      deployment: 'ledger',
      service: 'ledger',
      image: 'ledger:8',
      weights: [25, 50, 100],
    });
    // What runs once the Deployment has settled (a cancellation can end the release before its
    // controller has even made the first pods).
    await cluster.settle('payments');
    const pods = cluster
      .list('Pod', 'payments')
      // Pods still in their preStop hook are on their way out (kubectl shows them Terminating).
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => (p.spec as { containers: Array<{ image: string }> }).containers[0]?.image);
    return { result, logs, requests: cluster.requests.length, pods };
  } finally {
    await cluster.close();
  }
}

if (import.meta.main) await main();
