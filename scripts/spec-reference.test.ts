import { readFileSync } from 'node:fs';
import { kanaryFileJsonSchema } from '@kanary/cli';
import { parseRolloutSpec, rolloutSpecJsonSchema } from '@kanary/core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect, it } from 'vitest';
import {
  renderSpecReference,
  STEP_EXAMPLES,
  STRATEGY_EXAMPLES,
  specReferencePath,
  stepExampleSpec,
} from './spec-reference.ts';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

it('docs/spec-reference.md matches the schemas (regenerate with `pnpm spec-reference`)', () => {
  const doc = renderSpecReference();
  expect(doc).toMatch(/^## strategy: weighted$/m);
  expect(readFileSync(specReferencePath, 'utf8')).toBe(doc);
});

it('every field of both JSON Schemas (the spec, the kanary file) has a description, so editors show one on hover', () => {
  const missing: string[] = [];
  let fields = 0;
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n, path);
      return;
    }
    if (!isNode(node)) return;
    if (isNode(node.properties))
      for (const [name, prop] of Object.entries(node.properties)) {
        fields++;
        if (!isNode(prop) || typeof prop.description !== 'string' || prop.description.length < 10)
          missing.push(`${path}.${name}`);
        walk(prop, `${path}.${name}`);
      }
    for (const key of ['items', 'anyOf', 'oneOf', 'allOf', 'additionalProperties'])
      walk(node[key], key === 'items' ? `${path}[]` : path);
  };
  walk(rolloutSpecJsonSchema(), 'rollout');
  walk(kanaryFileJsonSchema(), 'file');
  expect(fields).toBeGreaterThan(200);
  expect(missing).toEqual([]);
});

it('has a valid example for every strategy and every step kind', () => {
  const schema = rolloutSpecJsonSchema() as {
    properties: { strategy: { oneOf: Node[] }; steps: { items: { anyOf: Node[] } } };
  };
  const strategies = schema.properties.strategy.oneOf.map(
    (b) => ((b.properties as Node).type as { const: string }).const,
  );
  const kinds = schema.properties.steps.items.anyOf.map((b) => Object.keys(b.properties as Node)[0]);
  expect(Object.keys(STRATEGY_EXAMPLES).sort()).toEqual([...strategies].sort());
  expect(Object.keys(STEP_EXAMPLES).sort()).toEqual([...kinds].sort());
  for (const [type, spec] of Object.entries(STRATEGY_EXAMPLES))
    expect(parseRolloutSpec(spec).strategy.type, type).toBe(type);
  for (const [kind, step] of Object.entries(STEP_EXAMPLES))
    expect(Object.keys(parseRolloutSpec(stepExampleSpec(step)).steps[0] ?? {}), kind).toEqual([kind]);
});

it('packages/cli/kanary-file.schema.json is up to date (regenerate with `pnpm schema`) and holds the spec under rollout', () => {
  const file = JSON.parse(
    readFileSync(new URL('../packages/cli/kanary-file.schema.json', import.meta.url), 'utf8'),
  );
  expect(file).toEqual(kanaryFileJsonSchema());
  const { $schema: _s, $id: _i, title: _t, description: _d, ...spec } = rolloutSpecJsonSchema();
  expect(file.properties.rollout).toEqual({
    ...spec,
    description: expect.stringContaining('spec-reference'),
  });
});

it('an editor given kanary-file.schema.json accepts each example as a kanary file and flags a misspelt key', () => {
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(kanaryFileJsonSchema());
  for (const spec of Object.values(STRATEGY_EXAMPLES)) {
    const file = {
      rollout: spec,
      router: { istio: { virtualService: 'shop-frontend', destinationRule: { name: 'shop-frontend' } } },
      prometheus: { address: 'http://prometheus.monitoring:9090', bearerToken: '@/var/run/secrets/token' },
    };
    expect(validate(file), JSON.stringify(validate.errors)).toBe(true);
  }
  expect(validate({ rollout: STRATEGY_EXAMPLES.weighted, prometheus: { adress: 'http://p:9090' } })).toBe(
    false,
  );
});
