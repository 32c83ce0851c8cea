import {
  isKanaryError,
  type KanaryError,
  parseDuration,
  parseRolloutSpec,
  rolloutSpecJsonSchema,
  validateRolloutSpec,
} from '@kanary/core';
import { tryParseDuration } from '@kanary/core/adapter';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { SPECS } from './harness.ts';

const base = {
  name: 'shop',
  target: { name: 'shop', service: 'shop' },
  update: { image: 'shop:2' },
  strategy: { type: 'weighted' },
  steps: [{ setWeight: 10 }],
};
const withSteps = (steps: unknown[], strategy: unknown = base.strategy) => ({ ...base, strategy, steps });
const header = (h: Record<string, unknown>) => [
  { setHeaderRoute: { name: 'qa', match: [{ headers: [h] }] } },
];

/** Each case: an invalid spec and the path its error must name. */
const INVALID: Array<[string, unknown, string]> = [
  ['not an object', 'rollout', ''],
  [
    'background analysis on blue-green',
    {
      ...base,
      steps: [],
      strategy: { type: 'blueGreen', activeService: 'shop' },
      analysis: { metrics: [{ name: 'errors', interval: '30s' }] },
    },
    'analysis',
  ],
  [
    'background analysis starting after the last step',
    { ...base, analysis: { startingStep: 3, metrics: [{ name: 'errors', interval: '30s' }] } },
    'analysis.startingStep',
  ],
  ['background analysis without metrics', { ...base, analysis: { metrics: [] } }, 'analysis.metrics'],
  ['missing name', { ...base, name: undefined }, 'name'],
  ['upper-case name', { ...base, name: 'Shop' }, 'name'],
  ['name too long', { ...base, name: 'a'.repeat(64) }, 'name'],
  ['bad namespace', { ...base, namespace: 'my_ns' }, 'namespace'],
  ['missing target', { ...base, target: undefined }, 'target'],
  [
    'target kind not Deployment',
    { ...base, target: { kind: 'StatefulSet', name: 'shop', service: 'shop' } },
    'target.kind',
  ],
  ['bad target name', { ...base, target: { name: 'Shop!', service: 'shop' } }, 'target.name'],
  ['weighted without service', { ...base, target: { name: 'shop' } }, 'target.service'],
  ['no update', { ...base, update: undefined }, 'update'],
  ['empty update', { ...base, update: {} }, 'update'],
  ['image with spaces', { ...base, update: { image: 'shop 2' } }, 'update.image'],
  ['unknown top-level field', { ...base, stratgy: {} }, ''],
  ['unknown strategy type', { ...base, strategy: { type: 'canary' } }, 'strategy.type'],
  ['unknown strategy field', { ...base, strategy: { type: 'weighted', weight: 5 } }, 'strategy'],
  ['maxWeight above 100', { ...base, strategy: { type: 'weighted', maxWeight: 120 } }, 'strategy.maxWeight'],
  ['setWeight above 100', withSteps([{ setWeight: 101 }]), 'steps[0].setWeight'],
  ['setWeight negative', withSteps([{ setWeight: -1 }]), 'steps[0].setWeight'],
  ['setWeight as text', withSteps([{ setWeight: '10' }]), 'steps[0].setWeight'],
  [
    'setWeight above maxWeight',
    withSteps([{ setWeight: 60 }], { type: 'weighted', maxWeight: 50 }),
    'steps[0].setWeight',
  ],
  ['step with two keys', withSteps([{ setWeight: 10, pause: {} }]), 'steps[0]'],
  ['unknown step', withSteps([{ wait: '5m' }]), 'steps[0]'],
  ['empty step', withSteps([{}]), 'steps[0]'],
  ['bad pause duration', withSteps([{ pause: { duration: '5 minutes' } }]), 'steps[0].pause.duration'],
  ['negative pause duration', withSteps([{ pause: { duration: -5 } }]), 'steps[0].pause.duration'],
  ['pause with unknown field', withSteps([{ pause: { seconds: 5 } }]), 'steps[0].pause'],
  ['analysis without metrics', withSteps([{ analysis: { metrics: [] } }]), 'steps[0].analysis.metrics'],
  [
    'analysis count>1 without interval',
    withSteps([{ analysis: { metrics: [{ name: 'm', count: 3 }] } }]),
    'steps[0].analysis.metrics[0].interval',
  ],
  [
    'analysis duplicate metric names',
    withSteps([{ analysis: { metrics: [{ name: 'm' }, { name: 'm' }] } }]),
    'steps[0].analysis.metrics[1].name',
  ],
  [
    'failureLimit -1 without consecutiveSuccessLimit',
    withSteps([{ analysis: { metrics: [{ name: 'm', failureLimit: -1 }] } }]),
    'steps[0].analysis.metrics[0].consecutiveSuccessLimit',
  ],
  [
    'count below limits',
    withSteps([{ analysis: { metrics: [{ name: 'm', interval: '1m', count: 2, failureLimit: 3 }] } }]),
    'steps[0].analysis.metrics[0].count',
  ],
  [
    'setCanaryScale with two modes',
    withSteps([{ setCanaryScale: { replicas: 2, weight: 20 } }]),
    'steps[0].setCanaryScale',
  ],
  [
    'setCanaryScale negative',
    withSteps([{ setCanaryScale: { replicas: -1 } }]),
    'steps[0].setCanaryScale.replicas',
  ],
  [
    'header route removes unknown',
    withSteps([{ setHeaderRoute: { name: 'qa' } }]),
    'steps[0].setHeaderRoute.match',
  ],
  [
    'header name with space',
    withSteps(header({ name: 'x qa', exact: '1' })),
    'steps[0].setHeaderRoute.match[0].headers[0].name',
  ],
  [
    'header with two matchers',
    withSteps(header({ name: 'x-qa', exact: '1', prefix: '1' })),
    'steps[0].setHeaderRoute.match[0].headers[0]',
  ],
  [
    'header with no matcher',
    withSteps(header({ name: 'x-qa' })),
    'steps[0].setHeaderRoute.match[0].headers[0]',
  ],
  [
    'invalid regex',
    withSteps(header({ name: 'x-qa', regex: '([a-z' })),
    'steps[0].setHeaderRoute.match[0].headers[0].regex',
  ],
  [
    'RE2-incompatible lookahead',
    withSteps(header({ name: 'x-qa', regex: '^(?=a)' })),
    'steps[0].setHeaderRoute.match[0].headers[0].regex',
  ],
  [
    'RE2-incompatible backreference',
    withSteps(header({ name: 'x-qa', regex: '(a)\\1' })),
    'steps[0].setHeaderRoute.match[0].headers[0].regex',
  ],
  [
    'empty match rule',
    withSteps([{ setHeaderRoute: { name: 'qa', match: [{}] } }]),
    'steps[0].setHeaderRoute.match[0]',
  ],
  [
    'cookie value with semicolon',
    withSteps([{ setHeaderRoute: { name: 'qa', match: [{ cookie: { name: 'beta', exact: 'a;b' } }] } }]),
    'steps[0].setHeaderRoute.match[0].cookie.exact',
  ],
  [
    'route name upper case',
    withSteps([{ setHeaderRoute: { name: 'QA', match: [{ cookie: { name: 'b', exact: 'x' } }] } }]),
    'steps[0].setHeaderRoute.name',
  ],
  [
    'mirror percentage above 100',
    withSteps([{ setMirror: { name: 'm', percentage: 150 } }]),
    'steps[0].setMirror.percentage',
  ],
  [
    'mirror removes unknown',
    withSteps([{ setMirror: { name: 'm', remove: true } }]),
    'steps[0].setMirror.remove',
  ],
  [
    'rolling with setHeaderRoute',
    withSteps(header({ name: 'x', exact: '1' }), { type: 'rolling' }),
    'steps[0].setHeaderRoute',
  ],
  ['rolling with setWeight 0', withSteps([{ setWeight: 0 }], { type: 'rolling' }), 'steps[0].setWeight'],
  ['rolling with zero surge', withSteps([], { type: 'rolling', maxSurge: '0%' }), 'strategy.maxSurge'],
  [
    'rolling with maxUnavailable (steps never remove pods)',
    withSteps([], { type: 'rolling', maxUnavailable: 1 }),
    'strategy',
  ],
  [
    'rolling with bad maxSurge',
    withSteps([], { type: 'rolling', maxSurge: '25 percent' }),
    'strategy.maxSurge',
  ],
  [
    'blue-green with steps',
    withSteps([{ setWeight: 10 }], { type: 'blueGreen', activeService: 'shop' }),
    'steps[0].setWeight',
  ],
  ['blue-green without activeService', withSteps([], { type: 'blueGreen' }), 'strategy.activeService'],
  [
    'blue-green preview equals active',
    withSteps([], { type: 'blueGreen', activeService: 'shop', previewService: 'shop' }),
    'strategy.previewService',
  ],
  [
    'blue-green auto seconds while disabled',
    withSteps([], {
      type: 'blueGreen',
      activeService: 'shop',
      autoPromotionEnabled: false,
      autoPromotionSeconds: 30,
    }),
    'strategy.autoPromotionSeconds',
  ],
  [
    'replica ratio with setMirror',
    withSteps([{ setMirror: { name: 'm' } }], { type: 'replicaRatio' }),
    'steps[0].setMirror',
  ],
  [
    'replica ratio negative minPodsPerSide',
    withSteps([], { type: 'replicaRatio', minPodsPerSide: -1 }),
    'strategy.minPodsPerSide',
  ],
  ['headerMatch without match', withSteps([], { type: 'headerMatch' }), 'strategy.match'],
  [
    'headerMatch weight above 100',
    withSteps([], { type: 'headerMatch', match: [{ cookie: { name: 'b', exact: 'x' } }], weight: 200 }),
    'strategy.weight',
  ],
  ['hook with bad url', { ...base, hooks: [{ on: 'pre-rollout', url: 'ftp://x' }] }, 'hooks[0].url'],
  ['hook with unknown type', { ...base, hooks: [{ on: 'before', url: 'http://x' }] }, 'hooks[0].on'],
  [
    'duplicate hooks',
    {
      ...base,
      hooks: [
        { on: 'pre-rollout', url: 'http://x' },
        { on: 'pre-rollout', url: 'http://x' },
      ],
    },
    'hooks[1]',
  ],
  [
    'hashOn naming neither header nor cookie',
    withSteps([], { type: 'weighted', hashOn: { keys: 'hex' } }),
    'strategy.hashOn',
  ],
  [
    'hashOn without keys',
    withSteps([], { type: 'weighted', hashOn: { header: 'x-user-id' } }),
    'strategy.hashOn.keys',
  ],
  [
    'hashOn with sticky sessions',
    withSteps([], {
      type: 'weighted',
      hashOn: { cookie: 'uid', keys: 'hex' },
      stickySession: { cookieName: 'k' },
    }),
    'strategy.stickySession',
  ],
  ['bad progressDeadline', { ...base, progressDeadline: 'soon' }, 'progressDeadline'],
  ['bad abortScaleDownDelay', { ...base, abortScaleDownDelay: '1d' }, 'abortScaleDownDelay'],
  [
    'more than 100 steps',
    withSteps(Array.from({ length: 101 }, () => ({ pause: { duration: 1 } }))),
    'steps',
  ],
];

