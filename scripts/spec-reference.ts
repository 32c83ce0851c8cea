// Writes docs/spec-reference.md from the RolloutSpec's JSON Schema and the kanary file's (both
// generated from the zod schemas and their descriptions): every field with its type, default and
// meaning, and an example per strategy and step kind. Run after `pnpm build`: `pnpm spec-reference`. A test checks the
// committed file is current and that every example is a valid spec.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kanaryFileJsonSchema } from '@kanary/cli';
import { rolloutSpecJsonSchema } from '@kanary/core';
import { stringify } from 'yaml';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

export const specReferencePath = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'docs',
  'spec-reference.md',
);

const base = {
  name: 'shop-frontend',
  namespace: 'shop',
  target: { name: 'shop-frontend', service: 'shop-frontend' },
  update: { image: 'shop/frontend:2.4.1' },
};

/** One complete spec per strategy: each is parsed by the reference's test. */
export const STRATEGY_EXAMPLES: Record<string, Record<string, unknown>> = {
  weighted: {
    ...base,
    strategy: { type: 'weighted', maxWeight: 50 },
    steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }, { setWeight: 50 }, { pause: {} }],
  },
  headerMatch: {
    ...base,
    strategy: {
      type: 'headerMatch',
      match: [{ headers: [{ name: 'x-canary', exact: 'always' }] }, { cookie: { name: 'beta', exact: '1' } }],
      weight: 50,
    },
    steps: [{ pause: {} }],
  },
  rolling: {
    ...base,
    strategy: { type: 'rolling', maxSurge: '25%', canaryService: { name: 'shop-frontend-new' } },
    steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 100 }],
  },
  blueGreen: {
    ...base,
    strategy: {
      type: 'blueGreen',
      activeService: 'shop-frontend',
      previewService: 'shop-frontend-preview',
      autoPromotionEnabled: false,
      scaleDownDelaySeconds: 60,
    },
  },
  replicaRatio: {
    ...base,
    strategy: { type: 'replicaRatio', totalReplicas: 10, minPodsPerSide: 1 },
    steps: [{ setWeight: 10 }, { pause: { duration: '10m' } }, { setWeight: 50 }, { pause: {} }],
  },
};

/** One step of each kind, each shown inside a weighted spec that the test parses. */
export const STEP_EXAMPLES: Record<string, Record<string, unknown>> = {
  setWeight: { setWeight: 20 },
  pause: { pause: { duration: '10m' } },
  analysis: {
    analysis: {
      metrics: [
        {
          name: 'errors',
          interval: '1m',
          count: 5,
          provider: { istio: { metric: 'errors' } },
          judge: { sequentialRate: { alpha: 0.01 } },
        },
      ],
    },
  },
  setCanaryScale: { setCanaryScale: { weight: 100 } },
  setHeaderRoute: {
    setHeaderRoute: {
      name: 'testers',
      match: [
        { headers: [{ name: 'x-tester', exact: 'yes' }] },
        { cookie: { name: 'email', regex: '.*@example\\.com' } },
      ],
    },
  },
  setMirror: { setMirror: { name: 'shadow', percentage: 20 } },
};

export const stepExampleSpec = (step: Record<string, unknown>) => ({
  ...base,
  strategy: { type: 'weighted' },
  steps: [step],
});

