import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { schemaOf } from './crd/load.ts';
import { KINDS, type KindInfo } from './kinds.ts';

// The OpenAPI documents kubectl reads. `/openapi/v3` lists a document per group-version; each has,
// for every kind, the PATCH operation tagged with `x-kubernetes-group-version-kind` and its query
// parameters (finding `fieldValidation` there is how kubectl ≥ 1.27 lets the server validate fields,
// client-go's QueryParamVerifierV3), and the kinds' schemas under `components.schemas` (what
// `kubectl explain` renders). `/openapi/v2` has the same schemas as `definitions` (kubectl ≤ 1.26,
// `explain --output=plaintext-openapiv2`; in protobuf, see openapi-v2.ts). Built-in kinds' schemas are kube-apiserver's own OpenAPI
// (vendored unchanged, ../../vendor/kubernetes-openapi); custom kinds' are their CRDs' schemas, with
// `metadata` pointing at ObjectMeta as kube-apiserver publishes them.

type Obj = Record<string, unknown>;
type Served = (group: string, version: string) => boolean;

const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);
const QUERY = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'];
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

let swagger: { definitions: Record<string, Obj> } | undefined;
const definitions = () => {
  swagger ??= JSON.parse(
    readFileSync(
      fileURLToPath(new URL('../../vendor/kubernetes-openapi/swagger.json', import.meta.url)),
      'utf8',
    ),
  ) as { definitions: Record<string, Obj> };
  return swagger.definitions;
};

interface Gvk {
  group: string;
  version: string;
  kind: string;
}
const gvkOf = (def: Obj) => (def['x-kubernetes-group-version-kind'] as Gvk[] | undefined) ?? [];

/** `networking.istio.io` → `io.istio.networking`, as kube-apiserver names a CRD's schema. */
const reverseGroup = (group: string) => group.split('.').reverse().join('.');

/** The name and schema of a kind's root definition (v2 form: refs to `#/definitions/`). */
function rootOf(k: KindInfo, version: string): [string, Obj] | undefined {
  if (k.builtin) {
    const found = Object.entries(definitions()).find(([, def]) =>
      gvkOf(def).some((g) => g.group === k.group && g.version === version && g.kind === k.kind),
    );
    return found;
  }
  const schema = schemaOf(k.group, k.kind, version);
  if (!schema) return undefined;
  const meta = definitions()[OBJECT_META] as Obj;
  const root: Obj = {
    ...structuredClone(schema),
    'x-kubernetes-group-version-kind': [{ group: k.group, version, kind: k.kind }],
  };
  root.properties = {
    ...(root.properties as Obj),
    metadata: { $ref: `#/definitions/${OBJECT_META}`, description: meta.description },
  };
  return [`${reverseGroup(k.group)}.${version}.${k.kind}`, root];
}

/** The definitions a set of roots needs: each root and every definition reachable by `$ref`. */
function closure(roots: Array<[string, Obj]>): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object')
      for (const [key, v] of Object.entries(value)) {
        if (key === '$ref' && typeof v === 'string') {
          const name = v.slice('#/definitions/'.length);
          if (!out[name] && definitions()[name]) {
            out[name] = definitions()[name] as Obj;
            visit(out[name]);
          }
        } else visit(v);
      }
  };
  for (const [name, def] of roots) {
    out[name] = def;
    visit(def);
  }
  return out;
}

/** v2 → v3: refs move to components, and a ref with siblings becomes `allOf` as in upstream's v3. */
function toV3(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toV3);
  if (!value || typeof value !== 'object') return value;
  const obj = value as Obj;
  const out: Obj = {};
  for (const [key, v] of Object.entries(obj)) out[key] = key === '$ref' ? v : toV3(v);
  if (typeof out.$ref === 'string') {
    const ref = (out.$ref as string).replace('#/definitions/', '#/components/schemas/');
    const { $ref: _, ...rest } = out;
    return Object.keys(rest).length === 0 ? { $ref: ref } : { ...rest, allOf: [{ $ref: ref }] };
  }
  return out;
}

const servedKinds = (served: Served) =>
  KINDS.flatMap((k) => k.versions.filter((v) => served(k.group, v)).map((v) => [k, v] as const));

/**
 * `/openapi/v3`: a path per group-version served, each URL carrying its document's hash, as
 * kube-apiserver's do: kubectl keeps documents in its disk cache by that URL, so a changed document
 * needs a new hash (two emulators on the same port one after the other would otherwise share one).
 */
export function openApiIndex(served: Served): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [k, v] of servedKinds(served)) {
    const p = gvPath(k.group, v);
    if (paths[p]) continue; // a group-version's document is hashed once, not once per kind
    const hash = createHash('sha512')
      .update(JSON.stringify(openApiDocument(p, served)))
      .digest('hex');
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash.slice(0, 128).toUpperCase()}` };
  }
  return { paths };
}

const documents = new Map<string, object | undefined>();

/** `/openapi/v3/<group-version>`: the operations kubectl looks for and the kinds' schemas. */
export function openApiDocument(path: string, served: Served): object | undefined {
  const key = `${path}|${servedKinds(served)
    .map(([k, v]) => `${k.plural}.${k.group}/${v}`)
    .join(',')}`;
  if (!documents.has(key)) documents.set(key, buildDocument(path, served));
  return documents.get(key);
}

function buildDocument(path: string, served: Served): object | undefined {
  const paths: Record<string, object> = {};
  const roots: Array<[string, Obj]> = [];
  for (const [k, v] of servedKinds(served)) {
    if (gvPath(k.group, v) !== path) continue;
    const item = `/${path}${k.namespaced ? '/namespaces/{namespace}' : ''}/${k.plural}/{name}`;
    paths[item] = {
      patch: {
        operationId: `patch${k.namespaced ? 'Namespaced' : ''}${k.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: k.group, version: v, kind: k.kind },
        parameters: QUERY.map((name) => ({
          name,
          in: 'query',
          schema: { type: 'string', uniqueItems: true },
        })),
        responses: { '200': { description: 'OK' } },
      },
    };
    const root = rootOf(k, v);
    if (root) roots.push(root);
  }
  if (Object.keys(paths).length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'unversioned' },
    paths,
    components: { schemas: toV3(closure(roots)) },
  };
}

/** `/openapi/v2`: every served kind's schema as a swagger definition. */
export function openApiV2(served: Served): object {
  const roots = servedKinds(served).flatMap(([k, v]) => {
    const root = rootOf(k, v);
    return root ? [root] : [];
  });
  return {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'unversioned' },
    paths: {},
    definitions: closure(roots),
  };
}
