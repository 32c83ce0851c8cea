import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  KanaryError,
  type KanaryIssue,
  parseRolloutSpec,
  type RolloutSpec,
  validateRolloutSpec,
} from '@kanary/core';
import { closest, fieldsAt, toKanaryIssues } from '@kanary/core/adapter';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { type KanaryFile, KanaryFileSchema } from './schema.ts';

export interface LoadedFile {
  path: string;
  file: KanaryFile;
  spec: RolloutSpec;
  /** Where the spec is in the file (`rollout`, `group.members.web.rollout`; '' for a bare spec). */
  specPath: string;
}

/**
 * Several rollouts released as one (a front-end and its back-end): `{ group: { name,
 * members: { <name>: { rollout, router? } } }, prometheus?, web?, vars? }`. Each member is checked
 * as a file of its own, with the shared settings.
 */
export interface LoadedGroup {
  path: string;
  name: string;
  members: Array<{ name: string; loaded: LoadedFile }>;
}

export const isGroup = (f: LoadedFile | LoadedGroup): f is LoadedGroup => 'members' in f;

let compiled: ReturnType<Ajv2020['compile']> | undefined;
let specSchema: Record<string, unknown> | undefined;
/** Core's exported JSON Schema: the same one editors use on these files. */
function schemaValidator() {
  if (!compiled) {
    const url = import.meta.resolve('@kanary/core/rollout-spec.schema.json');
    const schema = JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as Record<string, unknown>;
    specSchema = schema;
    compiled = new Ajv2020({
      strict: false,
      allErrors: true,
      // Each error with the schema it failed in: an unknown field's siblings, for "did you mean".
      verbose: true,
      formats: { uri: (v: string) => URL.canParse(v) },
    }).compile(schema);
  }
  return compiled;
}

const pointerToPath = (prefix: string, pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), prefix);

/**
 * With `allErrors`, a failed `anyOf`/`oneOf` reports every branch's errors. Keep the branch the input
 * meant: not one whose discriminator (a `const`) mismatched, and of those the one with fewest errors.
 * When every branch's discriminator mismatched, say which values are allowed.
 */
function pickBranches(errors: ErrorObject[]): ErrorObject[] {
  let rest = errors;
  const unions = errors
    .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const union of unions) {
    if (!rest.includes(union)) continue;
    const base = `${union.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of rest) {
      if (!e.schemaPath.startsWith(base)) continue;
      const index = e.schemaPath.slice(base.length).split('/')[0] as string;
      branches.set(index, [...(branches.get(index) ?? []), e]);
    }
    const candidates = [...branches.values()].filter((b) => !b.some((e) => e.keyword === 'const'));
    const keep = candidates.sort((a, b) => a.length - b.length)[0];
    const dropped = new Set([...branches.values()].flat().filter((e) => !keep?.includes(e)));
    rest = rest.filter((e) => !dropped.has(e));
    if (!keep) {
      const consts = [...dropped].filter((e) => e.keyword === 'const');
      const allowed = [
        ...new Set(consts.map((e) => JSON.stringify((e.params as { allowedValue: unknown }).allowedValue))),
      ];
      const at = consts[0]?.instancePath ?? union.instancePath;
      rest = rest.map((e) =>
        e === union
          ? {
              ...e,
              keyword: 'enum',
              instancePath: at,
              message: 'is not one of the allowed values',
              params: { allowedValues: allowed.map((v) => JSON.parse(v)) },
            }
          : e,
      );
    }
  }
  return rest;
}

/**
 * "did you mean" a field allowed where the unknown one is — by any branch of a union there (a step
 * is one of six shapes, and ajv reports the unknown field against one of them only).
 */
function didYouMean(field: string, parentSchema: unknown, instancePath: string): string | undefined {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
  const known = [
    ...Object.keys((parentSchema as { properties?: object } | undefined)?.properties ?? {}),
    ...(specSchema ? fieldsAt(specSchema, segments) : []),
  ];
  const near = closest(field, known);
  return near ? `did you mean "${near}"?` : undefined;
}

/** Turns JSON Schema errors into issues with a fix, dropping the noise `anyOf` branches make. */
function schemaIssues(errors: ErrorObject[], prefix: string): KanaryIssue[] {
  const issues = new Map<string, KanaryIssue>();
  for (const e of pickBranches(errors)) {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue;
    const path = pointerToPath(prefix, e.instancePath);
    const p = e.params as Record<string, unknown>;
    let message = e.message ?? 'is invalid';
    let hint: string | undefined;
    switch (e.keyword) {
      case 'additionalProperties':
        message = `unknown field "${p.additionalProperty}"`;
        hint =
          didYouMean(String(p.additionalProperty), e.parentSchema, e.instancePath) ??
          `remove "${p.additionalProperty}" or check its spelling`;
        break;
      case 'required':
        message = `"${p.missingProperty}" is required`;
        hint = `add ${path ? `${path}.` : ''}${p.missingProperty}`;
        break;
      case 'enum':
        hint = `use one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'type':
        hint = `give a ${p.type}`;
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        hint = `give a number ${p.comparison} ${p.limit}`;
        break;
      case 'pattern':
        hint = `match ${p.pattern}`;
        break;
    }
    const key = `${path}|${message}`;
    if (!issues.has(key)) issues.set(key, { path, message, ...(hint ? { hint } : {}) });
  }
  // A misspelt field explains the required one missing beside it: "setWieght" is not also "pause
  // is required" (the branch ajv happened to report against).
  const misspelt = new Set(
    [...issues.values()].filter((i) => i.hint?.startsWith('did you mean')).map((i) => i.path),
  );
  return [...issues.values()].filter((i) => !(misspelt.has(i.path) && i.message.endsWith('is required')));
}