describe('parseRolloutSpec', () => {
  it('accepts a spec for every strategy and fills defaults', () => {
    for (const [type, input] of Object.entries(SPECS)) {
      const spec = parseRolloutSpec(input);
      expect(spec.strategy.type).toBe(type);
      expect(spec.progressDeadline).toBe(600_000);
      expect(spec.scaleDownDelay).toBe(30_000);
    }
  });

  it('turns durations into milliseconds', () => {
    const spec = parseRolloutSpec(
      withSteps([{ pause: { duration: '1h30m' } }, { pause: { duration: 250 } }]),
    );
    expect(spec.steps).toEqual([{ pause: { duration: 5_400_000 } }, { pause: { duration: 250 } }]);
    expect(tryParseDuration('5m')).toBe(300_000);
    expect(tryParseDuration('2h')).toBe(7_200_000);
    expect(tryParseDuration('100ms')).toBe(100);
    expect(tryParseDuration('1.5s')).toBe(1500);
    expect(tryParseDuration('5 m')).toBeUndefined();
    expect(() => parseDuration('later', 'timeout')).toThrow(/timeout: "later" is not a duration/);
  });

  it(`rejects ${INVALID.length} invalid specs, each naming the path and a fix`, () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(30);
    for (const [label, input, path] of INVALID) {
      let error: unknown;
      try {
        parseRolloutSpec(input);
      } catch (e) {
        error = e;
      }
      expect(isKanaryError(error, 'INVALID_SPEC'), label).toBe(true);
      const issues = (error as KanaryError).issues;
      const paths = issues.map((i) => i.path);
      expect(paths, `${label}: ${JSON.stringify(issues)}`).toContain(path);
      const issue = issues.find((i) => i.path === path);
      expect(issue?.message, label).toBeTruthy();
      expect(issue?.hint, `${label} has no hint`).toBeTruthy();
      expect((error as Error).message).toContain(path || '(root)');
    }
  });

  it('lists every problem, not just the first', () => {
    const result = validateRolloutSpec({
      ...base,
      name: 'Bad',
      steps: [{ setWeight: 500 }, { pause: { duration: 'x' } }],
    });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.issues.map((i) => i.path)).toEqual([
        'name',
        'steps[0].setWeight',
        'steps[1].pause.duration',
      ]);
  });
});

