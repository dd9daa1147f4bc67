import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregatedDiscovery, apiResourceList } from './discovery';
import { SERVICE_COLUMNS, emptyServices, noEvents, servicesRequest } from './services.controller';

type Agg = { items: { versions: { version: string; resources: Record<string, any>[] }[] }[] };

test('services are in discovery read-only: get, list, watch; short name svc; category all; no subresources', () => {
  const legacy = (apiResourceList('', 'v1') as { resources: Record<string, unknown>[] }).resources.filter(
    (r) => String(r.name).startsWith('services'),
  );
  assert.deepEqual(legacy, [
    {
      name: 'services',
      singularName: 'service',
      namespaced: true,
      kind: 'Service',
      verbs: ['get', 'list', 'watch'],
      shortNames: ['svc'],
      categories: ['all'],
    },
  ]);
  for (const v of ['v2', 'v2beta1'] as const) {
    const core = (aggregatedDiscovery('api', v) as Agg).items[0].versions[0];
    const svc = core.resources.filter((r) => r.resource === 'services');
    assert.deepEqual(svc, [
      {
        resource: 'services',
        responseKind: { group: '', version: '', kind: 'Service' },
        scope: 'Namespaced',
        singularResource: 'service',
        verbs: ['get', 'list', 'watch'],
        shortNames: ['svc'],
        categories: ['all'],
        subresources: [],
      },
    ]);
  }
  // not under any other group
  const apps = (apiResourceList('apps', 'v1') as { resources: { name: string }[] }).resources;
  assert.ok(!apps.some((r) => r.name === 'services'));
});

test('the list of services is empty: a ServiceList, or a Table with the Service columns for kubectl get', () => {
  assert.deepEqual(emptyServices('42', undefined), {
    kind: 'ServiceList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '42' },
    items: [],
  });
  const t = emptyServices('42', 'v1') as Record<string, any>;
  assert.equal(t.kind, 'Table');
  assert.equal(t.apiVersion, 'meta.k8s.io/v1');
  assert.deepEqual(t.metadata, { resourceVersion: '42' });
  assert.deepEqual(t.rows, []);
  assert.deepEqual(
    t.columnDefinitions.map((c: { name: string; priority: number }) => `${c.name}/${c.priority}`),
    ['Name/0', 'Type/0', 'Cluster-IP/0', 'External-IP/0', 'Port(s)/0', 'Age/0', 'Selector/1'],
  );
  assert.equal(SERVICE_COLUMNS[0].format, 'name');
  assert.equal((emptyServices('1', 'v1beta1') as { apiVersion: string }).apiVersion, 'meta.k8s.io/v1beta1');
});

test('a path under services names the collection or one service', () => {
  assert.deepEqual(servicesRequest('/api/v1/services'), {});
  assert.deepEqual(servicesRequest('/api/v1/namespaces/kube-system/services'), {});
  assert.deepEqual(servicesRequest('/api/v1/namespaces/kube-system/services/'), {});
  assert.deepEqual(servicesRequest('/api/v1/namespaces/a/services/web'), { name: 'web' });
  assert.deepEqual(servicesRequest('/api/v1/namespaces/a/services/web/proxy'), { name: 'web' });
  assert.deepEqual(servicesRequest('/api/v1/namespaces/a/services/my%20svc'), { name: 'my svc' });
});

test('a watch on services has no events and ends when its signal aborts', async () => {
  const ac = new AbortController();
  const seen: unknown[] = [];
  const reading = (async () => {
    for await (const ev of noEvents(ac.signal)) seen.push(ev);
  })();
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await reading;
  assert.equal(seen.length, 0);
  for await (const ev of noEvents(ac.signal)) seen.push(ev); // already aborted: ends at once
  assert.equal(seen.length, 0);
});
