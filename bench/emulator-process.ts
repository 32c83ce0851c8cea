// The emulator in its own process, so a scale benchmark measures Kanary's process alone (its
// memory, its event loop) the way a platform talks to a separate API server. Driven over IPC.
import { deployment, service, startCluster, TESTKIT_CA } from '@kanary/testkit';

const cluster = await startCluster({
  time: 'real',
  namespaces: ['bench'],
  podReadyAfterMs: 500,
  tls: process.argv.includes('--tls'),
});
process.on(
  'message',
  async (m: { type: 'apps'; n: number } | { type: 'requests'; purposes?: boolean } | { type: 'close' }) => {
    if (m.type === 'apps') {
      for (let i = 0; i < m.n; i++) {
        const name = `svc-${i}`;
        const host = `${name}.bench.svc.cluster.local`;
        cluster.apply(deployment(name, 'bench', `${name}:1`, 2), service(name, 'bench', { app: name }), {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name, namespace: 'bench' },
          spec: { hosts: [host], http: [{ name: 'primary', route: [{ destination: { host } }] }] },
        });
      }
      // Let the controllers bring every pod up before the benchmark starts its clock.
      const ready = (p: { status?: unknown }) =>
        ((p.status as { conditions?: Array<{ type: string; status: string }> })?.conditions ?? []).some(
          (c) => c.type === 'Ready' && c.status === 'True',
        );
      while (cluster.list('Pod', 'bench').filter(ready).length < m.n * 2)
        await new Promise((r) => setTimeout(r, 200));
      process.send?.({
        type: 'ready',
        kubeconfig: cluster.kubeConfig.exportConfig(),
        url: cluster.url,
        ca: TESTKIT_CA,
      });
    } else if (m.type === 'requests') {
      const cpu = process.cpuUsage();
      process.send?.({
        type: 'requests',
        count: cluster.requests.length,
        connections: cluster.connections,
        cpuMs: (cpu.user + cpu.system) / 1000,
        // By resource, verb and status, when asked: what a scale's requests were spent on (a pass over
        // every request recorded, kept out of the frequent asks).
        purposes: m.purposes
          ? Object.entries(
              cluster.requests.reduce<Record<string, number>>((by, r) => {
                const key = `${r.resource}${r.subresource ? `/${r.subresource}` : ''} ${r.verb} ${r.code}`;
                by[key] = (by[key] ?? 0) + 1;
                return by;
              }, {}),
            )
          : [],
      });
    } else {
      await cluster.close();
      process.exit(0);
    }
  },
);
// Never outlive the benchmark that started it.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'started' });
