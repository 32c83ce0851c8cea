import { createRollout, type Plan, type RolloutState } from '@kanary/core';
import {
  createMemoryRouter,
  createMemoryWorkload,
  createScriptedGate,
  createVirtualClock,
} from '@kanary/core/testing';
// The pure reducer is not part of any entry point; the benchmark times it from the build.
import { reduce } from '../packages/core/dist/engine/reducer.js';
import { benchSpec, quantile } from './shared.ts';

const spec = (name: string) =>
  benchSpec(name, [
    { setWeight: 10 },
    { analysis: { metrics: [{ name: 'errors', interval: '30s', count: 3 }] } },
    { setWeight: 25 },
    { pause: { duration: '1m' } },
    { setWeight: 50 },
    { pause: { duration: '1m' } },
    { setWeight: 100 },
  ]);

async function oneRollout(name: string, clock = createVirtualClock(0)) {
  const workload = createMemoryWorkload({ clock, stable: { name } });
  const rollout = createRollout({
    spec: spec(name),
    workload,
    router: createMemoryRouter(),
    gate: createScriptedGate({ script: { 'steps[1]': ['running', 'running', 'successful'] } }),
    clock,
  });
  const stepTimes: number[] = [];
  let last = performance.now();
  rollout.on('step', () => {
    const now = performance.now();
    stepTimes.push(now - last);
    last = now;
  });
  const final = await clock.run(rollout.run());
  return { final, stepTimes, plan: rollout.plan() };
}

export async function engineBenchmarks(): Promise<string> {
  const lines = ['## Engine overhead (in-memory ports, virtual time)', ''];

  // 1. The pure reducer alone.
  const { final, plan } = await oneRollout('probe');
  const events = final.history.length;
  const reducerRuns = 200_000;
  let state: RolloutState = {
    ...final,
    phase: 'progressing',
    cursor: { section: 'steps', step: 0, action: 0 },
    outcome: undefined,
  };
  const t0 = performance.now();
  for (let i = 0; i < reducerRuns; i++) {
    state = reduce(
      state,
      { type: 'actionWaiting', at: i, retryAt: i + 1 },
      { plan: plan as Plan, spec: { progressDeadlineAbort: true } as never },
    );
  }
  const reducerUs = ((performance.now() - t0) * 1000) / reducerRuns;
  lines.push(`- Reducer: ${reducerUs.toFixed(2)} µs per event (${reducerRuns.toLocaleString('en')} events).`);

  // 2. Whole rollouts, one at a time.
  const wall: number[] = [];
  const perStep: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const r = await oneRollout(`app-${i}`);
    wall.push(performance.now() - t);
    perStep.push(...r.stepTimes);
  }
  lines.push(
    `- One 7-step rollout (${events} recorded transitions, ~6 min of virtual time): median ${quantile(wall, 0.5).toFixed(1)} ms, ` +
      `p99 ${quantile(wall, 0.99).toFixed(1)} ms of wall time over 200 runs; engine time per step median ` +
      `${quantile(perStep, 0.5).toFixed(2)} ms, p99 ${quantile(perStep, 0.99).toFixed(2)} ms.`,
  );

  // 3. Many rollouts in one process, sharing one virtual clock.
  for (const n of [100, 1000]) {
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const clock = createVirtualClock(0);
    const t = performance.now();
    const results = await clock.run(
      Promise.all(Array.from({ length: n }, (_, i) => oneRollout(`svc-${i}`, clock))),
    );
    const ms = performance.now() - t;
    const heap = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
    const ok = results.filter((r) => r.final.phase === 'succeeded').length;
    const steps = results.flatMap((r) => r.stepTimes);
    lines.push(
      `- ${n} concurrent rollouts: ${ok}/${n} succeeded in ${(ms / 1000).toFixed(2)} s wall, heap +${heap.toFixed(0)} MiB ` +
        `(~${((heap * 1024) / n).toFixed(0)} KiB per rollout incl. its store history), p99 gap between steps ${quantile(steps, 0.99).toFixed(1)} ms.`,
    );
  }
  return lines.join('\n');
}