/** A field's type as a person reads it. */
function typeOf(node: Node): string {
  if ('const' in node) return `\`${JSON.stringify(node.const)}\``;
  if (Array.isArray(node.enum)) return node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  if (types.includes('string') && types.includes('number')) return 'duration or number';
  if (Array.isArray(node.anyOf) || Array.isArray(node.oneOf)) {
    const options = ((node.anyOf ?? node.oneOf) as Node[]).map(typeOf);
    return [...new Set(options)].join(' or ');
  }
  const t = types[0];
  if (t === 'array') return `list of ${isNode(node.items) ? typeOf(node.items) : 'any'}`;
  if (t === 'object')
    return isNode(node.additionalProperties) ? `map of ${typeOf(node.additionalProperties)}` : 'object';
  if (t === 'number' || t === 'integer') {
    const { minimum: lo, maximum: hi } = node as { minimum?: number; maximum?: number };
    const bounded = (n: number | undefined) => n !== undefined && Math.abs(n) < 2 ** 31;
    if (bounded(lo) && bounded(hi)) return `${t} ${lo}–${hi}`;
    if (bounded(lo)) return `${t} ≥ ${lo}`;
    return t;
  }
  return t ?? 'any';
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The object schemas inside a field (itself, its list's items, its union's branches). */
function objectsIn(node: Node): Node[] {
  if (isNode(node.properties)) return [node];
  if (isNode(node.items)) return objectsIn(node.items);
  if (isNode(node.additionalProperties)) return objectsIn(node.additionalProperties);
  const branches = (node.anyOf ?? node.oneOf) as Node[] | undefined;
  return branches ? branches.flatMap(objectsIn) : [];
}

/** A branch's name: its discriminator's value, its single key (a step kind), or which form it is. */
function branchName(object: Node): string {
  const props = object.properties as Record<string, Node>;
  const type = props.type;
  if (type && 'const' in type) return String(type.const);
  const keys = Object.keys(props);
  if (keys.length === 1) return keys[0] as string;
  if ('templateName' in props) return 'by template';
  if ('metrics' in props) return 'inline';
  const required = (object.required as string[] | undefined) ?? [];
  return required.length === 1 ? `with ${required[0]}` : 'inline';
}

/** What a branch is: its discriminator's or its single key's description, else its own. */
function branchDescription(object: Node, branch: string | undefined): unknown {
  const props = object.properties as Record<string, Node>;
  if (branch && props.type && 'const' in props.type) return props.type.description;
  if (branch && props[branch]) return props[branch].description;
  return object.description;
}

export function renderSpecReference(): string {
  const schema = rolloutSpecJsonSchema();
  const out: string[] = [
    '# RolloutSpec reference',
    '',
    '<!-- Generated by scripts/spec-reference.ts from the zod schemas in packages/core/src/spec; do not edit. -->',
    '',
    'Every field of a Kanary rollout spec: the `rollout:` of a `kanary` file, or what `parseRolloutSpec()` and',
    '`createKubernetesRollout({ spec })` take. The same descriptions are in',
    '[`@kanary/core/rollout-spec.schema.json`](../packages/core/rollout-spec.schema.json), so a YAML editor with',
    'the JSON Schema shows them on hover (`# yaml-language-server: $schema=…`). Durations are written as',
    '`"30s"`, `"10m"`, `"1h30m"`, or milliseconds as a number. Metric providers and judges (`provider`, `judge`,',
    '`successCondition`, …) belong to the metric gate: see [`@kanary/metrics`](../packages/metrics/README.md).',
    '',
  ];
  // Sections to write, in order; an object schema seen before is linked, not repeated.
  const queue: Array<{ title: string; path: string; node: Node }> = [
    { title: 'rollout', path: '', node: schema },
  ];
  const written = new Map<string, string>();
  const anchor = (title: string) =>
    title
      .toLowerCase()
      .replace(/[^a-z0-9 \-[\]]/g, '')
      .replace(/[[\]]/g, '')
      .replace(/ /g, '-');
  const walk = () => {
    while (queue.length > 0) {
      const { title, path, node } = queue.shift() as { title: string; path: string; node: Node };
      const key = JSON.stringify(node.properties);
      if (written.has(key)) continue;
      written.set(key, title);
      out.push(`## ${title}`, '');
      if (title === 'kanary file')
        out.push(
          'What `kanary` reads (`-f FILE`, YAML or JSON): the spec under `rollout:` and, beside it, how to reach the data plane and the metrics. [`@kanary/cli/kanary-file.schema.json`](../packages/cli/kanary-file.schema.json) is its JSON Schema.',
          '',
        );
      else if (typeof node.description === 'string' && title !== 'rollout') out.push(node.description, '');
      out.push('| Field | Type | Default | Meaning |', '| --- | --- | --- | --- |');
      const required = new Set((node.required as string[] | undefined) ?? []);
      for (const [name, raw] of Object.entries(node.properties as Record<string, Node>)) {
        const objects = objectsIn(raw);
        const links: string[] = [];
        for (const object of objects) {
          const branch = objects.length > 1 ? branchName(object) : undefined;
          const suffix = isNode(raw.items) ? '[]' : isNode(raw.additionalProperties) ? '.NAME' : '';
          const at = `${path ? `${path}.` : ''}${name}${suffix}`;
          const sub = branch ? `${at}: ${branch}` : at;
          const seen = written.get(JSON.stringify(object.properties));
          const target =
            seen ??
            queue.find((q) => JSON.stringify(q.node.properties) === JSON.stringify(object.properties))?.title;
          if (!target)
            queue.push({
              title: sub,
              path: at,
              node: { ...object, description: branchDescription(object, branch) ?? raw.description },
            });
          const to = target ?? sub;
          links.push(`[${branch ?? 'fields'}](#${anchor(to)})`);
        }
        const def =
          'default' in raw ? `\`${JSON.stringify(raw.default)}\`` : required.has(name) ? 'required' : '';
        const meaning = `${raw.description ?? ''}${links.length ? ` See ${links.join(', ')}.` : ''}`;
        out.push(`| \`${name}\` | ${cell(typeOf(raw))} | ${cell(def)} | ${cell(meaning)} |`);
      }
      out.push('');
    }
  };
  walk();
  // The CLI's file around the spec: its router, Prometheus and web servers (the same descriptions
  // are in @kanary/cli/kanary-file.schema.json).
  queue.push({ title: 'kanary file', path: '', node: kanaryFileJsonSchema() });
  walk();
  out.push('## Examples', '', '### One per strategy', '');
  for (const [type, spec] of Object.entries(STRATEGY_EXAMPLES))
    out.push(`#### ${type}`, '', '```yaml', stringify(spec).trimEnd(), '```', '');
  out.push('### One per step kind', '', 'Each is a list item of `steps:`.', '');
  for (const [kind, step] of Object.entries(STEP_EXAMPLES))
    out.push(`#### ${kind}`, '', '```yaml', stringify([step]).trimEnd(), '```', '');
  return `${out.join('\n').trimEnd()}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(specReferencePath, renderSpecReference());
  console.log(`wrote ${specReferencePath}`);
}
