import { ApiError, KINDS, resourcePath, type KindInfo } from '@berth/api';
import { parseRoute, type Route } from './route';
import { parseAccept, type MediaRange } from './codec';

/**
 * Discovery documents, all derived from the kind registry (KINDS) and from what route.ts really
 * parses: the legacy form (APIVersions, APIGroupList, APIGroup, APIResourceList), which
 * @kubernetes/client-node reads, and aggregated discovery (apidiscovery.k8s.io v2, and v2beta1
 * for kubectl ≤ 1.29), one document for /api and one for /apis, served only when the Accept
 * header asks for it.
 */

/** Verbs of every kind's own resource: no deletecollection (DELETE needs an object path). */
export const RESOURCE_VERBS: readonly string[] = [
  'create',
  'delete',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

/** Kinds listed by `kubectl get all`. */
const ALL_CATEGORY = new Set(['pods', 'deployments', 'replicasets', 'services']);

/** Subresources Berth may serve and their verbs and response kinds; `served()` keeps those route.ts parses. */
const SUBRESOURCES: readonly {
  name: string;
  verbs: string[];
  /** Set when the response is not the parent's kind. */
  responseKind?: { group: string; version: string; kind: string };
}[] = [
  { name: 'status', verbs: ['get', 'patch', 'update'] },
  {
    name: 'scale',
    verbs: ['get', 'patch', 'update'],
    responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
  },
  { name: 'log', verbs: ['get'] },
  { name: 'exec', verbs: ['create', 'get'] },
  { name: 'attach', verbs: ['create', 'get'] },
  { name: 'portforward', verbs: ['create', 'get'] },
];

/**
 * Resources served read-only and always empty (services.controller.ts) so that clients which list
 * them work: not kinds (no store, no OpenAPI), only get/list/watch in discovery.
 */
export const EMPTY_RESOURCES: readonly {
  group: string;
  version: string;
  resource: string;
  singular: string;
  kind: string;
  shortNames: string[];
  verbs: string[];
}[] = [
  {
    group: '',
    version: 'v1',
    resource: 'services',
    singular: 'service',
    kind: 'Service',
    shortNames: ['svc'],
    verbs: ['get', 'list', 'watch'],
  },
];

const emptyResourcesOf = (group: string, version: string) =>
  EMPTY_RESOURCES.filter((r) => r.group === group && r.version === version);

export interface ServedSubresource {
  name: string;
  verbs: string[];
  group?: string;
  version?: string;
  kind: string;
}

/**
 * The subresources of a kind that the route parser accepts (probed with a sample object path), so
 * discovery cannot advertise what the API does not route, nor miss a subresource added there.
 */
export function servedSubresources(k: KindInfo): ServedSubresource[] {
  const objectPath = resourcePath(k, k.namespaced ? 'default' : undefined, 'x');
  return SUBRESOURCES.filter((s) => {
    try {
      const r = parseRoute(`${objectPath}/${s.name}`);
      return r.type === 'resource' && r.subresource === s.name;
    } catch (e) {
      if (e instanceof ApiError) return false;
      throw e;
    }
  }).map((s) => ({
    name: s.name,
    verbs: s.verbs,
    ...(s.responseKind ?? { kind: k.kind }),
  }));
}

export function categoriesOf(k: KindInfo): string[] {
  return ALL_CATEGORY.has(k.resource) ? ['all'] : [];
}

function groups(): string[] {
  return [...new Set(KINDS.map((k) => k.group).filter((g) => g !== ''))];
}

function versionsOf(group: string): string[] {
  return [...new Set(KINDS.filter((k) => k.group === group).map((k) => k.version))];
}

/** Every served group/version, core first: `v1`, `apps/v1`, ... */
export function groupVersions(): { group: string; version: string }[] {
  return ['', ...groups()].flatMap((group) => versionsOf(group).map((version) => ({ group, version })));
}

// ---------------------------------------------------------------------------------------------
// Legacy discovery

/** GET /api: the core group's versions. */
export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: versionsOf(''),
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDoc(group: string): object {
  const versions = versionsOf(group).map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions, preferredVersion: versions[0] };
}

/** GET /apis: every named group. */
export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(groupDoc) };
}

/** GET /apis/{group}. */
export function apiGroup(group: string): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group) };
}

