import { defaultGraceSeconds } from '../controllers/termination.ts';
import { applyDefaults } from './defaults.ts';
import { fieldValuesOf } from './fields.ts';
import { KINDS, type KindInfo, validateObject } from './kinds.ts';
import { decodeCheck, limitChecks, storageCheck } from './limits.ts';
import { clone, jsonEqual, type KubeObject } from './object.ts';
import { matchesRequirements, type Requirement } from './selectors.ts';
import { recordUpdate, serverSideApply } from './ssa.ts';
import { errors } from './status.ts';

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchType;
  info: KindInfo;
  object: KubeObject;
  resourceVersion: number;
}

export interface WriteOptions {
  /** Field manager recorded in managedFields. */
  manager: string;
  /** Which version the client used (for apiVersion in answers and managedFields). */
  version?: string;
  /** Validate and default, but do not persist. */
  dryRun?: boolean;
}

const WATCH_LOG_LIMIT = 20_000;

/** Deterministic UIDs (reproducible runs): a counter formatted like a UUID. */
function uidFor(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

/**
 * The API server's storage: every object of every kind, a global resourceVersion counter, and
 * the log watches replay from. Controllers write through it too, so every write is validated.
 */
/** Objects keyed `<plural>.<group>/<ns>/<name>`, bucketed by kind so listing one kind skips the rest. */
class KindIndex {
  #byKind = new Map<string, Map<string, KubeObject>>();
  /** Owner uid → keys of the objects whose ownerReferences name it (for GC and controllers). */
  #owned = new Map<string, Set<string>>();
  #link(key: string, obj: KubeObject | undefined, add: boolean) {
    for (const ref of obj?.metadata.ownerReferences ?? []) {
      let keys = this.#owned.get(ref.uid);
      if (add) {
        if (!keys) {
          keys = new Set();
          this.#owned.set(ref.uid, keys);
        }
        keys.add(key);
      } else {
        keys?.delete(key);
        if (keys?.size === 0) this.#owned.delete(ref.uid);
      }
    }
  }
  #bucket(key: string, create = false) {
    const kind = key.slice(0, key.indexOf('/'));
    let m = this.#byKind.get(kind);
    if (!m && create) {
      m = new Map();
      this.#byKind.set(kind, m);
    }
    return m;
  }
  get = (key: string) => this.#bucket(key)?.get(key);
  has = (key: string) => this.#bucket(key)?.has(key) ?? false;
  /** The uids of the objects stored: the garbage collector asks whether an owner still exists. */
  #uids = new Set<string>();
  set = (key: string, obj: KubeObject) => {
    const before = this.get(key);
    this.#link(key, before, false);
    if (before?.metadata.uid) this.#uids.delete(before.metadata.uid);
    this.#indexAll(key, before, false);
    this.#link(key, obj, true);
    this.#indexAll(key, obj, true);
    if (obj.metadata.uid) this.#uids.add(obj.metadata.uid);
    this.#bucket(key, true)?.set(key, obj);
  };
  delete = (key: string) => {
    const before = this.get(key);
    this.#link(key, before, false);
    this.#indexAll(key, before, false);
    if (before?.metadata.uid) this.#uids.delete(before.metadata.uid);
    this.#bucket(key)?.delete(key);
  };
  hasUid = (uid: string) => this.#uids.has(uid);

  // Indexes that keep the controllers linear in what changed, not in what the namespace holds (with
  // thousands of Services and pods in one namespace, scanning them on every pod event was quadratic):
  // objects by `kind|ns|label=value`; Services by each `ns|key=value` of their selector; Endpoints by
  // the pods their addresses name.
  #byLabel = new Map<string, Set<string>>();
  #bySelector = new Map<string, Set<string>>();
  #byListedPod = new Map<string, Set<string>>();
  #index(map: Map<string, Set<string>>, at: string, key: string, add: boolean) {
    let keys = map.get(at);
    if (add) {
      if (!keys) {
        keys = new Set();
        map.set(at, keys);
      }
      keys.add(key);
    } else if (keys) {
      keys.delete(key);
      if (keys.size === 0) map.delete(at);
    }
  }
  #indexAll(key: string, obj: KubeObject | undefined, add: boolean) {
    if (!obj) return;
    const kind = key.slice(0, key.indexOf('/'));
    const ns = obj.metadata.namespace ?? '';
    for (const [k, v] of Object.entries(obj.metadata.labels ?? {}))
      this.#index(this.#byLabel, `${kind}|${ns}|${k}=${v}`, key, add);
    if (kind === 'services.') {
      const selector = (obj.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};
      for (const [k, v] of Object.entries(selector))
        this.#index(this.#bySelector, `${ns}|${k}=${v}`, key, add);
    }
    if (kind === 'endpoints.') {
      const subsets = (obj as { subsets?: Array<{ addresses?: unknown[]; notReadyAddresses?: unknown[] }> })
        .subsets;
      for (const sub of subsets ?? [])
        for (const a of [...(sub.addresses ?? []), ...(sub.notReadyAddresses ?? [])]) {
          const pod = (a as { targetRef?: { name?: string } }).targetRef?.name;
          if (pod) this.#index(this.#byListedPod, `${ns}/${pod}`, key, add);
        }
    }
  }
  /** Objects of `kind` (`<plural>.<group>`) in `ns` carrying `label=value`. */
  labeled = (kind: string, ns: string, label: string, value: string): Iterable<KubeObject> =>
    this.#resolve(this.#byLabel.get(`${kind}|${ns}|${label}=${value}`));
  /** Services in `ns` whose selector has `label=value`. */
  selectingLabel = (ns: string, label: string, value: string): Iterable<KubeObject> =>
    this.#resolve(this.#bySelector.get(`${ns}|${label}=${value}`));
  /** Endpoints in `ns` whose addresses name `pod`. */
  listing = (ns: string, pod: string): Iterable<KubeObject> =>
    this.#resolve(this.#byListedPod.get(`${ns}/${pod}`));
  *#resolve(keys: Set<string> | undefined): Iterable<KubeObject> {
    for (const k of keys ?? []) {
      const o = this.get(k);
      if (o) yield o;
    }
  }
  /** Objects that name `uid` as an owner. */
  ownedBy = (uid: string): KubeObject[] =>
    [...(this.#owned.get(uid) ?? [])].map((k) => this.get(k)).filter((o): o is KubeObject => o !== undefined);
  ofKind = (info: KindInfo): Iterable<KubeObject> =>
    this.#byKind.get(`${info.plural}.${info.group}`)?.values() ?? [];
  *[Symbol.iterator](): IterableIterator<[string, KubeObject]> {
    for (const m of this.#byKind.values()) yield* m;
  }
}

export class ObjectStore {
  #objects = new KindIndex();
  #rv = 1;
  #uid = 0;
  #log: StoreEvent[] = [];
  #listeners = new Set<(e: StoreEvent) => void>();
  readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** The oldest resourceVersion a watch can start from. */
  get oldestWatchable(): number {
    return this.#log[0]?.resourceVersion ?? this.#rv;
  }

  /** Forgets the watch history, as etcd's compaction does: older watches get 410 Gone. */
  compact(): void {
    this.#log = [];
  }

  eventsSince(rv: number): StoreEvent[] {
    return this.#log.filter((e) => e.resourceVersion > rv);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #key(info: KindInfo, ns: string | undefined, name: string): string {
    return `${info.plural}.${info.group}/${info.namespaced ? (ns ?? '') : ''}/${name}`;
  }

  #emit(type: WatchType, info: KindInfo, object: KubeObject): void {
    const event: StoreEvent = {
      type,
      info,
      object: clone(object),
      resourceVersion: Number(object.metadata.resourceVersion),
    };
    this.#log.push(event);
    if (this.#log.length > WATCH_LOG_LIMIT) this.#log.splice(0, this.#log.length - WATCH_LOG_LIMIT);
    for (const fn of this.#listeners) fn(event);
  }

  #iso(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  #withApiVersion(info: KindInfo, obj: KubeObject, version?: string): KubeObject {
    const v = version ?? (info.versions[0] as string);
    return { ...obj, apiVersion: info.group ? `${info.group}/${v}` : v, kind: info.kind };
  }

  /**
   * The object, a copy unless `copy` is false: then its fields are the stored object's own, for a
   * caller that only serializes it (the HTTP handlers), never changes it. Stored objects are
   * replaced on every write, never changed in place, so such a view stays what it was.
   */
  get(
    info: KindInfo,
    ns: string | undefined,
    name: string,
    version?: string,
    copy = true,
  ): KubeObject | undefined {
    const obj = this.#objects.get(this.#key(info, ns, name));
    return obj ? this.#withApiVersion(info, copy ? clone(obj) : obj, version) : undefined;
  }

  mustGet(info: KindInfo, ns: string | undefined, name: string, version?: string, copy = true): KubeObject {
    const obj = this.get(info, ns, name, version, copy);
    if (!obj) throw errors.notFound(info, name);
    return obj;
  }

  /**
   * Objects of a kind in a namespace that `keep` accepts, cloned: `keep` sees the stored object
   * (read-only), so controllers filter thousands of pods without copying each one.
   */
  select(info: KindInfo, ns: string | undefined, keep: (obj: Readonly<KubeObject>) => boolean): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.#objects.ofKind(info)) {
      if (info.namespaced && ns !== undefined && obj.metadata.namespace !== ns) continue;
      if (keep(obj)) out.push(this.#withApiVersion(info, clone(obj)));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    );
  }

  /**
   * As `select`, for objects carrying every `key=value` of `labels` in namespace `ns` (from an index:
   * only the objects with the rarest of those labels are looked at). Empty `labels`: none.
   */
  selectLabeled(
    info: KindInfo,
    ns: string,
    labels: Record<string, string>,
    keep: (obj: Readonly<KubeObject>) => boolean = () => true,
  ): KubeObject[] {
    const kind = `${info.plural}.${info.group}`;
    const pairs = Object.entries(labels);
    if (pairs.length === 0) return [];
    let fewest: KubeObject[] | undefined;
    for (const [k, v] of pairs) {
      const some = [...this.#objects.labeled(kind, ns, k, v)];
      if (!fewest || some.length < fewest.length) fewest = some;
      if (some.length === 0) break;
    }
    const out: KubeObject[] = [];
    for (const obj of fewest ?? [])
      if (pairs.every(([k, v]) => obj.metadata.labels?.[k] === v) && keep(obj))
        out.push(this.#withApiVersion(info, clone(obj)));
    return out.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  }

  /** Names of the Services in `ns` whose (non-empty) selector every one of `labels` satisfies. */
  servicesSelecting(ns: string, labels: Record<string, string> | undefined): string[] {
    const names = new Set<string>();
    for (const [k, v] of Object.entries(labels ?? {}))
      for (const svc of this.#objects.selectingLabel(ns, k, v)) {
        const selector = (svc.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};
        if (Object.entries(selector).every(([sk, sv]) => labels?.[sk] === sv))
          names.add(svc.metadata.name as string);
      }
    return [...names];
  }

  /** Names of the Endpoints in `ns` that list `pod` (ready or not). */
  endpointsListing(ns: string, pod: string): string[] {
    return [...this.#objects.listing(ns, pod)].map((e) => e.metadata.name as string);
  }

  /** Objects of a kind whose ownerReferences name `ownerUid` (from an index: no scan), cloned. */
  owned(info: KindInfo, ownerUid: string | undefined): KubeObject[] {
    if (!ownerUid) return [];
    return this.#objects
      .ownedBy(ownerUid)
      .filter((o) => o.kind === info.kind)
      .map((o) => this.#withApiVersion(info, clone(o)))
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  }

  list(
    info: KindInfo,
    ns?: string,
    selector: Requirement[] = [],
    version?: string,
    fields: Requirement[] = [],
    copy = true,
  ): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.#objects.ofKind(info)) {
      if (info.namespaced && ns !== undefined && obj.metadata.namespace !== ns) continue;
      if (!matchesRequirements(obj.metadata.labels, selector)) continue;
      if (fields.length > 0 && !matchesRequirements(fieldValuesOf(info, obj), fields)) continue;
      out.push(this.#withApiVersion(info, copy ? clone(obj) : obj, version));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    );
  }

  #requireNamespace(info: KindInfo, ns: string | undefined): void {
    if (!info.namespaced) return;
    const nsInfo = KINDS.find((k) => k.kind === 'Namespace') as KindInfo;
    if (!ns || !this.#objects.has(this.#key(nsInfo, undefined, ns))) throw errors.notFound(nsInfo, ns ?? '');
  }

  #validate(info: KindInfo, version: string, obj: KubeObject, old?: KubeObject): void {
    decodeCheck(info, version, obj);
    const causes = validateObject(info, version, obj, old);
    if (causes.length === 0) causes.push(...limitChecks(info, obj));
    if (causes.length > 0) throw errors.invalid(info, obj.metadata.name ?? '', causes);
    storageCheck(obj);
  }

  create(info: KindInfo, ns: string | undefined, input: KubeObject, opts: WriteOptions): KubeObject {
    const version = opts.version ?? (info.versions[0] as string);
    const obj = clone(input);
    obj.metadata ??= {};
    if (!obj.metadata.name && obj.metadata.generateName) {
      obj.metadata.name = `${obj.metadata.generateName}${(this.#uid + 1).toString(36).padStart(5, 'x').slice(-5)}`;
    }
    if (info.namespaced) {
      if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns) {
        throw errors.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      obj.metadata.namespace = ns;
    } else delete obj.metadata.namespace;
    this.#requireNamespace(info, ns);
    const name = obj.metadata.name ?? '';
    const nsObj =
      info.namespaced && ns
        ? this.#objects.get(this.#key(KINDS.find((k) => k.kind === 'Namespace') as KindInfo, undefined, ns))
        : undefined;
    if (nsObj?.metadata.deletionTimestamp)
      throw errors.forbidden(
        info,
        name,
        `unable to create new content in namespace ${ns} because it is being terminated`,
      );
    if (this.#objects.has(this.#key(info, ns, name))) throw errors.alreadyExists(info, name);
    const stored = this.#withApiVersion(info, obj, version);
    if (info.subresources.status && info.kind !== 'Pod' && info.kind !== 'Namespace') delete stored.status;
    applyDefaults(info, stored, undefined, this);
    this.#validate(info, version, stored);
    stored.metadata.uid = uidFor(++this.#uid);
    stored.metadata.creationTimestamp = this.#iso();
    stored.metadata.generation = 1;
    recordUpdate(undefined, stored, opts.manager, {
      builtin: info.builtin,
      apiVersion: stored.apiVersion as string,
      now: this.#iso(),
    });
    if (opts.dryRun) return stored;
    stored.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(this.#key(info, ns, name), clone(stored));
    this.#emit('ADDED', info, stored);
    return this.#withApiVersion(info, clone(stored), version);
  }

  /**
   * Replaces an object. A resourceVersion in the body must match the stored one (409 Conflict
   * otherwise). With a status subresource, the main resource cannot change status and
   * `/status` can change nothing else.
   */
  update(
    info: KindInfo,
    ns: string | undefined,
    input: KubeObject,
    opts: WriteOptions & { subresource?: 'status' },
  ): KubeObject {
    const version = opts.version ?? (info.versions[0] as string);
    const name = input.metadata?.name ?? '';
    const current = this.#objects.get(this.#key(info, ns, name));
    if (!current) throw errors.notFound(info, name);
    const sentRv = input.metadata?.resourceVersion;
    if (sentRv !== undefined && sentRv !== '' && sentRv !== current.metadata.resourceVersion)
      throw errors.conflict(info, name);
    let next = clone(input);
    next.metadata = { ...next.metadata };
    if (info.subresources.status) {
      if (opts.subresource === 'status') {
        // Deployments' and ReplicaSets' /status may change annotations too (their status strategies
        // keep only spec and labels): the controller records revisions that way.
        const annotations = ['Deployment', 'ReplicaSet'].includes(info.kind)
          ? next.metadata.annotations
          : undefined;
        next = { ...clone(current), status: next.status };
        if (annotations !== undefined) next.metadata = { ...next.metadata, annotations };
      } else next.status = clone(current.status);
    }
    // Set by the server only (a DELETE sets the deletion fields; an update cannot move them).
    for (const f of [
      'uid',
      'creationTimestamp',
      'namespace',
      'generation',
      'resourceVersion',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
    ] as const) {
      if (current.metadata[f] === undefined) delete next.metadata[f];
      else next.metadata[f] = current.metadata[f] as never;
    }
    if (info.kind === 'Namespace') delete next.metadata.namespace;
    next = this.#withApiVersion(info, next, version);
    applyDefaults(info, next, current, this);
    this.#validate(info, version, next, current);
    // A Deployment's annotations bump its generation too: they are copied to its ReplicaSets
    // (pkg/registry/apps/deployment/strategy.go, PrepareForUpdate).
    const specChanged =
      opts.subresource !== 'status' &&
      (!jsonEqual(strip(current), strip(next)) ||
        (info.kind === 'Deployment' &&
          !jsonEqual(current.metadata.annotations ?? {}, next.metadata.annotations ?? {})));
    if (specChanged) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    next.metadata.managedFields = current.metadata.managedFields;
    recordUpdate(current, next, opts.manager, {
      builtin: info.builtin,
      apiVersion: next.apiVersion as string,
      now: this.#iso(),
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    });
    if (
      jsonEqual(
        { ...current, metadata: { ...current.metadata, managedFields: undefined } },
        { ...next, metadata: { ...next.metadata, managedFields: undefined } },
      )
    ) {
      // A no-op write does not bump the resourceVersion, as on the real server.
      return this.#withApiVersion(info, clone(current), version);
    }
    if (opts.dryRun) return next;
    if (current.metadata.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter((f) => !current.metadata.finalizers?.includes(f));
      if (added.length > 0)
        throw errors.invalid(info, name, [
          {
            reason: 'FieldValueForbidden',
            field: 'metadata.finalizers',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          },
        ]);
      // The last finalizer of an object being deleted is gone: the object goes with it.
      if ((next.metadata.finalizers ?? []).length === 0 && info.kind !== 'Namespace' && info.kind !== 'Pod')
        return this.#withApiVersion(info, this.#remove(info, this.#key(info, ns, name), next), version);
    }
    next.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(this.#key(info, ns, name), clone(next));
    this.#emit('MODIFIED', info, next);
    return this.#withApiVersion(info, clone(next), version);
  }

  apply(
    info: KindInfo,
    ns: string | undefined,
    name: string,
    config: KubeObject,
    opts: WriteOptions & { force: boolean },
  ): KubeObject {
    const version = opts.version ?? (info.versions[0] as string);
    if (config.metadata?.name && config.metadata.name !== name)
      throw errors.badRequest('the name of the object does not match the name on the URL');
    const current = this.#objects.get(this.#key(info, ns, name));
    // A resourceVersion in the applied config is a precondition, as on a real API server.
    const wanted = config.metadata?.resourceVersion;
    if (wanted !== undefined && wanted !== current?.metadata.resourceVersion)
      throw current ? errors.conflict(info, name) : errors.notFound(info, name);
    const result = serverSideApply(
      current,
      { ...config, metadata: { ...config.metadata, name } },
      opts.manager,
      {
        force: opts.force,
        builtin: info.builtin,
        apiVersion: info.group ? `${info.group}/${version}` : version,
        now: this.#iso(),
      },
    );
    if (result.conflicts.length > 0) throw errors.applyConflict(info, name, result.conflicts);
    const object = result.object;
    if (!current) {
      const managed = object.metadata.managedFields;
      const created = this.create(info, ns, object, { ...opts, manager: opts.manager });
      if (opts.dryRun) return created;
      const stored = this.#objects.get(this.#key(info, ns, name)) as KubeObject;
      stored.metadata.managedFields = managed;
      return this.#withApiVersion(info, clone(stored), version);
    }
    object.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.#replaceKeepingManagedFields(info, ns, object, opts);
  }

  #replaceKeepingManagedFields(
    info: KindInfo,
    ns: string | undefined,
    object: KubeObject,
    opts: WriteOptions,
  ): KubeObject {
    const managed = object.metadata.managedFields;
    const updated = this.update(info, ns, object, opts);
    if (opts.dryRun) return updated;
    const stored = this.#objects.get(this.#key(info, ns, object.metadata.name ?? '')) as KubeObject;
    stored.metadata.managedFields = managed;
    return this.#withApiVersion(info, clone(stored), opts.version);
  }

  delete(
    info: KindInfo,
    ns: string | undefined,
    name: string,
    opts: { dryRun?: boolean; orphan?: boolean; foreground?: boolean; gracePeriodSeconds?: number } = {},
  ): KubeObject {
    const key = this.#key(info, ns, name);
    const current = this.#objects.get(key);
    if (!current) throw errors.notFound(info, name);
    // A pod is deleted gracefully: marked, and removed by its kubelet once its containers have
    // stopped (registry/core/pod strategy, CheckGracefulDelete). A second DELETE may shorten the
    // grace, never lengthen it; grace 0 removes it now.
    if (info.kind === 'Pod' && !info.group) {
      const grace = Math.max(0, opts.gracePeriodSeconds ?? defaultGraceSeconds(current));
      const pending = current.metadata.deletionGracePeriodSeconds;
      if (grace > 0) {
        if (pending !== undefined && pending <= grace) return clone(current);
        const next = clone(current);
        next.metadata.deletionTimestamp = new Date(this.now() + grace * 1000)
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z');
        next.metadata.deletionGracePeriodSeconds = grace;
        return this.#mark(info, key, next, opts.dryRun);
      }
    }
    // A namespace terminates: the namespace controller deletes what it holds, then removes its
    // `kubernetes` finalizer and the namespace goes (pkg/registry/core/namespace/storage).
    if (info.kind === 'Namespace' && !info.group) {
      if (current.metadata.deletionTimestamp) return clone(current);
      const next = clone(current);
      next.metadata.deletionTimestamp = this.#iso();
      next.status = { ...((next.status as object | undefined) ?? {}), phase: 'Terminating' };
      return this.#mark(info, key, next, opts.dryRun);
    }
    // Foreground: the owner stays, marked and holding `foregroundDeletion`, until the garbage
    // collector has deleted the dependents that block it. Orphan: it stays holding `orphan` until the
    // garbage collector has taken its reference out of every dependent. (The controller manager
    // does both; registry/generic/registry/store.go, deletionFinalizersForGarbageCollection.)
    const wanted = opts.foreground ? 'foregroundDeletion' : opts.orphan ? 'orphan' : undefined;
    const finalizers = [
      ...(current.metadata.finalizers ?? []),
      ...(wanted && !current.metadata.finalizers?.includes(wanted) ? [wanted] : []),
    ];
    if (finalizers.length > 0) {
      if (
        current.metadata.deletionTimestamp &&
        finalizers.length === (current.metadata.finalizers ?? []).length
      )
        return clone(current);
      const next = clone(current);
      next.metadata.deletionTimestamp ??= this.#iso();
      next.metadata.deletionGracePeriodSeconds ??= 0;
      next.metadata.finalizers = finalizers;
      return this.#mark(info, key, next, opts.dryRun);
    }
    if (opts.dryRun) return clone(current);
    return this.#remove(info, key, current);
  }

  /** Records a deletion in progress (deletionTimestamp, finalizers) as a MODIFIED object. */
  #mark(info: KindInfo, key: string, next: KubeObject, dryRun?: boolean): KubeObject {
    if (dryRun) return next;
    next.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key, clone(next));
    this.#emit('MODIFIED', info, next);
    return clone(next);
  }

  /**
   * Removes an object. Its dependents are the garbage collector's business (background
   * propagation): it deletes them a moment later, when it sees their owner gone.
   */
  #remove(info: KindInfo, key: string, current: KubeObject): KubeObject {
    this.#objects.delete(key);
    const gone = clone(current);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#emit('DELETED', info, gone);
    return gone;
  }

  /** Whether an object of this uid exists (the garbage collector's look at an owner). */
  hasUid(uid: string): boolean {
    return this.#objects.hasUid(uid);
  }

  /** Every object that names `uid` as an owner, whatever its kind (the garbage collector's graph). */
  dependentsOf(uid: string | undefined): KubeObject[] {
    return uid ? this.#objects.ownedBy(uid).map((o) => clone(o)) : [];
  }

  /** Every object in a namespace, of every namespaced kind (what the namespace controller deletes). */
  contentsOf(ns: string): Array<{ info: KindInfo; object: KubeObject }> {
    const out: Array<{ info: KindInfo; object: KubeObject }> = [];
    for (const info of KINDS)
      if (info.namespaced)
        for (const o of this.#objects.ofKind(info))
          if (o.metadata.namespace === ns) out.push({ info, object: clone(o) });
    return out;
  }

  /** The namespace controller's last step: an empty terminating namespace loses its finalizer and goes. */
  finalizeNamespace(name: string): void {
    const info = KINDS.find((k) => k.kind === 'Namespace') as KindInfo;
    const key = this.#key(info, undefined, name);
    const current = this.#objects.get(key);
    if (!current?.metadata.deletionTimestamp || this.contentsOf(name).length > 0) return;
    this.#remove(info, key, current);
  }
}

function strip(obj: KubeObject): unknown {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}
