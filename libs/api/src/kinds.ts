/**
 * The registry of kinds Berth serves. Everything generic (the API controller, the store's keys,
 * the CLI's name resolution, discovery) is driven from this table rather than per-kind code.
 */
export interface KindInfo {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Lower-case plural used in URLs and store keys, e.g. 'pods'. */
  resource: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Whether status is a subresource (written only through .../status). */
  hasStatus: boolean;
  /** Whether .../scale is served (spec.replicas). */
  hasScale: boolean;
}

export const KINDS: readonly KindInfo[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    listKind: 'NamespaceList',
    resource: 'namespaces',
    singular: 'namespace',
    shortNames: ['ns'],
    namespaced: false,
    hasStatus: true,
    hasScale: false,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Node',
    listKind: 'NodeList',
    resource: 'nodes',
    singular: 'node',
    shortNames: ['no'],
    namespaced: false,
    hasStatus: true,
    hasScale: false,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Pod',
    listKind: 'PodList',
    resource: 'pods',
    singular: 'pod',
    shortNames: ['po'],
    namespaced: true,
    hasStatus: true,
    hasScale: false,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Event',
    listKind: 'EventList',
    resource: 'events',
    singular: 'event',
    shortNames: ['ev'],
    namespaced: true,
    hasStatus: false,
    hasScale: false,
  },
  {
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    listKind: 'ConfigMapList',
    resource: 'configmaps',
    singular: 'configmap',
    shortNames: ['cm'],
    namespaced: true,
    hasStatus: false,
    hasScale: false,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Secret',
    listKind: 'SecretList',
    resource: 'secrets',
    singular: 'secret',
    shortNames: [],
    namespaced: true,
    hasStatus: false,
    hasScale: false,
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    listKind: 'DeploymentList',
    resource: 'deployments',
    singular: 'deployment',
    shortNames: ['deploy'],
    namespaced: true,
    hasStatus: true,
    hasScale: true,
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'ReplicaSet',
    listKind: 'ReplicaSetList',
    resource: 'replicasets',
    singular: 'replicaset',
    shortNames: ['rs'],
    namespaced: true,
    hasStatus: true,
    hasScale: true,
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    listKind: 'LeaseList',
    resource: 'leases',
    singular: 'lease',
    shortNames: [],
    namespaced: true,
    hasStatus: false,
    hasScale: false,
  },
];

export function apiVersionOf(k: KindInfo): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** Finds a kind by apiVersion + kind as written in a manifest. */
export function kindFor(apiVersion: string, kind: string): KindInfo | undefined {
  return KINDS.find((k) => apiVersionOf(k) === apiVersion && k.kind === kind);
}

/** Finds a kind by URL resource (plural) within a group/version. */
export function kindForResource(group: string, version: string, resource: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.version === version && k.resource === resource);
}

/**
 * Resolves what a user types (kubectl style): plural, singular, short name or Kind, case-insensitive,
 * optionally qualified with a group (`deployments.apps`).
 */
export function resolveKindName(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  const [base, ...groupParts] = n.split('.');
  const group = groupParts.join('.');
  return KINDS.find(
    (k) =>
      (!group || k.group === group) &&
      (k.resource === base ||
        k.singular === base ||
        k.kind.toLowerCase() === base ||
        k.shortNames.includes(base)),
  );
}

/** The URL path of a collection or object: /api/v1/namespaces/ns/pods[/name][/sub]. */
export function resourcePath(k: KindInfo, namespace?: string, name?: string, subresource?: string): string {
  let p = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  if (k.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${k.resource}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}
