import { ApiError, deepEqual } from '@berth/api';

/**
 * Field sets as Kubernetes' structured-merge-diff describes them: a set of paths into an object,
 * each path a list of elements `f:<field>`, `k:<json of the key fields>` (an item of an
 * associative list), `v:<json value>` (an item of a set list) or `i:<index>`. A set is held as a
 * tree whose nodes say whether the path ending there is a member; FieldsV1 (the wire form in
 * metadata.managedFields) is the same tree with `.` marking a member that also has children.
 *
 * The schema is by field name, as MERGE_KEYS is for strategic merge: Berth's kinds use each of
 * these names with one meaning.
 */
export interface FieldNode {
  member?: boolean;
  children?: Map<string, FieldNode>;
}

type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Associative lists (items identified by these fields) and sets of scalars; other lists are atomic. */
const LIST_KEYS: Readonly<Record<string, readonly string[] | 'set'>> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  volumes: ['name'],
  env: ['name'],
  imagePullSecrets: ['name'],
  ports: ['containerPort', 'protocol'],
  volumeMounts: ['mountPath'],
  ownerReferences: ['uid'],
  conditions: ['type'],
  hostAliases: ['ip'],
  topologySpreadConstraints: ['topologyKey', 'whenUnsatisfiable'],
  addresses: ['type'],
  finalizers: 'set',
};

/** Defaults of key fields (Kubernetes' schema fills them so an item without them still has a key). */
const KEY_DEFAULTS: Readonly<Record<string, unknown>> = { protocol: 'TCP' };

/** Structs owned as a whole (x-kubernetes-map-type: atomic in Kubernetes' schema). */
const ATOMIC_MAPS = new Set([
  'selector',
  'labelSelector',
  'configMapKeyRef',
  'secretKeyRef',
  'fieldRef',
  'resourceFieldRef',
]);

/** Maps with arbitrary keys (not structs): an added one is itself a member of an update's set. */
const MAP_FIELDS = new Set([
  'labels',
  'annotations',
  'data',
  'stringData',
  'binaryData',
  'nodeSelector',
  'limits',
  'requests',
  'capacity',
  'allocatable',
]);

// ---------------------------------------------------------------------------------------------
// Set operations

export function emptySet(): FieldNode {
  return {};
}

export function isEmpty(s: FieldNode | undefined): boolean {
  return !s || (!s.member && !(s.children && s.children.size));
}

function child(n: FieldNode, k: string): FieldNode {
  n.children ??= new Map();
  let c = n.children.get(k);
  if (!c) n.children.set(k, (c = {}));
  return c;
}

export function insert(s: FieldNode, path: readonly string[]): void {
  let n = s;
  for (const k of path) n = child(n, k);
  n.member = true;
}

export function union(a: FieldNode | undefined, b: FieldNode | undefined): FieldNode {
  const out: FieldNode = {};
  if (a?.member || b?.member) out.member = true;
  const keys = new Set([...(a?.children?.keys() ?? []), ...(b?.children?.keys() ?? [])]);
  for (const k of keys) {
    const c = union(a?.children?.get(k), b?.children?.get(k));
    if (!isEmpty(c)) (out.children ??= new Map()).set(k, c);
  }
  return out;
}

/** Members of `a` that are not members of `b` (path by path, not subtrees). */
export function difference(a: FieldNode | undefined, b: FieldNode | undefined): FieldNode {
  const out: FieldNode = {};
  if (!a) return out;
  if (a.member && !b?.member) out.member = true;
  for (const [k, ac] of a.children ?? []) {
    const c = difference(ac, b?.children?.get(k));
    if (!isEmpty(c)) (out.children ??= new Map()).set(k, c);
  }
  return out;
}

export function intersection(a: FieldNode | undefined, b: FieldNode | undefined): FieldNode {
  const out: FieldNode = {};
  if (!a || !b) return out;
  if (a.member && b.member) out.member = true;
  for (const [k, ac] of a.children ?? []) {
    const bc = b.children?.get(k);
    if (!bc) continue;
    const c = intersection(ac, bc);
    if (!isEmpty(c)) (out.children ??= new Map()).set(k, c);
  }
  return out;
}

/** `a` without every path at or under a member of `r` (a removed field takes its subtree with it). */
export function withoutSubtrees(a: FieldNode, r: FieldNode): FieldNode {
  if (r.member) return {};
  const out: FieldNode = {};
  if (a.member) out.member = true;
  for (const [k, ac] of a.children ?? []) {
    const rc = r.children?.get(k);
    const c = rc ? withoutSubtrees(ac, rc) : ac;
    if (!isEmpty(c)) (out.children ??= new Map()).set(k, c);
  }
  return out;
}

