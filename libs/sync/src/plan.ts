/**
 * The pure core of a GitOps sync pass (issue 5): what to apply and what to prune, from the
 * objects the directory holds now and the inventory of what this sync applied before. Pruning is
 * inventory-based (as kubectl's ApplySet or Flux's inventory): only objects this sync recorded are
 * ever deleted, never a guess from labels across the cluster.
 */
import type { KubeObject, ParsedManifest } from '@berth/api';

/** One object as recorded in a sync's inventory. */
export interface InventoryEntry {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** The source file (relative to the synced directory) it came from. */
  file: string;
  /** Digest of the object as last applied (a pass skips an unchanged object that shows no drift). */
  hash?: string;
}

/** An object of the directory, with where it came from. */
export interface SourceObject {
  object: KubeObject;
  /** Relative to the synced directory. */
  file: string;
  /** The parsed manifest it came from (for file:line in errors), when read from a file. */
  manifest?: ParsedManifest;
}

export interface PlanInput {
  /** Objects of the files that parsed and validated. */
  objects: SourceObject[];
  /** Files that exist but could not be read, parsed or validated (relative paths). */
  brokenFiles: string[];
  /** What the previous passes applied. */
  inventory: InventoryEntry[];
  /** Prune objects that left the directory (default true for `--prune`). */
  prune: boolean;
  /** Allow a pass that would leave nothing (every object pruned) to go ahead. */
  allowEmpty?: boolean;
}

export interface SyncPlan {
  /** In apply order: Namespaces, ConfigMaps and Secrets first, then the rest (each in file order). */
  apply: SourceObject[];
  /** In prune order: the reverse (workloads first, Namespaces last). */
  prune: InventoryEntry[];
  /** Inventory entries kept although absent, because their file is broken (last good state stays). */
  held: InventoryEntry[];
  /** The inventory to record after this pass succeeds. */
  inventory: InventoryEntry[];
  /** Set when the pass must not run at all, with the reason (nothing is applied or pruned). */
  refused?: string;
  /** The same object defined twice: `file` later than `first` (the later one is ignored). */
  duplicates: { ref: string; entry: InventoryEntry; file: string; first: string }[];
}

const FIRST_KINDS = ['Namespace', 'ConfigMap', 'Secret'];

function rank(kind: string): number {
  const i = FIRST_KINDS.indexOf(kind);
  return i < 0 ? FIRST_KINDS.length : i;
}

/** `apiVersion group/kind namespace/name`, the identity an object keeps across passes. */
export function refKey(e: { apiVersion: string; kind: string; namespace?: string; name: string }): string {
  const group = e.apiVersion.includes('/') ? e.apiVersion.split('/')[0] : '';
  return `${group}/${e.kind}/${e.namespace ?? ''}/${e.name}`;
}

export function entryOf(s: SourceObject): InventoryEntry {
  const m = s.object.metadata;
  return {
    apiVersion: s.object.apiVersion,
    kind: s.object.kind,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    name: m.name as string,
    file: s.file,
  };
}

/** Namespaces, then ConfigMaps, then Secrets, then everything else, each group in the given order. */
export function applyOrder<T extends { object: { kind?: string } }>(items: T[]): T[] {
  return items
    .map((t, i) => ({ t, i }))
    .sort((a, b) => rank(a.t.object.kind ?? '') - rank(b.t.object.kind ?? '') || a.i - b.i)
    .map((x) => x.t);
}

export function planSync(input: PlanInput): SyncPlan {
  const seen = new Map<string, SourceObject>();
  const duplicates: SyncPlan['duplicates'] = [];
  for (const s of input.objects) {
    const k = refKey(entryOf(s));
    const first = seen.get(k);
    if (first) duplicates.push({ ref: k, entry: entryOf(s), file: s.file, first: first.file });
    else seen.set(k, s);
  }
  const apply = applyOrder([...seen.values()]);

  const broken = new Set(input.brokenFiles);
  const held: InventoryEntry[] = [];
  const gone: InventoryEntry[] = [];
  for (const e of input.inventory) {
    if (seen.has(refKey(e))) continue;
    if (broken.has(e.file)) held.push(e);
    else gone.push(e);
  }
  const prune = input.prune
    ? gone
        .map((e, i) => ({ e, i }))
        .sort((a, b) => rank(b.e.kind) - rank(a.e.kind) || b.i - a.i)
        .map((x) => x.e)
    : [];
  const inventory = [...apply.map(entryOf), ...held, ...(input.prune ? [] : gone)];
  const plan: SyncPlan = { apply, prune, held, inventory, duplicates };
  if (input.prune && !apply.length && !held.length && gone.length && !input.allowEmpty) {
    return {
      ...plan,
      apply: [],
      prune: [],
      inventory: input.inventory,
      refused: `the source has no objects left: pruning all ${gone.length} objects this sync applied needs --allow-empty`,
    };
  }
  return plan;
}