/** GET /api/v1 or /apis/{group}/{version}: the resources and subresources served there. */
export function apiResourceList(group: string, version: string): object {
  const resources: object[] = [];
  for (const k of KINDS.filter((k) => k.group === group && k.version === version)) {
    const categories = categoriesOf(k);
    resources.push({
      name: k.resource,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: [...RESOURCE_VERBS],
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
      ...(categories.length ? { categories } : {}),
    });
    for (const s of servedSubresources(k)) {
      resources.push({
        name: `${k.resource}/${s.name}`,
        singularName: '',
        namespaced: k.namespaced,
        ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  for (const r of emptyResourcesOf(group, version))
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: true,
      kind: r.kind,
      verbs: r.verbs,
      shortNames: r.shortNames,
      ...(ALL_CATEGORY.has(r.resource) ? { categories: ['all'] } : {}),
    });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

// ---------------------------------------------------------------------------------------------
// Aggregated discovery (apidiscovery.k8s.io)

export type DiscoveryFormat = 'v2' | 'v2beta1' | 'legacy';

/** The Content-Type of an aggregated document; clients check it (kubectl ignores the body otherwise). */
export function aggregatedContentType(v: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;
}

function formatOf(m: MediaRange): DiscoveryFormat | undefined {
  if (m.params.g !== undefined || m.params.as !== undefined) {
    if (
      m.type === 'application/json' &&
      m.params.g === 'apidiscovery.k8s.io' &&
      m.params.as === 'APIGroupDiscoveryList' &&
      (m.params.v === 'v2' || m.params.v === 'v2beta1')
    )
      return m.params.v;
    return undefined; // another typed form (protobuf, Table, ...): not something /api serves
  }
  if (m.type === 'application/json' || m.type === 'application/*' || m.type === '*/*') return 'legacy';
  return undefined;
}

/**
 * Which discovery document an Accept header asks for at /api and /apis: the acceptable media range
 * with the highest q (the earliest on ties) among aggregated v2, v2beta1 (JSON only) and plain
 * JSON. No Accept, or nothing acceptable, gets the legacy JSON documents, as before.
 */
export function negotiateDiscovery(accept: string | string[] | undefined): DiscoveryFormat {
  const header = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  const candidates = parseAccept(header)
    .map((m) => ({ m, f: formatOf(m) }))
    .filter((c): c is { m: MediaRange; f: DiscoveryFormat } => c.f !== undefined)
    .sort((a, b) => b.m.q - a.m.q || a.m.index - b.m.index);
  return candidates[0]?.f ?? 'legacy';
}

function aggregatedResource(k: KindInfo): object {
  const categories = categoriesOf(k);
  return {
    resource: k.resource,
    // Empty group and version: the enclosing group/version, as in APIResourceList.
    responseKind: { group: '', version: '', kind: k.kind },
    scope: k.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: k.singular,
    verbs: [...RESOURCE_VERBS],
    ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
    ...(categories.length ? { categories } : {}),
    subresources: servedSubresources(k).map((s) => ({
      subresource: s.name,
      responseKind: { group: s.group ?? '', version: s.version ?? '', kind: s.kind },
      verbs: s.verbs,
    })),
  };
}

function groupDiscovery(group: string): object {
  return {
    metadata: { name: group, creationTimestamp: null },
    versions: versionsOf(group).map((version) => ({
      version,
      resources: [
        ...KINDS.filter((k) => k.group === group && k.version === version).map(aggregatedResource),
        ...emptyResourcesOf(group, version).map((r) => ({
          resource: r.resource,
          responseKind: { group: '', version: '', kind: r.kind },
          scope: 'Namespaced',
          singularResource: r.singular,
          verbs: r.verbs,
          shortNames: r.shortNames,
          ...(ALL_CATEGORY.has(r.resource) ? { categories: ['all'] } : {}),
          subresources: [],
        })),
      ],
      freshness: 'Current',
    })),
  };
}

/**
 * The aggregated discovery document of GET /api (the core group, named '') or GET /apis (every
 * named group, versions in order of preference).
 */
export function aggregatedDiscovery(root: 'api' | 'apis', v: 'v2' | 'v2beta1'): object {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${v}`,
    metadata: {},
    items: root === 'api' ? [groupDiscovery('')] : groups().map(groupDiscovery),
  };
}

/**
 * The document a discovery route serves: aggregated at /api and /apis when the Accept header asks
 * for it (with its own Content-Type), the legacy document otherwise.
 */
export function discoveryDocument(
  route: Extract<Route, { type: 'discovery' }>,
  accept: string | string[] | undefined,
  serverAddress: string,
): { contentType: string; json: string } {
  if (route.doc === 'api' || route.doc === 'apis') {
    const format = negotiateDiscovery(accept);
    if (format !== 'legacy')
      return {
        contentType: aggregatedContentType(format),
        json: JSON.stringify(aggregatedDiscovery(route.doc, format)),
      };
  }
  const doc =
    route.doc === 'api'
      ? apiVersions(serverAddress)
      : route.doc === 'apis'
        ? apiGroupList()
        : route.doc === 'group'
          ? apiGroup(route.group)
          : apiResourceList(route.group, route.version);
  return { contentType: 'application/json', json: JSON.stringify(doc) };
}

// ---------------------------------------------------------------------------------------------

/** GET /version. */
export function versionInfo(): object {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-berth',
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '',
    goVersion: '',
    compiler: 'node',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}
