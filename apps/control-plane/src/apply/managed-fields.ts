import { ApiError, type KubeObject, type StatusCause } from '@berth/api';
import {
  difference,
  diffObjects,
  fromFieldsV1,
  isEmpty,
  isObj,
  paths,
  pathString,
  toFieldsV1,
  union,
  withoutSubtrees,
  type FieldNode,
} from './field-set';

/** One entry of metadata.managedFields, as on the wire. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** An entry with its field set decoded. */
export interface Managed {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  subresource?: string;
  set: FieldNode;
}

export type Subresource = 'status' | 'scale';

export const MAX_MANAGER_LENGTH = 128;

/** Whether two entries are the same manager identity (Kubernetes keys entries by these). */
export function sameIdentity(
  m: Managed,
  manager: string,
  operation: Managed['operation'],
  subresource?: string,
): boolean {
  return m.manager === manager && m.operation === operation && (m.subresource ?? '') === (subresource ?? '');
}

/**
 * metadata.managedFields read and checked: a list of entries with string manager, apiVersion,
 * time and subresource, operation Apply or Update, fieldsType FieldsV1 and a FieldsV1 tree. A bad
 * one is 422 naming `metadata.managedFields[i].<field>`. Entries owning nothing are dropped
 * (so `[{}]` clears the list, as in Kubernetes).
 */
