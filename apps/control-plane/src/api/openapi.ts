import { createHash } from 'node:crypto';
import { KINDS, type KindInfo } from '@berth/api';
import { groupVersions, servedSubresources } from './discovery';
import {
  INT_OR_STRING,
  modelSchemas,
  packageOf,
  QUANTITY,
  ref,
  schemaName,
  type Schema,
} from './openapi-schema';

/**
 * OpenAPI v3 as Kubernetes serves it: GET /openapi/v3 is an index of group-versions, each with a
 * `serverRelativeURL` carrying the hash of its document; GET /openapi/v3/api/v1,
 * /openapi/v3/apis/apps/v1, ... are OpenAPI 3.0 documents with the paths served and the component
 * schemas generated from the validation models. kubectl reads them for `--validate=strict` (a PATCH
 * operation tagged with the kind's `x-kubernetes-group-version-kind` and taking `fieldValidation`
 * means "the server validates"), `explain` and client-side apply's patch computation.
 */

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const STATUS = `${META}.Status`;
const SCALE = 'io.k8s.api.autoscaling.v1.Scale';

/** Envelope types with no validation model: lists, Status, DeleteOptions, Scale. */
function envelopeSchemas(): Record<string, Schema> {
  const str = { type: 'string' };
  const int = { type: 'integer' };
  return {
    [QUANTITY]: {
      description: 'A fixed-point amount: "100m", "1.5", "128Mi", "1e3".',
      oneOf: [{ type: 'string' }, { type: 'number' }],
    },
    [INT_OR_STRING]: {
      description: 'An integer or a string (a percentage such as "25%", or a port name).',
      type: 'string',
      format: 'int-or-string',
    },
    [`${META}.ListMeta`]: {
      type: 'object',
      properties: { resourceVersion: str, continue: str, remainingItemCount: int },
    },
    [`${META}.StatusCause`]: {
      type: 'object',
      properties: { reason: str, message: str, field: str },
    },
    [`${META}.StatusDetails`]: {
      type: 'object',
      properties: {
        name: str,
        group: str,
        kind: str,
        uid: str,
        causes: { type: 'array', items: ref(`${META}.StatusCause`) },
        retryAfterSeconds: int,
      },
    },
    [STATUS]: {
      type: 'object',
      properties: {
        apiVersion: str,
        kind: str,
        metadata: ref(`${META}.ListMeta`),
        status: str,
        message: str,
        reason: str,
        details: ref(`${META}.StatusDetails`),
        code: int,
      },
      'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
    },
    [`${META}.Preconditions`]: { type: 'object', properties: { uid: str, resourceVersion: str } },
    [`${META}.DeleteOptions`]: {
      type: 'object',
      properties: {
        apiVersion: str,
        kind: str,
        dryRun: { type: 'array', items: str },
        orphanDependents: { type: 'boolean' },
        preconditions: ref(`${META}.Preconditions`),
        propagationPolicy: { type: 'string', enum: ['Orphan', 'Background', 'Foreground'] },
      },
    },
    [SCALE]: {
      type: 'object',
      properties: {
        apiVersion: str,
        kind: str,
        metadata: ref(`${META}.ObjectMeta`),
        spec: { type: 'object', properties: { replicas: { type: 'integer', minimum: 0 } } },
        status: {
          type: 'object',
          properties: { replicas: int, selector: str },
          required: ['replicas'],
        },
      },
      'x-kubernetes-group-version-kind': [{ group: 'autoscaling', version: 'v1', kind: 'Scale' }],
    },
  };
}

function listName(k: KindInfo): string {
  return `${packageOf(k.group, k.version)}.${k.listKind}`;
}

function listSchema(k: KindInfo): Schema {
  return {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: ref(`${META}.ListMeta`),
      items: { type: 'array', items: ref(schemaName(k)) },
    },
    required: ['items'],
    'x-kubernetes-group-version-kind': [{ group: k.group, version: k.version, kind: k.listKind }],
  };
}

// ---------------------------------------------------------------------------------------------
// Parameters

