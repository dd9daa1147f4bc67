import { ApiError, jsonMergePatch, strategicMergePatch, type KubeObject } from '@berth/api';
import * as jsonpatch from 'fast-json-patch';
import type { PatchType } from './codec';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
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
    try {
      const bad = jsonpatch.validate(patch as jsonpatch.Operation[], base);
      if (bad) throw bad;
      const res = jsonpatch.applyPatch(base, patch as jsonpatch.Operation[], true, true, true);
      return asKube(res.newDocument);
    } catch (e) {
      throw patchError(e);
    }
  }
  if (!isObject(patch)) throw new ApiError('BadRequest', `a ${type} patch must be a JSON object`);
  return asKube(type === 'merge' ? jsonMergePatch(base, patch) : strategicMergePatch(base, patch));
}

function asKube(v: unknown): KubeObject {
  if (!isObject(v)) throw new ApiError('Invalid', 'the patch does not leave an object');
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
