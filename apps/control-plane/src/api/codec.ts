import { ApiError } from '@berth/api';
import YAML from 'yaml';

/** Deepest nesting accepted in a request body; Kubernetes objects stay far below it. */
export const MAX_DEPTH = 100;

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const PATCH_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+json': 'apply',
};

/** The media type without parameters, lower-case ('' when absent). */
export function mediaType(contentType: string | string[] | undefined): string {
  const ct = Array.isArray(contentType) ? contentType[0] : contentType;
  return (ct ?? '').split(';')[0].trim().toLowerCase();
}

/** One entry of an Accept header: `application/json;as=Table;v=v1;g=meta.k8s.io;q=0.9`. */
export interface MediaRange {
  /** Lower-case `type/subtype`. */
  type: string;
  /** Parameters (names lower-case, quotes removed), q included. */
  params: Record<string, string>;
  q: number;
  /** Position in the header (ties in q go to the earlier one). */
  index: number;
}

/** The media ranges of an Accept header, in header order, without empty ones and those with q=0. */
export function parseAccept(header: string): MediaRange[] {
  const out: MediaRange[] = [];
  header.split(',').forEach((part, index) => {
    const [type, ...rest] = part.split(';').map((s) => s.trim());
    if (!type) return;
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0)
        params[p.slice(0, eq).trim().toLowerCase()] = p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, '');
    }
    const q = params.q === undefined ? 1 : Number(params.q);
    if (Number.isFinite(q) && q > 0) out.push({ type: type.toLowerCase(), params, q, index });
  });
  return out;
}

/** The patch flavour a PATCH request's Content-Type names; 415 for anything else. */
export function patchTypeOf(contentType: string | string[] | undefined): PatchType {
  const mt = mediaType(contentType);
  const t = PATCH_TYPES[mt];
  if (!t) {
    throw new ApiError(
      'UnsupportedMediaType',
      `the body of the request was in an unknown format (${JSON.stringify(mt)}); ` +
        `PATCH accepts ${Object.keys(PATCH_TYPES).join(', ')}`,
    );
  }
  return t;
}

function text(raw: Buffer | undefined): string {
  if (!raw || raw.length === 0) throw new ApiError('BadRequest', 'the request body is empty');
  return raw.toString('utf8');
}

export function parseJson(raw: Buffer | undefined): unknown {
  const s = text(raw);
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (e) {
    throw new ApiError('BadRequest', `the request body is not valid JSON: ${(e as Error).message}`);
  }
  checkShape(v);
  return v;
}

export function parseYamlOrJson(raw: Buffer | undefined): unknown {
  const s = text(raw);
  if (/^\s*[[{]/.test(s)) {
    try {
      const v = JSON.parse(s);
      checkShape(v);
      return v;
    } catch (e) {
      if (e instanceof ApiError) throw e;
      // Not JSON after all: YAML is a superset, let the YAML parser report.
    }
  }
  const docs = YAML.parseAllDocuments(s, { prettyErrors: true });
  if (!Array.isArray(docs)) throw new ApiError('BadRequest', 'the request body is not valid YAML');
  const real = docs.filter((d) => d.contents !== null);
  if (real.length !== 1) {
    throw new ApiError(
      'BadRequest',
      `the request body must hold exactly one YAML document, found ${real.length}`,
    );
  }
  const doc = real[0];
  if (doc.errors.length) {
    throw new ApiError(
      'BadRequest',
      `the request body is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`,
    );
  }
  let v: unknown;
  try {
    v = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ApiError('BadRequest', `the request body is not valid YAML: ${(e as Error).message}`);
  }
  checkShape(v);
  return v;
}

/** Rejects too-deep documents and __proto__ keys without recursion (bodies are untrusted). */
export function checkShape(v: unknown): void {
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > MAX_DEPTH)
      throw new ApiError('BadRequest', `the request body is nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(x)) {
      for (const e of x) stack.push([e, d + 1]);
    } else {
      for (const [k, e] of Object.entries(x)) {
        if (k === '__proto__')
          throw new ApiError('BadRequest', 'the request body has a forbidden key "__proto__"');
        stack.push([e, d + 1]);
      }
    }
  }
}

/** Decodes a create/update body: JSON (default) or YAML by Content-Type; must be one object. */
export function decodeObjectBody(
  raw: Buffer | undefined,
  contentType: string | string[] | undefined,
): Record<string, unknown> {
  const mt = mediaType(contentType);
  let v: unknown;
  if (mt === '' || mt === 'application/json') v = parseJson(raw);
  else if (mt === 'application/yaml' || mt === 'application/x-yaml' || mt === 'text/yaml')
    v = parseYamlOrJson(raw);
  else {
    throw new ApiError(
      'UnsupportedMediaType',
      `the body of the request was in an unknown format (${JSON.stringify(mt)}); accepted: application/json, application/yaml`,
    );
  }
  return asObject(v);
}

export function asObject(v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ApiError(
      'BadRequest',
      `the request body must be a JSON object, not ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`,
    );
  }
  return v as Record<string, unknown>;
}
