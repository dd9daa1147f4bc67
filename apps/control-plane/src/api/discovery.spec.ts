import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KINDS } from '@berth/api';
import {
  aggregatedContentType,
  aggregatedDiscovery,
  apiResourceList,
  discoveryDocument,
  negotiateDiscovery,
  servedSubresources,
} from './discovery';
import { parseRoute } from './route';

const V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

test('Accept: the aggregated forms only when asked for, the best q first, legacy JSON otherwise', () => {
  // What kubectl 1.33 and 1.29 send.
  assert.equal(negotiateDiscovery(`${V2},${V2BETA1},application/json`), 'v2');
  assert.equal(negotiateDiscovery(`${V2BETA1},application/json`), 'v2beta1');
  // client-node, curl, browsers.
  assert.equal(negotiateDiscovery(undefined), 'legacy');
  assert.equal(negotiateDiscovery('application/json'), 'legacy');
  assert.equal(negotiateDiscovery('application/json, */*'), 'legacy');
  assert.equal(negotiateDiscovery('*/*'), 'legacy');
  // q values decide; ties go to the earlier range; q=0 means "not this one".
  assert.equal(negotiateDiscovery(`application/json;q=0.9, ${V2}`), 'v2');
  assert.equal(negotiateDiscovery(`${V2};q=0.5, application/json`), 'legacy');
  assert.equal(negotiateDiscovery(`${V2};q=0, ${V2BETA1}`), 'v2beta1');
  assert.equal(negotiateDiscovery(`${V2BETA1};q=0.8,${V2};q=0.9`), 'v2');
  // Parameters in any order and spacing, as mime parsers allow.
  assert.equal(
    negotiateDiscovery('application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io'),
    'v2',
  );
  // Forms Berth cannot serve are skipped: protobuf, other groups or versions, Table.
  assert.equal(
    negotiateDiscovery(
      'application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
    ),
    'legacy',
  );
  assert.equal(
    negotiateDiscovery('application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList'),
    'legacy',
  );
  assert.equal(negotiateDiscovery('application/json;as=Table;v=v1;g=meta.k8s.io'), 'legacy');
  assert.equal(negotiateDiscovery([V2]), 'v2');
});

test('/api and /apis answer with the Content-Type of the aggregated form asked for; other paths stay legacy', () => {
  const api = discoveryDocument({ type: 'discovery', doc: 'api' }, `${V2},application/json`, '127.0.0.1:1');
  assert.equal(api.contentType, V2);
  assert.equal(JSON.parse(api.json).apiVersion, 'apidiscovery.k8s.io/v2');
  const apis = discoveryDocument({ type: 'discovery', doc: 'apis' }, V2BETA1, '127.0.0.1:1');
  assert.equal(apis.contentType, V2BETA1);
  assert.equal(JSON.parse(apis.json).apiVersion, 'apidiscovery.k8s.io/v2beta1');
  assert.equal(aggregatedContentType('v2'), V2);

  const legacy = discoveryDocument({ type: 'discovery', doc: 'api' }, 'application/json', '127.0.0.1:1');
  assert.equal(legacy.contentType, 'application/json');
  assert.equal(JSON.parse(legacy.json).kind, 'APIVersions');
  const group = discoveryDocument({ type: 'discovery', doc: 'group', group: 'apps' }, V2, 'x');
  assert.equal(group.contentType, 'application/json');
  assert.equal(JSON.parse(group.json).kind, 'APIGroup');
  const list = discoveryDocument(
    { type: 'discovery', doc: 'resources', group: 'apps', version: 'v1' },
    V2,
    'x',
  );
  assert.equal(JSON.parse(list.json).kind, 'APIResourceList');
});

interface AggResource {
  resource: string;
  responseKind: { group: string; version: string; kind: string };
  scope: string;
  singularResource: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources: {
    subresource: string;
    responseKind: { group: string; version: string; kind: string };
    verbs: string[];
  }[];
}
interface AggList {
  kind: string;
  apiVersion: string;
  items: {
    metadata: { name: string };
    versions: { version: string; freshness: string; resources: AggResource[] }[];
  }[];
}

