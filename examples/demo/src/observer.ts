// Samples what the sidecars report (the simulator's istio_* series) at a fixed virtual-time
// interval, so the live view and the report show each side's traffic, errors and latency.
import type { Mark } from '@kanary/cli/report';
import type { RolloutState } from '@kanary/core';
import type { Measurement } from '@kanary/core/adapter';
import type { Cluster } from '@kanary/testkit';

export interface SideFrame {
  requests: number;
  errorRate: number | undefined;
  meanMs: number | undefined;
}

export interface Frame {
  at: number;
  step: string;
  phase: string;
  requested: number;
  observed: number | undefined;
  canary: SideFrame;
  stable: SideFrame;
  /** Latest e-value per metric (sequential judges), for the view. */
  evidence: Record<string, { phase: string; eValue?: number; threshold?: number }>;
}

export type { Mark };

interface Totals {
  requests: number;
  errors: number;
  latencySum: number;
}

/** Cumulative request, error and latency totals of one workload, from the simulator's registry. */
function totals(cluster: Cluster, namespace: string, workload: string): Totals {
  const m = cluster.traffic.metrics;
  const sel = {
    reporter: 'destination',
    destination_workload_namespace: namespace,
    destination_workload: workload,
  };
  const requests = m.total('istio_requests_total', sel);
  const errors = m
    .select('istio_requests_total', [
      ...Object.entries(sel).map(([label, value]) => ({ label, op: '=' as const, value })),
      { label: 'response_code', op: '=~', value: '5..' },
    ])
    .reduce((s, x) => s + x.value, 0);
  const latencySum = m
    .select(
      'istio_request_duration_milliseconds_sum',
      Object.entries(sel).map(([label, value]) => ({ label, op: '=' as const, value })),
    )
    .reduce((s, x) => s + x.value, 0);
  return { requests, errors, latencySum };
}

const side = (now: Totals, then: Totals): SideFrame => {
  const requests = now.requests - then.requests;
  return {
    requests,
    errorRate: requests > 0 ? (now.errors - then.errors) / requests : undefined,
    meanMs: requests > 0 ? (now.latencySum - then.latencySum) / requests : undefined,
  };
};

export interface ObserverOptions {
  cluster: Cluster;
  namespace: string;
  stable: string;
  canary: string;
  /** Sampling interval and the trailing window each frame covers (virtual ms). */
  everyMs?: number;
  windowMs?: number;
}

/** Collects frames until stopped; `update` feeds it the rollout's latest state and measurements. */
export function createObserver(options: ObserverOptions) {
  const { cluster, namespace } = options;
  const every = options.everyMs ?? 10_000;
  const window = options.windowMs ?? 30_000;
  const frames: Frame[] = [];
  const marks: Mark[] = [];
  const history: Array<{ at: number; canary: Totals; stable: Totals }> = [];
  const evidence: Frame['evidence'] = {};
  const verdicts = new Map<string, Measurement>();
  const startTotals = totals(cluster, namespace, options.canary);
  let state: RolloutState | undefined;
  let step = 'starting';
  const stop = new AbortController();

  const sample = (): Frame => {
    const at = cluster.clock.now();
    const now = {
      at,
      canary: totals(cluster, namespace, options.canary),
      stable: totals(cluster, namespace, options.stable),
    };
    history.push(now);
    while (history.length > 1 && (history[0]?.at ?? at) < at - window) history.shift();
    const then = history[0] ?? now;
    const canary = side(now.canary, then.canary);
    const stable = side(now.stable, then.stable);
    const all = canary.requests + stable.requests;
    return {
      at,
      step,
      phase: state?.phase ?? 'pending',
      requested: state?.weights.canary ?? 0,
      observed: all > 0 ? canary.requests / all : undefined,
      canary,
      stable,
      evidence: structuredClone(evidence),
    };
  };

  return {
    frames,
    marks,
    setState(s: RolloutState) {
      state = s;
    },
    setStep(title: string) {
      step = title;
    },
    mark(kind: Mark['kind'], label: string) {
      marks.push({ at: cluster.clock.now(), kind, label });
    },
    /** The latest measurement of each metric. */
    verdicts,
    /** Requests and 5xx answers the canary served since the observer started. */
    served() {
      const now = totals(cluster, namespace, options.canary);
      return { requests: now.requests - startTotals.requests, errors: now.errors - startTotals.errors };
    },
    measured(m: Measurement) {
      verdicts.set(m.metric, m);
      const d = m.detail as { eValue?: number; threshold?: number } | undefined;
      evidence[m.metric] = {
        phase: m.phase,
        ...(d?.eValue !== undefined ? { eValue: d.eValue } : {}),
        ...(d?.threshold !== undefined ? { threshold: d.threshold } : {}),
      };
    },
    /** Samples every `everyMs` of virtual time, calling `onFrame`, until `stop()`. */
    async loop(onFrame: (f: Frame) => void) {
      while (!stop.signal.aborted) {
        await cluster.clock.sleep(every, stop.signal);
        if (stop.signal.aborted) break;
        const f = sample();
        frames.push(f);
        onFrame(f);
      }
    },
    stop() {
      const f = sample();
      frames.push(f);
      stop.abort();
      return f;
    },
  };
}

export type Observer = ReturnType<typeof createObserver>;