export function decodeManagedFields(v: unknown, kindName: string, name: string): Managed[] {
  if (v === undefined || v === null) return [];
  const bad = (field: string, message: string): ApiError =>
    ApiError.invalid(kindName, name, [
      { reason: 'FieldValueInvalid', field: `metadata.managedFields${field}`, message },
    ]);
  if (!Array.isArray(v)) throw bad('', 'must be a list of ManagedFieldsEntry');
  const out: Managed[] = [];
  v.forEach((e, i) => {
    const at = `[${i}]`;
    if (!isObj(e)) throw bad(at, 'must be an object');
    for (const k of ['manager', 'apiVersion', 'time', 'subresource'] as const) {
      if (e[k] !== undefined && e[k] !== null && typeof e[k] !== 'string')
        throw bad(`${at}.${k}`, 'must be a string');
    }
    const manager = (e.manager as string | undefined) ?? '';
    if (manager.length > MAX_MANAGER_LENGTH)
      throw bad(`${at}.manager`, `must be at most ${MAX_MANAGER_LENGTH} characters`);
    if (e.operation !== undefined && e.operation !== 'Apply' && e.operation !== 'Update')
      throw bad(`${at}.operation`, `must be Apply or Update, not ${JSON.stringify(e.operation)}`);
    if (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1')
      throw bad(`${at}.fieldsType`, `must be FieldsV1, not ${JSON.stringify(e.fieldsType)}`);
    if (typeof e.time === 'string' && e.time && Number.isNaN(Date.parse(e.time)))
      throw bad(`${at}.time`, 'must be an RFC 3339 time');
    let set: FieldNode = {};
    if (e.fieldsV1 !== undefined && e.fieldsV1 !== null) {
      try {
        set = fromFieldsV1(e.fieldsV1);
      } catch (err) {
        throw bad(`${at}.fieldsV1`, (err as Error).message);
      }
      // An empty fieldsV1 object is an empty set on the wire, not "the root is owned".
      if (Object.keys(e.fieldsV1 as object).length === 0) set = {};
    }
    if (isEmpty(set)) return;
    const m: Managed = {
      manager,
      operation: (e.operation as Managed['operation'] | undefined) ?? 'Update',
      apiVersion: (e.apiVersion as string | undefined) ?? '',
      set,
    };
    if (typeof e.time === 'string' && e.time) m.time = e.time;
    if (typeof e.subresource === 'string' && e.subresource) m.subresource = e.subresource;
    out.push(m);
  });
  return out;
}

/** Wire form, sorted as Kubernetes sorts it (operation, time, manager, apiVersion, subresource); undefined when empty. */
export function encodeManagedFields(list: Managed[]): ManagedFieldsEntry[] | undefined {
  const kept = list.filter((m) => !isEmpty(m.set));
  if (!kept.length) return undefined;
  const secs = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) : 0);
  kept.sort(
    (p, q) =>
      cmp(p.operation, q.operation) ||
      secs(p.time) - secs(q.time) ||
      cmp(p.manager, q.manager) ||
      cmp(p.apiVersion, q.apiVersion) ||
      cmp(p.subresource ?? '', q.subresource ?? ''),
  );
  return kept.map((m) => {
    const e: ManagedFieldsEntry = {
      manager: m.manager,
      operation: m.operation,
      apiVersion: m.apiVersion,
      ...(m.time ? { time: m.time } : {}),
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(m.set),
    };
    if (m.subresource) e.subresource = m.subresource;
    return e;
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** RFC 3339 in UTC without fractional seconds (the form of managedFields times). */
export function nowRfc3339(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface UpdateRecord {
  /** The stored object (undefined for a create). */
  cur: KubeObject | undefined;
  /** The object about to be stored (metadata.managedFields as the request gave them, if at all). */
  next: KubeObject;
  manager: string;
  subresource?: Subresource;
  hasStatus: boolean;
  apiVersion: string;
  now: string;
}

/**
 * The managedFields after an update (create, PUT, merge/JSON/strategic patch, status or scale
 * write), as Kubernetes records them: the writer owns every field it added or changed (taken from
 * whoever owned it; updates never conflict), removed fields leave every manager, and its entry's
 * time moves when it took anything. On the main resource a request that carries managedFields
 * different from the stored ones replaces them (kubectl's client-side to server-side migration
 * does this); `[{}]` clears them.
 */
export function recordUpdate(u: UpdateRecord): ManagedFieldsEntry[] | undefined {
  const { cur, next } = u;
  const name = String(next.metadata?.name ?? '');
  const given = next.metadata?.managedFields;
  const stored = cur?.metadata?.managedFields;
  const useGiven =
    !u.subresource &&
    Array.isArray(given) &&
    given.length > 0 &&
    JSON.stringify(given) !== JSON.stringify(stored);
  let managed = decodeManagedFields(useGiven ? given : stored, next.kind, name);
  const d = diffObjects(
    cur as Record<string, unknown> | undefined,
    next as unknown as Record<string, unknown>,
    u.subresource === 'status' ? 'status' : 'main',
    u.hasStatus,
  );
  if (isEmpty(d.changed) && isEmpty(d.removed)) {
    return useGiven ? encodeManagedFields(managed) : (stored as ManagedFieldsEntry[] | undefined);
  }
  const sub = u.subresource;
  managed = managed.map((m) =>
    sameIdentity(m, u.manager, 'Update', sub)
      ? m
      : { ...m, set: withoutSubtrees(difference(m.set, d.changed), d.removed) },
  );
  let mine = managed.find((m) => sameIdentity(m, u.manager, 'Update', sub));
  if (!mine) {
    mine = { manager: u.manager, operation: 'Update', apiVersion: u.apiVersion, set: {} };
    if (sub) mine.subresource = sub;
    managed.push(mine);
  }
  mine.set = withoutSubtrees(union(mine.set, d.changed), d.removed);
  mine.apiVersion = u.apiVersion;
  if (!isEmpty(d.changed)) mine.time = u.now;
  return encodeManagedFields(managed);
}

/** A field another manager owns that an apply would change. */
export interface Conflict {
  manager: Managed;
  path: string[];
}

function printManager(m: Managed): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === 'Update')
    s += m.time ? ` using ${m.apiVersion} at ${m.time}` : ` using ${m.apiVersion}`;
  return s;
}

/** 409 Conflict with one FieldManagerConflict cause per field, worded as Kubernetes words it. */
export function conflictError(conflicts: Conflict[]): ApiError {
  const causes: StatusCause[] = conflicts.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${printManager(c.manager)}`,
    field: pathString(c.path),
  }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0].manager)}: ${pathString(conflicts[0].path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const k = printManager(c.manager);
      byManager.set(k, [...(byManager.get(k) ?? []), pathString(c.path)]);
    }
    const lines: string[] = [];
    for (const k of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${k}:`);
      for (const p of byManager.get(k)!) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError('Conflict', message, { causes });
}

/** Every member path of `s` as a Conflict with `m`. */
export function conflictsOf(m: Managed, s: FieldNode): Conflict[] {
  return paths(s).map((path) => ({ manager: m, path }));
}
