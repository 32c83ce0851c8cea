import { type AnalysisSpec, createRollout, type MetricGate, type RolloutState } from '@kanary/core';
import type { GateResult, Measurement, PortContext } from '@kanary/core/adapter';
import { createMemoryRouter, createMemoryWorkload, createVirtualClock } from '@kanary/core/testing';
import {
  createMetricGate,
  type FunctionData,
  type MetricFunction,
  type PrometheusClient,
  type SeriesValue,
} from '@kanary/metrics';
import { poissonSampler, seededRandom } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';
import { analysisOf, spec } from './support/specs.ts';

const ctx = (): PortContext =>
  ({
    key: { namespace: 'shop', name: 'shop' },
    spec,
    targets: { stable: { name: 'shop', podLabels: {} }, canary: { name: 'shop-canary', podLabels: {} } },
    state: {} as RolloutState,
    signal: new AbortController().signal,
  }) as PortContext;

/** A function provider that answers from a script, one entry per look. */
function scripted(values: Array<number | number[] | Error>): MetricFunction {
  let i = 0;
  return () => {
    const v = values[Math.min(i++, values.length - 1)] as number | number[] | Error;
    if (v instanceof Error) throw v;
    return { kind: 'scalar', result: v };
  };
}

/** Drives a gate alone, look after look, until it decides; returns the phase and every measurement. */
async function drive(
  gate: MetricGate,
  analysis: AnalysisSpec,
  options: { roundTrip?: boolean; maxLooks?: number } = {},
) {
  const measurements: Measurement[] = [];
  let state: GateResult['state'] | undefined;
  let now = 1_000_000;
  for (let i = 0; i < (options.maxLooks ?? 100); i++) {
    const r = await gate.evaluate({
      key: 'steps[0]',
      analysis,
      state,
      startedAt: 1_000_000,
      now,
      ctx: ctx(),
    });
    measurements.push(...r.measurements);
    state = options.roundTrip ? JSON.parse(JSON.stringify(r.state)) : r.state;
    if (r.phase !== 'running') return { phase: r.phase, measurements, message: r.message, state };
    now = r.nextEvaluationAt ?? now + 1_000;
  }
  return { phase: 'running' as const, measurements, state };
}

const metric = (over: Record<string, unknown>) => ({
  name: 'm',
  interval: '10s',
  provider: { function: 'f' },
  ...over,
});

describe('built-in metrics name what the router serves', () => {
  it('the nginx built-in reads the Ingress users reach (the router’s stableIngress), not the Service’s name', async () => {
    const queries: string[] = [];
    const gate = createMetricGate({
      prometheus: {
        address: 'http://prometheus.invalid',
        instant: async (q: string) => {
          queries.push(q);
          return { resultType: 'vector', result: [] };
        },
        range: async () => [],
      } as never,
    });
    const analysis = analysisOf([
      {
        name: 'errors',
        interval: '30s',
        provider: { nginx: { metric: 'errors' } },
        judge: { sequentialRate: {} },
      },
    ]);
    const withRouter = (options: Record<string, unknown> | undefined) =>
      gate.evaluate({
        key: 'steps[0]',
        analysis,
        state: undefined,
        startedAt: 1_000_000,
        now: 1_000_000,
        ctx: {
          ...ctx(),
          state: (options
            ? { wiring: { spec: {}, code: [], router: { kind: 'nginx', options } } }
            : {}) as RolloutState,
        },
      });
    await withRouter({ stableIngress: 'shop-main' });
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.every((q) => q.includes('ingress="shop-main"'))).toBe(true);
    queries.length = 0;
    // No router known (a gate used on its own): the target Service's name, as before.
    await withRouter(undefined);
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.every((q) => q.includes('ingress="shop"'))).toBe(true);
  });
});

