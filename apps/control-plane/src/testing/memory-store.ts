import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  matchFields,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
  type KindInfo,
  type KubeObject,
  type WatchEvent,
} from '@berth/api';
import type {
  CreateOptions,
  DeleteOptions,
  ListOptions,
  ListResult,
  ResourceStore,
  UpdateOptions,
  WatchOptions,
} from '@berth/store';

interface Change {
  rev: number;
  resource: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

/**
 * An in-memory ResourceStore for unit specs of the HTTP layer (never used by the server). Follows
 * the contract in libs/store/src/types.ts closely enough: CAS, generation, status subresource,
 * applied configs, watch from a revision, Gone below `oldestRev`, `down` to simulate an outage.
 */
export class MemoryStore implements ResourceStore {
  rev = 0;
  oldestRev = 0;
  down = false;
  private objects = new Map<string, KubeObject>();
  private applied = new Map<string, Map<string, KubeObject>>();
  private log: Change[] = [];
  private events = new EventEmitter();

  private key(kind: KindInfo, ns: string | undefined, name: string): string {
    return `${kind.resource}|${kind.namespaced ? (ns ?? '') : ''}/${name}`;
  }

  private check(): void {
    if (this.down) throw new ApiError('ServiceUnavailable', 'storage is unavailable (fake)');
  }

  private record(kind: KindInfo, type: Change['type'], object: KubeObject): void {
    const c = { rev: this.rev, resource: kind.resource, type, object: structuredClone(object) };
    this.log.push(c);
    this.events.emit('change', c);
  }

  async create(kind: KindInfo, obj: KubeObject, opts: CreateOptions = {}): Promise<KubeObject> {
    this.check();
    const o = structuredClone(obj);
    if (!o.metadata.name && o.metadata.generateName)
      o.metadata.name = o.metadata.generateName + randomUUID().slice(0, 5);
    const k = this.key(kind, o.metadata.namespace, o.metadata.name!);
    if (this.objects.has(k)) throw ApiError.alreadyExists(kind.kind, o.metadata.name!, kind.group);
    const rev = opts.dryRun ? this.rev : ++this.rev;
    o.metadata = {
      ...o.metadata,
      uid: randomUUID(),
      resourceVersion: String(rev),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
    };
    if (opts.dryRun) return o;
    this.objects.set(k, o);
    if (opts.applied)
      this.applied.set(k, new Map([[opts.applied.manager, structuredClone(opts.applied.config)]]));
    this.record(kind, 'ADDED', o);
    return structuredClone(o);
  }

  async get(kind: KindInfo, ns: string | undefined, name: string): Promise<KubeObject> {
    this.check();
    const o = this.objects.get(this.key(kind, ns, name));
    if (!o) throw ApiError.notFound(kind.kind, name, kind.group);
    return structuredClone(o);
  }

  async list(kind: KindInfo, opts: ListOptions = {}): Promise<ListResult> {
    this.check();
    const ls = opts.labelSelector ? parseLabelSelector(opts.labelSelector) : undefined;
    const fs = opts.fieldSelector ? parseFieldSelector(opts.fieldSelector, kind.kind) : undefined;
    const items = [...this.objects.entries()]
      .filter(([k]) => k.startsWith(kind.resource + '|'))
      .map(([, o]) => o)
      .filter((o) => !opts.namespace || o.metadata.namespace === opts.namespace)
      .filter((o) => !ls || matchLabels(ls, o.metadata.labels))
      .filter((o) => !fs || matchFields(fs, o))
      .map((o) => structuredClone(o));
    return { items, resourceVersion: String(this.rev) };
  }

