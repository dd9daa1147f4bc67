import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  KINDS,
  apiVersionOf,
  applyDefaults,
  parseFieldSelector,
  parseLabelSelector,
  validate,
  type KubeList,
  type KubeObject,
  type WatchEvent,
} from '@berth/api';
import { RESOURCE_STORE, type PropagationPolicy, type ResourceStore } from '@berth/store';
import { planApply } from '../apply/apply';
import { MAX_MANAGER_LENGTH, nowRfc3339, recordUpdate, type Subresource } from '../apply/managed-fields';
import { asObject, decodeObjectBody as decode, parseJson, parseYamlOrJson, type PatchType } from './codec';
import { applyPatch } from './patch';
import type { ResourceRoute } from './route';
import { includeObjectOf, toTable, type Table, type TableVersion } from './table';

/** Query parameters the resource verbs understand (all optional strings, as on the wire). */
export interface Query {
  [k: string]: string | undefined;
}

export interface WriteResult {
  code: number;
  body: unknown;
}

const CAS_RETRIES = 5;
const PROPAGATION = ['Orphan', 'Background', 'Foreground'];

/**
 * The verbs of every kind, driven by the kind registry: get, list, watch, create, update, patch
 * (merge, JSON, strategic, apply), delete and the status/scale subresources. Decodes and checks
 * bodies, applies defaults, validates, and talks to the ResourceStore.
 */
@Injectable()
export class ResourceService {
  constructor(@Inject(RESOURCE_STORE) private readonly store: ResourceStore) {}

  async get(r: ResourceRoute): Promise<unknown> {
    const obj = await this.store.get(r.kind, r.namespace, r.name!);
    return r.subresource === 'scale' ? toScale(obj) : obj;
  }

  async list(r: ResourceRoute, q: Query): Promise<KubeList> {
    return JSON.parse(await this.listJson(r, q)) as KubeList;
  }

  /**
   * The list as JSON text. Items go out as the store holds them (listRaw), so a list of 10,000
   * pods is not parsed and serialised again on its way through.
   */
  async listJson(r: ResourceRoute, q: Query): Promise<string> {
    const limit = intParam(q, 'limit', 1);
    checkSelectors(r, q);
    const opts = {
      namespace: r.namespace,
      labelSelector: q.labelSelector || undefined,
      fieldSelector: q.fieldSelector || undefined,
      limit,
      continue: q.continue || undefined,
    };
    const res = this.store.listRaw
      ? await this.store.listRaw(r.kind, opts)
      : await this.store
          .list(r.kind, opts)
          .then((l) => ({ ...l, items: l.items.map((o) => JSON.stringify(o)) }));
    const metadata: KubeList['metadata'] = { resourceVersion: res.resourceVersion };
    if (res.continue) metadata.continue = res.continue;
    if (res.remainingItemCount !== undefined) metadata.remainingItemCount = res.remainingItemCount;
    const head = JSON.stringify({ apiVersion: apiVersionOf(r.kind), kind: r.kind.listKind, metadata });
    return `${head.slice(0, -1)},"items":[${res.items.join(',')}]}`;
  }

  /**
   * GET answered as a meta.k8s.io Table (kubectl get): the Table of the list (with its
   * resourceVersion and continue token) or of the one object named on the route.
   */
  async table(r: ResourceRoute, q: Query, version: TableVersion): Promise<Table> {
    const includeObject = includeObjectOf(q.includeObject);
    if (r.name !== undefined) {
      const o = await this.store.get(r.kind, r.namespace, r.name);
      return toTable(
        r.kind,
        [o],
        { resourceVersion: o.metadata.resourceVersion },
        { version, includeObject },
      );
    }
    const l = await this.list(r, q);
    return toTable(r.kind, l.items, l.metadata, { version, includeObject });
  }

