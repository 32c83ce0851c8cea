// One release of the shop front-end: a weighted canary on Istio, 10 → 25 → 50 → 100%, with the
// sequential judges comparing canary and stable in the background the whole way.
import {
  createKubeClient,
  createKubernetesRollout,
  type RolloutSpecInput,
  type RolloutState,
} from '@kanary/core';
import type { Measurement } from '@kanary/core/adapter';
import { createIstioRouter } from '@kanary/istio';
import { createMetricGate } from '@kanary/metrics';
import type { Cluster } from '@kanary/testkit';
import { createObserver, type Frame, type Mark } from './observer.ts';
import { APP, NAMESPACE } from './shop.ts';

export const CANARY = `${APP}-canary`;

export function releaseSpec(image: string): RolloutSpecInput {
  return {
    name: APP,
    namespace: NAMESPACE,
    target: { name: APP, service: APP },
    update: { image },
    strategy: { type: 'weighted', canary: { name: CANARY } },
    steps: [
      { setWeight: 10 },
      { pause: { duration: '2m' } },
      { setWeight: 25 },
      { pause: { duration: '2m' } },
      { setWeight: 50 },
      { pause: { duration: '2m' } },
      { setWeight: 100 },
      { pause: { duration: '1m' } },
    ],
    // Looked at every 30s from the first step to the end; a failure rolls back at once.
    analysis: {
      name: 'canary-vs-stable',
      metrics: [
        {
          name: 'errors',
          interval: '30s',
          provider: { istio: { metric: 'errors' } },
          judge: { sequentialRate: { alpha: 0.01, tolerance: 0.1 } },
        },
        {
          name: 'latency',
          interval: '30s',
          provider: { istio: { metric: 'latency' } },
          judge: { sequentialLatency: { alpha: 0.01, tolerance: 0.1 } },
        },
      ],
    },
    scaleDownDelay: '30s',
    abortScaleDownDelay: '10s',
  };
}

export interface ReleaseView {
  /** `startedAt`: the release's start on the cluster's clock; every time shown is counted from it. */
  start(title: string, image: string, steps: number, startedAt: number): void;
  event(at: number, text: string, tone?: 'good' | 'bad' | 'info'): void;
  frame(frame: Frame): void;
  end(): void;
}

export interface ReleaseResult {
  title: string;
  image: string;
  final: RolloutState;
  frames: Frame[];
  marks: Mark[];
  startedAt: number;
  /** Requests and errors the canary served during the release. */
  canaryServed: { requests: number; errors: number };
  verdicts: Measurement[];
}

/**
 * An e-value in words: how far the evidence of a regression has come towards the rollback bound
 * (1/alpha), in percent. The e-value itself stays in the measurement's detail and the report.
 */
export const evidence = (d: { eValue?: number; threshold?: number } | undefined) => {
  if (d?.eValue === undefined || !d.threshold) return '';
  const share = (100 * d.eValue) / d.threshold;
  return `(evidence ${share < 0.1 ? 'under 0.1' : share >= 100 ? '100' : share.toPrecision(2)}% of the way to rollback)`;
};

/** Runs one release to its end on the shop cluster, reporting to `view`. */
export async function runRelease(
  cluster: Cluster,
  title: string,
  image: string,
  view: ReleaseView,
  pace?: number,
): Promise<ReleaseResult> {
  const client = createKubeClient({ kubeConfig: cluster.kubeConfig, clock: cluster.clock });
  const rollout = createKubernetesRollout({
    spec: releaseSpec(image),
    client,
    clock: cluster.clock,
    router: createIstioRouter({
      client,
      virtualService: APP,
      routes: ['primary'],
      destinationRule: { name: APP },
    }),
    // The emulator answers Prometheus' query API for the built-in selectors, in virtual time.
    gate: createMetricGate({ prometheus: { address: cluster.prometheusUrl }, clock: cluster.clock }),
    pollInterval: '2s',
  });
  const observer = createObserver({ cluster, namespace: NAMESPACE, stable: APP, canary: CANARY });
  const startedAt = cluster.clock.now();
  const steps = rollout.plan().steps.length;
  view.start(title, image, steps, startedAt);

  rollout.on('state', (s) => observer.setState(s));
  rollout.on('step', ({ index, step }) => {
    const label = `step ${index + 1}/${steps}: ${step.title}`;
    observer.setStep(label);
    observer.mark('step', step.title);
    view.event(cluster.clock.now(), label);
  });
  rollout.on('measurement', ({ measurement }) => observer.measured(measurement));
  // One line per look: every metric's verdict with its evidence against "no worse than stable".
  rollout.on('analysis', ({ measurements }) => {
    if (measurements.length === 0) return;
    const failed = measurements.filter((m) => m.phase === 'failed');
    for (const m of failed) observer.mark('verdict', `${m.metric} failed`);
    const parts = measurements.map((m) => {
      if (m.phase === 'failed') return `${m.metric} FAILED: ${m.message ?? ''}`;
      if (m.phase === 'nodata') return `${m.metric} waiting for data`;
      const d = m.detail as { eValue?: number; threshold?: number } | undefined;
      return `${m.metric} ${m.phase === 'successful' ? 'no sign of regression' : m.phase} ${evidence(d)}`;
    });
    view.event(
      measurements[0]?.at ?? cluster.clock.now(),
      `judges: ${parts.join(' · ')}`,
      failed.length ? 'bad' : 'info',
    );
  });
  rollout.on('abort', ({ reason }) => {
    observer.mark('rolled-back', 'rollback');
    view.event(cluster.clock.now(), `ROLLBACK: ${reason}`, 'bad');
  });
  const sampling = observer.loop((f) => view.frame(f));
  const final = await cluster.run(rollout.run(), pace ? { pace } : {});
  observer.setState(final);
  if (final.phase === 'succeeded') {
    observer.mark('promoted', 'promoted');
    view.event(cluster.clock.now(), `PROMOTED: ${image} is the stable version`, 'good');
  } else {
    view.event(
      cluster.clock.now(),
      `rolled back: 100% of traffic on the stable version, canary scaled down (${final.abort?.cause ?? final.phase})`,
      'bad',
    );
  }
  view.frame(observer.stop());
  await sampling;
  view.end();
  return {
    title,
    image,
    final,
    frames: observer.frames,
    marks: observer.marks,
    startedAt,
    canaryServed: observer.served(),
    verdicts: [...observer.verdicts.values()],
  };
}
