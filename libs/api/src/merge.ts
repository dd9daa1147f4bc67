/**
 * Object merging as kubectl apply does it: JSON merge patch (RFC 7386), a three-way merge of
 * (last applied, desired, live), and a basic strategic merge patch.
 */

type Json = unknown;
type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A deep copy of JSON-like data (objects, arrays, scalars). */
export function deepCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => deepCopy(x)) as T;
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k] = deepCopy(x);
    return out as T;
  }
  return v;
}

/** Structural equality of JSON-like data (key order does not matter). */
export function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObj(a)) {
    if (!isObj(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else replaces. */
export function jsonMergePatch<T = unknown>(target: unknown, patch: unknown): T {
  if (!isObj(patch)) return deepCopy(patch) as T;
  const result: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = jsonMergePatch(result[k], v);
  }
  return result as T;
}

/**
 * The merge keys of Kubernetes' strategic merge for the kinds Berth serves: lists under these
 * field names are merged item by item, matched by the key; other lists are replaced whole.
 */
export const MERGE_KEYS: Readonly<Record<string, readonly string[]>> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  volumes: ['name'],
  env: ['name'],
  imagePullSecrets: ['name'],
  ports: ['containerPort', 'name'],
  volumeMounts: ['mountPath'],
  ownerReferences: ['uid'],
  conditions: ['type'],
  hostAliases: ['ip'],
  topologySpreadConstraints: ['topologyKey'],
  taints: ['key'],
  addresses: ['type'],
  containerStatuses: ['name'],
  initContainerStatuses: ['name'],
};

/** The merge key usable for every object item of these lists, if any. */
function mergeKeyFor(field: string | undefined, ...lists: unknown[][]): string | undefined {
  if (!field) return undefined;
  const candidates = MERGE_KEYS[field];
  if (!candidates) return undefined;
  const items = lists.flat();
  if (!items.every(isObj)) return undefined;
  return candidates.find((k) =>
    items.every((i) => {
      const v = (i as Obj)[k];
      return typeof v === 'string' || typeof v === 'number';
    }),
  );
}

function keyOf(item: unknown, key: string): string {
  return JSON.stringify((item as Obj)[key]);
}

function mergeValue(last: unknown, desired: unknown, live: unknown, field?: string): unknown {
  if (isObj(desired)) return mergeMaps(isObj(last) ? last : undefined, desired, isObj(live) ? live : {});
  if (Array.isArray(desired)) {
    const liveList = Array.isArray(live) ? live : [];
    const lastList = Array.isArray(last) ? last : [];
    const key = mergeKeyFor(field, desired, liveList, lastList);
    if (!key) return deepCopy(desired);
    const lastByKey = new Map(lastList.map((i) => [keyOf(i, key), i]));
    const liveByKey = new Map(liveList.map((i) => [keyOf(i, key), i]));
    const desiredKeys = new Set(desired.map((i) => keyOf(i, key)));
    const out: unknown[] = desired.map((item) => {
      const k = keyOf(item, key);
      return mergeValue(lastByKey.get(k), item, liveByKey.get(k), undefined);
    });
    // Items that someone else added (not in the last applied list) stay; items this manager
    // applied before and dropped from the file now are removed.
    for (const item of liveList) {
      const k = keyOf(item, key);
      if (!desiredKeys.has(k) && !lastByKey.has(k)) out.push(deepCopy(item));
    }
    return out;
  }
  return desired;
}

function mergeMaps(last: Obj | undefined, desired: Obj, live: Obj): Obj {
  const result: Obj = {};
  for (const [k, v] of Object.entries(live)) result[k] = deepCopy(v);
  for (const [k, v] of Object.entries(desired)) {
    if (v === null) delete result[k];
    else result[k] = mergeValue(last?.[k], v, live[k], k);
  }
  if (last) for (const k of Object.keys(last)) if (!(k in desired)) delete result[k];
  return result;
}

/**
 * kubectl apply's three-way merge. Fields in `desired` are set; fields that were in
 * `lastApplied` but are no longer in `desired` are removed from `live`; fields nobody applied
 * (set by controllers, `scale`, the server: status, uid, resourceVersion, …) are kept. Lists with
 * a Kubernetes merge key (containers and volumes by name, volumeMounts by mountPath, …) merge
 * item by item; other lists are replaced by the desired one. Inputs are not modified.
 */
export function threeWayMerge<T extends object>(lastApplied: T | undefined, desired: T, live: T): T {
  return mergeMaps(lastApplied as Obj | undefined, desired as Obj, live as Obj) as T;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch (the subset kubectl sends): merge keys, `$patch: replace|delete`,
// `$retainKeys`, `$deleteFromPrimitiveList/<field>`; `$setElementOrder/<field>` is accepted and
// used only to order merged lists.

const DIRECTIVE = '$patch';
const RETAIN = '$retainKeys';
const DELETE_FROM = '$deleteFromPrimitiveList/';
const ORDER = '$setElementOrder/';

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v))
    return v
      .filter((i) => !(isObj(i) && i[DIRECTIVE] !== undefined && Object.keys(i).length === 1))
      .map(stripDirectives);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === DIRECTIVE || k === RETAIN || k.startsWith(DELETE_FROM) || k.startsWith(ORDER)) continue;
    if (x === null) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

