import { createRollout, formatPlan } from '@kanary/core';
import { createMemoryRouter, createMemoryWorkload, createScriptedGate } from '@kanary/core/testing';
import { describe, expect, it } from 'vitest';
import { harness, SPECS } from './harness.ts';

const types = (actions: { type: string }[]) => actions.map((a) => a.type);

describe('plan()', () => {
  it('weighted: canary first, traffic by steps, promotion updates stable then drains the canary', () => {
    const h = harness('weighted');
    const plan = h.rollout.plan();
    // The router is prepared before the canary exists (stable pinned) and again once it is ready.
    expect(types(plan.prelude)).toEqual([
      'router.prepare',
      'workload.ensureCanary',
      'workload.waitReady',
      'router.prepare',
    ]);
    expect(plan.steps.map((s) => s.title)).toEqual([
      'set weight 10%',
      'pause 5m',
      'header route qa',
      'analysis quick',
      'set weight 50%',
      'mirror shadow',
      'pause until promoted',
      'stop mirror shadow',
      'set weight 100%',
    ]);
    expect(plan.steps[0]?.actions).toEqual([{ type: 'router.setWeight', weight: 10 }]);
    // Stable is never changed while it serves traffic: all traffic to the canary (at full size) first.
    expect(types(plan.promotion)).toEqual([
      'workload.scale',
      'workload.waitReady',
      'router.setWeight',
      'workload.promote',
      'workload.waitReady',
      'router.finalize',
      'delay',
      'workload.cleanup',
    ]);
    expect(plan.promotion[2]).toEqual({ type: 'router.setWeight', weight: 100 });
    // Abort puts the stable's own template back (nothing to write before promotion), then moves
    // traffic in one router write, before anything else.
    expect(types(plan.abort)).toEqual([
      'workload.restoreStable',
      'router.reset',
      'workload.waitReady',
      'router.reset',
      'delay',
      'workload.cleanup',
      'router.finalize',
    ]);
    expect(plan.requires.router).toMatchObject({
      weights: ['exact'],
      headerMatch: ['exact'],
      mirror: true,
      mirrorPercentage: true,
    });
    // Planning touches nothing.
    expect(h.journal).toEqual([]);
  });

  it('headerMatch: the matched-users route (seed 003: cookie regex, 50/50) comes first', () => {
    const plan = harness('headerMatch').rollout.plan();
    expect(plan.steps[0]?.title).toBe('route matched users 50% to canary');
    expect(plan.steps[0]?.actions).toEqual([
      {
        type: 'router.setHeaderRoute',
        route: {
          name: 'match',
          weight: 50,
          match: [{ cookie: { name: 'email', regex: '^[^;]*@some-company-name\\.com$' } }],
        },
      },
    ]);
    expect(plan.requires.router).toMatchObject({
      cookieMatch: ['regex'],
      matchedWeight: true,
      headerRoutes: 1,
    });
    expect(plan.steps.slice(1).map((s) => s.title)).toEqual([
      'pause 10m',
      'analysis matched',
      'set weight 20%',
      'pause until promoted',
    ]);
  });

  it('rolling: rolls in place, isolating the new pods while held (seed 000), undo on abort', () => {
    const plan = harness('rolling').rollout.plan();
    expect(plan.prelude).toEqual([]);
    expect(plan.steps.map((s) => types(s.actions))).toEqual([
      ['workload.rollTo', 'workload.isolate'],
      ['pause'],
      ['analysis'],
      ['workload.unisolate', 'workload.rollTo', 'workload.isolate'],
      ['pause'],
    ]);
    expect(plan.steps[0]?.actions[0]).toEqual({ type: 'workload.rollTo', percent: 50 });
    expect(types(plan.promotion)).toEqual(['workload.unisolate', 'workload.rollTo', 'workload.waitReady']);
    expect(types(plan.abort)).toEqual(['workload.unisolate', 'workload.undo', 'workload.waitReady']);
    expect(plan.requires).toEqual({ router: null, workload: ['rollTo', 'undo', 'isolate', 'unisolate'] });
  });

  it('blueGreen: preview, pre-promotion analysis, auto-promotion, switch, post-promotion analysis', () => {
    const plan = harness('blueGreen').rollout.plan();
    expect(plan.steps.map((s) => s.title)).toEqual([
      'pre-promotion analysis',
      'auto-promote after 60s',
      'switch the active Service to green',
      'post-promotion analysis',
    ]);
    // Green at the stable's live size and ready before it takes the users.
    expect(plan.steps[2]?.actions).toEqual([
      { type: 'workload.scale', side: 'canary', percentOfStable: 100 },
      { type: 'workload.waitReady', side: 'canary' },
      { type: 'router.setWeight', weight: 100 },
    ]);
    // Promotion makes sure green serves (a no-op after the switch step; promoteFull() skips that step)
    // before blue is retired.
    // Once blue has no pods, the Services get the user's selectors back.
    expect(types(plan.promotion)).toEqual([
      'workload.scale',
      'workload.waitReady',
      'router.setWeight',
      'delay',
      'workload.scale',
      'router.finalize',
    ]);
    expect(plan.promotion[2]).toEqual({ type: 'router.setWeight', weight: 100 });
    expect(plan.promotion[3]).toEqual({ type: 'delay', duration: 30_000, reason: 'scaleDown' });
    // Rollback: blue back up and ready before the selector switches back.
    expect(types(plan.abort)).toEqual([
      'workload.restoreStable',
      'workload.waitReady',
      'router.reset',
      'delay',
      'workload.cleanup',
      'router.finalize',
    ]);
  });

  it('replicaRatio: the canary starts at zero pods and the router sizes both sides', () => {
    const plan = harness('replicaRatio').rollout.plan();
    expect(plan.prelude[1]).toEqual({ type: 'workload.ensureCanary', replicas: 0 });
    expect(types(plan.promotion)).toEqual([
      'router.setWeight',
      'workload.promote',
      'workload.waitReady',
      'router.finalize',
      'delay',
      'workload.cleanup',
    ]);
    expect(plan.steps.map((s) => s.title)).toEqual([
      'set weight 10%',
      'pause 2m',
      'set weight 50%',
      'analysis gray',
      'pause until promoted',
    ]);
    expect(plan.requires.router?.weights).toEqual(['replicas']);
  });

  it('plans hook actions only for hooks that have handlers', () => {
    const rollout = createRollout({
      spec: { ...SPECS.weighted, steps: [{ setWeight: 10 }, { setWeight: 5 }, { setWeight: 20 }] },
      workload: createMemoryWorkload(),
      router: createMemoryRouter(),
      hooks: { 'confirm-traffic-increase': async () => {}, rollback: async () => {} },
    });
    const plan = rollout.plan();
    // Only increases are confirmed: 0→10 and 5→20, not 10→5.
    expect(plan.steps.map((s) => types(s.actions))).toEqual([
      ['hook', 'router.setWeight'],
      ['router.setWeight'],
      ['hook', 'router.setWeight'],
    ]);
    expect(plan.abort.filter((a) => a.type === 'hook')).toEqual([{ type: 'hook', hook: 'rollback' }]);
  });

  it('setCanaryScale matchTrafficWeight resizes the canary before traffic grows', () => {
    const rollout = createRollout({
      spec: {
        ...SPECS.weighted,
        steps: [{ setCanaryScale: { matchTrafficWeight: true } }, { setWeight: 25 }, { setWeight: 10 }],
      },
      workload: createMemoryWorkload(),
      router: createMemoryRouter(),
    });
    expect(rollout.plan().steps.map((s) => s.actions)).toEqual([
      [
        { type: 'workload.scale', side: 'canary', percentOfStable: 0 },
        { type: 'workload.waitReady', side: 'canary' },
      ],
      [
        { type: 'workload.scale', side: 'canary', percentOfStable: 25 },
        { type: 'workload.waitReady', side: 'canary' },
        { type: 'router.setWeight', weight: 25 },
      ],
      [
        { type: 'router.setWeight', weight: 10 },
        { type: 'workload.scale', side: 'canary', percentOfStable: 10 },
      ],
    ]);
  });

  it('a setCanaryScale before any traffic sizes the canary when it is made (never the stable’s full size first)', () => {
    const prelude = (steps: unknown[]) =>
      createRollout({
        spec: { ...SPECS.weighted, steps },
        workload: createMemoryWorkload(),
        router: createMemoryRouter(),
      })
        .plan()
        .prelude.find((a) => a.type === 'workload.ensureCanary');
    expect(prelude([{ setCanaryScale: { replicas: 1 } }, { setWeight: 10 }])).toEqual({
      type: 'workload.ensureCanary',
      replicas: 1,
    });
    expect(
      prelude([{ pause: { duration: '1m' } }, { setCanaryScale: { weight: 10 } }, { setWeight: 10 }]),
    ).toEqual({
      type: 'workload.ensureCanary',
      percentOfStable: 10,
    });
    expect(prelude([{ setCanaryScale: { matchTrafficWeight: true } }, { setWeight: 10 }])).toEqual({
      type: 'workload.ensureCanary',
      percentOfStable: 0,
    });
    // Traffic first: the canary is made at full size, as before.
    expect(prelude([{ setWeight: 10 }, { setCanaryScale: { replicas: 1 } }])).toEqual({
      type: 'workload.ensureCanary',
    });
  });

  it('formats a readable plan', () => {
    const text = formatPlan(harness('weighted').rollout.plan());
    expect(text).toContain('step 1: set weight 10%');
    expect(text).toContain('  - route 10% of traffic to canary');
    expect(text).toContain('  - mirror 20% of traffic to canary (shadow)');
    expect(text).toContain(
      "on abort:\n  - restore the stable workload's original template\n  - route all traffic to stable and remove Kanary's routes",
    );
    // An action that comes twice says why each time; the abort's last step is not a promotion's.
    expect(text).toContain(
      '  - prepare the routing objects before the canary exists (no traffic can reach it)',
    );
    expect(text).toContain(
      '  - prepare the routing objects for the ready canary (its routes at 0%: still no traffic)',
    );
    expect(text).toContain(
      '  - route all traffic to stable again, now that it is ready (the routing follows its pods)',
    );
    expect(text.split('on abort:')[1]).toMatch(
      /hand the routing objects back as they were before the release/,
    );
    expect(text.split('on abort:')[1]).not.toMatch(/now the new version/);
    expect(text).not.toMatch(/\w\(\)/);
  });

  it('a header route and a mirror say whom they match', () => {
    const plan = createRollout({
      spec: {
        ...SPECS.weighted,
        steps: [
          {
            setHeaderRoute: {
              name: 'company',
              match: [
                { cookie: { name: 'email', regex: '[^;]*@example\\.com' } },
                {
                  headers: [
                    { name: 'x-team', exact: 'qa' },
                    { name: 'x-env', prefix: 'stag' },
                  ],
                },
              ],
              weight: 50,
            },
          },
          {
            setMirror: {
              name: 'shadow',
              percentage: 20,
              match: [{ headers: [{ name: 'x-mirror', exact: 'yes' }] }],
            },
          },
        ],
      },
      workload: createMemoryWorkload(),
      router: createMemoryRouter(),
    }).plan();
    const text = formatPlan(plan);
    expect(text).toContain(
      '  - route 50% of requests where cookie email matches /[^;]*@example\\.com/ or header x-team = "qa" and header x-env starts with "stag" to canary (company)',
    );
    expect(text).toContain('  - mirror 20% of requests where header x-mirror = "yes" to canary (shadow)');
  });

  it('refuses a router that lacks a capability before anything runs', () => {
    const journal: never[] = [];
    const attempt = (caps: Parameters<typeof createMemoryRouter>[0]) => () =>
      createRollout({
        spec: SPECS.weighted,
        workload: createMemoryWorkload({ journal }),
        router: createMemoryRouter({ ...caps, journal }),
        gate: createScriptedGate(),
      });
    expect(attempt({ name: 'nginx-like', capabilities: { mirror: false } })).toThrow(
      /nginx-like cannot mirror traffic/,
    );
    expect(attempt({ capabilities: { weights: 'binary' } })).toThrow(/needs exact weights/);
    expect(attempt({ capabilities: { headerMatch: { exact: false, prefix: true, regex: true } } })).toThrow(
      /uses exact/,
    );
    expect(attempt({ capabilities: { mirrorPercentage: false } })).toThrow(/can only mirror all traffic/);
    try {
      attempt({ capabilities: { mirror: false } })();
    } catch (e) {
      expect((e as { code: string }).code).toBe('UNSUPPORTED_CAPABILITY');
    }
    const cookieSpec = harness('headerMatch').rollout.spec;
    expect(() =>
      createRollout({
        spec: { ...SPECS.headerMatch },
        workload: createMemoryWorkload(),
        router: createMemoryRouter({
          capabilities: { cookieMatch: { exact: true, regex: false }, matchedWeight: false },
        }),
        gate: createScriptedGate(),
      }),
    ).toThrow(/cookie match uses regex[\s\S]*partial weight/);
    expect(cookieSpec.strategy.type).toBe('headerMatch');
    expect(() =>
      createRollout({ spec: SPECS.rolling, workload: createMemoryWorkload(), router: createMemoryRouter() }),
    ).toThrow(/does not use a router/);
    expect(() =>
      createRollout({ spec: SPECS.weighted, workload: createMemoryWorkload(), gate: createScriptedGate() }),
    ).toThrow(/no router was given/);
    expect(() =>
      createRollout({ spec: SPECS.weighted, workload: createMemoryWorkload(), router: createMemoryRouter() }),
    ).toThrow(/needs a metric gate/);
    expect(journal).toEqual([]);
  });
});