  /** The store's watch stream (the controller writes it out); throws before any event on bad input. */
  watch(
    r: ResourceRoute,
    q: Query,
    bookmarkIntervalMs: number,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent> {
    const bookmarks = q.allowWatchBookmarks === 'true' || q.allowWatchBookmarks === '1';
    if (r.name) {
      // Watching one object: Kubernetes expresses it as a field selector on metadata.name.
      const byName = `metadata.name=${r.name}`;
      q = { ...q, fieldSelector: q.fieldSelector ? `${q.fieldSelector},${byName}` : byName };
    }
    checkSelectors(r, q);
    return this.store.watch(
      r.kind,
      {
        namespace: r.namespace,
        labelSelector: q.labelSelector || undefined,
        fieldSelector: q.fieldSelector || undefined,
        resourceVersion: q.resourceVersion || undefined,
        bookmarkIntervalMs: bookmarks ? bookmarkIntervalMs : undefined,
      },
      signal,
    );
  }

  async create(
    r: ResourceRoute,
    raw: Buffer | undefined,
    contentType: string | undefined,
    q: Query,
  ): Promise<WriteResult> {
    if (r.kind.namespaced && !r.namespace) {
      throw new ApiError(
        'MethodNotAllowed',
        `create ${r.kind.resource} under /namespaces/{namespace}/${r.kind.resource}`,
      );
    }
    // The store refuses objects in a missing or terminating namespace (404 / 403).
    const obj = this.prepare(r, decode(raw, contentType));
    const manager = fieldManagerOf(q, 'CreateOptions');
    setManaged(obj, recordUpdate({ ...this.ownership(r, manager), cur: undefined, next: obj }));
    const created = await this.store.create(r.kind, obj, { dryRun: dryRun(q) });
    return { code: 201, body: created };
  }

  async update(
    r: ResourceRoute,
    raw: Buffer | undefined,
    contentType: string | undefined,
    q: Query,
  ): Promise<WriteResult> {
    const body = decode(raw, contentType);
    const manager = fieldManagerOf(q, 'UpdateOptions');
    if (r.subresource === 'scale') return this.writeScale(r, body, q, manager);
    const obj = r.subresource === 'status' ? this.prepareStatus(r, body) : this.prepare(r, body);
    const updated = await this.store.update(r.kind, obj, {
      dryRun: dryRun(q),
      subresource: r.subresource === 'status' ? 'status' : undefined,
      managedFields: this.tracker(r, manager),
    });
    return { code: 200, body: updated };
  }

  async patch(r: ResourceRoute, type: PatchType, raw: Buffer | undefined, q: Query): Promise<WriteResult> {
    if (type === 'apply') {
      if (r.subresource)
        throw new ApiError('MethodNotAllowed', `apply is not supported on the ${r.subresource} subresource`);
      return this.apply(r, raw, q);
    }
    if (q.force !== undefined && q.force !== '')
      throw ApiError.invalid('PatchOptions', '', [
        {
          reason: 'FieldValueForbidden',
          field: 'force',
          message: 'may not be specified for non-apply patch',
        },
      ]);
    const manager = fieldManagerOf(q);
    const patch = parseJson(raw);
    for (let attempt = 0; ; attempt++) {
      const live = await this.store.get(r.kind, r.namespace, r.name!);
      if (r.subresource === 'scale') {
        const scale = applyPatch(toScale(live) as unknown as KubeObject, type, patch);
        // Pinned only when the patch itself set a different resourceVersion.
        if (scale.metadata?.resourceVersion === live.metadata.resourceVersion)
          delete scale.metadata.resourceVersion;
        return this.writeScale(r, scale as unknown as Record<string, unknown>, q, manager, live);
      }
      const patched = applyPatch(live, type, patch);
      const pinned = patched.metadata?.resourceVersion !== live.metadata.resourceVersion;
      const obj =
        r.subresource === 'status'
          ? this.prepareStatus(r, patched as unknown as Record<string, unknown>)
          : this.prepare(r, patched as unknown as Record<string, unknown>);
      if (!pinned) obj.metadata.resourceVersion = live.metadata.resourceVersion;
      try {
        const updated = await this.store.update(r.kind, obj, {
          dryRun: dryRun(q),
          subresource: r.subresource === 'status' ? 'status' : undefined,
          managedFields: this.tracker(r, manager),
        });
        return { code: 200, body: updated };
      } catch (e) {
        // A patch without its own resourceVersion applies to whatever is current: retry.
        if (!pinned && isConflict(e) && attempt < CAS_RETRIES) continue;
        throw e;
      }
    }
  }

  async delete(r: ResourceRoute, raw: Buffer | undefined, q: Query): Promise<WriteResult> {
    let opts: Record<string, unknown> = {};
    if (raw && raw.length) opts = asObject(parseJson(raw));
    const policy = (q.propagationPolicy ?? opts.propagationPolicy) as string | undefined;
    if (policy !== undefined && !PROPAGATION.includes(policy)) {
      throw new ApiError(
        'BadRequest',
        `propagationPolicy ${JSON.stringify(policy)} is not one of ${PROPAGATION.join(', ')}`,
      );
    }
    const pre = preconditions(opts.preconditions);
    const dry = dryRun(q) || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All'));
    // orphanDependents is the deprecated boolean form of the policy (kubectl still sends it).
    const orphan = q.orphanDependents ?? opts.orphanDependents;
    const propagationPolicy = (policy ?? (orphan === true || orphan === 'true' ? 'Orphan' : undefined)) as
      PropagationPolicy | undefined;
    const obj = await this.store.delete(r.kind, r.namespace, r.name!, {
      dryRun: dry,
      preconditions: pre,
      propagationPolicy,
    });
    return { code: 200, body: obj };
  }

  private async apply(r: ResourceRoute, raw: Buffer | undefined, q: Query): Promise<WriteResult> {
    if (!q.fieldManager) {
      // As Kubernetes: PatchOptions validation, 422 naming the parameter.
      throw ApiError.invalid('PatchOptions', '', [
        { reason: 'FieldValueRequired', field: 'fieldManager', message: 'is required for apply patch' },
      ]);
    }
    const manager = fieldManagerOf(q);
    const force = boolParam(q, 'force');
    const config = this.checkIdentity(r, asObject(parseYamlOrJson(raw)));
    const dry = dryRun(q);
    for (let attempt = 0; ; attempt++) {
      let live: KubeObject | undefined;
      try {
        live = await this.store.get(r.kind, r.namespace, r.name!);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
      // Berth kept each manager's last-applied configuration before managedFields: migrate it.
      const hasApplyEntry = (
        live?.metadata.managedFields as { manager?: string; operation?: string }[] | undefined
      )?.some((m) => m?.manager === manager && m?.operation === 'Apply');
      const legacy =
        live && !hasApplyEntry && this.store.listApplied
          ? await this.store.listApplied(r.kind, r.namespace, r.name!)
          : undefined;
      const plan = planApply({
        config,
        live,
        manager,
        force,
        kind: { kind: r.kind.kind, apiVersion: apiVersionOf(r.kind), hasStatus: r.kind.hasStatus },
        legacy,
        prepare: (o) => this.prepare(r, o as unknown as Record<string, unknown>),
        now: nowRfc3339(),
      });
      try {
        if (plan.action === 'unchanged') return { code: 200, body: plan.object };
        if (plan.action === 'create') {
          return { code: 201, body: await this.store.create(r.kind, plan.object, { dryRun: dry }) };
        }
        const dropApplied = plan.migrated || (legacy !== undefined && legacy.length > 0);
        return {
          code: 200,
          body: await this.store.update(r.kind, plan.object, { dryRun: dry, dropApplied }),
        };
      } catch (e) {
        const raced = isConflict(e) || (e instanceof ApiError && e.reason === 'AlreadyExists');
        if (raced && attempt < CAS_RETRIES) continue;
        throw e;
      }
    }
  }

  /** What a write records in managedFields for `manager` on this route. */
  private ownership(r: ResourceRoute, manager: string) {
    return {
      manager,
      subresource: (r.subresource === 'status' || r.subresource === 'scale' ? r.subresource : undefined) as
        Subresource | undefined,
      hasStatus: r.kind.hasStatus,
      apiVersion: apiVersionOf(r.kind),
      now: nowRfc3339(),
    };
  }

  /**
   * The store hook that records an update's field ownership (see recordUpdate). Not for /status
   * writes: Kubernetes records them (manager "kubelet", subresource status), but in Berth status
   * ownership has no effect (apply ignores status and is refused on /status), and recording it made
   * every pod an agent reports on twice as large (bench/scale: control-plane CPU per pod 1.48 →
   * 1.99 ms). The object's managedFields stay as they were.
   */
  private tracker(r: ResourceRoute, manager: string) {
    if (r.subresource === 'status') return undefined;
    const own = this.ownership(r, manager);
    return (cur: KubeObject, next: KubeObject) => recordUpdate({ ...own, cur, next });
  }

  private async writeScale(
    r: ResourceRoute,
    body: Record<string, unknown>,
    q: Query,
    manager: string,
    live?: KubeObject,
  ): Promise<WriteResult> {
    if (body.kind !== undefined && body.kind !== 'Scale')
      throw new ApiError('BadRequest', `kind must be Scale, not ${JSON.stringify(body.kind)}`);
    const spec = body.spec as Record<string, unknown> | undefined;
    const replicas = spec?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw ApiError.invalid('Scale', r.name!, [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.replicas',
          message: 'must be a whole number greater than or equal to 0',
        },
      ]);
    }
    const meta = (body.metadata ?? {}) as Record<string, unknown>;
    if (meta.name !== undefined && meta.name !== r.name) {
      throw new ApiError(
        'BadRequest',
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${r.name})`,
      );
    }
    // A Scale with a resourceVersion is a compare-and-swap; without one it applies to the latest.
    const pinned =
      typeof meta.resourceVersion === 'string' && meta.resourceVersion ? meta.resourceVersion : undefined;
    for (let attempt = 0; ; attempt++) {
      const current = attempt === 0 && live ? live : await this.store.get(r.kind, r.namespace, r.name!);
      const next = structuredClone(current);
      next.spec = { ...(next.spec ?? {}), replicas };
      next.metadata.resourceVersion = pinned ?? current.metadata.resourceVersion;
      try {
        const updated = await this.store.update(r.kind, next, {
          dryRun: dryRun(q),
          managedFields: this.tracker({ ...r, subresource: 'scale' }, manager),
        });
        return { code: 200, body: toScale(updated) };
      } catch (e) {
        if (!pinned && isConflict(e) && attempt < CAS_RETRIES) continue;
        throw e;
      }
    }
  }

  /**
   * Makes a decoded body a storable object for this route: apiVersion/kind must match the URL,
   * namespace defaults from the URL (a different one is 400), name must match the URL,
   * then defaults and validation (422 with causes).
   */
  prepare(r: ResourceRoute, body: Record<string, unknown>): KubeObject {
    const obj = applyDefaults(this.checkIdentity(r, body));
    // Kubernetes creates every namespace Active (updates keep the stored status).
    if (obj.kind === 'Namespace')
      obj.status = { ...(obj.status ?? {}), phase: obj.status?.phase ?? 'Active' };
    const causes = validate(obj);
    if (causes.length) throw ApiError.invalid(r.kind.kind, displayName(obj), causes);
    return obj;
  }

  /**
   * For the status subresource: the store takes only .status from the body (spec and metadata
   * stay as stored, already valid), so only identity and the shape of .status are checked.
   * (Validating the whole pod for each of its status writes was an eighth of the control plane's
   * CPU in bench/scale.)
   */
  prepareStatus(r: ResourceRoute, body: Record<string, unknown>): KubeObject {
    const obj = this.checkIdentity(r, body);
    const st = (obj as { status?: unknown }).status;
    if (st !== undefined && (st === null || typeof st !== 'object' || Array.isArray(st))) {
      throw ApiError.invalid(r.kind.kind, displayName(obj), [
        {
          reason: 'FieldValueTypeInvalid',
          field: 'status',
          message: `must be an object, not ${JSON.stringify(st)}`,
        },
      ]);
    }
    return obj;
  }

  private checkIdentity(r: ResourceRoute, body: Record<string, unknown>): KubeObject {
    const want = apiVersionOf(r.kind);
    if (body.apiVersion === undefined) body.apiVersion = want;
    if (body.kind === undefined) body.kind = r.kind.kind;
    if (body.apiVersion !== want || body.kind !== r.kind.kind) {
      throw new ApiError(
        'BadRequest',
        `the object's apiVersion/kind (${String(body.apiVersion)}/${String(body.kind)}) does not match the URL (${want}/${r.kind.kind})`,
      );
    }
    if (body.metadata === undefined) body.metadata = {};
    const meta = body.metadata as Record<string, unknown>;
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
      throw ApiError.invalid(r.kind.kind, '', [
        { reason: 'FieldValueTypeInvalid', field: 'metadata', message: 'must be an object' },
      ]);
    }
    if (r.kind.namespaced) {
      if (meta.namespace === undefined || meta.namespace === '') meta.namespace = r.namespace;
      else if (r.namespace !== undefined && meta.namespace !== r.namespace) {
        throw new ApiError(
          'BadRequest',
          `the namespace of the provided object (${String(meta.namespace)}) does not match the namespace sent on the request (${r.namespace})`,
        );
      }
    } else if (meta.namespace !== undefined) {
      delete meta.namespace;
    }
    if (r.name !== undefined) {
      if (meta.name === undefined || meta.name === '') meta.name = r.name;
      else if (meta.name !== r.name) {
        throw new ApiError(
          'BadRequest',
          `the name of the object (${String(meta.name)}) does not match the name on the URL (${r.name})`,
        );
      }
    }
    return body as unknown as KubeObject;
  }

  /** Creates the namespaces every cluster has (default, kube-system) when absent. */
  async ensureNamespaces(names: string[]): Promise<void> {
    const nsKind = KINDS.find((k) => k.kind === 'Namespace')!;
    for (const name of names) {
      try {
        await this.store.get(nsKind, undefined, name);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
        const obj = this.prepare(
          { type: 'resource', kind: nsKind, name },
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
        );
        try {
          await this.store.create(nsKind, obj);
        } catch (err) {
          if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
        }
      }
    }
  }
}