test('aggregated /api: the core group (named "") with every core kind, scope, verbs, short names, categories, subresources', () => {
  const doc = aggregatedDiscovery('api', 'v2') as AggList;
  assert.equal(doc.kind, 'APIGroupDiscoveryList');
  assert.deepEqual(
    doc.items.map((g) => g.metadata.name),
    [''],
  );
  const [v1] = doc.items[0].versions;
  assert.equal(v1.version, 'v1');
  assert.equal(v1.freshness, 'Current');
  const byName = new Map(v1.resources.map((r) => [r.resource, r]));
  assert.deepEqual(
    [...byName.keys()].sort(),
    [...KINDS.filter((k) => k.group === '').map((k) => k.resource), 'services'].sort(),
    'every core kind, and services (read-only, always empty: services.controller.ts)',
  );
  const pods = byName.get('pods')!;
  assert.deepEqual(pods.responseKind, { group: '', version: '', kind: 'Pod' });
  assert.equal(pods.scope, 'Namespaced');
  assert.equal(pods.singularResource, 'pod');
  assert.deepEqual(pods.shortNames, ['po']);
  assert.deepEqual(pods.categories, ['all']);
  assert.deepEqual(pods.verbs, ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']);
  assert.deepEqual(
    pods.subresources.map((s) => [s.subresource, s.responseKind.kind, s.verbs.join(',')]),
    [
      ['status', 'Pod', 'get,patch,update'],
      ['log', 'Pod', 'get'],
      ['exec', 'Pod', 'create,get'],
    ],
  );
  const nodes = byName.get('nodes')!;
  assert.equal(nodes.scope, 'Cluster');
  assert.equal(nodes.categories, undefined);
  assert.equal(byName.get('configmaps')!.categories, undefined);
  assert.equal(byName.get('secrets')!.shortNames, undefined);
  assert.deepEqual(byName.get('events')!.subresources, []);
});

test('aggregated /apis: every named group; scale answers autoscaling/v1 Scale', () => {
  const doc = aggregatedDiscovery('apis', 'v2beta1') as AggList;
  assert.equal(doc.apiVersion, 'apidiscovery.k8s.io/v2beta1');
  assert.deepEqual(
    doc.items.map((g) => g.metadata.name),
    ['apps', 'coordination.k8s.io'],
  );
  const apps = doc.items[0].versions[0].resources;
  const deploy = apps.find((r) => r.resource === 'deployments')!;
  assert.deepEqual(deploy.shortNames, ['deploy']);
  assert.deepEqual(deploy.categories, ['all']);
  assert.deepEqual(
    deploy.subresources.map((s) => [s.subresource, s.responseKind]),
    [
      ['status', { group: '', version: '', kind: 'Deployment' }],
      ['scale', { group: 'autoscaling', version: 'v1', kind: 'Scale' }],
    ],
  );
  assert.deepEqual(apps.find((r) => r.resource === 'replicasets')!.categories, ['all']);
});

test('legacy APIResourceList: resources and their subresources with kind, verbs, short names, categories', () => {
  const list = apiResourceList('', 'v1') as { groupVersion: string; resources: Record<string, unknown>[] };
  assert.equal(list.groupVersion, 'v1');
  const byName = new Map(list.resources.map((r) => [r.name as string, r]));
  assert.deepEqual(byName.get('pods'), {
    name: 'pods',
    singularName: 'pod',
    namespaced: true,
    kind: 'Pod',
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['po'],
    categories: ['all'],
  });
  assert.deepEqual(byName.get('pods/log'), {
    name: 'pods/log',
    singularName: '',
    namespaced: true,
    kind: 'Pod',
    verbs: ['get'],
  });
  assert.equal(byName.get('namespaces')!.namespaced, false);
  const apps = apiResourceList('apps', 'v1') as { resources: Record<string, unknown>[] };
  const scale = apps.resources.find((r) => r.name === 'deployments/scale')!;
  assert.deepEqual([scale.group, scale.version, scale.kind], ['autoscaling', 'v1', 'Scale']);
});

test('discovery advertises exactly the subresources the router serves', () => {
  for (const k of KINDS) {
    const advertised = new Set(servedSubresources(k).map((s) => s.name));
    const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
    const obj = k.namespaced ? `${base}/namespaces/default/${k.resource}/x` : `${base}/${k.resource}/x`;
    for (const sub of ['status', 'scale', 'log', 'exec', 'attach', 'portforward']) {
      let routed = false;
      try {
        const r = parseRoute(`${obj}/${sub}`);
        routed = r.type === 'resource' && r.subresource === sub;
      } catch {
        routed = false;
      }
      assert.equal(advertised.has(sub), routed, `${k.resource}/${sub}`);
    }
    assert.equal(advertised.has('status'), k.hasStatus, k.resource);
    assert.equal(advertised.has('scale'), k.hasScale, k.resource);
  }
});