const invalid = (path: string, issues: KanaryIssue[]) =>
  new KanaryError('INVALID_SPEC', `${path} has ${issues.length} problem${issues.length === 1 ? '' : 's'}`, {
    issues,
  });

/** Parses YAML or JSON text into a kanary file: `{ rollout, router?, prometheus?, ... }` or a bare spec. */
export function parseKanaryFile(text: string, path: string): LoadedFile {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw invalid(
      path,
      doc.errors.map((e) => ({
        path: '',
        message: `${e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : ''}${e.message.split('\n')[0]}`,
        hint: 'fix the YAML/JSON syntax',
      })),
    );
  }
  const raw = doc.toJS() as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(path, [
      { path: '', message: 'is not a mapping', hint: 'write a rollout spec, or { rollout, router }' },
    ]);
  }
  return checkFile(raw as Record<string, unknown>, path, '');
}

let fileSchema: Record<string, unknown> | undefined;
/** The file format's JSON Schema, for "did you mean" on its own fields (made on the first typo). */
const fileJsonSchema = () => {
  fileSchema ??= z.toJSONSchema(KanaryFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return fileSchema;
};

function checkFile(raw: Record<string, unknown>, path: string, at: string): LoadedFile {
  const where = (p: string) => [at, p].filter(Boolean).join('.');
  const wrapped = 'rollout' in raw ? raw : { rollout: raw };
  // Every problem at once: the file's own fields, the spec's shape (JSON Schema) and what only the
  // parser sees (cross-field rules), so fixing one never uncovers another that was there all along.
  const issues: KanaryIssue[] = [];
  const file = KanaryFileSchema.safeParse(wrapped, { reportInput: true });
  if (!file.success)
    issues.push(
      ...toKanaryIssues(file.error, fileJsonSchema).map((i) => ({
        path: where(i.path),
        message: i.message,
        hint: i.hint?.startsWith('did you mean') ? i.hint : 'see `kanary --help` for the file format',
      })),
    );
  const prefix = where('rollout' in raw ? 'rollout' : '');
  const rollout = (wrapped as { rollout?: unknown }).rollout;
  const validate = schemaValidator();
  const shape = validate(rollout) ? [] : schemaIssues(validate.errors ?? [], prefix);
  issues.push(...shape);
  const checked = validateRolloutSpec(rollout);
  if (!checked.ok) {
    const near = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`);
    // A missing or unknown field is reported at its parent; it is about the field itself.
    const fieldOf = (s: KanaryIssue) => {
      const named = /^(?:unknown field "(.+)"|"(.+)" is required)$/.exec(s.message);
      const field = named?.[1] ?? named?.[2];
      return field ? [s.path, field].filter(Boolean).join('.') : s.path;
    };
    const shaped = shape.map(fieldOf);
    for (const i of checked.issues) {
      const at = [prefix, i.path].filter(Boolean).join('.');
      // The parser restates most shape problems in its own words: each field is reported once.
      if (!shaped.some((s) => near(s, at) || near(at, s))) issues.push({ ...i, path: at });
    }
  }
  if (issues.length > 0 || !file.success) throw invalid(path, issues);
  return { path, file: file.data, spec: parseRolloutSpec(rollout), specPath: prefix };
}

const GROUP_KEYS = new Set(['group', 'prometheus', 'web', 'vars']);

/** A kanary file that may be a rollout group (see `LoadedGroup`). */
export function parseKanaryFileOrGroup(text: string, path: string): LoadedFile | LoadedGroup {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const raw = doc.errors.length === 0 ? (doc.toJS() as unknown) : undefined;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !('group' in raw))
    return parseKanaryFile(text, path);
  const top = raw as Record<string, unknown>;
  const issues: KanaryIssue[] = [];
  for (const key of Object.keys(top))
    if (!GROUP_KEYS.has(key))
      issues.push({
        path: key,
        message: 'is not a field of a group file',
        hint: `use ${[...GROUP_KEYS].join(', ')}`,
      });
  const group = top.group as { name?: unknown; members?: unknown } | null;
  const name = typeof group?.name === 'string' && group.name ? group.name : undefined;
  if (!name) issues.push({ path: 'group.name', message: 'is required', hint: 'name the group, e.g. "shop"' });
  const members =
    group?.members && typeof group.members === 'object' && !Array.isArray(group.members)
      ? Object.entries(group.members as Record<string, unknown>)
      : [];
  if (members.length < 2)
    issues.push({
      path: 'group.members',
      message: 'needs at least two members',
      hint: 'write members: { frontend: { rollout, router }, backend: { rollout, router } }',
    });
  if (issues.length > 0) throw invalid(path, issues);
  const shared = Object.fromEntries(Object.entries(top).filter(([k]) => k !== 'group'));
  const loaded: LoadedGroup['members'] = [];
  for (const [member, body] of members) {
    const at = `group.members.${member}`;
    if (!body || typeof body !== 'object' || Array.isArray(body) || !('rollout' in body))
      throw invalid(path, [
        { path: at, message: 'is not { rollout, router? }', hint: 'give the member its rollout spec' },
      ]);
    loaded.push({ name: member, loaded: checkFile({ ...shared, ...(body as object) }, path, at) });
  }
  return { path, name: name as string, members: loaded };
}

export function loadKanaryFileOrGroup(path: string): LoadedFile | LoadedGroup {
  return parseKanaryFileOrGroup(readText(path), path);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new KanaryError('NOT_FOUND', `cannot read ${path}: ${(error as Error).message}`, {
      issues: [{ path: '', message: 'the file cannot be read', hint: 'check the path given to -f' }],
    });
  }
}

export function loadKanaryFile(path: string): LoadedFile {
  return parseKanaryFile(readText(path), path);
}
