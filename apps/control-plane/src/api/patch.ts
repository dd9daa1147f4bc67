import * as api from '@berth/api';
import { ApiError, jsonMergePatch, type KubeObject } from '@berth/api';
import * as jsonpatch from 'fast-json-patch';
import type { PatchType } from './codec';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

/**
 * List merge keys used by the strategic-merge fallback (when @berth/api has no strategicMergePatch):
 * lists of objects under these field names merge element-wise by the key instead of being replaced.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  conditions: 'type',
  imagePullSecrets: 'name',
  tolerations: 'key',
  ownerReferences: 'uid',
};

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Strategic merge patch, the subset kubectl sends: objects merge like RFC 7386, lists of objects
 * with a known merge key merge by key (an element `{"$patch":"delete", key: v}` removes one),
 * other lists are replaced, `$patch: replace` on an object replaces it.
 */
export function strategicMergeFallback(target: Json, patch: Json, field = ''): Json {
  if (!isObject(patch)) {
    if (Array.isArray(patch) && Array.isArray(target) && MERGE_KEYS[field]) {
      return mergeList(target, patch, MERGE_KEYS[field]);
    }
    return patch;
  }
  if (patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return rest;
  }
  if (patch.$patch === 'delete') return null;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = strategicMergeFallback(out[k] ?? null, v, k);
  }
  return out;
}

function mergeList(target: Json[], patch: Json[], key: string): Json[] {
  const out = target.slice();
  for (const p of patch) {
    if (!isObject(p) || !(key in p)) {
      out.push(p);
      continue;
    }
    const i = out.findIndex((t) => isObject(t) && t[key] === p[key]);
    if (p.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = strategicMergeFallback(out[i], p);
    else out.push(strategicMergeFallback(null, p));
  }
  return out;
}

/**
 * Applies a merge, JSON or strategic patch to a copy of `target`. Malformed patch documents are
 * 400 BadRequest; patches that cannot apply (missing path, failed test) are 422 Invalid.
 */
export function applyPatch(
  target: KubeObject,
  type: Exclude<PatchType, 'apply'>,
  patch: unknown,
): KubeObject {
  const base = structuredClone(target) as unknown as Json;
  if (type === 'json') {
    if (!Array.isArray(patch))
      throw new ApiError('BadRequest', 'a JSON patch must be an array of operations');
    const bad = jsonpatch.validate(patch as jsonpatch.Operation[], base);
    if (bad) throw patchError(bad);
    try {
      const res = jsonpatch.applyPatch(base, patch as jsonpatch.Operation[], true, true, true);
      return asKube(res.newDocument);
    } catch (e) {
      throw patchError(e);
    }
  }
  if (!isObject(patch as Json)) throw new ApiError('BadRequest', `a ${type} patch must be a JSON object`);
  if (type === 'merge') return asKube(jsonMergePatch(base, patch));
  const smp = (api as Record<string, unknown>).strategicMergePatch;
  if (typeof smp === 'function') return asKube((smp as (t: unknown, p: unknown) => unknown)(base, patch));
  return asKube(strategicMergeFallback(base, patch as Json));
}

function asKube(v: unknown): KubeObject {
  if (!isObject(v as Json)) throw new ApiError('Invalid', 'the patch does not leave an object');
  return v as KubeObject;
}

function patchError(e: unknown): ApiError {
  if (e instanceof jsonpatch.JsonPatchError) {
    const malformed = [
      'SEQUENCE_NOT_AN_ARRAY',
      'OPERATION_NOT_AN_OBJECT',
      'OPERATION_OP_INVALID',
      'OPERATION_PATH_INVALID',
      'OPERATION_FROM_REQUIRED',
      'OPERATION_VALUE_REQUIRED',
      'OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED',
    ].includes(e.name);
    const where = e.index !== undefined ? `operation ${e.index}: ` : '';
    const msg = `${where}${e.message.split('\n')[0]}`;
    return malformed
      ? new ApiError('BadRequest', `the JSON patch is malformed: ${msg}`)
      : new ApiError('Invalid', `the JSON patch cannot be applied: ${msg}`);
  }
  return new ApiError('BadRequest', `the patch cannot be applied: ${(e as Error).message}`);
}
