// Writes docs/api/<package>.md from each package's emitted declarations (dist/*.d.ts, doc
// comments included): every symbol the package's index exports, with its comment and signature.
// Run after `pnpm build`: `pnpm api-docs`. A test checks the committed files are current.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGES = ['core', 'istio', 'nginx', 'gateway-api', 'metrics', 'testkit', 'cli'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Declaration {
  name: string;
  kind: string;
  doc: string;
  code: string;
}

/** Top-level declarations of one .d.ts file, with the doc comment right above each. */
function declarations(file: string): Declaration[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Declaration[] = [];
  let doc: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('/**')) {
      doc = [];
      for (; i < lines.length; i++) {
        doc.push(lines[i] as string);
        if ((lines[i] as string).includes('*/')) break;
      }
      continue;
    }
    const m =
      /^(?:export )?(?:declare )?(function|interface|type|const|class|abstract class|enum) ([A-Za-z_$][\w$]*)/.exec(
        line,
      );
    if (!m) {
      if (line.trim() !== '') doc = [];
      continue;
    }
    const body = [line];
    let depth = 0;
    const count = (l: string) => {
      for (const ch of l)
        depth += ch === '{' || ch === '(' || ch === '[' ? 1 : ch === '}' || ch === ')' || ch === ']' ? -1 : 0;
    };
    count(line);
    while (depth > 0 || !/[;}]\s*$/.test(body.at(-1) as string)) {
      const next = lines[++i];
      if (next === undefined) break;
      body.push(next);
      count(next);
    }
    const text = doc
      .join('\n')
      .replace(/^\s*\/\*\*\s?|\s*\*\/\s*$/g, '')
      .split('\n')
      .map((l) => l.replace(/^\s*\* ?/, ''))
      .join('\n')
      .trim();
    out.push({
      name: m[2] as string,
      kind: (m[1] as string).replace('abstract ', ''),
      doc: text,
      code: body.join('\n'),
    });
    doc = [];
  }
  return out;
}

/** The package's entry points (package.json `exports` with types): `.`, `./vitest`, … */
function entriesOf(manifest: { exports: Record<string, unknown> }): Array<{ subpath: string; dts: string }> {
  return Object.entries(manifest.exports).flatMap(([subpath, target]) =>
    typeof target === 'object' && target !== null && 'types' in target
      ? [{ subpath, dts: (target as { types: string }).types }]
      : [],
  );
}

/** What one entry's declarations export, by the module it comes from. */
function exportsOf(pkg: string, dts: string): Array<{ names: string[]; from: string }> {
  const index = readFileSync(join(root, 'packages', pkg, dts), 'utf8');
  const out: Array<{ names: string[]; from: string }> = [];
  for (const m of index.matchAll(/export (?:type )?\{([^}]*)\} from '([^']+)'/g)) {
    const names = (m[1] as string)
      .split(',')
      .map((s) => s.trim().replace(/^type /, ''))
      .filter(Boolean)
      .map((s) => s.split(/\s+as\s+/).at(-1) as string);
    out.push({ names, from: m[2] as string });
  }
  return out;
}

export function renderPackage(pkg: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as {
    name: string;
    description: string;
    exports: Record<string, unknown>;
  };
  const entries = entriesOf(manifest);
  const sections: string[] = [];
  for (const { subpath, dts } of entries) {
    // One heading per entry point when there are several (`@kanary/testkit/vitest`).
    if (entries.length > 1) sections.push(`## \`${join(manifest.name, subpath)}\`\n`);
    sections.push(...entrySections(pkg, dts));
  }
  return `# ${manifest.name} — API reference\n\n${manifest.description}. Generated from the code by \`pnpm api-docs\`; see the [package README](../../packages/${pkg}/README.md) for a guide.\n\n${sections.join('\n')}`;
}

function entrySections(pkg: string, dts: string): string[] {
  const sections: string[] = [];
  for (const { names, from } of exportsOf(pkg, dts)) {
    const file = join(root, 'packages', pkg, 'dist', from.replace(/\.ts$/, '.d.ts'));
    const found = new Map<string, Declaration[]>();
    for (const d of declarations(file)) found.set(d.name, [...(found.get(d.name) ?? []), d]);
    for (const name of names) {
      const ds = found.get(name);
      if (!ds) {
        sections.push(`### \`${name}\`\n\nRe-exported from \`${from}\`.\n`);
        continue;
      }
      const doc = ds.map((d) => d.doc).find(Boolean);
      sections.push(
        `### \`${name}\` <sub>${(ds[0] as Declaration).kind}</sub>\n\n${doc ? `${doc}\n\n` : ''}\`\`\`ts\n${ds.map((d) => d.code).join('\n')}\n\`\`\`\n`,
      );
    }
  }
  return sections;
}

export const apiDocPath = (pkg: string) => join(root, 'docs', 'api', `${pkg}.md`);

if (import.meta.main) {
  for (const pkg of PACKAGES) {
    writeFileSync(apiDocPath(pkg), renderPackage(pkg));
    console.log(`wrote docs/api/${pkg}.md`);
  }
}
