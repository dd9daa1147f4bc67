import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@berth/api';
import { parseRoute, type ResourceRoute } from './route';

function res(path: string): ResourceRoute {
  const r = parseRoute(path);
  assert.equal(r.type, 'resource', path);
  return r as ResourceRoute;
}

function rejects(path: string, code: number): void {
  assert.throws(
    () => parseRoute(path),
    (e: unknown) => e instanceof ApiError && e.code === code,
    path,
  );
}

test('namespaced collection, object and subresources parse into kind, namespace, name, subresource', () => {
  const c = res('/apis/apps/v1/namespaces/prod/deployments');
  assert.deepEqual(
    [c.kind.kind, c.namespace, c.name, c.subresource],
    ['Deployment', 'prod', undefined, undefined],
  );
  const o = res('/api/v1/namespaces/default/pods/web-1');
  assert.deepEqual([o.kind.kind, o.namespace, o.name], ['Pod', 'default', 'web-1']);
  const s = res('/apis/apps/v1/namespaces/default/deployments/web/scale');
  assert.equal(s.subresource, 'scale');
  assert.equal(res('/api/v1/namespaces/default/pods/web/status').subresource, 'status');
});

test('all-namespaces collections and cluster-scoped objects', () => {
  const all = res('/api/v1/pods');
  assert.deepEqual([all.kind.kind, all.namespace, all.name], ['Pod', undefined, undefined]);
  const node = res('/api/v1/nodes/n1');
  assert.deepEqual([node.kind.kind, node.name], ['Node', 'n1']);
  assert.equal(res('/api/v1/nodes/n1/status').subresource, 'status');
  const ns = res('/api/v1/namespaces/prod');
  assert.deepEqual([ns.kind.kind, ns.name, ns.namespace], ['Namespace', 'prod', undefined]);
  assert.equal(res('/api/v1/namespaces/prod/status').subresource, 'status');
  assert.equal(res('/api/v1/namespaces').kind.kind, 'Namespace');
});

test('percent-encoded segments are decoded; trailing slashes are ignored', () => {
  assert.equal(res('/api/v1/namespaces/default/configmaps/a%2Eb/').name, 'a.b');
  rejects('/api/v1/namespaces/default/configmaps/%E0%A4%A', 400);
});

test('discovery paths', () => {
  assert.deepEqual(parseRoute('/api'), { type: 'discovery', doc: 'api' });
  assert.deepEqual(parseRoute('/apis'), { type: 'discovery', doc: 'apis' });
  assert.deepEqual(parseRoute('/apis/apps'), { type: 'discovery', doc: 'group', group: 'apps' });
  assert.deepEqual(parseRoute('/api/v1'), { type: 'discovery', doc: 'resources', group: '', version: 'v1' });
  assert.deepEqual(parseRoute('/apis/apps/v1'), {
    type: 'discovery',
    doc: 'resources',
    group: 'apps',
    version: 'v1',
  });
});

test('paths that name nothing served are 404', () => {
  for (const p of [
    '/api/v2/pods',
    '/apis/batch/v1/jobs',
    '/api/v1/widgets',
    '/api/v1/deployments',
    '/apis/apps/v1/pods',
    '/api/v1/pods/web', // namespaced object without namespace
    '/api/v1/namespaces/default/nodes', // cluster-scoped kind under a namespace
    '/api/v1/namespaces/default/configmaps/x/status', // ConfigMap has no status subresource
    '/api/v1/namespaces/default/pods/x/scale', // Pod has no scale
    '/api/v1/namespaces/default/pods/x/status/extra',
    '/apis/apps/v1/namespaces/x/status',
    '/healthy',
  ]) {
    rejects(p, 404);
  }
});
