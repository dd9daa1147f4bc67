import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import {
  ApiError,
  formatCause,
  kindFor,
  type KindInfo,
  type KubeObject,
  type LabelSelector,
} from '@berth/api';
import { listAndWatch, type BerthClient } from '@berth/client';
import { EventRecorder, Informer, WorkQueue, type EventType } from '@berth/controllers';
import { applyObject, type ApplyVerb } from './apply';
import { describeDrift, driftOf } from './drift';
import { isManifestFile } from './files';
import {
  InventoryStore,
  INVENTORY_NAMESPACE,
  SYNC_FILE_ANNOTATION,
  SYNC_LABEL,
  type SyncStatus,
} from './inventory';
import { entryOf, planSync, refKey, type InventoryEntry, type SourceObject } from './plan';
import { contentRevision, gitHead } from './revision';
import { locationOf, SourceMissingError, SourceReader, type Source } from './source';

export type SyncLog = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export interface SyncerOptions {
  client: BerthClient;
  /** The directory of manifests (usually a git checkout). */
  dir: string;
  /** The sync's name: labels its objects, names its inventory. See defaultSyncName. */
  name: string;
  /** Delete objects whose manifests left the directory. */
  prune: boolean;
  /** Server-side dry run: report what would be applied and pruned; write nothing. */
  dryRun?: boolean;
  /** Let a pass prune every object (the directory has no objects left). */
  allowEmpty?: boolean;
  /** Namespace for namespaced objects that name none; default "default". */
  namespace?: string;
  /** An explicit -n: objects naming another namespace are errors. */
  namespaceFlag?: string;
  /** Only objects whose labels match are synced. */
  selector?: LabelSelector;
  /** Read subdirectories; default true. */
  recursive?: boolean;
  /** Applies in flight at once within one ordering group; default 8. */
  concurrency?: number;
  /** Quiet time after the last file change before a pass; default 100 ms. */
  debounceMs?: number;
  /** Who runs it (shown in the status): `berthctl`, `control-plane`. */
  runner?: string;
  /** In watch mode, a vanished directory ends watch() with an error (true) or is waited for (false). */
  stopWhenDirectoryVanishes?: boolean;
  log?: SyncLog;
  /** Called after every pass (and every drift correction with its result). */
  onPass?: (r: PassResult) => void;
  onDrift?: (d: DriftCorrection) => void;
}

export interface AppliedObject {
  entry: InventoryEntry;
  verb: ApplyVerb;
}

export interface FailedObject {
  entry?: InventoryEntry;
  file: string;
  /** `file:line:col: kind/name: message` */
  error: string;
}

export interface PrunedObject {
  entry: InventoryEntry;
  /** pruned: deleted now; gone: was already deleted; kept: no longer carries this sync's label. */
  outcome: 'pruned' | 'gone' | 'kept';
}

export interface PassResult {
  revision: string;
  dryRun: boolean;
  applied: AppliedObject[];
  pruned: PrunedObject[];
  failed: FailedObject[];
  held: InventoryEntry[];
  /** Errors of broken files (file:line:col) and of objects, in order. */
  errors: string[];
  /** Set when the pass did nothing at all (a vanished directory, an empty source without allowEmpty). */
  stalled?: string;
  status: SyncStatus;
  durationMs: number;
}

export interface DriftCorrection {
  entry: InventoryEntry;
  /** recreated: it had been deleted; corrected: fields the file sets had been changed. */
  action: 'recreated' | 'corrected';
  message: string;
}

/** A name usable as a sync's name (a label value and part of a ConfigMap name). */
export function validSyncName(name: string): string | undefined {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
    return `the sync name ${JSON.stringify(name)} must be lowercase letters, digits and '-', starting and ending with a letter or digit`;
  if (name.length > 52) return `the sync name ${JSON.stringify(name)} is longer than 52 characters`;
  return undefined;
}

/** The directory's base name made into a sync name (`My Manifests` → `my-manifests`). */
export function defaultSyncName(dir: string): string {
  const base = path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 52)
    .replace(/-+$/, '');
  return base || 'root';
}

