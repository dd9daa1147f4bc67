import { ApiError, fieldValue, supportedFieldLabels, type KindInfo, type KubeObject } from '@berth/api';

/**
 * Stand-in for the resourceVersion while an object is serialized before its write: the write
 * script replaces the first occurrence with the revision it assigns. serializeObject() puts
 * metadata.resourceVersion before any field a user controls as a key (labels, annotations, spec,
 * data), and a JSON string value cannot contain an unescaped quote, so the first occurrence of
 * `"resourceVersion":"` in a stored document is always the object's own.
 */
export const RV_PLACEHOLDER = '@@rv@@';

const META_ORDER = [
  'name',
  'generateName',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
] as const;

/**
 * JSON for the store: apiVersion, kind, metadata (system fields first, see RV_PLACEHOLDER), then
 * the rest. `rv` replaces metadata.resourceVersion (RV_PLACEHOLDER for a write).
 */
export function serializeObject(obj: KubeObject, rv: string): string {
  const meta: Record<string, unknown> = {};
  const m = obj.metadata as Record<string, unknown>;
  for (const k of META_ORDER) {
    if (k === 'resourceVersion') meta[k] = rv;
    else if (m[k] !== undefined) meta[k] = m[k];
  }
  for (const [k, v] of Object.entries(m)) if (!(k in meta) && v !== undefined) meta[k] = v;
  const out: Record<string, unknown> = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: meta };
  for (const [k, v] of Object.entries(obj)) {
    if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata' && v !== undefined) out[k] = v;
  }
  return JSON.stringify(out);
}

/** Structural equality of JSON values (object key order ignored; undefined members ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual(ao[k], bo[k]));
}

/**
 * Whether an update moves metadata.generation: any change outside apiVersion, kind, metadata and
 * status (that is .spec for kinds with one; data/type/... for ConfigMap, Secret, Event).
 * Namespaces keep their generation, as in Kubernetes.
 */
export function bumpsGeneration(kind: KindInfo, before: KubeObject, after: KubeObject): boolean {
  if (kind.kind === 'Namespace') return false;
  const skip = new Set(['apiVersion', 'kind', 'metadata', 'status']);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) {
    if (skip.has(k)) continue;
    if (!jsonEqual(before[k], after[k])) return true;
  }
  return false;
}

/**
 * What selectors can see of an object: name, namespace, labels and every field label of its kind.
 * Stored with MODIFIED events so a selector watch can tell that an object stopped or started
 * matching without keeping the whole previous object in the stream.
 */
export function selectableProjection(kind: KindInfo, obj: KubeObject): KubeObject {
  const p: KubeObject = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace, labels: obj.metadata.labels },
  };
  for (const field of supportedFieldLabels(kind.kind)) {
    if (field.startsWith('metadata.')) continue;
    const segs = field.split('.');
    let cur: Record<string, unknown> = p;
    for (const s of segs.slice(0, -1)) {
      if (typeof cur[s] !== 'object' || cur[s] === null) cur[s] = {};
      cur = cur[s] as Record<string, unknown>;
    }
    cur[segs[segs.length - 1]] = fieldValue(obj, field);
  }
  return p;
}

/** RFC 3339 in UTC without fractional seconds, as Kubernetes writes timestamps. */
export function rfc3339(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_NAME = 63;
const RANDOM_LEN = 5;

/** generateName + 5 random characters, the base cut so the result fits 63 characters (as Kubernetes). */
export function generateName(
  base: string,
  random: (n: number) => number = (n) => Math.floor(Math.random() * n),
): string {
  const b = base.length > MAX_NAME - RANDOM_LEN ? base.slice(0, MAX_NAME - RANDOM_LEN) : base;
  let s = '';
  for (let i = 0; i < RANDOM_LEN; i++) s += NAME_ALPHABET[random(NAME_ALPHABET.length)];
  return b + s;
}

export interface ContinueToken {
  /** The revision of the first page: every page reports it, so a watch from it misses nothing. */
  rv: string;
  /** The last member (`ns/name` or `name`) returned; the next page starts after it. */
  start: string;
}

/** Opaque to clients: base64url of {"v":1,"rv":…,"start":…}. */
export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 1, rv: t.rv, start: t.start }), 'utf8').toString('base64url');
}

export function decodeContinue(token: string): ContinueToken {
  const bad = (why: string) =>
    new ApiError('BadRequest', `continue key is not valid: ${why}; start the list again without continue`);
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) throw bad('not a token this server issued');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a token this server issued');
  }
  const t = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (!t || typeof t !== 'object' || t.v !== 1) throw bad('unknown token version');
  if (typeof t.rv !== 'string' || !/^\d+$/.test(t.rv)) throw bad('bad resource version');
  if (typeof t.start !== 'string' || !t.start) throw bad('bad start key');
  return { rv: t.rv, start: t.start };
}
