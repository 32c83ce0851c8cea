import { createRollout, isKanaryError, parseRolloutSpec } from '@kanary/core';
import {
  createMemoryRouter,
  createMemoryWorkload,
  createScriptedGate,
  createVirtualClock,
} from '@kanary/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SPECS } from './harness.ts';

// Generated and mutated specs through `parseRolloutSpec` and `plan()` (issue 17): every input ends
// in a valid plan or an INVALID_SPEC (or a capability refusal) naming a path and saying what is
// wrong — never another exception, never a hang. The seed is printed so a failure replays
// (KANARY_FUZZ_SEED); the long run (10,000) is `pnpm bench` territory.

const RUNS = Number(process.env.KANARY_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.KANARY_FUZZ_SEED ?? Date.now() % 2 ** 31);

type Json = unknown;

/** Values that have broken parsers before: extremes, wrong types, hostile strings, odd shapes. */
const nasty: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1.5,
    2 ** 31,
    2 ** 53,
    Number.MAX_VALUE,
    '',
    ' ',
    '0',
    '-5m',
    '999999999h',
    '1e309',
    'a\r\nb',
    'x\u0000y',
    '(a+)+$',
    '../..',
    'http://169.254.169.254/',
    'http://u:p@h/',
    '{{args.x}}',
    '"} or vector(1) #',
    true,
    null,
    [],
    {},
    [[[[[]]]]],
  ),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Every path into a JSON value (objects and arrays), for mutation. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

/** Applies one mutation at a path: replace, delete, or wrap the value. */
function mutate(spec: Json, path: (string | number)[], op: number, value: Json): Json {
  const copy = structuredClone(spec) as Record<string | number, Json>;
  if (path.length === 0) return op === 0 ? value : copy;
  let parent: Record<string | number, Json> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  const last = path.at(-1) as string | number;
  if (op === 0) parent[last] = value;
  else if (op === 1) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (op === 2) parent[last] = [parent[last]];
  else parent[last] = { value: parent[last] };
  return copy;
}

const mutated: fc.Arbitrary<Json> = fc
  .tuple(
    fc.constantFrom(...(Object.values(SPECS) as Json[])),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 }), nasty), { minLength: 1, maxLength: 4 }),
  )
  .map(([base, edits]) =>
    edits.reduce<Json>((spec, [at, op, value]) => {
      const all = paths(spec);
      return mutate(spec, all[at % all.length] as (string | number)[], op, value);
    }, base),
  );

/** The outcome of one input: what a host would see. */
function outcome(input: Json): 'valid' | 'refused' {
  let spec: ReturnType<typeof parseRolloutSpec>;
  try {
    spec = parseRolloutSpec(input);
  } catch (error) {
    if (!isKanaryError(error, 'INVALID_SPEC')) throw error;
    expect(error.issues.length, error.message).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(typeof issue.path).toBe('string');
      expect(issue.message.trim().length).toBeGreaterThan(0);
    }
    return 'refused';
  }
  const clock = createVirtualClock(0);
  try {
    const type = spec.strategy.type;
    const weights = type === 'replicaRatio' ? 'replicas' : type === 'blueGreen' ? 'binary' : 'exact';
    const rollout = createRollout({
      spec,
      clock,
      workload: createMemoryWorkload({ clock, stable: { name: spec.target.name, image: 'v1', replicas: 4 } }),
      ...(type === 'rolling' ? {} : { router: createMemoryRouter({ capabilities: { weights } }) }),
      gate: createScriptedGate(),
    });
    const plan = rollout.plan();
    expect(plan.steps.length).toBeGreaterThanOrEqual(0);
    return 'valid';
  } catch (error) {
    // A spec the parts cannot carry (no gate for an analysis, a capability missing) is refused too.
    if (!isKanaryError(error)) throw error;
    expect(['INVALID_SPEC', 'UNSUPPORTED_CAPABILITY', 'PREFLIGHT']).toContain(error.code);
    return 'refused';
  }
}

describe(`fuzzed specs (${RUNS} runs, seed ${SEED}; KANARY_FUZZ_SEED replays)`, () => {
  it('end in a valid plan or a KanaryError naming the path, never another exception', () => {
    const seen = { valid: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: nasty }), (input) => {
        seen[outcome(input)]++;
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // Both outcomes happen: the generator is neither all garbage nor all untouched.
    expect(seen.valid).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });

  it('values no JSON holds inside a template are refused with a path, not a RangeError', () => {
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100_000; i++) {
      const next = {};
      deep.d = next;
      deep = next;
    }
    for (const [what, template] of [
      ['cyclic', cyclic],
      ['bigint', { a: 10n }],
      ['deep', root],
    ] as const) {
      const input = {
        ...SPECS.rolling,
        update: { template: { metadata: { labels: { x: 'y' } }, spec: template } },
      };
      expect(outcome(input), what).toBe('refused');
      expect(() => parseRolloutSpec(input), what).toThrow(/update\.template\.spec(\.| )/);
    }
    // One object in two places (what a YAML alias gives) is data, not a cycle.
    const labels = { app: 'nginx01' };
    const shared = { ...SPECS.rolling, update: { template: { metadata: { labels, annotations: labels } } } };
    expect(() => parseRolloutSpec(shared)).not.toThrow();
    // An undefined field is an absent one, as a program building a spec in code writes it.
    expect(() => parseRolloutSpec({ ...SPECS.rolling, scaleDownDelay: undefined })).not.toThrow();
  });
});
