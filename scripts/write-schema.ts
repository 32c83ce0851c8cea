// Writes the RolloutSpec JSON Schema that editors use to validate YAML specs.
import { writeFile } from 'node:fs/promises';
import { kanaryFileJsonSchema } from '@kanary/cli';
import { rolloutSpecJsonSchema } from '@kanary/core';

const target = new URL('../packages/core/rollout-spec.schema.json', import.meta.url);
await writeFile(target, `${JSON.stringify(rolloutSpecJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
const file = new URL('../packages/cli/kanary-file.schema.json', import.meta.url);
await writeFile(file, `${JSON.stringify(kanaryFileJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
