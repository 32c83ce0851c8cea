// Kanary demo: two releases of a shop front-end driven by the engine in virtual time.
// 1) a good canary goes 10% → 25% → 50% → 100% with analysis between steps and is promoted;
// 2) a bad canary fails its analysis at 25% and is rolled back automatically.
import {
  createMemoryRouter,
  createMemoryWorkload,
  createRollout,
  createScriptedGate,
  createVirtualClock,
  formatDuration,
  formatPlan,
  type Rollout,
  type RolloutSpecInput,
} from '@kanary/core';

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
const bar = (weight: number) => {
  const filled = Math.round(weight / 5);
  return `${paint(33, '█'.repeat(filled))}${paint(32, '░'.repeat(20 - filled))}`;
};

const analysis = { name: 'error-rate', metrics: [{ name: 'success-rate', interval: '30s', count: 4 }] };
const spec = (image: string): RolloutSpecInput => ({
  name: 'shop-frontend',
  namespace: 'shop',
  target: { name: 'shop-frontend', service: 'shop-frontend' },
  update: { image },
  strategy: { type: 'weighted' },
  steps: [
    { setWeight: 10 },
    { analysis },
    { setWeight: 25 },
    { analysis },
    { setWeight: 50 },
    { analysis },
    { setWeight: 100 },
    { pause: { duration: '2m' } },
  ],
  scaleDownDelay: '30s',
  abortScaleDownDelay: '10s',
});

async function release(title: string, image: string, verdicts: Array<'running' | 'successful' | 'failed'>) {
  const clock = createVirtualClock(Date.UTC(2026, 10, 21, 9, 0, 0));
  const workload = createMemoryWorkload({
    clock,
    stable: { name: 'shop-frontend', image: 'shop-frontend:1.4.2', replicas: 6 },
    readyAfterMs: 8_000,
  });
  const router = createMemoryRouter({ name: 'memory' });
  // Each analysis: two clean looks, then the scripted verdict for this release.
  let step = 0;
  const gate = createScriptedGate({
    script: Object.fromEntries(
      [1, 3, 5].map((i) => [`steps[${i}]`, ['running', 'running', verdicts[step++] ?? 'successful']]),
    ),
  });
  const rollout: Rollout = createRollout({ spec: spec(image), workload, router, gate, clock });
  const t0 = clock.now();
  const at = () => paint(90, `[+${formatDuration(clock.now() - t0).padStart(6)}]`);
  console.log(`\n${paint(1, title)}  ${paint(90, `${workload.world.stable.image} → ${image}`)}`);
  rollout.on('phase', ({ to }) => console.log(`${at()} phase ${paint(36, to)}`));
  rollout.on('step', ({ step }) =>
    console.log(`${at()} step ${step.index + 1}/${rollout.plan().steps.length}: ${step.title}`),
  );
  rollout.on('weight', ({ canary, verified }) =>
    console.log(
      `${at()} weight ${bar(canary)} canary ${String(canary).padStart(3)}%${verified ? paint(90, ' (read back)') : ''}`,
    ),
  );
  rollout.on('analysis', ({ key, phase, message }) =>
    console.log(
      `${at()} analysis ${key}: ${phase === 'failed' ? paint(31, phase) : phase === 'successful' ? paint(32, phase) : phase} ${paint(90, message ?? '')}`,
    ),
  );
  rollout.on('abort', ({ reason }) => console.log(`${at()} ${paint(31, 'ABORT')} ${reason}`));
  const final = await clock.run(rollout.run());
  const verdict = final.phase === 'succeeded' ? paint(32, 'promoted') : paint(31, 'rolled back');
  console.log(
    `${at()} ${verdict}: stable runs ${workload.world.stable.image}, canary ${workload.world.canary ? 'still up' : 'removed'}, ` +
      `${final.weights.canary}% traffic on canary, ${final.history.length} transitions recorded`,
  );
  return final;
}

console.log(paint(1, 'Kanary demo — the engine with in-memory ports, in virtual time (no cluster needed)'));
if (process.argv.includes('--plan')) {
  console.log(
    formatPlan(
      createRollout({
        spec: spec('x:2'),
        workload: createMemoryWorkload(),
        router: createMemoryRouter(),
        gate: createScriptedGate(),
      }).plan(),
    ),
  );
}
const good = await release('Release 1.5.0: a good canary', 'shop-frontend:1.5.0', [
  'successful',
  'successful',
  'successful',
]);
const bad = await release('Release 1.6.0: a bad canary', 'shop-frontend:1.6.0', ['successful', 'failed']);
if (good.phase !== 'succeeded' || bad.phase !== 'aborted') {
  console.error('demo: unexpected outcome');
  process.exit(1);
}
