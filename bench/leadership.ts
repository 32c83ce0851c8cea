// Leadership: what holding a rollout costs in API requests, and how long a rollout goes without a
// driver when its driver dies (virtual time: the emulator's clock, the real client over HTTP).

import { createAgent } from '@kanary/cli';
import { createKubeClient, createKubernetesRollout, type Rollout } from '@kanary/core';
import { createIstioRouter } from '@kanary/istio';
import { type Cluster, deployment, service, startCluster } from '@kanary/testkit';
import { benchSpec, quantile, THREE_PAUSES } from './shared.ts';

const TTL = 30_000;

function app(cluster: Cluster) {
  const host = 'shop.bench.svc.cluster.local';
  cluster.apply(deployment('shop', 'bench', 'shop:1', 2), service('shop', 'bench', { app: 'shop' }), {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'shop', namespace: 'bench' },
    spec: { hosts: [host], http: [{ name: 'primary', route: [{ destination: { host } }] }] },
  });
}

function driver(cluster: Cluster, user: string, steps: unknown[], waitForLock = false): Rollout {
  const client = createKubeClient({ kubeConfig: cluster.kubeConfigFor(user), clock: cluster.clock });
  return createKubernetesRollout({
    spec: benchSpec('shop', steps, { scaleDownDelay: '0s', abortScaleDownDelay: '0s' }),
    client,
    router: createIstioRouter({ client, virtualService: 'shop', routes: ['primary'] }),
    clock: cluster.clock,
    holder: user,
    lockTtl: TTL,
    waitForLock,
  });
}

const STEPS = THREE_PAUSES;

export async function leadershipBenchmarks(): Promise<string> {
  const lines = ['## Leadership (Lease requests; a driver dying mid-pause)', ''];
  // 1. Lease requests per rollout-minute.
  {
    const cluster = await startCluster({ namespaces: ['bench'], podReadyAfterMs: 2_000 });
    app(cluster);
    const before = cluster.requests.length;
    const final = await cluster.run(driver(cluster, 'bench', STEPS).run());
    const leases = cluster.requests.slice(before).filter((r) => r.resource === 'leases');
    const minutes = ((final.finishedAt ?? 0) - (final.startedAt ?? 0)) / 60_000;
    const byVerb = new Map<string, number>();
    for (const r of leases) byVerb.set(r.verb, (byVerb.get(r.verb) ?? 0) + 1);
    lines.push(
      `- One Istio rollout (10 → 25 → 50 → 100%, three 1-minute pauses, lease ${TTL / 1000} s): **${leases.length} Lease requests** over ${minutes.toFixed(1)} min = ${(leases.length / minutes).toFixed(1)} per rollout-minute (${[...byVerb].map(([v, n]) => `${v} ${n}`).join(', ')}). Before this round (renewal every TTL/3 with a read before each): 42 for the same rollout.`,
    );
    await cluster.close();
  }
  // 2. From a driver's death (it freezes mid-pause) to its successor's first action: a waiting
  //    `kanary run` (or any SDK process with waitForLock), and the agent (looking every 10 s).
  for (const successor of ['a waiting driver', 'the agent'] as const) {
    const gaps: number[] = [];
    for (let i = 0; i < 10; i++) {
      const cluster = await startCluster({ namespaces: ['bench'], podReadyAfterMs: 2_000, seed: i + 1 });
      app(cluster);
      const steps = [{ setWeight: 10 }, { pause: { duration: '10m' } }, { setWeight: 20 }];
      const a = driver(cluster, 'driver-a', steps);
      const aRun = a.run();
      aRun.catch(() => undefined);
      await cluster.run(
        new Promise<void>((resolve) => a.on('state', (s) => s.phase === 'paused' && resolve())),
      );
      let acquired: Promise<number>;
      let stop: () => Promise<void>;
      if (successor === 'a waiting driver') {
        const b = driver(cluster, 'driver-b', steps, true);
        acquired = new Promise((resolve) =>
          b.on('leadership', (e) => e.status === 'acquired' && resolve(cluster.clock.now())),
        );
        b.run().catch(() => undefined);
        stop = () => b.close();
      } else {
        const agent = createAgent({
          client: createKubeClient({ kubeConfig: cluster.kubeConfigFor('agent'), clock: cluster.clock }),
          clock: cluster.clock,
          lockTtl: TTL,
          pollInterval: '10s',
        });
        acquired = new Promise((resolve) => agent.on('adopted', () => resolve(cluster.clock.now())));
        // The agent's looks are not in step with the driver's renewals: start it at a different phase each run.
        await cluster.run(cluster.virtualClock!.sleep((i * 3_100) % 10_000));
        void agent.run();
        stop = () => agent.close();
      }
      // Death at a point between two renewals that differs from run to run.
      await cluster.run(cluster.virtualClock!.sleep(3_000 + i * 1_700));
      const diedAt = cluster.clock.now();
      cluster.faults.stall({ user: 'driver-a' });
      gaps.push((await cluster.run(acquired)) - diedAt);
      await cluster.run(stop());
      await cluster.close();
    }
    lines.push(
      `- A driver freezes mid-pause (lease ${TTL / 1000} s); ${successor} takes over after median ${(quantile(gaps, 0.5) / 1000).toFixed(1)} s, min ${(Math.min(...gaps) / 1000).toFixed(1)} s, max ${(Math.max(...gaps) / 1000).toFixed(1)} s of virtual time (${gaps.length} runs, death at a different point between renewals each time).`,
    );
  }
  lines.push(
    '',
    "The rule behind these: a successor takes over once it has seen the lease unchanged for a full lease duration on its own clock, counted from the holder's last renewal, plus up to one look (TTL/15 for a waiting driver, the agent's interval for the agent). Clock skew between hosts no longer changes it: before this round a successor compared the holder's renewTime with its own clock, so a host 5 minutes ahead took over at once (see the skew tests).",
  );
  return lines.join('\n');
}

if (import.meta.main) console.log(await leadershipBenchmarks());
