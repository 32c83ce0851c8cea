import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { FaultInjector } from './faults.ts';
import { fieldValuesOf, parseFieldSelector } from './fields.ts';
import { findKind, KINDS, type KindInfo } from './kinds.ts';
import { MAX_REQUEST_BODY } from './limits.ts';
import { checkListOptions, INITIAL_EVENTS_END, parseBool } from './list-options.ts';
import { clone, type KubeObject } from './object.ts';
import { openApiDocument, openApiIndex, openApiV2 } from './openapi.ts';
import { encodeOpenApiV2, OPENAPI_V2_PROTOBUF } from './openapi-v2.ts';
import { ListPages } from './paging.ts';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patch.ts';
import { decodeProtobufObject, NoProtobufForm } from './protobuf.ts';
import { forbidden, type RequestAttributes } from './rbac.ts';
import { matchesRequirements, parseLabelSelector, type Requirement } from './selectors.ts';
import { ApiError, errors } from './status.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import { toTable, wantsTable } from './table.ts';
import { SERVING_CERT, SERVING_KEY } from './tls.ts';
import { validateFields, warningHeaders } from './unknown-fields.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** One request as the server saw it: for fault rules, benchmarks and assertions. */
export interface RequestRecord {
  verb: Verb | 'discovery';
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
  contentType?: string;
  userAgent?: string;
  /** The bearer token the request carried (`cluster.kubeConfigFor(user)`). */
  user?: string;
  /**
   * For a successful write: the Kanary epoch stamps (`kanary.dev/epoch.<rollout>`) on the object as
   * written, so tests can check that no write of an older driver lands after a newer one's.
   */
  epochs?: Record<string, number>;
  /** A watch that streamed the state first (`sendInitialEvents=true`): a list by a watch. */
  sendInitialEvents?: true;
}

/** The body each response was sent with, to read the epoch stamps of written objects. */
const sentBodies = new WeakMap<ServerResponse, unknown>();
const EPOCH_PREFIX = 'kanary.dev/epoch.';

interface Target {
  info: KindInfo;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

function send(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  sentBodies.set(res, body);
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** kube-apiserver reads at most 3 MiB of a request body (its `MaxRequestBodyBytes`), then answers 413. */
async function readBytes(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BODY) {
      req.resume();
      throw errors.entityTooLarge(MAX_REQUEST_BODY);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBytes(req)).toString('utf8');
}

/**
 * An object in a create or update body: JSON, YAML, or protobuf for built-in kinds (what kubectl
 * ≥ 1.32 sends for them; it never falls back to JSON), as a real server accepts. Custom
 * resources have no protobuf form: 415, as upstream answers.
 */
async function readObject(req: IncomingMessage): Promise<KubeObject> {
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim() ?? '';
  if (type === 'application/vnd.kubernetes.protobuf') {
    const bytes = await readBytes(req);
    try {
      return decodeProtobufObject(bytes);
    } catch (e) {
      if (e instanceof NoProtobufForm)
        throw errors.unsupportedMediaType(type, ['application/json', 'application/yaml']);
      throw errors.badRequest(`the request body could not be decoded: ${(e as Error).message}`);
    }
  }
  const text = await readBody(req);
  if (type === 'application/json' || type === '') return parseJson(text) as KubeObject;
  if (type === 'application/yaml') {
    try {
      return parseYaml(text) as KubeObject;
    } catch (e) {
      throw errors.badRequest(`the request body could not be decoded: ${(e as Error).message}`);
    }
  }
  throw errors.unsupportedMediaType(type, ['application/json', 'application/yaml']);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw errors.badRequest(`the request body could not be decoded: ${(e as Error).message}`);
  }
}

