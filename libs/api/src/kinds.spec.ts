import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveKindName, resourcePath, kindFor } from './kinds';

test('kubectl names, short names and Kind resolve to the same kind', () => {
  for (const n of ['deploy', 'deployments', 'Deployment', 'deployment', 'deployments.apps']) {
    assert.equal(resolveKindName(n)?.kind, 'Deployment', n);
  }
  assert.equal(resolveKindName('po')?.kind, 'Pod');
  assert.equal(resolveKindName('nope'), undefined);
});

test('resource paths follow Kubernetes', () => {
  assert.equal(
    resourcePath(kindFor('v1', 'Pod')!, 'default', 'web', 'status'),
    '/api/v1/namespaces/default/pods/web/status',
  );
  assert.equal(
    resourcePath(kindFor('apps/v1', 'Deployment')!, 'ns1'),
    '/apis/apps/v1/namespaces/ns1/deployments',
  );
  assert.equal(resourcePath(kindFor('v1', 'Node')!, 'ignored', 'n1'), '/api/v1/nodes/n1');
});