describe('problems of meaning beside problems of shape', () => {
  it('a coherence problem is reported with a malformed field elsewhere, not after it is fixed', () => {
    const result = validateRolloutSpec({
      ...base,
      target: { name: 'shop' },
      strategy: { type: 'weighted', canary: { replicas: 'two' } },
      progressDeadline: 'soon',
    });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
        'strategy.canary.replicas: must be a number, not a string',
        'progressDeadline: is not a duration',
        'target.service: is required for traffic routing',
      ]);
  });

  it('a malformed step is not also called a step the strategy cannot carry out', () => {
    const result = validateRolloutSpec({ ...base, steps: [{ setWeight: 'ten' }, { setWeight: 20 }] });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
        'steps[0].setWeight: must be a number, not a string',
      ]);
  });
});

describe('rolloutSpecJsonSchema', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(rolloutSpecJsonSchema());

  it('accepts the spec of every strategy', () => {
    for (const input of Object.values(SPECS)) {
      expect(validate(input), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('rejects shape errors an editor should flag', () => {
    expect(validate({ ...base, stratgy: {} })).toBe(false);
    expect(validate({ ...base, strategy: { type: 'canary' } })).toBe(false);
    expect(validate(withSteps([{ setWeight: 101 }]))).toBe(false);
    expect(validate(withSteps([{ wait: 1 }]))).toBe(false);
  });

  it('is written to packages/core/rollout-spec.schema.json and up to date', async () => {
    const { readFile } = await import('node:fs/promises');
    const file = JSON.parse(await readFile(new URL('../rollout-spec.schema.json', import.meta.url), 'utf8'));
    expect(file).toEqual(rolloutSpecJsonSchema());
  });
});

describe('analysis templates (Argo’s AnalysisTemplate; article 002’s templateName)', () => {
  const errorRate = { name: 'errors', interval: '1m', provider: { istio: { metric: 'errors' } } };
  const templates = {
    analysisTemplates: {
      'frontend-health-check': {
        metrics: [
          {
            ...errorRate,
            successCondition: 'result < 0.01',
            provider: { web: { url: 'http://h/{{args.service-name}}' } },
          },
        ],
        args: { 'service-name': 'frontend', region: 'eu' },
      },
      latency: { metrics: [{ name: 'p99', interval: '1m', provider: { istio: { metric: 'latency' } } }] },
    },
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(rolloutSpecJsonSchema());

  it('a step names a template and gives args over its defaults; Argo’s list form works the same', () => {
    for (const analysis of [
      { templateName: 'frontend-health-check', args: { 'service-name': 'frontend-service' } },
      {
        templates: [{ templateName: 'frontend-health-check' }],
        args: [{ name: 'service-name', value: 'frontend-service' }],
      },
    ]) {
      const input = { ...base, ...templates, steps: [{ setWeight: 10 }, { analysis }] };
      expect(validate(input), JSON.stringify(validate.errors)).toBe(true);
      const step = parseRolloutSpec(input).steps[1] as { analysis: Record<string, unknown> };
      expect(step.analysis).toMatchObject({
        name: 'frontend-health-check',
        args: { 'service-name': 'frontend-service', region: 'eu' },
        metrics: [{ name: 'errors', successCondition: 'result < 0.01' }],
      });
    }
  });

  it('background and blue-green analyses take references too; several templates add their metrics', () => {
    const spec = parseRolloutSpec({
      ...base,
      ...templates,
      steps: [{ setWeight: 10 }, { setWeight: 20 }],
      analysis: {
        templates: [{ templateName: 'frontend-health-check' }, { templateName: 'latency' }],
        startingStep: 1,
      },
    });
    expect(spec.analysis?.metrics.map((m) => m.name)).toEqual(['errors', 'p99']);
    expect(spec.analysis?.startingStep).toBe(1);
    const bg = parseRolloutSpec({
      ...SPECS.blueGreen,
      ...templates,
      strategy: {
        ...(SPECS.blueGreen.strategy as object),
        prePromotionAnalysis: { templateName: 'latency' },
      },
    });
    expect(
      (bg.strategy as { prePromotionAnalysis?: { metrics: Array<{ name: string }> } }).prePromotionAnalysis
        ?.metrics[0]?.name,
    ).toBe('p99');
  });

  it('an unknown template is one problem naming the templates there are, reported with the others', () => {
    const result = validateRolloutSpec({
      ...base,
      ...templates,
      steps: [{ setWeight: 10 }, { analysis: { templateName: 'frontend-health' } }, { setWeight: 101 }],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      {
        path: 'steps[1].analysis.templateName',
        message: 'names "frontend-health", not defined under analysisTemplates',
        hint: 'use one of: frontend-health-check, latency',
      },
      expect.objectContaining({ path: 'steps[2].setWeight' }),
    ]);
  });
});

describe('did you mean: an unknown field nearly spelt like a known one', () => {
  const hints = (spec: unknown) => {
    const r = validateRolloutSpec(spec);
    return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message} — ${i.hint}`);
  };

  it.each([
    [{ ...base, stesp: [] }, ': unknown field "stesp" — did you mean "steps"?'],
    [
      { ...base, target: { name: 'shop', servce: 'shop' } },
      'target: unknown field "servce" — did you mean "service"?',
    ],
    [
      withSteps([{ pause: { duraton: '1m' } }]),
      'steps[0].pause: unknown field "duraton" — did you mean "duration"?',
    ],
    [
      withSteps([{ setWieght: 10 }]),
      'steps[0]: has key(s) "setWieght", not one step — did you mean "setWeight"?',
    ],
    [
      withSteps([], { type: 'blueGreen', activeService: 'shop', previewServise: 'p' }),
      'strategy: unknown field "previewServise" — did you mean "previewService"?',
    ],
  ])('%j', (spec, expected) => {
    expect(hints(spec)).toContain(expected);
  });

  it('suggests nothing for a word far from every field, and says how to check instead', () => {
    expect(hints({ ...base, zzzzzz: 1 })).toEqual([
      ': unknown field "zzzzzz" — remove it or check its spelling against the JSON Schema (rolloutSpecJsonSchema)',
    ]);
  });
});
