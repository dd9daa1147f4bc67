import type { KindInfo, KubeObject, WatchEvent } from '@berth/api';

/**
 * What an informer's source yields: a SYNC with the complete current list (first, and again after
 * every relist), then the watch events after it. @berth/client's listAndWatch has this shape; the
 * control plane builds one over its store.
 */
export type SourceEvent<T extends KubeObject = KubeObject> =
  { type: 'SYNC'; items: T[]; resourceVersion: string } | WatchEvent<T>;

export type InformerSource<T extends KubeObject = KubeObject> = (
  signal: AbortSignal,
) => AsyncIterable<SourceEvent<T>>;

export interface InformerHandler<T extends KubeObject = KubeObject> {
  add?(obj: T): void;
  /** Only called when the resourceVersion changed. */
  update?(old: T, cur: T): void;
  delete?(obj: T): void;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key controllers queue. */
export function objectKey(o: KubeObject): string {
  const ns = o.metadata?.namespace;
  return ns ? `${ns}/${o.metadata.name}` : (o.metadata.name as string);
}

/** Splits a key made by objectKey. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The index every informer keeps: owner uid → objects whose ownerReferences name it. */
export const BY_OWNER = 'owner';

type IndexFn<T> = (o: T) => string[];

/**
 * A cache of one kind kept current by a list+watch source, with secondary indexes and event
 * handlers (client-go's shared informer, reduced). Objects in the cache are shared: never mutate
 * one, copy it first. Handlers only enqueue keys; they run synchronously in event order.
 */
export class Informer<T extends KubeObject = KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, { fn: IndexFn<T>; map: Map<string, Set<string>> }>();
  private readonly handlers = new Set<InformerHandler<T>>();
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private running?: Promise<void>;
  /** The resourceVersion of the last list or event applied. */
  lastResourceVersion = '';

  constructor(
    readonly kind: KindInfo,
    private readonly source: InformerSource<T>,
  ) {
    this.addIndex(BY_OWNER, (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid));
  }

  /** Adds a secondary index; call before run(). */
  addIndex(name: string, fn: IndexFn<T>): void {
    if (this.indexers.has(name)) return;
    const map = new Map<string, Set<string>>();
    this.indexers.set(name, { fn, map });
    for (const [k, o] of this.items) for (const v of fn(o)) addTo(map, v, k);
  }

  byIndex(name: string, value: string): T[] {
    const ix = this.indexers.get(name);
    if (!ix) throw new Error(`informer ${this.kind.resource}: no index ${name}`);
    const keys = ix.map.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) {
      const o = this.items.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): T[] {
    const all = [...this.items.values()];
    return namespace ? all.filter((o) => o.metadata.namespace === namespace) : all;
  }

  get size(): number {
    return this.items.size;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list is in the cache. */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  /** Registers handlers; returns a function that removes them. */
  addHandler(h: InformerHandler<T>): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  /** Starts the source once (later calls return the same promise); runs until signal aborts. */
  run(signal: AbortSignal): Promise<void> {
    this.running ??= this.loop(signal);
    return this.running;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    for await (const ev of this.source(signal)) {
      if (signal.aborted) break;
      this.apply(ev);
    }
  }

  /** Applies one source event to the cache and calls the handlers (exposed for tests). */
  apply(ev: SourceEvent<T>): void {
    if (ev.type === 'SYNC') {
      const fresh = new Map<string, T>();
      for (const o of ev.items) fresh.set(objectKey(o), o);
      for (const [k, old] of [...this.items]) {
        if (!fresh.has(k)) this.remove(k, old);
      }
      for (const [k, o] of fresh) this.upsert(k, o);
      this.lastResourceVersion = ev.resourceVersion;
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters.splice(0)) w();
      }
      return;
    }
    if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return;
    const o = ev.object;
    if (!o?.metadata?.name) return;
    const k = objectKey(o);
    if (o.metadata.resourceVersion) this.lastResourceVersion = o.metadata.resourceVersion;
    if (ev.type === 'DELETED') {
      const old = this.items.get(k);
      if (old && old.metadata.uid === o.metadata.uid) this.remove(k, o);
      else if (!old) for (const h of this.handlers) h.delete?.(o);
      return;
    }
    const old = this.items.get(k);
    if (
      old &&
      old.metadata.uid === o.metadata.uid &&
      Number(old.metadata.resourceVersion) >= Number(o.metadata.resourceVersion)
    )
      return;
    this.upsert(k, o);
  }

  private upsert(k: string, o: T): void {
    const old = this.items.get(k);
    if (old && old.metadata.resourceVersion === o.metadata.resourceVersion) return;
    if (old && old.metadata.uid !== o.metadata.uid) {
      // Deleted and recreated while we were not watching: report both.
      this.remove(k, old);
      return this.upsert(k, o);
    }
    this.items.set(k, o);
    for (const { fn, map } of this.indexers.values()) {
      if (old) for (const v of fn(old)) map.get(v)?.delete(k);
      for (const v of fn(o)) addTo(map, v, k);
    }
    for (const h of this.handlers) {
      if (old) h.update?.(old, o);
      else h.add?.(o);
    }
  }

  private remove(k: string, last: T): void {
    const old = this.items.get(k);
    this.items.delete(k);
    if (old) {
      for (const { fn, map } of this.indexers.values()) {
        for (const v of fn(old)) {
          const s = map.get(v);
          s?.delete(k);
          if (s && !s.size) map.delete(v);
        }
      }
    }
    for (const h of this.handlers) h.delete?.(last);
  }
}

function addTo(map: Map<string, Set<string>>, v: string, k: string): void {
  let s = map.get(v);
  if (!s) map.set(v, (s = new Set()));
  s.add(k);
}
