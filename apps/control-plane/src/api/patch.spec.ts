import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject } from '@berth/api';
import { applyPatch } from './patch';

const deploy = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web', tier: 'fe' } },
  spec: {
    replicas: 2,
    template: {
      spec: {
        containers: [
          { name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }] },
          { name: 'side', image: 'busybox' },
        ],
      },
    },
  },
});

test('merge patch sets and removes fields and leaves the input untouched', () => {
  const d = deploy();
  const out = applyPatch(d, 'merge', { metadata: { labels: { tier: null, x: 'y' } }, spec: { replicas: 5 } });
  assert.deepEqual(out.metadata.labels, { app: 'web', x: 'y' });
  assert.equal(out.spec.replicas, 5);
  assert.equal(d.spec.replicas, 2);
});

test('JSON patch applies operations; a failed test is 422, a malformed patch 400', () => {
  const out = applyPatch(deploy(), 'json', [
    { op: 'replace', path: '/spec/replicas', value: 3 },
    { op: 'add', path: '/metadata/labels/new', value: 'v' },
  ]);
  assert.equal(out.spec.replicas, 3);
  assert.equal(out.metadata.labels?.new, 'v');
  assert.throws(
    () => applyPatch(deploy(), 'json', [{ op: 'test', path: '/spec/replicas', value: 9 }]),
    (e: unknown) => e instanceof ApiError && e.code === 422,
  );
  assert.throws(
    () => applyPatch(deploy(), 'json', [{ op: 'frobnicate', path: '/spec' }]),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
  assert.throws(
    () => applyPatch(deploy(), 'json', { op: 'add' }),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
  assert.throws(
    () => applyPatch(deploy(), 'json', [{ op: 'add', path: '/__proto__/polluted', value: 1 }]),
    (e: unknown) => e instanceof ApiError,
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('strategic merge patch merges containers and env by name and honours $patch: delete', () => {
  const patched = applyPatch(deploy(), 'strategic', {
    spec: {
      template: {
        spec: {
          containers: [
            { name: 'web', image: 'nginx:2', env: [{ name: 'B', value: '2' }] },
            { name: 'side', $patch: 'delete' },
          ],
        },
      },
    },
  });
  const cs = patched.spec.template.spec.containers;
  assert.equal(cs.length, 1);
  assert.equal(cs[0].image, 'nginx:2');
  assert.deepEqual(cs[0].env, [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
  ]);
});