function patchList(live: unknown, patch: unknown[], field: string, order: unknown[] | undefined): unknown[] {
  const liveList = Array.isArray(live) ? live : [];
  if (patch.some((i) => isObj(i) && i[DIRECTIVE] === 'replace'))
    return stripDirectives(patch.filter((i) => !(isObj(i) && i[DIRECTIVE] === 'replace'))) as unknown[];
  const key = mergeKeyFor(field, patch, liveList);
  if (!key) return stripDirectives(patch) as unknown[];
  const out = liveList.map((i) => deepCopy(i));
  for (const item of patch) {
    if (!isObj(item)) continue;
    const k = keyOf(item, key);
    const idx = out.findIndex((i) => keyOf(i, key) === k);
    if (item[DIRECTIVE] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = patchValue(out[idx], item);
    else out.push(stripDirectives(item));
  }
  if (order && order.every(isObj)) {
    const rank = new Map(order.map((o, i) => [keyOf(o, key), i]));
    const ranked = out
      .filter((i) => rank.has(keyOf(i, key)))
      .sort((a, b) => rank.get(keyOf(a, key))! - rank.get(keyOf(b, key))!);
    const rest = out.filter((i) => !rank.has(keyOf(i, key)));
    return [...ranked, ...rest];
  }
  return out;
}

function patchValue(live: unknown, patch: unknown, field?: string, order?: unknown[]): unknown {
  if (Array.isArray(patch)) return patchList(live, patch, field ?? '', order);
  if (!isObj(patch)) return deepCopy(patch);
  if (patch[DIRECTIVE] === 'replace') return stripDirectives(patch);
  const result: Obj = isObj(live) ? deepCopy(live) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === RETAIN || k.startsWith(ORDER)) continue;
    if (k.startsWith(DELETE_FROM)) {
      const f = k.slice(DELETE_FROM.length);
      if (Array.isArray(result[f]) && Array.isArray(v))
        result[f] = (result[f] as unknown[]).filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null || (isObj(v) && v[DIRECTIVE] === 'delete')) {
      delete result[k];
      continue;
    }
    const orderList = patch[`${ORDER}${k}`];
    result[k] = patchValue(result[k], v, k, Array.isArray(orderList) ? orderList : undefined);
  }
  const retain = patch[RETAIN];
  if (Array.isArray(retain)) for (const k of Object.keys(result)) if (!retain.includes(k)) delete result[k];
  return result;
}

/** Applies a strategic merge patch to `live` (not modified) and returns the result. */
export function strategicMergePatch<T = unknown>(live: unknown, patch: unknown): T {
  return patchValue(live, patch) as T;
}
