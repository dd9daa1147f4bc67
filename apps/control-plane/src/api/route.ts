import { ApiError, KINDS, kindForResource, type KindInfo } from '@berth/api';

/** What a request path names: a discovery document or a resource (collection, object, subresource). */
export type Route =
  | { type: 'discovery'; doc: 'api' }
  | { type: 'discovery'; doc: 'apis' }
  | { type: 'discovery'; doc: 'group'; group: string }
  | { type: 'discovery'; doc: 'resources'; group: string; version: string }
  | ResourceRoute;

export interface ResourceRoute {
  type: 'resource';
  kind: KindInfo;
  /** Set for namespaced paths (/namespaces/{ns}/...); undefined for all-namespaces or cluster-scoped. */
  namespace?: string;
  name?: string;
  subresource?: 'status' | 'scale' | 'log' | 'exec';
}

function notFound(path: string): ApiError {
  return new ApiError('NotFound', `the server could not find the requested resource (${path})`);
}

function segments(path: string): string[] {
  const parts = path.split('/').filter((s) => s !== '');
  return parts.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new ApiError('BadRequest', `path segment ${JSON.stringify(s)} is not valid percent-encoding`);
    }
  });
}

/**
 * Parses a Kubernetes API path (without the query string):
 * /api, /apis, /apis/{g}, /api/v1, /apis/{g}/{v}, then under a group/version:
 * {resource}, {resource}/{name}[/{sub}] (cluster-scoped), namespaces/{ns}/{resource}[/{name}[/{sub}]].
 * Throws ApiError NotFound for paths that name nothing served.
 */
export function parseRoute(path: string): Route {
  const seg = segments(path);
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === 'api') {
    if (seg.length === 1) return { type: 'discovery', doc: 'api' };
    group = '';
    version = seg[1];
    rest = seg.slice(2);
  } else if (seg[0] === 'apis') {
    if (seg.length === 1) return { type: 'discovery', doc: 'apis' };
    group = seg[1];
    if (!KINDS.some((k) => k.group === group && group !== '')) throw notFound(path);
    if (seg.length === 2) return { type: 'discovery', doc: 'group', group };
    version = seg[2];
    rest = seg.slice(3);
  } else throw notFound(path);
  if (!KINDS.some((k) => k.group === group && k.version === version)) throw notFound(path);
  if (rest.length === 0) return { type: 'discovery', doc: 'resources', group, version };

  // namespaces/{ns}/{resource}... when {resource} is a namespaced kind of this group/version.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const kind = kindForResource(group, version, rest[2]);
    if (kind?.namespaced) {
      if (rest.length > 5) throw notFound(path);
      return finish(path, { type: 'resource', kind, namespace: rest[1], name: rest[3] }, rest[4]);
    }
    // A cluster-scoped kind under a namespace is not served; otherwise this is
    // namespaces/{name}/{subresource} of the Namespace kind itself.
    if (kind) throw notFound(path);
  }
  const kind = kindForResource(group, version, rest[0]);
  if (!kind || rest.length > 3) throw notFound(path);
  if (kind.namespaced && rest.length > 1) throw notFound(path);
  return finish(path, { type: 'resource', kind, name: rest[1] }, rest[2]);
}

function finish(path: string, r: ResourceRoute, sub: string | undefined): ResourceRoute {
  if (r.namespace === '' || r.name === '') throw notFound(path);
  if (sub === undefined) return r;
  if (sub === 'status' && r.kind.hasStatus) return { ...r, subresource: 'status' };
  if (sub === 'scale' && r.kind.hasScale) return { ...r, subresource: 'scale' };
  if ((sub === 'log' || sub === 'exec') && r.kind.kind === 'Pod' && r.namespace !== undefined)
    return { ...r, subresource: sub };
  throw notFound(path);
}