type Lock = <T>(fn: () => Promise<T>) => Promise<T>;

function mutex(): Lock {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

const RANK = ['Namespace', 'ConfigMap', 'Secret'];
const rankOf = (kind: string) => (RANK.includes(kind) ? RANK.indexOf(kind) : RANK.length);

function kindOfEntry(e: { apiVersion: string; kind: string }): KindInfo | undefined {
  return kindFor(e.apiVersion, e.kind);
}

function label(e: InventoryEntry): string {
  const k = kindOfEntry(e);
  const kind = k ? (k.group ? `${k.singular}.${k.group}` : k.singular) : e.kind.toLowerCase();
  return `${kind}/${e.namespace ? `${e.namespace}/` : ''}${e.name}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Keeps a cluster in step with a directory of manifests (GitOps). A pass reads the directory
 * (re-parsing only changed files), plans against the sync's inventory (planSync), applies in order
 * (Namespaces, ConfigMaps, Secrets, then the rest) with server-side apply as field manager
 * `berth-sync-NAME`, marking each object with the sync's label and its file's annotation, prunes
 * what left the directory (reverse order; only inventory objects that still carry the label) and
 * records inventory and status in kube-system/berth-sync-NAME. In watch mode, file changes are
 * debounced into passes, and an informer per kind over the sync's label puts back objects that
 * someone else changed (only fields the file sets) or deleted, with an Event each time.
 */
export class Syncer {
  readonly name: string;
  readonly fieldManager: string;
  private readonly reader: SourceReader;
  private readonly inventory: InventoryStore;
  private readonly lock = mutex();
  private readonly log: SyncLog;
  private readonly events: EventRecorder;
  /** The inventory as last recorded (loaded on the first pass). */
  private entries?: InventoryEntry[];
  private status?: SyncStatus;
  private inventoryObject?: KubeObject;
  /** What the file says, for every object of the inventory whose file was good at least once. */
  private readonly desired = new Map<string, { object: KubeObject; entry: InventoryEntry }>();
  /**
   * Digest of the desired object last applied successfully (kept in the inventory, so a new
   * process knows it too): an object whose file did not change and whose live state shows no
   * drift is not sent again.
   */
  private readonly appliedHash = new Map<string, string>();
  /** Live objects listed for this pass (kind × namespace lists instead of a GET per object). */
  private listed = new Map<string, KubeObject | null>();
  /** The resourceVersion of this sync's own last write of each object. */
  private readonly written = new Map<string, string>();
  private readonly informers = new Map<string, Informer>();
  private informerAbort?: AbortController;
  private queue?: WorkQueue;
  private realDir?: string;

  constructor(private readonly o: SyncerOptions) {
    const bad = validSyncName(o.name);
    if (bad) throw new Error(bad);
    this.name = o.name;
    this.fieldManager = `berth-sync-${o.name}`;
    this.reader = new SourceReader(o.dir, {
      namespace: o.namespace ?? 'default',
      namespaceFlag: o.namespaceFlag,
      selector: o.selector,
      recursive: o.recursive ?? true,
    });
    this.inventory = new InventoryStore(o.client, o.name, this.fieldManager);
    this.log = o.log ?? (() => undefined);
    this.events = new EventRecorder(
      { create: (ev) => o.client.create(ev), update: (ev) => o.client.update(ev) },
      {
        component: 'berth-sync',
        host: o.runner,
        onError: (m, e) => this.log('warn', m, { err: messageOf(e) }),
      },
    );
  }

  /** One pass over the directory. Never throws for bad files or refused objects (see the result). */
  pass(): Promise<PassResult> {
    return this.lock(async () => {
      try {
        return await this.doPass();
      } finally {
        this.listed = new Map(); // a snapshot for one pass only
      }
    });
  }

  private async doPass(): Promise<PassResult> {
    const started = Date.now();
    const dryRun = !!this.o.dryRun;
    const result: PassResult = {
      revision: '',
      dryRun,
      applied: [],
      pruned: [],
      failed: [],
      held: [],
      errors: [],
      status: undefined as unknown as SyncStatus,
      durationMs: 0,
    };
    if (!this.entries) {
      const rec = await this.inventory.load();
      this.entries = rec.entries;
      for (const e of rec.entries) if (e.hash) this.appliedHash.set(refKey(e), e.hash);
      this.status = rec.status;
      this.inventoryObject = rec.object;
    }
    const realDir = await fs.realpath(this.o.dir).catch(() => path.resolve(this.o.dir));
    if (this.status?.directory && this.status.directory !== realDir && this.entries.length) {
      // Nothing is written: the inventory belongs to the other directory's sync.
      throw new Error(
        `the sync ${JSON.stringify(this.name)} already syncs ${this.status.directory} ` +
          `(its inventory is ${INVENTORY_NAMESPACE}/${this.inventory.name}); give ${this.o.dir} another ` +
          "name with --name so neither prunes the other's objects",
      );
    }
    let source: Source;
    try {
      source = await this.reader.read();
    } catch (e) {
      if (!(e instanceof SourceMissingError)) throw e;
      result.stalled = `${e.message}: nothing was applied or pruned`;
      return this.finish(result, started, realDir);
    }
    result.revision =
      (await gitHead(this.o.dir).catch(() => undefined)) ??
      contentRevision(source.files.map((f) => ({ path: f.file, content: f.digest })));
    result.errors.push(...source.errors);

    const objects = source.objects.map((s) => this.decorate(s));
    const plan = planSync({
      objects,
      brokenFiles: source.brokenFiles,
      inventory: this.entries,
      prune: this.o.prune,
      allowEmpty: this.o.allowEmpty,
    });
    for (const d of plan.duplicates)
      result.errors.push(
        `${d.file}: ${label(d.entry)} is also defined in ${d.first}; the definition in ${d.first} is used`,
      );
    result.held = plan.held;
    if (plan.refused) {
      result.stalled = plan.refused;
      return this.finish(result, started, realDir);
    }

    if (!dryRun) {
      // Record what is about to be applied first: a crash mid-pass never leaves an object this
      // sync created out of its inventory (and so out of reach of a later prune).
      const known = new Set(this.entries.map(refKey));
      const fresh = plan.apply.map(entryOf).filter((e) => !known.has(refKey(e)));
      if (fresh.length) {
        this.entries = [...this.entries, ...fresh];
        await this.saveInventory(this.entries);
      }
      // Drift is put back for what the directory defines now (and, for broken files, defined).
      const keep = new Set([...plan.apply.map((s) => refKey(entryOf(s))), ...plan.held.map(refKey)]);
      for (const k of [...this.desired.keys()]) if (!keep.has(k)) this.forget(k);
      for (const s of plan.apply) {
        const e = entryOf(s);
        this.desired.set(refKey(e), { object: s.object, entry: e });
      }
      this.ensureInformers([...plan.apply.map(entryOf), ...plan.held]);
      await Promise.all([...this.informers.values()].map((i) => i.whenSynced()));
    }

    await this.listLive(plan.apply.map(entryOf));
    // Apply, group by group (Namespaces, ConfigMaps, Secrets, the rest).
    for (let r = 0; r <= RANK.length; r++) {
      const group = plan.apply.filter((s) => rankOf(s.object.kind) === r);
      await pool(group, this.o.concurrency ?? 8, (s) => this.applyOne(s, result));
    }

    // Prune in reverse order.
    const prunedOk = new Set<string>();
    for (let r = RANK.length; r >= 0; r--) {
      const group = plan.prune.filter((e) => rankOf(e.kind) === r);
      await pool(group, this.o.concurrency ?? 8, async (e) => {
        const outcome = await this.pruneOne(e, result);
        if (outcome) {
          result.pruned.push({ entry: e, outcome });
          prunedOk.add(refKey(e));
        }
      });
    }
    const failedPrunes = plan.prune.filter((e) => !prunedOk.has(refKey(e)));
    if (!dryRun) {
      for (const e of plan.prune) if (prunedOk.has(refKey(e))) this.forget(refKey(e));
      this.entries = [...plan.inventory, ...failedPrunes];
    }
    return this.finish(result, started, realDir);
  }

  /** The object as applied: the sync's label and the file's annotation added. */
  private decorate(s: SourceObject): SourceObject {
    const object = structuredClone(s.object);
    object.metadata.labels = { ...object.metadata.labels, [SYNC_LABEL]: this.name };
    object.metadata.annotations = { ...object.metadata.annotations, [SYNC_FILE_ANNOTATION]: s.file };
    return { ...s, object };
  }

  private async applyOne(s: SourceObject, result: PassResult): Promise<void> {
    const e = entryOf(s);
    const key = refKey(e);
    const hash = createHash('sha256').update(JSON.stringify(s.object)).digest('hex').slice(0, 16);
    const live = this.liveOf(e);
    if (
      !this.o.dryRun &&
      live &&
      !live.metadata.deletionTimestamp &&
      this.appliedHash.get(key) === hash &&
      !driftOf(s.object, live).length
    ) {
      result.applied.push({ entry: e, verb: 'unchanged' });
      return;
    }
    try {
      const { verb, object } = await applyObject(this.o.client, s.object, {
        fieldManager: this.fieldManager,
        dryRun: this.o.dryRun,
        force: true,
        // null: listed and absent; undefined: not known (the informer only sees labelled objects).
        before: live ?? (this.listed.has(key) ? null : undefined),
      });
      result.applied.push({ entry: e, verb });
      if (!this.o.dryRun) {
        this.appliedHash.set(key, hash);
        if (object.metadata?.resourceVersion) this.written.set(key, object.metadata.resourceVersion);
      }
    } catch (err) {
      const causes = err instanceof ApiError ? (err.details?.causes ?? []) : [];
      const where = s.manifest ? locationOf(s.manifest) : s.file;
      const lines = [`${where}: ${label(e)}: ${messageOf(err)}`];
      if (s.manifest) for (const c of causes) lines.push(formatCause(s.manifest, c));
      this.appliedHash.delete(key);
      result.failed.push({ entry: e, file: s.file, error: lines.join('\n') });
      result.errors.push(...lines);
    }
  }

  private async pruneOne(
    e: InventoryEntry,
    result: PassResult,
  ): Promise<PrunedObject['outcome'] | undefined> {
    const kind = kindOfEntry(e);
    if (!kind) {
      result.errors.push(
        `${e.file}: ${e.kind} ${e.name}: kind ${e.apiVersion}/${e.kind} is not served; not pruned`,
      );
      return undefined;
    }
    try {
      let live: KubeObject;
      try {
        live = await this.o.client.get(kind, e.namespace, e.name);
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) return 'gone';
        throw err;
      }
      if (live.metadata.labels?.[SYNC_LABEL] !== this.name) {
        this.log('info', 'not pruned: the object no longer carries the sync label', { object: label(e) });
        return 'kept';
      }
      await this.o.client.delete(kind, e.namespace, e.name, {
        propagationPolicy: 'Background',
        dryRun: this.o.dryRun,
      });
      return 'pruned';
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return 'gone';
      result.errors.push(`${e.file}: ${label(e)}: prune failed: ${messageOf(err)}`);
      result.failed.push({ entry: e, file: e.file, error: `${label(e)}: prune failed: ${messageOf(err)}` });
      return undefined;
    }
  }

  private forget(key: string): void {
    this.desired.delete(key);
    this.appliedHash.delete(key);
    this.written.delete(key);
  }

  private async finish(result: PassResult, started: number, realDir: string): Promise<PassResult> {
    const count = (v: ApplyVerb) => result.applied.filter((a) => a.verb === v).length;
    const failed = result.failed.length;
    const errors = [...result.errors, ...(result.stalled ? [result.stalled] : [])];
    const phase: SyncStatus['phase'] = result.stalled ? 'Stalled' : errors.length ? 'Failed' : 'Synced';
    const pruned = result.pruned.filter((p) => p.outcome !== 'kept').length;
    const summary =
      `${count('created')} created, ${count('configured')} configured, ${count('unchanged')} unchanged, ` +
      `${pruned} pruned, ${failed} failed`;
    const status: SyncStatus = {
      directory: realDir,
      revision: result.revision || this.status?.revision || '',
      phase,
      lastSyncTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      created: count('created'),
      configured: count('configured'),
      unchanged: count('unchanged'),
      pruned,
      failed,
      held: result.held.length,
      errors,
      message: result.stalled ?? (errors.length ? `${summary}; ${errors.length} error(s)` : summary),
      runner: this.o.runner,
    };
    result.status = status;
    result.durationMs = Date.now() - started;
    if (!result.dryRun) {
      // A stalled pass keeps the previous revision's record of what was applied.
      const prev = this.status;
      this.status =
        result.stalled && prev
          ? { ...prev, phase, message: status.message, errors, lastSyncTime: status.lastSyncTime }
          : status;
      try {
        await this.saveInventory(this.entries ?? []);
      } catch (e) {
        this.log('error', 'cannot record the sync inventory and status', { err: messageOf(e) });
        result.errors.push(`cannot record the inventory: ${messageOf(e)}`);
      }
      this.report(result, summary);
    }
    this.log(phase === 'Synced' ? 'info' : 'warn', 'sync pass', {
      sync: this.name,
      revision: status.revision,
      phase,
      ms: result.durationMs,
      summary,
      ...(errors.length ? { errors: errors.slice(0, 5) } : {}),
    });
    this.o.onPass?.(result);
    return result;
  }

  private async saveInventory(entries: InventoryEntry[]): Promise<void> {
    const rows = entries.map((e) => {
      const { hash: _old, ...rest } = e;
      const hash = this.appliedHash.get(refKey(e));
      return hash ? { ...rest, hash } : rest;
    });
    this.inventoryObject = await this.inventory.save(rows, this.status);
  }

  /**
   * The live state of objects no informer knows, by one list per kind and namespace instead of a
   * GET each (a first sync of 1,000 objects makes a handful of lists, not 1,000 GETs). Few
   * objects are left to a GET each.
   */
  private async listLive(entries: InventoryEntry[]): Promise<void> {
    const unknown = entries.filter((e) => !this.liveOf(e));
    if (unknown.length < 16) return;
    const pairs = new Map<string, { kind: KindInfo; namespace?: string }>();
    for (const e of unknown) {
      const kind = kindOfEntry(e);
      if (kind) pairs.set(`${e.apiVersion}/${e.kind}/${e.namespace ?? ''}`, { kind, namespace: e.namespace });
    }
    const listed = new Map<string, KubeObject | null>();
    try {
      await pool([...pairs.values()], 4, async ({ kind, namespace }) => {
        const list = await this.o.client.listAll(kind, { namespace, limit: 500 });
        for (const o of list.items) {
          const apiVersion = o.apiVersion ?? (kind.group ? `${kind.group}/${kind.version}` : kind.version);
          listed.set(
            refKey({ apiVersion, kind: kind.kind, namespace: o.metadata.namespace, name: o.metadata.name! }),
            o,
          );
        }
      });
    } catch (e) {
      this.log('warn', 'listing live objects failed; reading them one by one', { err: messageOf(e) });
      return;
    }
    for (const e of unknown) {
      const k = refKey(e);
      if (!listed.has(k)) listed.set(k, null);
    }
    this.listed = listed;
  }

  private report(result: PassResult, summary: string): void {
    const inv = this.inventoryObject;
    if (!inv) return;
    const rev = result.status.revision ? `revision ${result.status.revision.slice(0, 19)}: ` : '';
    if (result.stalled) {
      this.record(inv, 'Warning', 'SyncStalled', result.stalled);
      return;
    }
    const changed =
      result.applied.some((a) => a.verb !== 'unchanged') || result.pruned.some((p) => p.outcome === 'pruned');
    for (const p of result.pruned.filter((x) => x.outcome === 'pruned'))
      this.record(inv, 'Normal', 'Pruned', `${label(p.entry)} pruned: ${p.entry.file} no longer defines it`);
    if (result.errors.length) {
      this.record(inv, 'Warning', 'SyncFailed', `${rev}${summary}; first error: ${result.errors[0]}`);
    } else if (changed) {
      this.record(inv, 'Normal', 'Synced', `${rev}${summary}`);
    }
  }

  private record(obj: KubeObject, type: EventType, reason: string, message: string): void {
    void this.events.record(
      obj,
      type,
      reason,
      message.length > 1000 ? message.slice(0, 997) + '...' : message,
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Drift: informers over the sync's label, one per kind; changes and deletions of objects the
  // directory defines are put back.

  private liveOf(e: InventoryEntry): KubeObject | undefined {
    const inf = this.informers.get(`${e.apiVersion}/${e.kind}`);
    return inf?.getByName(e.namespace, e.name) ?? this.listed.get(refKey(e)) ?? undefined;
  }

  private ensureInformers(entries: InventoryEntry[]): void {
    if (!this.informerAbort) return; // one-shot passes do not watch
    for (const e of entries) {
      const id = `${e.apiVersion}/${e.kind}`;
      if (this.informers.has(id)) continue;
      const kind = kindOfEntry(e);
      if (!kind) continue;
      const client = this.o.client;
      const selector = `${SYNC_LABEL}=${this.name}`;
      const inf = new Informer(kind, (signal) =>
        listAndWatch(
          client,
          kind,
          {
            labelSelector: selector,
            onRetry: (err) => this.log('warn', 'watch retry', { kind: kind.kind, err: messageOf(err) }),
          },
          signal,
        ),
      );
      const enqueue = (o: KubeObject) =>
        this.queue?.add(
          refKey({
            apiVersion: o.apiVersion ?? e.apiVersion,
            kind: o.kind ?? e.kind,
            namespace: o.metadata.namespace,
            name: o.metadata.name!,
          }),
        );
      inf.addHandler({ update: (_old, cur) => enqueue(cur), delete: enqueue });
      this.informers.set(id, inf);
      void inf
        .run(this.informerAbort.signal)
        .catch((err: unknown) =>
          this.log('error', 'informer stopped', { kind: kind.kind, err: messageOf(err) }),
        );
    }
  }

  private async heal(key: string): Promise<{ requeueAfterMs?: number } | void> {
    return this.lock(async () => {
      const want = this.desired.get(key);
      if (!want) return;
      const live = this.liveOf(want.entry);
      if (live && live.metadata.resourceVersion === this.written.get(key)) return;
      if (live?.metadata.deletionTimestamp) return { requeueAfterMs: 1000 }; // put back once gone
      const drift = driftOf(want.object, live);
      if (!drift.length) return;
      const before = this.written.get(key);
      const { object } = await applyObject(this.o.client, want.object, {
        fieldManager: this.fieldManager,
        force: true,
        before: live ?? null,
      });
      const rv = object.metadata?.resourceVersion;
      if (rv) this.written.set(key, rv);
      // Our own write seen late (the informer had not caught up): nothing was put back.
      if (rv === before || rv === live?.metadata.resourceVersion) return;
      const action: DriftCorrection['action'] = live ? 'corrected' : 'recreated';
      const message = live
        ? `changed outside the sync; put back from ${want.entry.file} (sync ${this.name}): ${describeDrift(drift)}`
        : `deleted outside the sync; recreated from ${want.entry.file} (sync ${this.name})`;
      this.log('info', `drift ${action}`, { object: label(want.entry), message });
      this.record(object, 'Normal', live ? 'DriftCorrected' : 'Recreated', message);
      this.o.onDrift?.({ entry: want.entry, action, message });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Watch mode.

  /**
   * Syncs, then keeps syncing on every change of the directory and puts drift back, until `signal`
   * aborts. Resolves then; rejects (with SourceMissingError) when the directory vanishes and
   * stopWhenDirectoryVanishes is set, after recording the stalled status.
   */
  async watch(signal: AbortSignal): Promise<void> {
    if (this.o.dryRun) throw new Error('a dry run cannot watch');
    const informerAbort = new AbortController();
    this.informerAbort = informerAbort;
    const stopInformers = () => informerAbort.abort();
    signal.addEventListener('abort', stopInformers, { once: true });
    const queue = new WorkQueue((key) => this.heal(key), {
      workers: 2,
      onError: (key, e) =>
        this.log('warn', 'drift correction failed; retrying', { object: key, err: messageOf(e) }),
    });
    this.queue = queue;
    // Level-triggered safety net: every defined object is compared with its cached live state.
    const resync = setInterval(() => {
      for (const k of this.desired.keys()) queue.add(k);
    }, 60_000);
    resync.unref();

    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let dirty = false;
    let chain: Promise<void> = Promise.resolve();
    let failure: Error | undefined;
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true });
    });

    const restartWatcher = async (start: boolean): Promise<void> => {
      await watcher?.close();
      watcher = undefined;
      this.realDir = await fs.realpath(this.o.dir).catch(() => undefined);
      if (!start || !this.realDir) return;
      watcher = chokidarWatch(this.o.dir, {
        ignoreInitial: true,
        followSymlinks: true,
        depth: this.o.recursive === false ? 0 : undefined,
        ignored: (p: string, stats?: { isFile(): boolean }) => ignoredPath(this.o.dir, p, stats),
      });
      watcher.on('all', () => schedule());
      watcher.on('error', (e) => this.log('warn', 'file watch error', { err: messageOf(e) }));
    };
    // A pass that failed (the server unreachable) or left objects failed (a conflict, a 5xx) is
    // tried again without waiting for a file change: 2 s, doubling to 60 s, reset by a clean pass.
    let retryMs = 0;
    let retryTimer: NodeJS.Timeout | undefined;
    const runPass = async (): Promise<void> => {
      dirty = false;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      const r = await this.pass().catch((e: unknown) => {
        this.log('error', 'sync pass failed', { err: messageOf(e) });
        return undefined;
      });
      if (!r || r.failed.length) {
        retryMs = Math.min(retryMs ? retryMs * 2 : 2000, 60_000);
        retryTimer = setTimeout(() => schedule(), retryMs);
        retryTimer.unref();
      } else retryMs = 0;
      if (r?.stalled && !(await isDirectory(this.o.dir))) {
        if (this.o.stopWhenDirectoryVanishes) {
          failure = new SourceMissingError(r.stalled);
          stop();
        } else {
          await restartWatcher(false); // the poll below starts it again when the directory is back
        }
      }
    };
    // Changes are batched: a pass starts once no change came for debounceMs; changes during a
    // pass make one more pass after it.
    const schedule = (): void => {
      dirty = true;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        chain = chain.then(() => (dirty && !signal.aborted && !failure ? runPass() : undefined));
      }, this.o.debounceMs ?? 100);
    };
    // Directory presence and symlink swaps (`ln -sfn new current`) are checked once a second.
    const poll = setInterval(() => {
      void (async () => {
        const real = await fs.realpath(this.o.dir).catch(() => undefined);
        if (real === this.realDir) return;
        if (real) await restartWatcher(true);
        else this.realDir = undefined;
        schedule();
      })();
    }, 1000);
    poll.unref();
    try {
      await restartWatcher(true);
      chain = runPass();
      await stopped;
      await chain;
    } finally {
      clearInterval(poll);
      clearInterval(resync);
      if (timer) clearTimeout(timer);
      if (retryTimer) clearTimeout(retryTimer);
      await watcher?.close();
      stopInformers();
      signal.removeEventListener('abort', stopInformers);
      queue.shutdown();
      await queue.idle();
      this.queue = undefined;
      this.informerAbort = undefined;
      this.informers.clear();
    }
    if (failure) throw failure;
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  return fs.stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Hidden files and directories (.git, editors' .x.swp) and files that are not manifests. */
function ignoredPath(root: string, p: string, stats?: { isFile(): boolean }): boolean {
  const rel = path.relative(root, p);
  if (rel && rel.split(path.sep).some((seg) => seg.startsWith('.'))) return true;
  if (stats?.isFile() && !isManifestFile(p)) return true;
  return false;
}