/** Whether `s` has a member at `path` or below it. */
function ownsAtOrBelow(s: FieldNode | undefined, path: readonly string[]): boolean {
  let n = s;
  for (const k of path) {
    if (!n) return false;
    n = n.children?.get(k);
  }
  return !isEmpty(n);
}

/** Every member path, depth first. */
export function paths(s: FieldNode, prefix: string[] = [], out: string[][] = []): string[][] {
  if (s.member) out.push(prefix);
  for (const [k, c] of s.children ?? []) paths(c, [...prefix, k], out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// FieldsV1 (the JSON form) and path strings

export function toFieldsV1(s: FieldNode): Obj {
  const out: Obj = {};
  if (s.member && s.children?.size) out['.'] = {};
  for (const [k, c] of s.children ?? []) out[k] = toFieldsV1(c);
  return out;
}

const ELEMENT = /^(f:|k:|v:|i:)/;

/** Reads a FieldsV1 tree; a malformed one is an Error naming the bad key (the caller adds the field path). */
export function fromFieldsV1(v: unknown, at = ''): FieldNode {
  if (!isObj(v)) throw new Error(`${at || 'fieldsV1'} must be an object`);
  const out: FieldNode = {};
  const keys = Object.keys(v);
  if (keys.length === 0) return { member: true };
  for (const k of keys) {
    if (k === '.') {
      out.member = true;
      continue;
    }
    if (!ELEMENT.test(k)) throw new Error(`${JSON.stringify(k)} is not a path element (f:, k:, v:, i: or .)`);
    if ((k.startsWith('k:') || k.startsWith('v:')) && !isJson(k.slice(2)))
      throw new Error(`${JSON.stringify(k)} does not hold JSON after its prefix`);
    const c = fromFieldsV1(v[k], k);
    if (!isEmpty(c)) (out.children ??= new Map()).set(k, c);
  }
  return out;
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** A path as Kubernetes prints it in conflicts: `.spec.template.spec.containers[name="web"].image`. */
export function pathString(path: readonly string[]): string {
  let s = '';
  for (const e of path) {
    const body = e.slice(2);
    if (e.startsWith('f:')) s += `.${body}`;
    else if (e.startsWith('i:')) s += `[${body}]`;
    else if (e.startsWith('v:')) s += `[=${body}]`;
    else {
      const key = JSON.parse(body) as Obj;
      s += `[${Object.entries(key)
        .map(([k, x]) => `${k}=${JSON.stringify(x)}`)
        .join(',')}]`;
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Schema-driven walks

export function listKind(field: string | undefined): readonly string[] | 'set' | undefined {
  return field ? LIST_KEYS[field] : undefined;
}

/** The `k:` element of an associative list item, or undefined when a key field is missing. */
export function itemKey(item: unknown, keys: readonly string[]): string | undefined {
  if (!isObj(item)) return undefined;
  const key: Obj = {};
  for (const k of [...keys].sort()) {
    const v = item[k] ?? KEY_DEFAULTS[k];
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
    key[k] = v;
  }
  return `k:${JSON.stringify(key)}`;
}

export function valueKey(v: unknown): string {
  return `v:${JSON.stringify(v)}`;
}

/**
 * The elements of a granular list's items, or undefined when the list is atomic for this value
 * (no list type, or an item without its key, or duplicates).
 */
export function itemElements(field: string | undefined, list: unknown[]): string[] | undefined {
  const kind = listKind(field);
  if (!kind) return undefined;
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    let e: string | undefined;
    if (kind === 'set') e = isObj(item) || Array.isArray(item) ? undefined : valueKey(item);
    else e = itemKey(item, kind);
    if (e === undefined || seen.has(e)) return undefined;
    seen.add(e);
    out.push(e);
  }
  return out;
}

function isAtomicMap(field: string | undefined): boolean {
  return !!field && ATOMIC_MAPS.has(field);
}

/** Whether the value is owned as one leaf (scalars, null, atomic lists and structs, empty maps). */
function isLeaf(v: unknown, field: string | undefined): boolean {
  if (Array.isArray(v)) return v.length === 0 || !itemElements(field, v);
  if (isObj(v)) return isAtomicMap(field) || Object.keys(v).length === 0;
  return true;
}

/**
 * Adds every path of `v` (at `path`) to `s`. `updateStyle` marks added maps with arbitrary keys as
 * members too (an update's "added" set); an applied configuration owns leaves and list items only.
 */
function addAll(
  s: FieldNode,
  v: unknown,
  field: string | undefined,
  path: string[],
  updateStyle: boolean,
  isItem: boolean,
): void {
  if (isItem) insert(s, path);
  if (isLeaf(v, field)) {
    insert(s, path);
    return;
  }
  if (Array.isArray(v)) {
    const els = itemElements(field, v)!;
    v.forEach((item, i) => {
      const p = [...path, els[i]];
      if (els[i].startsWith('v:')) insert(s, p);
      else addAll(s, item, undefined, p, updateStyle, true);
    });
    return;
  }
  if (updateStyle && field && MAP_FIELDS.has(field)) insert(s, path);
  for (const [k, x] of Object.entries(v as Obj)) {
    if (x === undefined) continue;
    addAll(s, x, k, [...path, `f:${k}`], updateStyle, false);
  }
}

/** Which top-level parts of an object a set may hold: the main resource or the status subresource. */
export type Scope = 'main' | 'status';

const SYSTEM_META = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
]);

/** The owned parts of an object: no apiVersion/kind/system metadata; status only in its scope. */
function ownedView(o: Obj | undefined, scope: Scope, hasStatus: boolean): Obj {
  const out: Obj = {};
  if (!o) return out;
  if (scope === 'status') {
    if (o.status !== undefined) out.status = o.status;
    return out;
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if (k === 'status' && hasStatus) continue;
    if (k === 'metadata' && isObj(v)) {
      const m: Obj = {};
      for (const [mk, mv] of Object.entries(v)) if (!SYSTEM_META.has(mk) && mv !== undefined) m[mk] = mv;
      if (Object.keys(m).length) out.metadata = m;
      continue;
    }
    out[k] = v;
  }
  return out;
}

/**
 * The set an applied configuration owns: its leaves and list items. An associative list item
 * without its key fields, or two items with one key, is 422 naming the list.
 */
export function appliedSet(config: Obj, kindName: string, hasStatus: boolean): FieldNode {
  const view = ownedView(config, 'main', hasStatus);
  checkKeys(view, undefined, [], kindName, config);
  const s: FieldNode = {};
  for (const [k, v] of Object.entries(view)) addAll(s, v, k, [`f:${k}`], false, false);
  return s;
}

function checkKeys(
  v: unknown,
  field: string | undefined,
  path: string[],
  kindName: string,
  config: Obj,
): void {
  if (Array.isArray(v)) {
    const kind = listKind(field);
    if (kind && !isAtomicMap(field)) {
      if (!itemElements(field, v)) {
        const where = path.join('.');
        const name = String((config.metadata as Obj | undefined)?.name ?? '');
        const why =
          kind === 'set'
            ? 'must be a list of distinct scalar values'
            : `must have distinct items, each with its key field${kind.length > 1 ? 's' : ''} ${kind.join(', ')}`;
        throw ApiError.invalid(kindName, name, [{ reason: 'FieldValueInvalid', field: where, message: why }]);
      }
    }
    v.forEach((item, i) => {
      if (isObj(item))
        checkKeys(
          item,
          undefined,
          [...path.slice(0, -1), `${path[path.length - 1]}[${i}]`],
          kindName,
          config,
        );
    });
    return;
  }
  if (isObj(v) && !isAtomicMap(field)) {
    for (const [k, x] of Object.entries(v)) checkKeys(x, k, [...path, k], kindName, config);
  }
}

export interface Diff {
  /** Paths added or given a new value. */
  changed: FieldNode;
  /** Paths that no longer exist (each takes its subtree). */
  removed: FieldNode;
}

/** What changed between two versions of an object, in `scope`. */
export function diffObjects(before: Obj | undefined, after: Obj, scope: Scope, hasStatus: boolean): Diff {
  const d: Diff = { changed: {}, removed: {} };
  const a = ownedView(before, scope, hasStatus);
  const b = ownedView(after, scope, hasStatus);
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
    diffValue(a[k], b[k], k, [`f:${k}`], d, false);
  return d;
}

function diffValue(
  a: unknown,
  b: unknown,
  field: string | undefined,
  path: string[],
  d: Diff,
  isItem: boolean,
): void {
  if (a === undefined && b === undefined) return;
  if (b === undefined) {
    insert(d.removed, path);
    return;
  }
  if (a === undefined) {
    addAll(d.changed, b, field, path, true, isItem);
    return;
  }
  if (isObj(a) && isObj(b) && !isLeaf(a, field) && !isLeaf(b, field)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      diffValue(a[k], b[k], k, [...path, `f:${k}`], d, false);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const ea = itemElements(field, a);
    const eb = itemElements(field, b);
    if (ea && eb) {
      const byA = new Map(ea.map((e, i) => [e, a[i]]));
      const byB = new Map(eb.map((e, i) => [e, b[i]]));
      for (const e of new Set([...ea, ...eb])) {
        const p = [...path, e];
        if (e.startsWith('v:')) {
          if (!byB.has(e)) insert(d.removed, p);
          else if (!byA.has(e)) insert(d.changed, p);
          continue;
        }
        diffValue(byA.get(e), byB.get(e), undefined, p, d, true);
      }
      return;
    }
  }
  if (!deepEqual(a, b)) {
    if (isObj(b) && !isLeaf(b, field)) {
      insert(d.changed, path);
      addAll(d.changed, b, field, path, true, false);
    } else insert(d.changed, path);
  }
}

// ---------------------------------------------------------------------------------------------
// Apply: merge a configuration into the live object, and prune what a manager stopped applying

/**
 * The live object with the configuration merged in: maps and structs field by field,
 * associative lists item by item (configuration order, then items only live has), sets by value,
 * everything else replaced by the configuration's value. Inputs are not modified.
 */
export function mergeConfig(live: unknown, config: unknown, field?: string): unknown {
  if (isObj(config) && isObj(live) && !isAtomicMap(field)) {
    const out: Obj = { ...live };
    for (const [k, v] of Object.entries(config)) if (v !== undefined) out[k] = mergeConfig(live[k], v, k);
    return out;
  }
  if (Array.isArray(config) && Array.isArray(live)) {
    const ec = itemElements(field, config);
    const el = itemElements(field, live);
    if (ec && el) {
      const liveBy = new Map(el.map((e, i) => [e, live[i]]));
      const inConfig = new Set(ec);
      const out = config.map((item, i) =>
        ec[i].startsWith('v:') ? item : mergeConfig(liveBy.get(ec[i]), item, undefined),
      );
      el.forEach((e, i) => {
        if (!inConfig.has(e)) out.push(live[i]);
      });
      return out;
    }
  }
  return structuredClone(config);
}

/**
 * Removes from `obj` (in place) every member path of `remove`, except where `keep` still owns
 * something at or below it (then only the parts below that nobody keeps go). Maps and lists that
 * pruning leaves empty go too.
 */
export function prune(obj: Obj, remove: FieldNode, keep: FieldNode): void {
  pruneIn(obj, remove, keep, []);
}

function pruneIn(
  container: unknown,
  remove: FieldNode,
  keep: FieldNode,
  at: string[],
  itemKeys?: readonly string[],
): void {
  for (const [el, r] of remove.children ?? []) {
    // An item kept for parts others own keeps its key fields (it would have no identity otherwise).
    if (itemKeys && el.startsWith('f:') && itemKeys.includes(el.slice(2))) continue;
    const p = [...at, el];
    const found = locate(container, el);
    if (!found) continue;
    if (r.member && !ownsAtOrBelow(keep, p)) {
      found.remove();
      continue;
    }
    const value = found.get();
    const wasFull = isObj(value) ? Object.keys(value).length > 0 : Array.isArray(value) && value.length > 0;
    pruneIn(value, r, keep, p, el.startsWith('k:') ? Object.keys(JSON.parse(el.slice(2)) as Obj) : undefined);
    const nowEmpty = isObj(value)
      ? Object.keys(value).length === 0
      : Array.isArray(value) && value.length === 0;
    if (wasFull && nowEmpty && !ownsAtOrBelow(keep, p)) found.remove();
  }
}

function locate(container: unknown, el: string): { get(): unknown; remove(): void } | undefined {
  const body = el.slice(2);
  if (el.startsWith('f:')) {
    if (!isObj(container) || !(body in container)) return undefined;
    return { get: () => container[body], remove: () => delete container[body] };
  }
  if (!Array.isArray(container)) return undefined;
  let idx = -1;
  if (el.startsWith('i:')) idx = Number(body) < container.length ? Number(body) : -1;
  else if (el.startsWith('v:')) idx = container.findIndex((x) => valueKey(x) === el);
  else {
    const keys = Object.keys(JSON.parse(body) as Obj);
    idx = container.findIndex((x) => itemKey(x, keys) === el);
  }
  if (idx < 0) return undefined;
  return { get: () => container[idx], remove: () => void container.splice(idx, 1) };
}