function preconditions(v: unknown): { uid?: string; resourceVersion?: string } | undefined {
  if (v === undefined || v === null) return undefined;
  const ok =
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.entries(v).every(([k, x]) => (k === 'uid' || k === 'resourceVersion') && typeof x === 'string');
  if (!ok)
    throw new ApiError(
      'BadRequest',
      'preconditions must be an object with string uid and/or resourceVersion',
    );
  return v as { uid?: string; resourceVersion?: string };
}

function displayName(o: KubeObject): string {
  const m = o.metadata as { name?: unknown; generateName?: unknown } | undefined;
  const n = m?.name ?? m?.generateName;
  return typeof n === 'string' ? n : '';
}

/** Bad selectors are 400 before anything is read (and before a watch sends its headers). */
function checkSelectors(r: ResourceRoute, q: Query): void {
  if (q.labelSelector) parseLabelSelector(q.labelSelector);
  if (q.fieldSelector) parseFieldSelector(q.fieldSelector, r.kind.kind);
}

function setManaged(o: KubeObject, mf: unknown[] | undefined): void {
  if (mf && mf.length) o.metadata.managedFields = mf;
  else delete o.metadata.managedFields;
}

/**
 * The field manager of a write: the fieldManager parameter (at most 128 printable characters),
 * else as Kubernetes derives it, the User-Agent up to its first "/" (e.g. `kubectl`, `berthctl`).
 */
