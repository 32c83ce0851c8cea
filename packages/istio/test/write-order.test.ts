import type { Cluster } from '@kanary/testkit';
import { afterEach, expect, it } from 'vitest';
import { istioRollout, startIstioWeb } from './support.ts';

let cluster: Cluster;
afterEach(() => cluster?.close());

/**
 * Between any two of Kanary's writes users must have somewhere to go. After a promotion the stable
 * runs a new ReplicaSet while its subset still names the old one's pods; handing the routes back
 * before re-pointing the subset answered every request 503 for the moment between the two writes
 * (seen on the wall clock in article 003's replay). Here every write is followed by a look.
 */
it('subsets: after every write of a promotion and of an abort, every request is served', async () => {
  for (const end of ['promote', 'abort'] as const) {
    cluster = await startIstioWeb(9, 2);
    const entry = { kind: 'istio' as const, host: 'web', namespace: 'default' };
    const failures: string[] = [];
    const push = cluster.requests.push.bind(cluster.requests);
    cluster.requests.push = (...records) => {
      const n = push(...records);
      for (const r of records) {
        if (['get', 'list', 'watch'].includes(r.verb)) continue;
        const failed = [...cluster.traffic.sample(entry, 100)].filter(([k]) => k.startsWith('status-'));
        if (failed.length > 0) failures.push(`${r.verb} ${r.resource}: ${JSON.stringify(failed)}`);
      }
      return n;
    };
    const rollout = istioRollout(
      cluster,
      {
        steps: [{ setWeight: 50 }, { pause: { duration: '1m' } }],
        scaleDownDelay: '0s',
        abortScaleDownDelay: '0s',
      },
      { pollInterval: '1s' },
    );
    if (end === 'abort')
      rollout.on('phase', ({ to }) => {
        if (to === 'paused') queueMicrotask(() => void rollout.abort('test'));
      });
    const final = await cluster.run(rollout.run());
    expect(final.phase).toBe(end === 'promote' ? 'succeeded' : 'aborted');
    expect(failures, end).toEqual([]);
    await cluster.close();
  }
});
