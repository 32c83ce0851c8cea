import { readFileSync } from 'node:fs';
import { parseRolloutSpec, rolloutSpecJsonSchema } from '@kanary/core';
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

it('every field of the JSON Schema has a description, so editors show one on hover', () => {
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
  expect(fields).toBeGreaterThan(100);
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
