import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, KINDS, type KubeObject } from '@berth/api';
import { includeObjectOf, negotiateTable, tableWatchEncoder, toTable } from './table';

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;
const KUBECTL =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

const cm = (name: string, rv: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name,
    namespace: 'default',
    resourceVersion: rv,
    creationTimestamp: '2026-01-01T00:00:00Z',
    labels: { a: 'b' },
  },
  data: { k: 'v' },
});

test("negotiateTable: kubectl's Accept gets v1; q values and order decide; anything else stays plain JSON", () => {
  assert.equal(negotiateTable(KUBECTL), 'v1');
  assert.equal(negotiateTable('application/json;as=Table;v=v1beta1;g=meta.k8s.io'), 'v1beta1');
  assert.equal(
    negotiateTable(
      'application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json;as=Table;v=v1;g=meta.k8s.io',
    ),
    'v1beta1',
  );
  assert.equal(
    negotiateTable('application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5, application/json'),
    undefined,
  );
  assert.equal(negotiateTable('application/json, application/json;as=Table;v=v1;g=meta.k8s.io'), undefined);
  assert.equal(negotiateTable('application/json;as=Table;v=v2;g=meta.k8s.io'), undefined);
  assert.equal(negotiateTable('application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io'), undefined);
  assert.equal(negotiateTable('application/yaml;as=Table;v=v1;g=meta.k8s.io'), undefined);
  assert.equal(negotiateTable('application/json;as=Table;v=v1;g=meta.k8s.io;q=0'), undefined);
  assert.equal(negotiateTable(undefined), undefined);
  assert.equal(negotiateTable('application/json'), undefined);
  assert.equal(negotiateTable([KUBECTL]), 'v1');
});

test('includeObjectOf: Metadata by default, None and Object, anything else 400', () => {
  assert.equal(includeObjectOf(undefined), 'Metadata');
  assert.equal(includeObjectOf(''), 'Metadata');
  assert.equal(includeObjectOf('Object'), 'Object');
  assert.equal(includeObjectOf('None'), 'None');
  assert.throws(
    () => includeObjectOf('object'),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
});

test('toTable: columns, cells, list metadata, and the row object per includeObject', () => {
  const items = [cm('a', '5'), cm('b', '7')];
  const now = Date.parse('2026-01-01T00:01:00Z');
  const t = toTable(
    kind('ConfigMap'),
    items,
    { resourceVersion: '9', continue: 'tok' },
    { version: 'v1', includeObject: 'Metadata', now },
  );
  assert.equal(t.kind, 'Table');
  assert.equal(t.apiVersion, 'meta.k8s.io/v1');
  assert.deepEqual(t.metadata, { resourceVersion: '9', continue: 'tok' });
  assert.deepEqual(
    t.columnDefinitions.map((c) => c.name),
    ['Name', 'Data', 'Age'],
  );
  assert.deepEqual(
    t.rows.map((r) => r.cells),
    [
      ['a', 1, '60s'],
      ['b', 1, '60s'],
    ],
  );
  assert.deepEqual(t.rows[0].object, {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: items[0].metadata,
  });
  assert.equal(t.rows[0].conditions, undefined);

  const beta = toTable(kind('ConfigMap'), items, {}, { version: 'v1beta1', includeObject: 'Metadata' });
  assert.equal(beta.apiVersion, 'meta.k8s.io/v1beta1');
  assert.equal((beta.rows[0].object as { apiVersion: string }).apiVersion, 'meta.k8s.io/v1beta1');
  assert.deepEqual(
    toTable(kind('ConfigMap'), items, {}, { version: 'v1', includeObject: 'Object' }).rows[1].object,
    items[1],
  );
  assert.equal(
    toTable(kind('ConfigMap'), items, {}, { version: 'v1', includeObject: 'None' }).rows[0].object,
    null,
  );
  assert.deepEqual(
    toTable(kind('ConfigMap'), items, {}, { version: 'v1', includeObject: 'None', noHeaders: true })
      .columnDefinitions,
    [],
  );
});

test('tableWatchEncoder: one-row Tables, column definitions only in the first, bookmarks empty, errors untouched', () => {
  const encode = tableWatchEncoder(kind('ConfigMap'), { version: 'v1', includeObject: 'Metadata' });
  const first = encode({ type: 'ADDED', object: cm('a', '5') }) as { type: string; object: any };
  assert.equal(first.type, 'ADDED');
  assert.equal(first.object.kind, 'Table');
  assert.equal(first.object.columnDefinitions.length, 3);
  assert.equal(first.object.rows.length, 1);
  assert.equal(first.object.rows[0].cells[0], 'a');
  assert.equal(first.object.metadata.resourceVersion, '5');
  const second = encode({ type: 'MODIFIED', object: cm('a', '6') }) as { type: string; object: any };
  assert.deepEqual(second.object.columnDefinitions, []);
  assert.equal(second.object.rows[0].object.metadata.resourceVersion, '6');
  const deleted = encode({ type: 'DELETED', object: cm('a', '8') }) as { type: string; object: any };
  assert.equal(deleted.object.rows[0].cells[0], 'a');
  const bookmark = encode({
    type: 'BOOKMARK',
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { resourceVersion: '12' } },
  }) as {
    object: any;
  };
  assert.deepEqual(bookmark.object.rows, []);
  assert.equal(bookmark.object.metadata.resourceVersion, '12');
  const status = { apiVersion: 'v1', kind: 'Status', metadata: {}, code: 410 } as unknown as KubeObject;
  assert.deepEqual(encode({ type: 'ERROR', object: status }), { type: 'ERROR', object: status });
});
