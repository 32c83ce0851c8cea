import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual as equal } from 'node:util';
import { parseRolloutSpec, type RolloutSpecInput, type RolloutState, replicaSplit } from '@kanary/core';
import { type Cluster, type KubeObject, seededRandom, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { strategies } from '../../src/strategies/index.ts';
import { deployment, imagesBehind, service } from './fixtures.ts';

const KILLS = 20;

const SEED = Number(process.env.KANARY_CRASH_SEED ?? Date.now() % 100_000);
const DRIVER = fileURLToPath(new URL('./crash-driver.ts', import.meta.url));
const NODE = process.execPath;

const random = seededRandom;

const SPECS: Record<string, RolloutSpecInput> = {
  rolling: {
    name: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'rolling', maxSurge: 1, canaryService: { name: 'shop-canary' } },
    steps: [
      { setWeight: 25 },
      { pause: { duration: '300ms' } },
      { setWeight: 50 },
      { pause: { duration: '300ms' } },
      { setWeight: 75 },
      { pause: { duration: '300ms' } },
    ],
    progressDeadline: '2m',
  },
  blueGreen: {
    name: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'blueGreen', activeService: 'shop', autoPromotionSeconds: 1, scaleDownDelaySeconds: 1 },
    progressDeadline: '2m',
  },
  replicaRatio: {
    name: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'replicaRatio', maxSurge: 1 },
    steps: [
      { setWeight: 25 },
      { pause: { duration: '300ms' } },
      { setWeight: 50 },
      { pause: { duration: '300ms' } },
      { setWeight: 75 },
      { pause: { duration: '300ms' } },
    ],
    scaleDownDelay: '300ms',
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

function startDriver(spec: RolloutSpecInput): {
  child: ChildProcess;
  done: Promise<number | null>;
  ready: Promise<void>;
} {
  const child = spawn(NODE, ['--no-warnings', DRIVER], {
    env: {
      ...process.env,
      KANARY_SERVER: cluster.url,
      KANARY_SPEC: JSON.stringify(spec),
      KANARY_HOLDER: 'shop-deployer-0',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const ready = new Promise<void>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        child.stdin?.write('go\n');
        resolve();
      }
    });
  });
  const done = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      if (code !== 0 && code !== null) console.error(`driver exited ${code}: ${stderr.slice(-2000)}`);
      resolve(code);
    }),
  );
  return { child, done, ready };
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

/** Every action of the plan, in order: kill points are drawn from these positions. */
function planPositions(spec: RolloutSpecInput): string[] {
  const parsed = parseRolloutSpec(spec);
  const plan = strategies[parsed.strategy.type].plan(parsed, { hooks: new Set() });
  return [
    ...plan.prelude.map((_, a) => `prelude:0.${a}`),
    ...plan.steps.flatMap((st) => st.actions.map((_, a) => `steps:${st.index}.${a}`)),
    ...plan.promotion.map((_, a) => `promotion:0.${a}`),
  ];
}
const positionOf = (positions: string[], s: RolloutState | undefined) =>
  s ? positions.indexOf(`${s.cursor.section}:${s.cursor.step}.${s.cursor.action}`) : -1;

/** Defines the crash-safety test for one strategy (one file per strategy, so they run in parallel). */
export function crashSuite(strategy: 'rolling' | 'blueGreen' | 'replicaRatio'): void {
  const index = Object.keys(SPECS).indexOf(strategy);
  describe(`crash safety (${strategy}): drivers killed with SIGKILL at ${KILLS}+ random points resume to the right end (seed ${SEED})`, () => {
    console.log(`crash test seed: ${SEED} (set KANARY_CRASH_SEED to replay)`);
    it(`${strategy}`, { timeout: 300_000 }, async () => {
      const rand = random(SEED + index);
      const killedAt: string[] = [];
      let trial = 0;
      while (killedAt.length < KILLS) {
        trial += 1;
        // In-place rolling can pass a step only if a driver dies between unpausing and re-pausing the
        // Deployment and no driver returns before new pods are ready (see docs/decisions.md); pods
        // here start in 1.5 s — faster than real readiness probes, slower than a restart.
        cluster = await startCluster({ time: 'real', podReadyAfterMs: strategy === 'rolling' ? 1_500 : 150 });
        cluster.apply(
          deployment('shop', 'default', 'shop:1', 4),
          service('shop', 'default', { app: 'shop' }),
        );
        await new Promise((r) => setTimeout(r, 200));
        const violations: string[] = [];
        const monitor = setInterval(() => check(strategy, savedState(), violations), 15);
        try {
          // Two or three kills in this trial, each once the rollout reaches a random position of its
          // plan, after a random slice of time: taking the lock, mid-action, mid-pause, mid-promotion.
          const kills = rand() < 0.25 ? 2 : 3;
          const positions = planPositions(SPECS[strategy] as RolloutSpecInput);
          const targets = Array.from({ length: kills }, () => Math.floor(rand() * positions.length)).sort(
            (a, b) => a - b,
          );
          for (let k = 0; k < kills; k++) {
            const target = targets[k] as number;
            // Short: with reads served from watches a release passes several plan positions within
            // tens of milliseconds, and longer slices bunched the kills into the same few places.
            const slice = Math.floor(rand() * 20);
            const { child, done, ready } = startDriver(SPECS[strategy] as RolloutSpecInput);
            await Promise.race([ready, done]);
            const reached = await Promise.race([
              done.then(() => false),
              (async () => {
                while (
                  positionOf(positions, savedState()) < target &&
                  savedState()?.phase !== 'succeeded' &&
                  child.exitCode === null
                ) {
                  await new Promise((r) => setTimeout(r, 2));
                }
                await new Promise((r) => setTimeout(r, slice));
                return child.exitCode === null;
              })(),
            ]);
            if (!reached) break;
            const s = savedState();
            if (s?.phase === 'succeeded') {
              child.kill('SIGKILL');
              await done;
              break;
            }
            child.kill('SIGKILL');
            await done;
            const at = savedState();
            killedAt.push(
              at ? `${at.phase}@${at.cursor.section}:${at.cursor.step}.${at.cursor.action}` : 'before-start',
            );
          }
          // A new process resumes and must finish the rollout correctly.
          const last = startDriver(SPECS[strategy] as RolloutSpecInput);
          expect(await last.done, `trial ${trial}`).toBe(0);
        } finally {
          clearInterval(monitor);
        }
        expect(violations.slice(0, 3), `trial ${trial}`).toEqual([]);
        expect(savedState()?.phase).toBe('succeeded');
        // The endpoints controller follows the last scale-down a few hundred milliseconds later.
        const want = Array(4).fill('shop:2');
        for (let i = 0; i < 30 && !equal(imagesBehind(cluster, 'default', 'shop'), want); i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(imagesBehind(cluster, 'default', 'shop')).toEqual(want);
        if (strategy === 'blueGreen') expect(replicasOf('shop')).toBe(0);
        else {
          expect(cluster.get('Deployment', 'default', 'shop-canary')).toBeUndefined();
          expect(
            (cluster.get('Service', 'default', 'shop')!.spec as { selector: Record<string, string> })
              .selector,
          ).toEqual({ app: 'shop' });
        }
        await cluster.close();
      }
      console.log(
        `${strategy}: ${killedAt.length} kills in ${trial} trials, at ${[...new Set(killedAt)].join(', ')}`,
      );
      expect(killedAt.length).toBeGreaterThanOrEqual(KILLS);
      // Kills landed in many different places of the plan.
      expect(new Set(killedAt).size).toBeGreaterThanOrEqual(4);
    });
  });
}