function query(name: string, schema: Schema, description: string): Schema {
  return { name, in: 'query', description, schema };
}
const P = {
  namespace: {
    name: 'namespace',
    in: 'path',
    required: true,
    description: 'object name and auth scope',
    schema: { type: 'string' },
  },
  name: {
    name: 'name',
    in: 'path',
    required: true,
    description: 'name of the object',
    schema: { type: 'string' },
  },
  labelSelector: query('labelSelector', { type: 'string' }, 'Only objects whose labels match this selector.'),
  fieldSelector: query(
    'fieldSelector',
    { type: 'string' },
    "Only objects whose fields match: metadata.name, metadata.namespace and the kind's selectable fields.",
  ),
  limit: query(
    'limit',
    { type: 'integer' },
    'At most this many items; continue with the returned continue token.',
  ),
  continue: query('continue', { type: 'string' }, 'The continue token of the previous page.'),
  watch: query(
    'watch',
    { type: 'boolean' },
    'Stream changes (ADDED, MODIFIED, DELETED, BOOKMARK) as JSON lines.',
  ),
  resourceVersion: query('resourceVersion', { type: 'string' }, 'For watch: changes after this version.'),
  allowWatchBookmarks: query('allowWatchBookmarks', { type: 'boolean' }, 'Send BOOKMARK events.'),
  timeoutSeconds: query('timeoutSeconds', { type: 'integer' }, 'End the watch after this many seconds.'),
  dryRun: query('dryRun', { type: 'string' }, 'All: validate and answer without storing anything.'),
  fieldManager: query(
    'fieldManager',
    { type: 'string' },
    'Name of the actor making the change (apply: whose fields).',
  ),
  fieldValidation: query(
    'fieldValidation',
    { type: 'string', enum: ['Ignore', 'Warn', 'Strict'] },
    'Berth always validates strictly: unknown or duplicate fields are rejected whatever this says.',
  ),
  force: query(
    'force',
    { type: 'boolean' },
    'Apply: accepted; Berth has no field ownership conflicts to force.',
  ),
  propagationPolicy: query(
    'propagationPolicy',
    { type: 'string', enum: ['Orphan', 'Background', 'Foreground'] },
    'Whether and how dependents are garbage collected.',
  ),
  orphanDependents: query('orphanDependents', { type: 'boolean' }, 'Deprecated: propagationPolicy=Orphan.'),
  container: query(
    'container',
    { type: 'string' },
    'The container whose log to read (required with several).',
  ),
  follow: query('follow', { type: 'boolean' }, 'Keep streaming the log.'),
  previous: query('previous', { type: 'boolean' }, 'The log of the previous instance of the container.'),
  tailLines: query('tailLines', { type: 'integer' }, 'Only the last lines of the log.'),
};

const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

// ---------------------------------------------------------------------------------------------
// Paths

function json(schema: Schema): Schema {
  return { content: { 'application/json': { schema } } };
}

function responses(ok: Schema, created = false): Schema {
  return {
    '200': { description: 'OK', ...json(ok) },
    ...(created ? { '201': { description: 'Created', ...json(ok) } } : {}),
    '401': { description: 'Unauthorized', ...json(ref(STATUS)) },
  };
}

function opId(verb: string, k: KindInfo, scope: 'namespaced' | 'cluster' | 'all', sub?: string): string {
  const g = k.group === '' ? 'Core' : k.group.split('.')[0].replace(/^./, (c) => c.toUpperCase());
  const v = k.version.replace(/^./, (c) => c.toUpperCase());
  const s = sub ? sub.replace(/^./, (c) => c.toUpperCase()) : '';
  if (scope === 'all') return `${verb}${g}${v}${k.kind}ForAllNamespaces`;
  return `${verb}${g}${v}${scope === 'namespaced' ? 'Namespaced' : ''}${k.kind}${s}`;
}

function tag(k: KindInfo): string {
  return `${k.group === '' ? 'core' : k.group.split('.')[0]}_${k.version}`;
}