describe("the metric gate: Argo's counting around the judges", () => {
  const gateWith = (f: MetricFunction) => createMetricGate({ functions: { f } });

  it('a metric is successful after `count` looks, each one an event carrying the value', async () => {
    const r = await drive(
      gateWith(scripted([0.999, 0.998, 0.997])),
      analysisOf([metric({ count: 3, successCondition: 'result >= 0.99' })]),
    );
    expect(r.phase).toBe('successful');
    expect(r.measurements.map((m) => [m.phase, m.value])).toEqual([
      ['successful', 0.999],
      ['successful', 0.998],
      ['successful', 0.997],
    ]);
    expect(r.measurements.map((m) => m.at)).toEqual([1_000_000, 1_010_000, 1_020_000]);
  });

  it('fails once failures exceed failureLimit', async () => {
    const r = await drive(
      gateWith(scripted([0.5, 1, 0.5, 0.5, 1])),
      analysisOf([metric({ count: 5, failureLimit: 2, successCondition: 'result >= 0.99' })]),
    );
    expect(r.phase).toBe('failed');
    expect(r.measurements).toHaveLength(4);
    expect(r.message).toMatch(/3 failed looks > failureLimit 2/);
  });

  it('with both conditions and neither true, a look is inconclusive, and the run pauses for a human', async () => {
    const r = await drive(
      gateWith(scripted([0.95])),
      analysisOf([
        metric({ count: 3, successCondition: 'result >= 0.99', failureCondition: 'result < 0.9' }),
      ]),
    );
    expect(r.phase).toBe('inconclusive');
    expect(r.measurements[0]?.phase).toBe('inconclusive');
  });

  it('errors count toward consecutiveErrorLimit (default 4), retried after 10s; a good look resets them', async () => {
    const boom = new Error('prometheus: bad_data: parse error');
    const r = await drive(
      gateWith(scripted([boom, boom, boom, boom, 1, boom, boom, boom, boom, boom])),
      analysisOf([metric({ interval: '1m', successCondition: 'result > 0' })]),
    );
    expect(r.phase).toBe('error');
    const phases = r.measurements.map((m) => m.phase);
    expect(phases).toEqual([
      'error',
      'error',
      'error',
      'error',
      'successful',
      'error',
      'error',
      'error',
      'error',
      'error',
    ]);
    expect((r.measurements[1]?.at ?? 0) - (r.measurements[0]?.at ?? 0)).toBe(10_000);
    expect(r.measurements[0]?.message).toMatch(/parse error/);
  });

  it('no data waits without counting, and turns inconclusive after noDataLimit looks in a row', async () => {
    const waits = await drive(
      gateWith(scripted([[], [], Number.NaN, 1, 1])),
      analysisOf([metric({ count: 2, successCondition: 'result > 0' })]),
    );
    expect(waits.phase).toBe('successful');
    expect(waits.measurements.map((m) => m.phase)).toEqual([
      'nodata',
      'nodata',
      'nodata',
      'successful',
      'successful',
    ]);
    const gives = await drive(
      gateWith(scripted([[]])),
      analysisOf([metric({ count: 2, noDataLimit: 3, successCondition: 'result > 0' })]),
    );
    expect(gives.phase).toBe('inconclusive');
    expect(gives.measurements).toHaveLength(4);
    expect(gives.message).toMatch(/no data for 4 looks in a row/);
  });

  it('consecutiveSuccessLimit ends early; reaching count without it is inconclusive (failureLimit set) or failed (-1)', async () => {
    const early = await drive(
      gateWith(scripted([0, 1, 1])),
      analysisOf([
        metric({ count: 10, failureLimit: 3, consecutiveSuccessLimit: 2, successCondition: 'result > 0' }),
      ]),
    );
    expect(early.phase).toBe('successful');
    expect(early.measurements).toHaveLength(3);
    const undecided = await drive(
      gateWith(scripted([0, 1, 0, 1])),
      analysisOf([
        metric({ count: 4, failureLimit: 2, consecutiveSuccessLimit: 2, successCondition: 'result > 0' }),
      ]),
    );
    expect(undecided.phase).toBe('inconclusive');
    const failed = await drive(
      gateWith(scripted([0, 1, 0, 1])),
      analysisOf([
        metric({ count: 4, failureLimit: -1, consecutiveSuccessLimit: 2, successCondition: 'result > 0' }),
      ]),
    );
    expect(failed.phase).toBe('failed');
  });

  it('initialDelay holds the first look; the worst metric decides; dryRun metrics are measured but never decide', async () => {
    const gate = createMetricGate({
      functions: { ok: scripted([1]), bad: scripted([0]), meh: scripted([0.5]) },
    });
    const r = await drive(
      gate,
      analysisOf([
        {
          name: 'ok',
          interval: '10s',
          count: 2,
          initialDelay: '1m',
          provider: { function: 'ok' },
          successCondition: 'result > 0.9',
        },
        {
          name: 'shadow',
          interval: '10s',
          count: 2,
          dryRun: true,
          provider: { function: 'bad' },
          successCondition: 'result > 0.9',
        },
      ]),
    );
    expect(r.phase).toBe('successful');
    expect(r.measurements.find((m) => m.metric === 'ok')?.at).toBe(1_060_000);
    expect(
      r.measurements.filter((m) => m.metric === 'shadow').every((m) => m.dryRun && m.phase === 'failed'),
    ).toBe(true);
    const worst = await drive(
      gate,
      analysisOf([
        {
          name: 'a',
          count: 1,
          provider: { function: 'meh' },
          successCondition: 'result > 0.9',
          failureCondition: 'result < 0.1',
        },
        { name: 'b', count: 1, provider: { function: 'bad' }, successCondition: 'result > 0.9' },
      ]),
    );
    expect(worst.phase).toBe('failed');
  });

  it("Flagger's thresholdRange: outside [min, max] fails", async () => {
    const r = await drive(
      gateWith(scripted([99.5, 98])),
      analysisOf([metric({ count: 2, thresholdRange: { min: 99 } })]),
    );
    expect(r.phase).toBe('failed');
    expect(r.measurements.map((m) => m.phase)).toEqual(['successful', 'failed']);
  });

  it('refuses a PromQL template whose placeholder cannot land as one literal, with the position', () => {
    const gate = createMetricGate({ prometheus: { address: 'http://prometheus' } });
    const issues = gate.validate?.(
      analysisOf([
        {
          name: 'ok',
          provider: { prometheus: { query: 'sum(up{pod="{{canary}}"})' } },
          successCondition: 'result > 0',
        },
        {
          name: 'bare',
          provider: { prometheus: { query: 'sum(up{pod={{canary}}})' } },
          successCondition: 'result > 0',
        },
      ]),
      'analysis',
    );
    const messages = (issues ?? []).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual([
      expect.stringMatching(
        /^analysis\.metrics\[1\]\.provider\.prometheus: has a query Kanary cannot fill safely: the query does not parse as PromQL at position \d+/,
      ),
    ]);
  });

  it('refuses a metric field neither core nor the gate reads, with the one it was probably meant to be', () => {
    const gate = createMetricGate({ prometheus: { address: 'http://prometheus' } });
    const issues = gate.validate?.(
      analysisOf([
        { name: 'typo', provider: { prometheus: { query: 'up' } }, sucessCondition: 'result > 0' },
        { name: 'odd', provider: { prometheus: { query: 'up' } }, successCondition: 'result > 0', zzz: 1 },
      ]),
      'analysis',
    );
    const lines = (issues ?? []).map((i) => `${i.path}: ${i.message} — ${i.hint}`);
    expect(lines).toContain(
      'analysis.metrics[0]: unknown field "sucessCondition" — did you mean "successCondition"?',
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^analysis\.metrics\[1\]: unknown field "zzz" — remove it; a metric's fields are name, interval/,
      ),
    );
  });

  it('validates provider and judge settings, naming the field and the fix, before anything runs', () => {
    const gate = createMetricGate({ functions: { f: scripted([1]) } });
    const issues = gate.validate?.(
      analysisOf([
        metric({ successCondition: 'result >= ' }),
        {
          name: 'x',
          interval: '10s',
          provider: { prometheus: { query: 'up' } },
          judge: { sequentialRate: {} },
        },
        { name: 'y', provider: { function: 'nope' } },
        {
          name: 'z',
          interval: '10s',
          provider: { web: { url: 'http://m', jsonPath: '$.v' } },
          judge: { sequentialRate: {} },
        },
        { name: 'w', provider: { carrier: {} } },
        metric({ name: 'v', judge: { sequentialLatency: { ownShifts: 'no' } } }),
        metric({ name: 'u', judge: { sequentialLatency: { ownShifts: false } } }),
      ]),
      'steps[0].analysis',
    );
    const paths = (issues ?? []).map((i) => `${i.path}: ${i.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^steps\[0\]\.analysis\.metrics\[0\]\.successCondition: cannot be read/),
        expect.stringMatching(
          /^steps\[0\]\.analysis\.metrics\[1\]\.provider: reads Prometheus, and no server is configured/,
        ),
        expect.stringMatching(
          /^steps\[0\]\.analysis\.metrics\[1\]\.provider\.prometheus: needs canary and baseline/,
        ),
        expect.stringMatching(/^steps\[0\]\.analysis\.metrics\[2\]\.provider\.function: names "nope"/),
        expect.stringMatching(/^steps\[0\]\.analysis\.metrics\[3\]\.provider\.web: gives one value/),
        expect.stringMatching(/^steps\[0\]\.analysis\.metrics\[4\]\.provider/),
        expect.stringMatching(
          /^steps\[0\]\.analysis\.metrics\[5\]\.judge\.sequentialLatency\.ownShifts: must be a boolean/,
        ),
      ]),
    );
    expect(paths.some((p) => p.includes('metrics[6]'))).toBe(false);
    expect((issues ?? []).every((i) => i.hint)).toBe(true);
  });

  it('a gate state saved as JSON and loaded by a new gate continues the same sequential test', async () => {
    // Canary errors 1.5× the baseline's: counts grow by the same script for both runs.
    const counts = (): MetricFunction => {
      const u = seededRandom(7);
      const poisson = poissonSampler(u);
      const c = { total: 0, bad: 0 };
      const b = { total: 0, bad: 0 };
      return (): FunctionData => {
        const cb = poisson(500 * 0.015);
        const bb = poisson(4500 * 0.01);
        c.total += 500;
        c.bad += cb;
        b.total += 4500;
        b.bad += bb;
        return { kind: 'counts', canary: { ...c }, baseline: { ...b } };
      };
    };
    const analysis = analysisOf([metric({ judge: { sequentialRate: { alpha: 0.01 } } })]);
    const straight = await drive(createMetricGate({ functions: { f: counts() } }), analysis);
    // Same data, but every look by a fresh gate from the JSON state (a new process each time).
    const f = counts();
    const measurements: Measurement[] = [];
    let state: GateResult['state'] | undefined;
    let now = 1_000_000;
    let phase = 'running';
    while (phase === 'running') {
      const r = await createMetricGate({ functions: { f } }).evaluate({
        key: 'steps[0]',
        analysis,
        state,
        startedAt: 1_000_000,
        now,
        ctx: ctx(),
      });
      measurements.push(...r.measurements);
      state = JSON.parse(JSON.stringify(r.state));
      phase = r.phase;
      now = r.nextEvaluationAt ?? now;
    }
    expect(straight.phase).toBe('failed');
    expect(phase).toBe('failed');
    expect(measurements.map((m) => m.detail?.eValue)).toEqual(
      straight.measurements.map((m) => m.detail?.eValue),
    );
    expect(measurements.length).toBeGreaterThan(3);
  });
});

/** Traffic in virtual time whose split follows the memory router's weight: the gate reads counters. */
function trafficModel(
  router: ReturnType<typeof createMemoryRouter>,
  canaryErrorRate: number,
  clock: { now(): number },
) {
  const u = seededRandom(11);
  const poisson = poissonSampler(u);
  const c = { total: 0, bad: 0 };
  const b = { total: 0, bad: 0 };
  let last = clock.now();
  const advance = () => {
    const now = clock.now();
    const seconds = (now - last) / 1000;
    last = now;
    const w = router.current.weight / 100;
    const rps = 200;
    const cb = poisson(rps * seconds * w * canaryErrorRate);
    const cg = poisson(rps * seconds * w * (1 - canaryErrorRate));
    const bb = poisson(rps * seconds * (1 - w) * 0.01);
    const bg = poisson(rps * seconds * (1 - w) * 0.99);
    c.total += cb + cg;
    c.bad += cb;
    b.total += bb + bg;
    b.bad += bb;
  };
  const fn: MetricFunction = () => {
    advance();
    return { kind: 'counts', canary: { ...c }, baseline: { ...b } };
  };
  return fn;
}

describe('gates in the engine', () => {
  const rolloutSpec = (steps: unknown[], background?: unknown) => ({
    name: 'shop',
    namespace: 'shop',
    target: { name: 'shop', service: 'shop' },
    update: { image: 'shop:2' },
    strategy: { type: 'weighted' },
    steps,
    ...(background ? { analysis: background } : {}),
  });
  const errors = {
    name: 'errors',
    interval: '15s',
    provider: { function: 'counts' },
    judge: { sequentialRate: { alpha: 0.01 } },
  };

  const setup = (canaryErrorRate: number, spec: unknown) => {
    const clock = createVirtualClock(1_000_000);
    const router = createMemoryRouter();
    const gate = createMetricGate({ functions: { counts: trafficModel(router, canaryErrorRate, clock) } });
    const rollout = createRollout({ spec, workload: createMemoryWorkload({ clock }), router, gate, clock });
    const measurements: Measurement[] = [];
    rollout.on('measurement', (e) => measurements.push(e.measurement));
    return { rollout, clock, measurements, router };
  };

  it('background analysis across steps promotes a good canary after looking through every pause', async () => {
    const { rollout, clock, measurements } = setup(
      0.01,
      rolloutSpec(
        [{ setWeight: 10 }, { pause: { duration: '5m' } }, { setWeight: 50 }, { pause: { duration: '5m' } }],
        { metrics: [errors] },
      ),
    );
    const final = await clock.run(rollout.run());
    expect(final.phase).toBe('succeeded');
    expect(measurements.length).toBeGreaterThanOrEqual(35);
    expect(measurements.every((m) => m.phase !== 'failed')).toBe(true);
  });

  it('background analysis aborts a canary with 3× the errors in the middle of a pause, and rolls back', async () => {
    const { rollout, clock, measurements, router } = setup(
      0.03,
      rolloutSpec([{ setWeight: 10 }, { pause: { duration: '30m' } }, { setWeight: 50 }], {
        metrics: [errors],
      }),
    );
    const final = await clock.run(rollout.run());
    expect(final.phase).toBe('aborted');
    expect(final.abort?.cause).toBe('analysis');
    expect(final.abort?.reason).toMatch(/analysis background failed/);
    expect(final.abort?.from.step).toBe(1); // in the pause
    expect(router.current.weight).toBe(0);
    const last = measurements.at(-1);
    expect(last?.phase).toBe('failed');
    expect(last?.detail?.eValue as number).toBeGreaterThanOrEqual(100);
    expect((final.finishedAt ?? 0) - (final.startedAt ?? 0)).toBeLessThan(30 * 60_000);
  });

  it('an inline analysis step gates the next weight', async () => {
    const { rollout, clock } = setup(
      0.03,
      rolloutSpec([
        { setWeight: 20 },
        { analysis: { metrics: [{ ...errors, count: 40 }] } },
        { setWeight: 50 },
      ]),
    );
    const final = await clock.run(rollout.run());
    expect(final.phase).toBe('aborted');
    expect(final.abort?.from.step).toBe(1);
  });

  it('blue-green pre-promotion analysis keeps a bad green from ever taking traffic', async () => {
    const clock = createVirtualClock(1_000_000);
    const router = createMemoryRouter();
    const gate = createMetricGate({ functions: { rate: scripted([0.9]) } });
    const rollout = createRollout({
      spec: {
        name: 'py-hello',
        target: { name: 'py-hello-blue', service: 'py-hello-service' },
        update: { image: 'py:2' },
        strategy: {
          type: 'blueGreen',
          activeService: 'py-hello-service',
          prePromotionAnalysis: {
            metrics: [{ name: 'smoke', provider: { function: 'rate' }, successCondition: 'result >= 0.99' }],
          },
        },
      },
      workload: createMemoryWorkload({ clock }),
      router,
      gate,
      clock,
    });
    const final = await clock.run(rollout.run());
    expect(final.phase).toBe('aborted');
    expect(final.abort?.reason).toMatch(/prePromotionAnalysis failed/);
    expect(router.current.weight).toBe(0);
  });
});

/** A Prometheus whose canary has served nothing yet: `stable` answers every other instant query. */
const stableOnlyPrometheus = (
  stable: (query: string) => SeriesValue[],
  range: PrometheusClient['range'],
): PrometheusClient => ({
  address: 'http://prometheus.test',
  instant: async (query: string) => ({
    type: 'vector' as const,
    series: query.includes('canary') ? [] : stable(query),
  }),
  range,
});

describe("the error-rate judge calibrates on the baseline's last hour", () => {
  const counts = (history?: Array<{ total: number; bad: number }>): FunctionData => ({
    kind: 'counts',
    canary: { total: 0, bad: 0 },
    baseline: { total: 90_000, bad: 450, ...(history ? { history } : {}) },
  });

  it('asks a function provider for it at the first look only, and not for judges that do not use it', async () => {
    const asked: Array<{ metric: string; history?: { windows: number; stepMs: number } }> = [];
    const history = Array.from({ length: 360 }, (_, i) => ({ total: 9_000, bad: 40 + (i % 11) }));
    const gate = createMetricGate({
      functions: {
        f: (r) => {
          asked.push({ metric: r.metric, ...(r.history ? { history: r.history } : {}) });
          return r.needs === 'counts'
            ? counts(r.history ? history : undefined)
            : { kind: 'scalar', result: 1 };
        },
      },
    });
    const analysis = analysisOf([
      metric({ name: 'errors', judge: { sequentialRate: {} } }),
      metric({ name: 'smoke', successCondition: 'result > 0' }),
    ]);
    const r = await drive(gate, analysis, { maxLooks: 3 });
    expect(asked.filter((a) => a.metric === 'errors')[0]?.history).toEqual({ windows: 360, stepMs: 10_000 });
    expect(asked.filter((a) => a.history).length).toBe(1);
    const first = r.measurements.find((m) => m.metric === 'errors');
    expect(first?.message).toMatch(/calibrated on 360 windows of the baseline's history/);
  });

  it('reads it from Prometheus with a range query per baseline counter, a restarted counter counting from zero', async () => {
    const step = 10_000;
    const now = 1_000_000 + 3_600_000;
    const ranges: Array<{ query: string; start: number; end: number; stepMs: number }> = [];
    // One pod restarts halfway: its counter drops and climbs again from zero (half a window's worth
    // by the next step), which is that window's increase, not a negative one.
    const cumulative = (perWindow: number) =>
      Array.from({ length: 361 }, (_, k) => (k < 180 ? k * perWindow : (k - 180 + 0.5) * perWindow));
    const client = stableOnlyPrometheus(
      (query) => [{ labels: { pod: 'a' }, value: query.includes('5..') ? 900 : 180_000 }],
      async (query, o) => {
        ranges.push({ query, start: o.start, end: o.end, stepMs: o.stepMs });
        const values = cumulative(query.includes('5..') ? 5 : 1_000);
        return [
          {
            labels: { pod: 'a' },
            points: values.map((v, k) => [o.start + k * o.stepMs, v] as [number, number]),
          },
        ];
      },
    );
    const gate = createMetricGate({ prometheus: client });
    const analysis = analysisOf([
      {
        name: 'errors',
        interval: '10s',
        provider: {
          prometheus: {
            canary: { total: 'requests{side="canary"}', bad: 'requests{side="canary",code=~"5.."}' },
            baseline: { total: 'requests{side="stable"}', bad: 'requests{side="stable",code=~"5.."}' },
          },
        },
        judge: { sequentialRate: {} },
      },
    ]);
    const r = await gate.evaluate({
      key: 'steps[0]',
      analysis,
      state: undefined,
      startedAt: now,
      now,
      ctx: ctx(),
    });
    expect(ranges.map((q) => q.query).sort()).toEqual([
      'requests{side="stable",code=~"5.."}',
      'requests{side="stable"}',
    ]);
    expect(ranges[0]).toMatchObject({ start: now - 360 * step, end: now, stepMs: step });
    expect(r.measurements[0]?.detail?.historyWindows).toBe(360);
  });
});

describe("the latency judge calibrates on the baseline's buckets over the last hour", () => {
  const step = 10_000;
  const now = 1_000_000 + 3_600_000;
  // Per `le`, requests a window at or under it; two pods share them.
  const perWindow: Record<string, number> = { '50': 300, '100': 600, '250': 900, '+Inf': 1_000 };
  const analysis = analysisOf([
    {
      name: 'latency',
      interval: '10s',
      provider: {
        prometheus: {
          canary: 'latency_bucket{side="canary"}',
          baseline: 'latency_bucket{side="stable"}',
        },
      },
      judge: { sequentialLatency: {} },
    },
  ]);
  const evaluate = (range: PrometheusClient['range']) => {
    const client = stableOnlyPrometheus(
      () =>
        Object.entries(perWindow).flatMap(([le, n]) =>
          ['a', 'b'].map((pod) => ({ labels: { le, pod }, value: 180 * n })),
        ),
      range,
    );
    const gate = createMetricGate({ prometheus: client });
    return gate.evaluate({ key: 'steps[0]', analysis, state: undefined, startedAt: now, now, ctx: ctx() });
  };

  it('reads it with one range query of the baseline selector, summed per `le` over pods', async () => {
    const queries: Array<{ query: string; start: number; stepMs: number }> = [];
    const r = await evaluate(async (query, o) => {
      queries.push({ query, start: o.start, stepMs: o.stepMs });
      // Pod b restarts halfway through the hour: its counters count from zero again.
      return Object.entries(perWindow).flatMap(([le, n]) =>
        ['a', 'b'].map((pod) => ({
          labels: { le, pod },
          points: Array.from({ length: 361 }, (_, k) => {
            const v = pod === 'b' && k >= 180 ? (k - 180 + 0.5) * (n / 2) : k * (n / 2);
            return [o.start + k * o.stepMs, v] as [number, number];
          }),
        })),
      );
    });
    expect(queries).toEqual([
      { query: 'latency_bucket{side="stable"}', start: now - 360 * step, stepMs: step },
    ]);
    expect(r.measurements[0]?.detail?.historyWindows).toBe(360);
    expect(r.measurements[0]?.message).toMatch(
      /own shifts calibrated on 360 windows of the baseline's history$/,
    );
  });

  it('starts from its prior when the range query fails, without failing the look', async () => {
    const r = await evaluate(async () => {
      throw new Error('range queries are disabled');
    });
    expect(r.measurements[0]?.phase).toBe('nodata');
    expect(r.measurements[0]?.message).toMatch(
      /no baseline history, so the first looks allow for own shifts$/,
    );
  });
});
