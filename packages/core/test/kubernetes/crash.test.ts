import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RolloutSpecInput, type RolloutState, replicaSplit } from '@kanary/core';
import { type Cluster, type KubeObject, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, imagesBehind, service } from './fixtures.ts';

const KILLS = 20;
const SEED = Number(process.env.KANARY_CRASH_SEED ?? Date.now() % 100_000);
const DRIVER = fileURLToPath(new URL('./crash-driver.ts', import.meta.url));
const NODE = process.execPath;

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECS: Record<string, RolloutSpecInput> = {
  rolling: {
    name: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0, canaryService: { name: 'shop-canary' } },
    steps: [
      { setWeight: 25 },
      { pause: { duration: '3s' } },
      { setWeight: 50 },
      { pause: { duration: '3s' } },
      { setWeight: 75 },
      { pause: { duration: '3s' } },
    ],
    progressDeadline: '2m',
  },
  blueGreen: {
    name: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'blueGreen', activeService: 'shop', autoPromotionSeconds: 8, scaleDownDelaySeconds: 8 },
    progressDeadline: '2m',
  },
  replicaRatio: {
    name: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'replicaRatio', maxSurge: 1 },
    steps: [
      { setWeight: 25 },
      { pause: { duration: '3s' } },
      { setWeight: 50 },
      { pause: { duration: '3s' } },
      { setWeight: 75 },
      { pause: { duration: '3s' } },
    ],
    scaleDownDelay: '3s',
    progressDeadline: '2m',
  },
};

let cluster: Cluster;
const children = new Set<ChildProcess>();
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  await cluster?.close();
});

function startDriver(spec: RolloutSpecInput): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(NODE, ['--no-warnings', DRIVER], {
    env: { ...process.env, KANARY_SERVER: cluster.url, KANARY_SPEC: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      if (code !== 0 && code !== null) console.error(`driver exited ${code}: ${stderr.slice(-2000)}`);
      resolve(code);
    }),
  );
  return { child, done };
}

const savedState = (): RolloutState | undefined => {
  const cm = cluster.get('ConfigMap', 'default', 'kanary-shop') as
    | (KubeObject & { data?: Record<string, string> })
    | undefined;
  return cm?.data?.['state.json'] ? (JSON.parse(cm.data['state.json']) as RolloutState) : undefined;
};
const replicasOf = (name: string) =>
  (cluster.get('Deployment', 'default', name)?.spec as { replicas?: number } | undefined)?.replicas ?? 0;
const readyPods = (image: string) =>
  cluster
    .list('Pod', 'default')
    .filter((p) => (p.spec as { containers: Array<{ image: string }> }).containers[0]!.image === image)
    .filter((p) =>
      ((p.status as { conditions?: Array<{ type: string; status: string }> })?.conditions ?? []).some(
        (c) => c.type === 'Ready' && c.status === 'True',
      ),
    ).length;

/** The most canary traffic the plan allows at a given saved state (as a count of ready canary pods or a 0/100 switch). */
function check(strategy: string, state: RolloutState | undefined, violations: string[]): void {
  const steps = [0, 25, 25, 50, 50, 75, 75];
  const section = state?.cursor.section;
  const allowed =
    !state || section === 'prelude' ? 0 : section === 'steps' ? (steps[state.cursor.step + 1] ?? 75) : 100;
  if (strategy === 'replicaRatio') {
    const maxCanary = replicaSplit(4, allowed, 1).canary;
    if (section === 'abort' || section === 'done') return;
    const canary = replicasOf('shop-canary');
    if (canary > maxCanary)
      violations.push(
        `canary has ${canary} pods at ${section} step ${state?.cursor.step} (allowed ${maxCanary})`,
      );
    if (replicasOf('shop') + canary > 5)
      violations.push(`more than total + maxSurge pods: ${replicasOf('shop') + canary}`);
  } else if (strategy === 'rolling') {
    const maxNew = Math.ceil((4 * allowed) / 100) + 1;
    const ready = readyPods('shop:2');
    if (ready > maxNew)
      violations.push(`${ready} new pods ready at ${section} step ${state?.cursor.step} (allowed ${maxNew})`);
  } else {
    const onGreen = imagesBehind(cluster, 'default', 'shop').some((i) => i === 'shop:2');
    const switched =
      section === 'promotion' ||
      section === 'done' ||
      (section === 'steps' && (state?.cursor.step ?? 0) >= 1);
    if (onGreen && !switched)
      violations.push(`active Service reached green at ${section} step ${state?.cursor.step}`);
  }
}

describe(`crash safety: a driver killed with SIGKILL ${KILLS} times resumes to the right end (seed ${SEED})`, () => {
  console.log(`crash test seed: ${SEED} (set KANARY_CRASH_SEED to replay)`);
  for (const [index, strategy] of Object.keys(SPECS).entries()) {
    it(`${strategy}`, { timeout: 240_000 }, async () => {
      const rand = random(SEED + index);
      cluster = await startCluster({ time: 'real', podReadyAfterMs: 300 });
      cluster.apply(deployment('shop', 'default', 'shop:1', 4), service('shop', 'default', { app: 'shop' }));
      await new Promise((r) => setTimeout(r, 100));
      const violations: string[] = [];
      const monitor = setInterval(() => check(strategy, savedState(), violations), 5);
      const killedAt: string[] = [];
      try {
        for (let attempt = 0; killedAt.length < KILLS && attempt < 3 * KILLS; attempt++) {
          if (savedState()?.phase === 'succeeded') break;
          const { child, done } = startDriver(SPECS[strategy] as RolloutSpecInput);
          // Kill at a random moment: before the lock, mid-action, mid-pause, mid-promotion...
          const delay = 250 + Math.floor(rand() * 1000);
          const outcome = await Promise.race([
            done.then(() => 'exited' as const),
            new Promise<'kill'>((r) => setTimeout(() => r('kill'), delay)),
          ]);
          if (outcome === 'kill') {
            const before = savedState();
            child.kill('SIGKILL');
            await done;
            const s = savedState();
            // Only kills that interrupted a rollout in progress count.
            if (before?.phase !== 'succeeded')
              killedAt.push(
                s ? `${s.phase}@${s.cursor.section}:${s.cursor.step}.${s.cursor.action}` : 'before-start',
              );
          }
        }
        const last = startDriver(SPECS[strategy] as RolloutSpecInput);
        expect(await last.done).toBe(0);
      } finally {
        clearInterval(monitor);
      }
      console.log(`${strategy}: killed at ${killedAt.join(', ')}`);
      expect(killedAt.length).toBeGreaterThanOrEqual(KILLS);
      // Kill moments are random in time; the saved state is a coarse label of where each landed.
      expect(new Set(killedAt).size).toBeGreaterThanOrEqual(3);
      expect(violations).toEqual([]);
      const final = savedState();
      expect(final?.phase).toBe('succeeded');
      await new Promise((r) => setTimeout(r, 300));
      if (strategy === 'blueGreen') {
        expect(imagesBehind(cluster, 'default', 'shop')).toEqual(Array(4).fill('shop:2'));
        expect(replicasOf('shop')).toBe(0);
      } else {
        expect(imagesBehind(cluster, 'default', 'shop')).toEqual(Array(4).fill('shop:2'));
        expect(cluster.get('Deployment', 'default', 'shop-canary')).toBeUndefined();
        expect(
          (cluster.get('Service', 'default', 'shop')!.spec as { selector: Record<string, string> }).selector,
        ).toEqual({ app: 'shop' });
      }
    });
  }
});