function resourceList(group: string, version: string) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: KINDS.filter((k) => k.group === group && k.versions.includes(version)).flatMap((k) => {
      const verbs = k.verbs ?? [
        'create',
        'delete',
        'deletecollection',
        'get',
        'list',
        'patch',
        'update',
        'watch',
      ];
      const main = {
        name: k.plural,
        singularName: k.singular,
        namespaced: k.namespaced,
        kind: k.kind,
        verbs,
        ...(k.shortNames ? { shortNames: k.shortNames } : {}),
        ...(k.categories ? { categories: k.categories } : {}),
      };
      const subs = [];
      if (k.subresources.status)
        subs.push({
          name: `${k.plural}/status`,
          singularName: '',
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ['get', 'patch', 'update'],
        });
      if (k.subresources.scale)
        subs.push({
          name: `${k.plural}/scale`,
          singularName: '',
          namespaced: k.namespaced,
          group: 'autoscaling',
          version: 'v1',
          kind: 'Scale',
          verbs: ['get', 'patch', 'update'],
        });
      return [main, ...subs];
    }),
  };
}

function groupList(served: (group: string, version: string) => boolean = () => true) {
  const groups = new Map<string, string[]>();
  for (const k of KINDS) {
    const versions = k.versions.filter((v) => served(k.group, v));
    if (k.group && versions.length > 0)
      groups.set(k.group, [...new Set([...(groups.get(k.group) ?? []), ...versions])]);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

/** Parses `/api/v1/...` and `/apis/<g>/<v>/...` into the resource it names. */
function parseTarget(segments: string[]): Target | 'discovery' | undefined {
  let group = '';
  let version: string;
  let rest: string[];
  if (segments[0] === 'api') {
    version = segments[1] ?? '';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis') {
    group = segments[1] ?? '';
    version = segments[2] ?? '';
    rest = segments.slice(3);
  } else return undefined;
  if (rest.length === 0) return 'discovery';
  let namespace: string | undefined;
  if (
    rest[0] === 'namespaces' &&
    rest.length >= 3 &&
    findKind(group, version, rest[2] as string)?.namespaced
  ) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const info = findKind(group, version, rest[0] as string);
  if (!info) return undefined;
  return {
    info,
    version,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(rest[1] ? { name: rest[1] } : {}),
    ...(rest[2] ? { subresource: rest[2] } : {}),
  };
}

function managerOf(url: URL, req: IncomingMessage): string {
  const explicit = url.searchParams.get('fieldManager');
  if (explicit) return explicit;
  const ua = req.headers['user-agent'] ?? '';
  return ua.split('/')[0] || 'unknown';
}

function selectorOf(url: URL, param: string): Requirement[] {
  const text = url.searchParams.get(param);
  if (!text) return [];
  try {
    return parseLabelSelector(text);
  } catch (e) {
    throw errors.badRequest(`unable to parse requirement: ${(e as Error).message}`);
  }
}

function scaleOf(obj: KubeObject): KubeObject {
  const spec = obj.spec as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  const status = obj.status as { replicas?: number } | undefined;
  const selector = Object.entries(spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name as string,
      namespace: obj.metadata.namespace as string,
      uid: obj.metadata.uid as string,
      resourceVersion: obj.metadata.resourceVersion as string,
      creationTimestamp: obj.metadata.creationTimestamp as string,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status?.replicas ?? 0, selector },
  };
}

export interface ApiServer {
  url: string;
  server: Server | Http2SecureServer;
  requests: RequestRecord[];
  /** Requests being served now (watches excluded), and when the last one started or ended (ms, real). */
  activity: { inflight: number; lastAt: number };
  /** Connections clients opened so far (each a TCP connection, and a TLS handshake over https, where
   * a client speaking HTTP/2 needs one for all its requests and watches). */
  connections: { opened: number };
  /** Watches open now. */
  readonly watches: number;
  /** Ends every open watch, as an API server restart or a load balancer's idle cut does. */
  dropWatches(): number;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Restrict the versions served per group (e.g. `{ 'networking.istio.io': ['v1beta1'] }` for an older Istio). */
  servedVersions?: Record<string, string[]>;
  /**
   * kube-apiserver's `--authorization-mode=RBAC`: whether `user` may make the request (the user is
   * the bearer token, `system:anonymous` without one). Absent: everything is allowed.
   */
  authorize?: (attributes: RequestAttributes) => boolean;
  /** Serve https with the testkit CA's certificate (`TESTKIT_CA`), as a real API server does. */
  tls?: boolean;
  /**
   * kube-apiserver's `--feature-gates`, as far as the emulator has them. `WatchList` (default on,
   * as in 1.34): watches that stream the initial state (`sendInitialEvents`); off, as 1.33 ships,
   * such a watch is refused with 422.
   */
  featureGates?: { WatchList?: boolean };
}

/** A write that lands first: runs just before the next write to the object (a concurrent writer). */
export type RaceHook = {
  plural: string;
  namespace?: string;
  name: string;
  edit: (store: ObjectStore) => void;
};

export async function startApiServer(
  store: ObjectStore,
  faults: FaultInjector,
  options: ServerOptions = {},
  races: RaceHook[] = [],
): Promise<ApiServer> {
  const served = (group: string, version: string) =>
    !options.servedVersions?.[group] || (options.servedVersions[group] as string[]).includes(version);
  const requests: RequestRecord[] = [];
  const watches = new Set<ServerResponse>();
  const pages = new ListPages();
  const activity = { inflight: 0, lastAt: 0 };
  const watchListGate = options.featureGates?.WatchList ?? true;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const record: RequestRecord = {
      verb: 'get',
      resource: '',
      code: 200,
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
    };
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) record.user = bearer;
    try {
      if (url.pathname === '/version')
        return send(res, 200, {
          major: '1',
          minor: '34',
          gitVersion: 'v1.34.0-kanary-testkit',
          platform: 'linux/amd64',
        });
      if (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('ok');
      }
      if (url.pathname === '/openapi/v2') {
        // kubectl asks for gnostic's protobuf encoding; other clients for JSON.
        const accept = req.headers.accept ?? '*/*';
        if (accept.includes(OPENAPI_V2_PROTOBUF)) {
          const bytes = encodeOpenApiV2(openApiV2(served) as never);
          // Answered as kube-openapi answers it: Go's mime parser refuses the `@` of the Accept form.
          res.writeHead(200, {
            'content-type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf',
            'content-length': bytes.length,
          });
          return void res.end(bytes);
        }
        if (!/application\/json|\*\/\*/.test(accept))
          throw errors.notAcceptable(['application/json', OPENAPI_V2_PROTOBUF]);
        return send(res, 200, openApiV2(served));
      }
      if (url.pathname === '/openapi/v3') return send(res, 200, openApiIndex(served));
      if (url.pathname.startsWith('/openapi/v3/')) {
        const doc = openApiDocument(url.pathname.slice('/openapi/v3/'.length), served);
        if (!doc) throw errors.notFound({ group: '', plural: 'openapi', kind: 'OpenAPI' }, url.pathname);
        return send(res, 200, doc);
      }
      if (url.pathname === '/api')
        return send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      if (url.pathname === '/apis') return send(res, 200, groupList(served));
      if (segments[0] === 'apis' && segments.length === 2) {
        const g = groupList(served).groups.find((x) => x.name === segments[1]);
        if (!g)
          throw errors.notFound({ group: '', plural: 'groups', kind: 'APIGroup' }, segments[1] as string);
        return send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...g });
      }
      const target = parseTarget(segments);
      if (target === 'discovery') {
        record.verb = 'discovery';
        const group = segments[0] === 'api' ? '' : (segments[1] as string);
        const version = segments[0] === 'api' ? (segments[1] as string) : (segments[2] as string);
        const list = served(group, version) ? resourceList(group, version) : { resources: [] };
        if (list.resources.length === 0)
          throw errors.notFound(
            { group: '', plural: 'versions', kind: 'APIResourceList' },
            `${group}/${version}`,
          );
        return send(res, 200, list);
      }
      if (!target || !served(target.info.group, target.version)) {
        throw new ApiError({
          code: 404,
          reason: 'NotFound',
          message: 'the server could not find the requested resource',
        });
      }
      const { info, version, namespace, name, subresource } = target;
      const method = req.method ?? 'GET';
      const verb: Verb =
        method === 'GET'
          ? name
            ? 'get'
            : parseBool(url.searchParams.get('watch'))
              ? 'watch'
              : 'list'
          : method === 'POST'
            ? 'create'
            : method === 'PUT'
              ? 'update'
              : method === 'PATCH'
                ? 'patch'
                : name
                  ? 'delete'
                  : 'deletecollection';
      Object.assign(record, {
        verb,
        resource: info.plural,
        ...(subresource ? { subresource } : {}),
        ...(namespace ? { namespace } : {}),
        ...(name ? { name } : {}),
      });
      if (req.headers['content-type']) record.contentType = req.headers['content-type'];
      await faults.before(verb, info.plural, req, res, activity);
      if (res.destroyed) return;
      if (
        subresource &&
        !(subresource === 'status' && info.subresources.status) &&
        !(subresource === 'scale' && info.subresources.scale)
      ) {
        throw errors.notFound(info, `${name}/${subresource}`);
      }
      const attributes: RequestAttributes = {
        user: record.user ?? 'system:anonymous',
        verb,
        group: info.group,
        resource: info.plural,
        ...(subresource ? { subresource } : {}),
        ...(namespace !== undefined ? { namespace } : {}),
        ...(name ? { name } : {}),
      };
      if (options.authorize && !options.authorize(attributes)) throw forbidden(info, attributes);
      if (info.verbs && !info.verbs.includes(verb))
        throw errors.methodNotAllowed(`${verb} is not supported on ${info.plural}`);
      if (info.kind === 'SelfSubjectAccessReview') {
        // What `kubectl auth can-i` asks: the caller's own access, answered and never stored.
        const body = (await readObject(req)) as { spec?: { resourceAttributes?: Record<string, string> } };
        const ra = body.spec?.resourceAttributes ?? {};
        const allowed =
          !options.authorize ||
          options.authorize({
            user: attributes.user,
            verb: ra.verb ?? '',
            group: ra.group ?? '',
            resource: ra.resource ?? '',
            ...(ra.subresource ? { subresource: ra.subresource } : {}),
            ...(ra.namespace ? { namespace: ra.namespace } : {}),
            ...(ra.name ? { name: ra.name } : {}),
          });
        return send(res, 201, {
          kind: 'SelfSubjectAccessReview',
          apiVersion: `authorization.k8s.io/${version}`,
          metadata: { creationTimestamp: null },
          spec: body.spec ?? {},
          status: { allowed, ...(allowed ? {} : { reason: '' }) },
        });
      }
      const dryRun = url.searchParams.get('dryRun') === 'All';
      const manager = managerOf(url, req);
      if (verb === 'update' || verb === 'patch') {
        const i = races.findIndex(
          (r) => r.plural === info.plural && r.name === name && (r.namespace ?? namespace) === namespace,
        );
        if (i >= 0) (races.splice(i, 1)[0] as RaceHook).edit(store);
      }
      const opts = { manager, version, dryRun };

      switch (verb) {
        case 'get': {
          // Serialized only: the stored object's fields, not a copy.
          const obj = store.mustGet(info, namespace, name as string, version, false);
          if (!subresource && wantsTable(req.headers.accept))
            return send(res, 200, toTable(info, [obj], obj.metadata.resourceVersion ?? '', store.now()));
          return send(res, 200, subresource === 'scale' ? scaleOf(obj) : obj);
        }
        case 'list': {
          checkListOptions(url.searchParams, false, watchListGate);
          const labels = selectorOf(url, 'labelSelector');
          const fields = parseFieldSelector(url.searchParams.get('fieldSelector'), info);
          const { items, metadata } = pages.page(
            () => store.list(info, namespace, labels, version, fields, false),
            String(store.resourceVersion),
            url.searchParams.get('limit'),
            url.searchParams.get('continue'),
          );
          if (wantsTable(req.headers.accept))
            return send(res, 200, {
              ...toTable(info, items, metadata.resourceVersion, store.now()),
              metadata,
            });
          return send(res, 200, {
            kind: `${info.kind}List`,
            apiVersion: info.group ? `${info.group}/${version}` : version,
            metadata,
            items,
          });
        }
        case 'watch':
          checkListOptions(url.searchParams, true, watchListGate);
          if (parseBool(url.searchParams.get('sendInitialEvents'))) record.sendInitialEvents = true;
          // A watch refused as too old is recorded as 410 (its HTTP status is 200, the refusal an
          // ERROR event in the stream): how often clients relist is what a benchmark looks for.
          if (!startWatch(url, res, target, store, watches, activity, wantsTable(req.headers.accept)))
            record.code = 410;
          return;
        case 'create': {
          if (name) throw errors.methodNotAllowed('POST is not allowed on a named resource');
          const body = await readObject(req);
          const warnings = validateFields(
            info,
            body,
            url.searchParams.get('fieldValidation'),
            target.version,
          );
          return send(res, 201, store.create(info, namespace, body, opts), warningHeaders(warnings));
        }
        case 'update': {
          const body = await readObject(req);
          if (subresource === 'scale') return send(res, 200, updateScale(store, target, body, opts));
          if (body.metadata?.name && body.metadata.name !== name)
            throw errors.badRequest('the name of the object does not match the name on the URL');
          const sub = subresource === 'status' ? { subresource: 'status' as const } : {};
          const warnings = validateFields(
            info,
            body,
            url.searchParams.get('fieldValidation'),
            target.version,
          );
          return send(
            res,
            200,
            store.update(
              info,
              namespace,
              { ...body, metadata: { ...body.metadata, name: name as string } },
              { ...opts, ...sub },
            ),
            warningHeaders(warnings),
          );
        }
        case 'patch': {
          const warnings: string[] = [];
          const patched = await patch(req, url, store, target, opts, warnings);
          return send(res, 200, patched, warningHeaders(warnings));
        }
        case 'delete': {
          // DeleteOptions may carry preconditions: the object must still be that uid/version (else 409).
          const text = await readBody(req);
          const options = (text.trim() ? parseJson(text) : {}) as {
            preconditions?: { uid?: string; resourceVersion?: string };
            propagationPolicy?: string;
            orphanDependents?: boolean;
            gracePeriodSeconds?: number;
          };
          const pre = options.preconditions;
          if (pre && (pre.uid !== undefined || pre.resourceVersion !== undefined)) {
            const current = store.mustGet(info, namespace, name as string, version);
            if (
              (pre.uid !== undefined && pre.uid !== current.metadata.uid) ||
              (pre.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion)
            ) {
              throw errors.conflict(
                info,
                name as string,
                `Precondition failed: UID in precondition: ${pre.uid ?? ''}, ResourceVersion in precondition: ${pre.resourceVersion ?? ''}`,
              );
            }
          }
          // From the query or the DeleteOptions body (kubectl --cascade=orphan sends the body), or
          // the deprecated orphanDependents.
          const orphan =
            (url.searchParams.get('propagationPolicy') ?? options.propagationPolicy) === 'Orphan' ||
            options.orphanDependents === true ||
            url.searchParams.get('orphanDependents') === 'true';
          const foreground =
            (url.searchParams.get('propagationPolicy') ?? options.propagationPolicy) === 'Foreground';
          const query = url.searchParams.get('gracePeriodSeconds');
          const grace = query !== null ? Number(query) : options.gracePeriodSeconds;
          return send(
            res,
            200,
            store.delete(info, namespace, name as string, {
              dryRun,
              orphan,
              foreground,
              ...(grace !== undefined && Number.isFinite(grace) ? { gracePeriodSeconds: grace } : {}),
            }),
          );
        }
        case 'deletecollection': {
          const items = store.list(info, namespace, selectorOf(url, 'labelSelector'), version);
          for (const item of items) store.delete(info, namespace, item.metadata.name as string, { dryRun });
          return send(res, 200, {
            kind: `${info.kind}List`,
            apiVersion: info.group ? `${info.group}/${version}` : version,
            metadata: {},
            items,
          });
        }
      }
    } catch (error) {
      const apiError = error instanceof ApiError ? error : errors.internal((error as Error).message);
      record.code = apiError.code;
      if (!res.headersSent) send(res, apiError.code, apiError.body, apiError.headers);
    } finally {
      if (record.resource || record.verb === 'discovery') {
        if (record.code === 200 && res.statusCode) record.code = res.statusCode;
        const written = record.code < 300 && ['create', 'update', 'patch', 'apply'].includes(record.verb);
        const annotations = (sentBodies.get(res) as KubeObject | undefined)?.metadata?.annotations;
        if (written && annotations) {
          const epochs: Record<string, number> = {};
          for (const [key, value] of Object.entries(annotations as Record<string, string>)) {
            if (key.startsWith(EPOCH_PREFIX)) epochs[key.slice(EPOCH_PREFIX.length)] = Number(value);
          }
          if (Object.keys(epochs).length > 0) record.epochs = epochs;
        }
        requests.push(record);
      }
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const isWatch = parseBool(new URL(req.url ?? '/', 'http://x').searchParams.get('watch'));
    if (!isWatch) {
      activity.inflight += 1;
      activity.lastAt = performance.now();
      res.on('close', () => {
        activity.inflight -= 1;
        activity.lastAt = performance.now();
      });
    }
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, errors.internal(String(e)).body);
    });
  };
  // Over TLS the emulator offers HTTP/2 first and HTTP/1.1 to clients that do not ask for it, as
  // kube-apiserver does: a client that multiplexes needs one connection for every request and watch.
  // Its limits are kube-apiserver's: 250 concurrent streams a connection (Go's default, which
  // `--http2-max-streams-per-connection` keeps unless set), and no cap on what a session buffers —
  // Go's server waits on flow control instead, where Node's default (10 MB) refuses every new stream
  // with ENHANCE_YOUR_CALM while one large LIST (10,000 pods, ~26 MB) is still being sent.
  const server: Server | Http2SecureServer = options.tls
    ? createSecureServer(
        {
          cert: SERVING_CERT,
          key: SERVING_KEY,
          allowHTTP1: true,
          maxSessionMemory: 4096,
          settings: { maxConcurrentStreams: 250 },
        },
        listener as unknown as Parameters<typeof createSecureServer>[1],
      )
    : createServer(listener);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  const connections = { opened: 0 };
  const dropWatches = () => {
    const open = [...watches];
    for (const w of open) w.destroy();
    watches.clear();
    return open.length;
  };
  faults.onOutage(dropWatches);
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    connections.opened += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    server,
    requests,
    activity,
    connections,
    get watches() {
      return watches.size;
    },
    dropWatches,
    async close() {
      for (const w of watches) w.end();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      if ('closeAllConnections' in server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function updateScale(
  store: ObjectStore,
  t: Target,
  body: KubeObject,
  opts: { manager: string; version: string; dryRun: boolean },
): KubeObject {
  const current = store.mustGet(t.info, t.namespace, t.name as string, t.version);
  const rv = body.metadata?.resourceVersion;
  if (rv && rv !== current.metadata.resourceVersion) throw errors.conflict(t.info, t.name as string);
  const replicas = (body.spec as { replicas?: number } | undefined)?.replicas;
  if (typeof replicas !== 'number' || replicas < 0 || !Number.isInteger(replicas)) {
    throw errors.invalid({ group: 'autoscaling', plural: 'scale', kind: 'Scale' }, t.name as string, [
      {
        reason: 'FieldValueInvalid',
        field: 'spec.replicas',
        message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      },
    ]);
  }
  const next = clone(current);
  (next.spec as { replicas: number }).replicas = replicas;
  return scaleOf(store.update(t.info, t.namespace, next, opts));
}

async function patch(
  req: IncomingMessage,
  url: URL,
  store: ObjectStore,
  t: Target,
  opts: { manager: string; version: string; dryRun: boolean },
  warnings: string[],
): Promise<KubeObject> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  const fieldValidation = url.searchParams.get('fieldValidation');
  const accepted = t.info.builtin
    ? Object.values(PATCH_TYPES)
    : [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply];
  if (!accepted.includes(type)) throw errors.unsupportedMediaType(type, accepted);
  const text = await readBody(req);
  const name = t.name as string;
  if (type === PATCH_TYPES.apply) {
    let config: KubeObject;
    try {
      config = parseYaml(text) as KubeObject;
    } catch (e) {
      throw errors.badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
    if (!url.searchParams.get('fieldManager'))
      throw errors.badRequest('PATCH, fieldManager is required for apply requests');
    if (t.subresource) throw errors.badRequest('apply to subresources is not supported by this server');
    warnings.push(...validateFields(t.info, config, fieldValidation, t.version));
    return store.apply(t.info, t.namespace, name, config, {
      ...opts,
      force: url.searchParams.get('force') === 'true',
    });
  }
  const body = parseJson(text);
  const current =
    t.subresource === 'scale'
      ? scaleOf(store.mustGet(t.info, t.namespace, name, t.version))
      : store.mustGet(t.info, t.namespace, name, t.version);
  let patched: KubeObject;
  try {
    if (type === PATCH_TYPES.json) patched = jsonPatch(current, body) as KubeObject;
    else if (type === PATCH_TYPES.merge) patched = mergePatch(current, body) as KubeObject;
    else patched = strategicMergePatch(current, body) as KubeObject;
  } catch (e) {
    if (e instanceof PatchError) {
      throw errors.invalid(t.info, name, [
        { reason: 'FieldValueInvalid', field: 'patch', message: e.message },
      ]);
    }
    throw e;
  }
  if (t.subresource === 'scale') return updateScale(store, t, patched, opts);
  warnings.push(...validateFields(t.info, patched, fieldValidation, t.version));
  // A patch applies to the version read: a resourceVersion it sets is a precondition.
  const sentRv = (body as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
  const withRv: KubeObject = {
    ...patched,
    metadata: { ...patched.metadata, resourceVersion: sentRv ?? current.metadata.resourceVersion },
  };
  return store.update(t.info, t.namespace, withRv, {
    ...opts,
    ...(t.subresource === 'status' ? { subresource: 'status' as const } : {}),
  });
}

/** How often a watch that allows bookmarks gets one (kube-apiserver's cacher: a minute). */
const BOOKMARK_EVERY_MS = 60_000;

function startWatch(
  url: URL,
  res: ServerResponse,
  t: Target,
  store: ObjectStore,
  watches: Set<ServerResponse>,
  activity: { lastAt: number },
  asTable = false,
): boolean {
  const labels = selectorOf(url, 'labelSelector');
  const fields = parseFieldSelector(url.searchParams.get('fieldSelector'), t.info);
  const rvParam = url.searchParams.get('resourceVersion');
  const matches = (e: StoreEvent) => {
    if (e.info !== t.info) return false;
    if (t.info.namespaced && t.namespace !== undefined && e.object.metadata.namespace !== t.namespace)
      return false;
    return (
      matchesRequirements(e.object.metadata.labels, labels) &&
      (fields.length === 0 || matchesRequirements(fieldValuesOf(t.info, e.object), fields))
    );
  };
  const toLine = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;
  const apiVersion = t.info.group ? `${t.info.group}/${t.version}` : t.version;
  const withVersion = (o: KubeObject): unknown => {
    const versioned = { ...o, apiVersion };
    // kubectl get -w: each event's object is a one-row Table.
    return asTable ? toTable(t.info, [versioned], o.metadata.resourceVersion ?? '', store.now()) : versioned;
  };
  // HTTP/2 frames a stream itself; naming a transfer encoding there is a protocol error.
  const h2 = (res as ServerResponse & { req?: IncomingMessage }).req?.httpVersionMajor === 2;
  res.writeHead(200, {
    'content-type': 'application/json',
    ...(h2 ? {} : { 'transfer-encoding': 'chunked' }),
  });
  // Clients wait for the headers before they consider the watch open.
  res.flushHeaders();
  watches.add(res);
  const sendInitial = url.searchParams.get('sendInitialEvents');
  const allowBookmarks = parseBool(url.searchParams.get('allowWatchBookmarks'));
  const fromVersion = rvParam && rvParam !== '0' ? Number(rvParam) : undefined;
  if (sendInitial === null ? fromVersion === undefined : parseBool(sendInitial)) {
    // The state now as ADDED events: a watch from no version (or "0"), or a streaming list
    // (`sendInitialEvents=true`, checked before: never older than any version asked for).
    for (const obj of store.list(t.info, t.namespace, labels, t.version, fields, false))
      res.write(toLine('ADDED', asTable ? withVersion(obj) : obj));
    // A streaming list's initial events end with a bookmark at the version they are the state of,
    // sent only to a watch that allows bookmarks.
    if (sendInitial !== null && allowBookmarks) {
      const metadata = {
        resourceVersion: String(store.resourceVersion),
        annotations: { [INITIAL_EVENTS_END]: 'true' },
      };
      res.write(toLine('BOOKMARK', { kind: t.info.kind, apiVersion, metadata }));
    }
  } else if (fromVersion !== undefined) {
    if (fromVersion < store.oldestWatchable - 1) {
      res.end(
        toLine('ERROR', errors.gone(`too old resource version: ${rvParam} (${store.oldestWatchable})`).body),
      );
      watches.delete(res);
      return false;
    }
    for (const e of store.eventsSince(fromVersion))
      if (matches(e)) res.write(toLine(e.type, withVersion(e.object)));
  }
  // (`sendInitialEvents=false` from no version: only what happens from now.)
  const unsubscribe = store.subscribe((e) => {
    if (!matches(e) || res.writableEnded) return;
    res.write(toLine(e.type, withVersion(e.object)));
    // An event on its way to a watcher is activity: virtual time waits for it to be read.
    activity.lastAt = performance.now();
  });
  const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
  const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
  // Bookmarks, as kube-apiserver's watch cache sends them to a watch that allows them: about every
  // minute, and 2 s before the watch's own end, so a client watching a quiet kind reopens from a
  // version the history still holds instead of one too old (410 Gone, a relist).
  const bookmarks: NodeJS.Timeout[] = [];
  if (allowBookmarks) {
    const bookmark = () => {
      if (res.writableEnded) return;
      const metadata = { resourceVersion: String(store.resourceVersion) };
      res.write(toLine('BOOKMARK', { kind: t.info.kind, apiVersion, metadata }));
    };
    bookmarks.push(setInterval(bookmark, BOOKMARK_EVERY_MS));
    if (timeout > 2) bookmarks.push(setTimeout(bookmark, (timeout - 2) * 1000));
  }
  res.on('close', () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    for (const b of bookmarks) clearTimeout(b);
    watches.delete(res);
  });
  return true;
}
