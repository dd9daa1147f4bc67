import { KINDS, type KindInfo } from '@berth/api';

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

/** GET /api: the core group's versions. */
export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDoc(group: string): object {
  const versions = [...new Set(KINDS.filter((k) => k.group === group).map((k) => k.version))].map((v) => ({
    groupVersion: `${group}/${v}`,
    version: v,
  }));
  return { name: group, versions, preferredVersion: versions[0] };
}

/** GET /apis: every named group. */
export function apiGroupList(): object {
  const groups = [...new Set(KINDS.map((k) => k.group).filter((g) => g !== ''))];
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupDoc) };
}

/** GET /apis/{group}. */
export function apiGroup(group: string): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group) };
}

/** GET /api/v1 or /apis/{group}/{version}: the resources and subresources served there. */
export function apiResourceList(group: string, version: string): object {
  const resources: object[] = [];
  const kinds = KINDS.filter((k: KindInfo) => k.group === group && k.version === version);
  for (const k of kinds) {
    resources.push({
      name: k.resource,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: VERBS,
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
    });
    if (k.hasStatus) {
      resources.push({
        name: `${k.resource}/status`,
        singularName: '',
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: ['get', 'patch', 'update'],
      });
    }
    if (k.hasScale) {
      resources.push({
        name: `${k.resource}/scale`,
        singularName: '',
        namespaced: k.namespaced,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

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
