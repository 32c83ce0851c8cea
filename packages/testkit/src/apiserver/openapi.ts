import { KINDS } from './kinds.ts';

// The OpenAPI v3 discovery kubectl reads (client-go's openapi3 root, then QueryParamVerifierV3):
// `/openapi/v3` lists a document per group-version, and each document has, for every kind, the
// PATCH operation tagged with `x-kubernetes-group-version-kind` and its query parameters. Finding
// `fieldValidation` there is how kubectl ≥ 1.27 decides to let the server validate fields
// (`--validate=strict`, the default) instead of downloading schemas itself; without these documents
// `kubectl apply` failed unless given `--validate=false`. Schemas (`kubectl explain`) are not served.

const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);
const QUERY = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'];

/** `/openapi/v3`: a path per group-version served. */
export function openApiIndex(served: (group: string, version: string) => boolean): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const k of KINDS)
    for (const v of k.versions)
      if (served(k.group, v)) {
        const p = gvPath(k.group, v);
        paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=kanary-testkit` };
      }
  return { paths };
}

/** `/openapi/v3/<group-version>`: the operations kubectl looks for, or undefined if not served. */
export function openApiDocument(
  path: string,
  served: (group: string, version: string) => boolean,
): object | undefined {
  const paths: Record<string, object> = {};
  for (const k of KINDS)
    for (const v of k.versions) {
      if (!served(k.group, v) || gvPath(k.group, v) !== path) continue;
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
    }
  if (Object.keys(paths).length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (kanary testkit)', version: 'v1.34.0' },
    paths,
    components: { schemas: {} },
  };
}