/** The paths of one kind: collection, object, the all-namespaces list and each served subresource. */
function kindPaths(k: KindInfo): Record<string, Schema> {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  const scope = k.namespaced ? 'namespaced' : 'cluster';
  const coll = k.namespaced ? `${base}/namespaces/{namespace}/${k.resource}` : `${base}/${k.resource}`;
  const item = `${coll}/{name}`;
  const gvk = { group: k.group, version: k.version, kind: k.kind };
  const scoped = k.namespaced ? [P.namespace] : [];
  const own = ref(schemaName(k));
  const list = ref(listName(k));
  const listParams = [
    P.labelSelector,
    P.fieldSelector,
    P.limit,
    P.continue,
    P.watch,
    P.resourceVersion,
    P.allowWatchBookmarks,
    P.timeoutSeconds,
  ];
  const writeParams = [P.dryRun, P.fieldManager, P.fieldValidation];
  const op = (verb: string, action: string, id: string, extra: Schema): Schema => ({
    tags: [tag(k)],
    operationId: id,
    description: `${verb} ${k.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  const paths: Record<string, Schema> = {
    [coll]: {
      parameters: scoped,
      get: op('list or watch', 'list', opId('list', k, scope), {
        parameters: listParams,
        responses: responses(list),
      }),
      post: op('create', 'post', opId('create', k, scope), {
        parameters: writeParams,
        requestBody: { required: true, ...json(own) },
        responses: responses(own, true),
      }),
    },
    [item]: {
      parameters: [P.name, ...scoped],
      get: op('read', 'get', opId('read', k, scope), { responses: responses(own) }),
      put: op('replace', 'put', opId('replace', k, scope), {
        parameters: writeParams,
        requestBody: { required: true, ...json(own) },
        responses: responses(own, true),
      }),
      patch: op('partially update', 'patch', opId('patch', k, scope), {
        parameters: [...writeParams, P.force],
        requestBody: {
          required: true,
          content: Object.fromEntries(PATCH_TYPES.map((t) => [t, { schema: { type: 'object' } }])),
        },
        responses: responses(own, true),
      }),
      delete: op('delete', 'delete', opId('delete', k, scope), {
        parameters: [P.dryRun, P.propagationPolicy, P.orphanDependents],
        requestBody: json(ref(`${META}.DeleteOptions`)),
        responses: { ...responses(own), '202': { description: 'Accepted', ...json(own) } },
      }),
    },
  };
  if (k.namespaced) {
    paths[`${base}/${k.resource}`] = {
      get: op('list or watch', 'list', opId('list', k, 'all'), {
        parameters: listParams,
        responses: responses(list),
      }),
    };
  }
  for (const s of servedSubresources(k)) {
    const subGvk = { group: s.group ?? k.group, version: s.version ?? k.version, kind: s.kind };
    const body = s.kind === 'Scale' ? ref(SCALE) : own;
    const subOp = (verb: string, action: string, id: string, extra: Schema): Schema => ({
      ...op(verb, action, id, extra),
      'x-kubernetes-group-version-kind': subGvk,
    });
    const p: Schema = { parameters: [P.name, ...scoped] };
    if (s.name === 'log') {
      p.get = subOp('read log of', 'get', opId('read', k, scope, 'Log'), {
        parameters: [P.container, P.follow, P.previous, P.tailLines],
        responses: {
          '200': { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } },
          '401': { description: 'Unauthorized', ...json(ref(STATUS)) },
        },
      });
    } else if (s.name === 'status' || s.name === 'scale') {
      if (s.verbs.includes('get'))
        p.get = subOp(`read ${s.name} of`, 'get', opId('read', k, scope, s.name), {
          responses: responses(body),
        });
      if (s.verbs.includes('update'))
        p.put = subOp(`replace ${s.name} of`, 'put', opId('replace', k, scope, s.name), {
          parameters: writeParams,
          requestBody: { required: true, ...json(body) },
          responses: responses(body, true),
        });
      if (s.verbs.includes('patch'))
        p.patch = subOp(`partially update ${s.name} of`, 'patch', opId('patch', k, scope, s.name), {
          parameters: [...writeParams, P.force],
          requestBody: {
            required: true,
            content: Object.fromEntries(PATCH_TYPES.map((t) => [t, { schema: { type: 'object' } }])),
          },
          responses: responses(body, true),
        });
    } else {
      continue; // exec/attach/portforward are connections, not documents
    }
    paths[`${item}/${s.name}`] = p;
  }
  return paths;
}

/** Every `$ref` name a value reaches. */
function refsOf(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) refsOf(x, out);
  else if (v && typeof v === 'object') {
    for (const [key, x] of Object.entries(v)) {
      if (key === '$ref' && typeof x === 'string') out.add(x.replace('#/components/schemas/', ''));
      else refsOf(x, out);
    }
  }
  return out;
}

/** The OpenAPI 3.0 document of one group/version: its paths and the schemas they reach. */
export function groupVersionDocument(group: string, version: string): Schema {
  const kinds = KINDS.filter((k) => k.group === group && k.version === version);
  if (!kinds.length) throw new Error(`openapi: ${group}/${version} is not served`);
  const paths: Record<string, Schema> = {};
  for (const k of kinds) Object.assign(paths, kindPaths(k));
  const all: Record<string, Schema> = { ...envelopeSchemas(), ...modelSchemas() };
  for (const k of KINDS) all[listName(k)] = listSchema(k);
  // Keep what the paths reach, transitively.
  const keep = new Set<string>();
  const queue = [...refsOf(paths)];
  while (queue.length) {
    const n = queue.pop()!;
    if (keep.has(n)) continue;
    if (!all[n]) throw new Error(`openapi: ${n} is referenced but not defined`);
    keep.add(n);
    queue.push(...refsOf(all[n]));
  }
  const schemas = Object.fromEntries([...keep].sort().map((n) => [n, all[n]]));
  const gv = group ? `${group}/${version}` : version;
  return {
    openapi: '3.0.0',
    info: { title: 'Berth', version: gv },
    paths,
    components: {
      schemas,
      securitySchemes: { BearerToken: { type: 'apiKey', name: 'authorization', in: 'header' } },
    },
    security: [{ BearerToken: [] }],
  };
}

export interface OpenApiDocuments {
  /** GET /openapi/v3 */
  index: string;
  /** 'api/v1', 'apis/apps/v1', ... → the document's JSON and its hash. */
  docs: Map<string, { json: string; hash: string }>;
}

let cached: OpenApiDocuments | undefined;

/** All documents, built once (they depend only on the kind registry and the models). */
export function openApiDocuments(): OpenApiDocuments {
  if (cached) return cached;
  const docs = new Map<string, { json: string; hash: string }>();
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const { group, version } of groupVersions()) {
    const key = group ? `apis/${group}/${version}` : `api/${version}`;
    const json = JSON.stringify(groupVersionDocument(group, version));
    const hash = createHash('sha512').update(json).digest('hex').toUpperCase();
    docs.set(key, { json, hash });
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
  }
  cached = { index: JSON.stringify({ paths }), docs };
  return cached;
}
