import { ApiError, kindFor, type KubeObject } from '@berth/api';
import type { BerthClient } from '@berth/client';
import type { InventoryEntry } from './plan';

/** The label every object a sync applied carries: its value is the sync's name. */
export const SYNC_LABEL = 'sync.berth.dev/name';
/** The annotation naming the file (relative to the synced directory) an object came from. */
export const SYNC_FILE_ANNOTATION = 'sync.berth.dev/file';
/** The label on a sync's inventory ConfigMap (value: the sync's name). */
export const INVENTORY_LABEL = 'sync.berth.dev/inventory';
/** Inventories live beside the controller-manager's lease. */
export const INVENTORY_NAMESPACE = 'kube-system';

export function inventoryName(sync: string): string {
  return `berth-sync-${sync}`;
}

/** What a sync's last pass did, as `berthctl sync status` shows it. */
export interface SyncStatus {
  /** The synced directory (as given). */
  directory: string;
  /** git HEAD of the checkout, or `sha256:` of the manifest files. */
  revision: string;
  /** Synced: every object applied; Failed: some objects or files failed; Stalled: nothing done. */
  phase: 'Synced' | 'Failed' | 'Stalled';
  /** When the pass ended (RFC 3339). */
  lastSyncTime: string;
  created: number;
  configured: number;
  unchanged: number;
  pruned: number;
  failed: number;
  /** Objects kept although their file is broken. */
  held: number;
  /** Every error of the pass: broken files (file:line:col) and objects the server refused. */
  errors: string[];
  message: string;
  /** Who runs it: `berthctl` or the control plane's `--sync-dir`. */
  runner?: string;
}

export interface InventoryRecord {
  entries: InventoryEntry[];
  status?: SyncStatus;
  object?: KubeObject;
}

/** Compact rows: apiVersion, kind, namespace, name, file, and the applied digest when known. */
type Row = [string, string, string, string, string] | [string, string, string, string, string, string];

function toRows(entries: InventoryEntry[]): Row[] {
  return entries.map((e) => {
    const row: Row = [e.apiVersion, e.kind, e.namespace ?? '', e.name, e.file];
    return e.hash ? [...row, e.hash] : row;
  });
}

function fromRows(rows: unknown): InventoryEntry[] {
  if (!Array.isArray(rows)) return [];
  const out: InventoryEntry[] = [];
  for (const r of rows) {
    if (!Array.isArray(r) || r.length < 5 || !r.every((x) => typeof x === 'string')) continue;
    const [apiVersion, kind, namespace, name, file, hash] = r as string[];
    out.push({
      apiVersion,
      kind,
      ...(namespace ? { namespace } : {}),
      name,
      file,
      ...(hash ? { hash } : {}),
    });
  }
  return out;
}

const CONFIGMAP = kindFor('v1', 'ConfigMap')!;

/**
 * A sync's inventory (what it applied, so pruning deletes exactly that) and last status, kept in
 * the ConfigMap kube-system/berth-sync-NAME, as kubectl's ApplySet keeps its parent object. Written
 * with server-side apply by the sync's own field manager.
 */
export class InventoryStore {
  constructor(
    private readonly client: BerthClient,
    readonly sync: string,
    private readonly fieldManager: string,
  ) {}

  get name(): string {
    return inventoryName(this.sync);
  }

  async load(): Promise<InventoryRecord> {
    let cm: KubeObject;
    try {
      cm = await this.client.get(CONFIGMAP, INVENTORY_NAMESPACE, this.name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return { entries: [] };
      throw e;
    }
    const rec = recordOf(cm);
    if (!rec.readable)
      throw new Error(
        `the inventory ${INVENTORY_NAMESPACE}/${this.name} is not readable (data.inventory is not a JSON list); ` +
          'refusing to sync: without it pruning cannot tell what this sync applied',
      );
    return rec;
  }

  /** Records the inventory and the status in one write (the status key is kept when undefined). */
  async save(entries: InventoryEntry[], status: SyncStatus | undefined): Promise<KubeObject> {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.name,
        namespace: INVENTORY_NAMESPACE,
        labels: { [INVENTORY_LABEL]: this.sync },
      },
      data: {
        inventory: JSON.stringify(toRows(entries)),
        ...(status ? { status: JSON.stringify(status) } : {}),
      },
    } as unknown as KubeObject;
    return this.client.apply(cm, { fieldManager: this.fieldManager, force: true });
  }
}

function recordOf(cm: KubeObject): InventoryRecord & { readable: boolean } {
  const data = ((cm as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
  let entries: InventoryEntry[] = [];
  let readable = true;
  let status: SyncStatus | undefined;
  try {
    const rows: unknown = JSON.parse(data.inventory ?? '[]');
    readable = Array.isArray(rows);
    entries = fromRows(rows);
  } catch {
    readable = false;
  }
  try {
    status = data.status ? (JSON.parse(data.status) as SyncStatus) : undefined;
  } catch {
    status = undefined;
  }
  return { entries, status, object: cm, readable };
}

/** Every sync's record, for `berthctl sync status`. */
export async function listSyncs(client: BerthClient): Promise<(InventoryRecord & { sync: string })[]> {
  const list = await client.listAll(CONFIGMAP, {
    namespace: INVENTORY_NAMESPACE,
    labelSelector: INVENTORY_LABEL,
  });
  return list.items.map((cm) => ({
    sync: cm.metadata.labels?.[INVENTORY_LABEL] ?? cm.metadata.name!,
    ...recordOf(cm),
  }));
}