  async update(kind: KindInfo, obj: KubeObject, opts: UpdateOptions = {}): Promise<KubeObject> {
    this.check();
    const k = this.key(kind, obj.metadata.namespace, obj.metadata.name!);
    const cur = this.objects.get(k);
    if (!cur) throw ApiError.notFound(kind.kind, obj.metadata.name!, kind.group);
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== cur.metadata.resourceVersion) {
      throw ApiError.conflict(
        kind.kind,
        obj.metadata.name!,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    let next: KubeObject;
    if (opts.subresource === 'status')
      next = { ...structuredClone(cur), status: structuredClone(obj.status) };
    else {
      next = structuredClone(obj);
      if (kind.hasStatus) next.status = structuredClone(cur.status);
      if (next.status === undefined) delete next.status;
    }
    const keep = cur.metadata;
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(cur.spec);
    next.metadata = {
      ...next.metadata,
      uid: keep.uid,
      creationTimestamp: keep.creationTimestamp,
      generation: (keep.generation ?? 1) + (specChanged && opts.subresource !== 'status' ? 1 : 0),
      resourceVersion: String(opts.dryRun ? this.rev : ++this.rev),
    };
    if (opts.managedFields) {
      const mf = opts.managedFields(structuredClone(cur), next);
      if (mf && mf.length) next.metadata.managedFields = mf;
      else delete next.metadata.managedFields;
    }
    if (opts.dryRun) return next;
    this.objects.set(k, next);
    if (opts.dropApplied) this.applied.delete(k);
    if (opts.applied) {
      const m = this.applied.get(k) ?? new Map<string, KubeObject>();
      m.set(opts.applied.manager, structuredClone(opts.applied.config));
      this.applied.set(k, m);
    }
    this.record(kind, 'MODIFIED', next);
    return structuredClone(next);
  }

  async delete(
    kind: KindInfo,
    ns: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<KubeObject> {
    this.check();
    const k = this.key(kind, ns, name);
    const cur = this.objects.get(k);
    if (!cur) throw ApiError.notFound(kind.kind, name, kind.group);
    if (opts.dryRun) return structuredClone(cur);
    this.objects.delete(k);
    this.applied.delete(k);
    cur.metadata.resourceVersion = String(++this.rev);
    this.record(kind, 'DELETED', cur);
    return structuredClone(cur);
  }

  async *watch(kind: KindInfo, opts: WatchOptions, signal: AbortSignal): AsyncIterable<WatchEvent> {
    this.check();
    const from =
      opts.resourceVersion && opts.resourceVersion !== '0' ? Number(opts.resourceVersion) : undefined;
    if (from !== undefined && from < this.oldestRev)
      throw new ApiError('Gone', `too old resource version: ${from} (${this.oldestRev})`);
    const queue: WatchEvent[] = [];
    let wake: (() => void) | undefined;
    const want = (o: KubeObject): boolean => !opts.namespace || o.metadata.namespace === opts.namespace;
    const onChange = (c: Change): void => {
      if (c.resource !== kind.resource || !want(c.object)) return;
      queue.push({ type: c.type, object: structuredClone(c.object) });
      wake?.();
    };
    if (from === undefined) {
      for (const o of (await this.list(kind, { namespace: opts.namespace })).items)
        queue.push({ type: 'ADDED', object: o });
    } else {
      for (const c of this.log) if (c.rev > from) onChange(c);
    }
    this.events.on('change', onChange);
    const onAbort = (): void => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.events.off('change', onChange);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async getApplied(
    kind: KindInfo,
    ns: string | undefined,
    name: string,
    manager: string,
  ): Promise<KubeObject | undefined> {
    this.check();
    const c = this.applied.get(this.key(kind, ns, name))?.get(manager);
    return c ? structuredClone(c) : undefined;
  }

  async listApplied(kind: KindInfo, ns: string | undefined, name: string) {
    this.check();
    const m = this.applied.get(this.key(kind, ns, name));
    return [...(m ?? new Map<string, KubeObject>())].map(([manager, config]) => ({
      manager,
      config: structuredClone(config),
    }));
  }

  async currentRevision(): Promise<string> {
    return String(this.rev);
  }

  async ping(): Promise<boolean> {
    return !this.down;
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}
