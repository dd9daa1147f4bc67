import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject } from '@berth/api';
import { fromFieldsV1, pathString, toFieldsV1 } from './field-set';
import {
  decodeManagedFields,
  recordUpdate,
  type ManagedFieldsEntry,
  type UpdateRecord,
} from './managed-fields';

const pod = (image: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', uid: 'u', resourceVersion: '3', ...extra },
  spec: { containers: [{ name: 'main', image }] },
});

function record(
  cur: KubeObject | undefined,
  next: KubeObject,
  manager: string,
  more: Partial<UpdateRecord> = {},
) {
  return recordUpdate({
    cur,
    next,
    manager,
    hasStatus: true,
    apiVersion: 'v1',
    now: '2026-03-03T00:00:00Z',
    ...more,
  });
}

function withMf(o: KubeObject, mf: ManagedFieldsEntry[] | undefined): KubeObject {
  const c = structuredClone(o);
  if (mf) c.metadata.managedFields = mf;
  return c;
}

test('create: the writer owns every field it set, maps with arbitrary keys and list items as members', () => {
  const mf = record(undefined, pod('a', { labels: { app: 'x' } }), 'kubectl-create')!;
  assert.equal(mf.length, 1);
  assert.equal(mf[0].operation, 'Update');
  assert.equal(mf[0].time, '2026-03-03T00:00:00Z');
  assert.deepEqual(mf[0].fieldsV1, {
    'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
    'f:spec': { 'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:name': {}, 'f:image': {} } } },
  });
});

test('an update takes changed fields over from their owner (no conflict) and leaves the rest', () => {
  const v1 = withMf(
    pod('a', { labels: { app: 'x' } }),
    record(undefined, pod('a', { labels: { app: 'x' } }), 'alice'),
  );
  const next = withMf(pod('b', { labels: { app: 'x' } }), v1.metadata.managedFields as ManagedFieldsEntry[]);
  const mf = record(v1, next, 'kubectl-edit')!;
  const alice = mf.find((e) => e.manager === 'alice')!;
  const edit = mf.find((e) => e.manager === 'kubectl-edit')!;
  assert.deepEqual(edit.fieldsV1, {
    'f:spec': { 'f:containers': { 'k:{"name":"main"}': { 'f:image': {} } } },
  });
  assert.ok(!JSON.stringify(alice.fieldsV1).includes('f:image'));
  assert.ok(JSON.stringify(alice.fieldsV1).includes('f:app'));
});

test('a removed field leaves every manager; an entry left with nothing goes', () => {
  const v1 = withMf(pod('a', { labels: { app: 'x' } }), [
    {
      manager: 'lab',
      operation: 'Update',
      apiVersion: 'v1',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } } },
    },
  ]);
  const next = withMf(pod('a'), v1.metadata.managedFields as ManagedFieldsEntry[]);
  assert.equal(record(v1, next, 'other'), undefined);
});

test('a write that changes nothing keeps managedFields as they were (same time)', () => {
  const mf: ManagedFieldsEntry[] = [
    {
      manager: 'a',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2020-01-01T00:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:spec': {} },
    },
  ];
  const v1 = withMf(pod('a'), mf);
  assert.deepEqual(record(v1, structuredClone(v1), 'b'), mf);
});

test('status writes record only status, under subresource status', () => {
  const v1 = withMf(pod('a'), record(undefined, pod('a'), 'alice'));
  const next = structuredClone(v1);
  next.status = { phase: 'Running' };
  const mf = record(v1, next, 'kubelet', { subresource: 'status' })!;
  const k = mf.find((e) => e.manager === 'kubelet')!;
  assert.equal(k.subresource, 'status');
  assert.deepEqual(k.fieldsV1, { 'f:status': { 'f:phase': {} } });
  // On the main resource status is not tracked.
  const main = record(v1, next, 'x');
  assert.equal(
    main?.some((e) => e.manager === 'x'),
    false,
  );
});

test('managedFields given on the main resource replace the stored ones; [{}] clears them', () => {
  const v1 = withMf(pod('a'), record(undefined, pod('a'), 'alice'));
  const cleared = withMf(pod('a'), [{} as ManagedFieldsEntry]);
  assert.equal(record(v1, cleared, 'x'), undefined);
  const moved = (v1.metadata.managedFields as ManagedFieldsEntry[]).map((e) => ({
    ...e,
    manager: 'kubectl',
    operation: 'Apply' as const,
  }));
  const mf = record(v1, withMf(pod('a'), moved), 'kubectl-client-side-apply')!;
  assert.deepEqual(
    mf.map((e) => [e.manager, e.operation]),
    [['kubectl', 'Apply']],
  );
});

test('malformed managedFields are 422 naming the entry field', () => {
  const bad = (v: unknown, field: string) => {
    try {
      decodeManagedFields(v, 'Pod', 'p');
      assert.fail('expected 422');
    } catch (e) {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 422);
      assert.equal(e.details?.causes?.[0].field, field);
    }
  };
  bad('x', 'metadata.managedFields');
  bad([{ operation: 'Merge', fieldsV1: { 'f:a': {} } }], 'metadata.managedFields[0].operation');
  bad([{ fieldsType: 'FieldsV2' }], 'metadata.managedFields[0].fieldsType');
  bad([{ fieldsV1: { bad: {} } }], 'metadata.managedFields[0].fieldsV1');
  bad([{ manager: 7 }], 'metadata.managedFields[0].manager');
});

test('FieldsV1 round trip and Kubernetes path strings', () => {
  const v1 = {
    'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } },
    'f:spec': {
      'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:name': {} } },
      'f:finalizers': { 'v:"x"': {} },
    },
  };
  assert.deepEqual(toFieldsV1(fromFieldsV1(v1)), v1);
  assert.equal(
    pathString(['f:spec', 'f:ports', 'k:{"containerPort":80,"protocol":"TCP"}', 'f:name']),
    '.spec.ports[containerPort=80,protocol="TCP"].name',
  );
  assert.equal(pathString(['f:metadata', 'f:finalizers', 'v:"x"']), '.metadata.finalizers[="x"]');
});
