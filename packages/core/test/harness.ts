import {
  awaitingDecision,
  type CreateRolloutOptions,
  createRollout,
  type HookHandlers,
  type Rollout,
  type RolloutState,
  type StateStore,
} from '@kanary/core';
import {
  createMemoryRouter,
  createMemoryStateStore,
  createMemoryWorkload,
  createScriptedGate,
  createVirtualClock,
  type Journal,
  type MemoryRouter,
  type MemoryStateStore,
  type MemoryWorkload,
  type ScriptedGateOptions,
  type VirtualClock,
} from '@kanary/core/testing';

export const analysis = (name: string) => ({
  name,
  metrics: [{ name: 'success-rate', interval: '30s', count: 3 }],
});

/** One spec per strategy, each using every step kind that strategy supports. */
export const SPECS = {
  weighted: {
    name: 'shop',
    namespace: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'weighted' },
    steps: [
      { setWeight: 10 },
      { pause: { duration: '5m' } },
      { setHeaderRoute: { name: 'qa', match: [{ headers: [{ name: 'x-qa', exact: 'true' }] }] } },
      { analysis: analysis('quick') },
      { setWeight: 50 },
      { setMirror: { name: 'shadow', percentage: 20 } },
      { pause: {} },
      { setMirror: { name: 'shadow', remove: true } },
      { setWeight: 100 },
    ],
  },
  headerMatch: {
    name: 'demo4',
    namespace: 'test1',
    target: { name: 'demo4', service: 'demo4' },
    update: { image: 'mritd/demo:v2' },
    strategy: {
      type: 'headerMatch',
      match: [{ cookie: { name: 'email', regex: '^[^;]*@some-company-name\\.com$' } }],
      weight: 50,
    },
    steps: [
      { pause: { duration: '10m' } },
      { analysis: analysis('matched') },
      { setWeight: 20 },
      { pause: {} },
    ],
  },
  rolling: {
    name: 'nginx01',
    namespace: 'wyq',
    target: { name: 'nginx01', service: 'nginx01' },
    update: { image: 'nginx:1.20.1', container: 'nginx' },
    strategy: { type: 'rolling', canaryService: { name: 'nginx02' } },
    steps: [
      { setWeight: 50 },
      { pause: {} },
      { analysis: analysis('half') },
      { setWeight: 75 },
      { pause: { duration: '1m' } },
    ],
  },
  blueGreen: {
    name: 'py-hello',
    target: { name: 'py-hello-blue', service: 'py-hello-service' },
    update: { image: 'localhost:5001/py-http:2' },
    strategy: {
      type: 'blueGreen',
      activeService: 'py-hello-service',
      previewService: 'py-hello-preview',
      autoPromotionSeconds: 60,
      prePromotionAnalysis: analysis('smoke'),
      postPromotionAnalysis: analysis('after'),
    },
  },
  replicaRatio: {
    name: 'py-hello',
    target: { name: 'py-hello-blue', service: 'py-hello-service' },
    update: { image: 'localhost:5001/py-http:2' },
    strategy: { type: 'replicaRatio', totalReplicas: 10 },
    steps: [
      { setWeight: 10 },
      { pause: { duration: '2m' } },
      { setWeight: 50 },
      { analysis: analysis('gray') },
      { pause: {} },
    ],
  },
};

export interface Harness {
  clock: VirtualClock;
  journal: Journal;
  workload: MemoryWorkload;
  router: MemoryRouter | undefined;
  store: MemoryStateStore;
  rollout: Rollout;
  /** Makes a new Rollout object over the same world and store: a restarted process. */
  restart(options?: Partial<CreateRolloutOptions>): Rollout;
  /** Drives the rollout to the end, promoting whenever it waits for a human. */
  runToEnd(rollout?: Rollout): Promise<RolloutState>;
}

export interface HarnessOptions {
  spec?: unknown;
  gate?: ScriptedGateOptions;
  hooks?: HookHandlers;
  store?: StateStore;
  readyAfterMs?: number;
  clock?: VirtualClock;
  journal?: Journal;
  faults?: Parameters<typeof createMemoryRouter>[0] extends infer O
    ? O extends { faults?: infer F }
      ? F
      : never
    : never;
  world?: { workload: MemoryWorkload; router: MemoryRouter | undefined };
}

export function harness(strategy: keyof typeof SPECS, options: HarnessOptions = {}): Harness {
  const spec = options.spec ?? SPECS[strategy];
  const clock = options.clock ?? createVirtualClock(1_700_000_000_000);
  const journal = options.journal ?? [];
  const store = (options.store ?? createMemoryStateStore()) as MemoryStateStore;
  const workload =
    options.world?.workload ??
    createMemoryWorkload({
      clock,
      journal,
      readyAfterMs: options.readyAfterMs ?? 5_000,
      stable: { name: (spec as { target: { name: string } }).target.name, image: 'v1', replicas: 4 },
      ...(options.faults ? { faults: options.faults } : {}),
    });
  let router: MemoryRouter | undefined = options.world?.router;
  if (!options.world && strategy !== 'rolling') {
    const mode = strategy === 'replicaRatio' ? 'replicas' : strategy === 'blueGreen' ? 'binary' : 'exact';
    router = createMemoryRouter({
      journal,
      capabilities: { weights: mode },
      ...(options.faults ? { faults: options.faults } : {}),
      ...(mode === 'replicas'
        ? {
            onWeight: async (weight) => {
              // Replica ratio: the weight becomes pod counts; report the split they really give.
              const total = 10;
              const canary = Math.round((total * weight) / 100);
              if (workload.world.canary) workload.world.canary.replicas = canary;
              workload.world.stable.replicas = total - canary;
              return (canary / total) * 100;
            },
          }
        : {}),
    });
  }
  const gate = createScriptedGate({ journal, ...options.gate });
  const make = (extra: Partial<CreateRolloutOptions> = {}) =>
    createRollout({
      spec,
      workload,
      ...(router ? { router } : {}),
      gate,
      store,
      clock,
      ...(options.hooks ? { hooks: options.hooks } : {}),
      pollInterval: '2s',
      ...extra,
    });
  const rollout = make();
  const runToEnd = async (r: Rollout = rollout) => {
    // Approve only what waits for a human: an untimed pause or an inconclusive analysis.
    const approve = (s: RolloutState) => {
      if (awaitingDecision(s)) queueMicrotask(() => r.promote().catch(() => undefined));
    };
    r.on('state', approve);
    try {
      return await clock.run(r.run());
    } finally {
      r.off('state', approve);
    }
  };
  return { clock, journal, workload, router, store, rollout, restart: make, runToEnd };
}