export function fieldManagerOf(q: Query, options = 'PatchOptions'): string {
  const given = q.fieldManager;
  if (given) {
    const bad =
      given.length > MAX_MANAGER_LENGTH
        ? `must be at most ${MAX_MANAGER_LENGTH} characters`
        : /[\p{C}]/u.test(given)
          ? 'must contain only printable characters'
          : undefined;
    if (bad)
      throw ApiError.invalid(options, '', [
        { reason: 'FieldValueInvalid', field: 'fieldManager', message: bad },
      ]);
    return given;
  }
  const ua = (q.userAgent ?? '')
    .split('/')[0]
    .replace(/[\p{C}]/gu, '')
    .slice(0, MAX_MANAGER_LENGTH);
  return ua || 'unknown';
}

function boolParam(q: Query, name: string): boolean {
  const v = q[name];
  // strconv.ParseBool's spellings, as Kubernetes parses query booleans.
  if (v === undefined || v === '' || ['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  throw new ApiError('BadRequest', `${name} must be true or false, not ${JSON.stringify(v)}`);
}

function dryRun(q: Query): boolean {
  const v = q.dryRun;
  if (v === undefined || v === '') return false;
  if (v === 'All') return true;
  throw new ApiError('BadRequest', `dryRun ${JSON.stringify(v)} is not supported; use dryRun=All`);
}

function intParam(q: Query, name: string, min: number): number | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new ApiError('BadRequest', `${name} must be a whole number >= ${min}, not ${JSON.stringify(v)}`);
  return Number(v);
}

function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.reason === 'Conflict';
}

/** The autoscaling/v1 Scale view of an object with spec.replicas. */
export function toScale(obj: KubeObject): Record<string, unknown> {
  const matchLabels = (obj.spec?.selector?.matchLabels ?? {}) as Record<string, string>;
  const selector = Object.entries(matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const m = obj.metadata;
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: { replicas: obj.spec?.replicas ?? 0 },
    status: { replicas: obj.status?.replicas ?? 0, selector },
  };
}
