import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deepCopy, deepEqual, jsonMergePatch, strategicMergePatch, threeWayMerge } from './merge';
import type { KubeObject } from './meta';

function file(replicas?: number, labels: Record<string, string> = { app: 'web', tier: 'front' }): KubeObject {
  const d: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'nginx:1.25',
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
            { name: 'sidecar', image: 'busybox' },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
  if (replicas !== undefined) d.spec.replicas = replicas;
  return d;
}

/** What the server holds after creating `applied`: defaults, server fields and status added. */
function liveFrom(applied: KubeObject): KubeObject {
  const l = deepCopy(applied);
  l.metadata.uid = 'u-1';
  l.metadata.resourceVersion = '42';
  l.metadata.creationTimestamp = '2024-01-01T00:00:00Z';
  l.spec.replicas ??= 1;
  l.spec.revisionHistoryLimit = 10;
  for (const c of l.spec.template.spec.containers) c.imagePullPolicy = 'IfNotPresent';
  l.status = { replicas: l.spec.replicas, readyReplicas: l.spec.replicas };
  return l;
}

describe('threeWayMerge', () => {
  test('keeps replicas set by scale when the file does not set replicas', () => {
    const applied = file();
    const live = liveFrom(applied);
    live.spec.replicas = 5; // berthctl scale
    const merged = threeWayMerge(applied, file(), live);
    assert.equal(merged.spec.replicas, 5);
  });

  test('the file wins for fields it sets', () => {
    const applied = file(3);
    const live = liveFrom(applied);
    live.spec.replicas = 5;
    assert.equal(threeWayMerge(applied, file(2), live).spec.replicas, 2);
  });

  test('removes a label dropped from the file, keeps labels others added', () => {
    const applied = file();
    const live = liveFrom(applied);
    live.metadata.labels!['added-by'] = 'someone-else';
    const merged = threeWayMerge(applied, file(undefined, { app: 'web' }), live);
    assert.deepEqual(merged.metadata.labels, { app: 'web', 'added-by': 'someone-else' });
  });

  test('keeps status and server-set metadata', () => {
    const applied = file();
    const live = liveFrom(applied);
    const merged = threeWayMerge(applied, file(), live);
    assert.equal(merged.metadata.uid, 'u-1');
    assert.equal(merged.metadata.resourceVersion, '42');
    assert.equal(merged.metadata.creationTimestamp, '2024-01-01T00:00:00Z');
    assert.deepEqual(merged.status, live.status);
    assert.equal(merged.spec.revisionHistoryLimit, 10);
  });

  test('containers merge by name: server defaults stay, an image change applies', () => {
    const applied = file();
    const live = liveFrom(applied);
    const desired = file();
    desired.spec.template.spec.containers[0].image = 'nginx:1.26';
    const merged = threeWayMerge(applied, desired, live);
    const [web, sidecar] = merged.spec.template.spec.containers;
    assert.equal(web.image, 'nginx:1.26');
    assert.equal(web.imagePullPolicy, 'IfNotPresent');
    assert.equal(sidecar.name, 'sidecar');
  });

  test('a container removed from the file is removed; one added by someone else stays', () => {
    const applied = file();
    const live = liveFrom(applied);
    live.spec.template.spec.containers.push({ name: 'injected', image: 'proxy' });
    const desired = file();
    desired.spec.template.spec.containers.pop(); // drop sidecar
    const merged = threeWayMerge(applied, desired, live);
    assert.deepEqual(
      merged.spec.template.spec.containers.map((c: { name: string }) => c.name),
      ['web', 'injected'],
    );
  });

  test('env merges by name and removes dropped variables', () => {
    const applied = file();
    const live = liveFrom(applied);
    const desired = file();
    desired.spec.template.spec.containers[0].env = [{ name: 'B', value: '3' }];
    const merged = threeWayMerge(applied, desired, live);
    assert.deepEqual(merged.spec.template.spec.containers[0].env, [{ name: 'B', value: '3' }]);
  });

  test('lists without a merge key are replaced by the desired list', () => {
    const applied = file();
    applied.spec.template.spec.containers[0].args = ['a', 'b'];
    const live = liveFrom(applied);
    const desired = deepCopy(applied);
    desired.spec.template.spec.containers[0].args = ['c'];
    assert.deepEqual(threeWayMerge(applied, desired, live).spec.template.spec.containers[0].args, ['c']);
  });

  test('without a last-applied configuration nothing is removed', () => {
    const live = liveFrom(file());
    const merged = threeWayMerge(undefined, file(undefined, { app: 'web' }), live);
    assert.deepEqual(merged.metadata.labels, { app: 'web', tier: 'front' });
  });

  test('null in the file deletes the field; inputs are not modified', () => {
    const applied = file();
    const live = liveFrom(applied);
    const before = deepCopy(live);
    const desired = file();
    desired.spec.revisionHistoryLimit = null;
    const merged = threeWayMerge(applied, desired, live);
    assert.equal('revisionHistoryLimit' in merged.spec, false);
    assert.deepEqual(live, before);
  });

  test('applying the same file again changes nothing', () => {
    const applied = file(2);
    const live = liveFrom(applied);
    assert.ok(deepEqual(threeWayMerge(applied, file(2), live), live));
  });
});

describe('jsonMergePatch (RFC 7386)', () => {
  test('the RFC examples', () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [
        ['a', 'b'],
        ['c', 'd'],
        ['c', 'd'],
      ],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [t, p, r] of cases) assert.deepEqual(jsonMergePatch(t, p), r, JSON.stringify([t, p]));
  });
  test('does not modify the target', () => {
    const t = { a: { b: 1 } };
    jsonMergePatch(t, { a: { b: 2 } });
    assert.deepEqual(t, { a: { b: 1 } });
  });
});

describe('deepEqual and deepCopy', () => {
  test('structural equality ignores key order', () => {
    assert.ok(deepEqual({ a: [1, { b: 2 }], c: null }, { c: null, a: [1, { b: 2 }] }));
    assert.ok(!deepEqual({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!deepEqual([1, 2], [2, 1]));
    assert.ok(!deepEqual({ a: [] }, { a: {} }));
  });
  test('copies are independent', () => {
    const a = { x: [{ y: 1 }] };
    const b = deepCopy(a);
    b.x[0].y = 2;
    assert.equal(a.x[0].y, 1);
  });
});

describe('strategicMergePatch', () => {
  const live = {
    spec: {
      containers: [
        { name: 'a', image: 'a:1', args: ['x'] },
        { name: 'b', image: 'b:1' },
      ],
      finalizers: ['f1', 'f2'],
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
    },
  };
  test('merges lists by key and deletes with null', () => {
    const out = strategicMergePatch<typeof live>(live, {
      spec: {
        containers: [
          { name: 'b', image: 'b:2' },
          { name: 'c', image: 'c:1' },
        ],
        finalizers: null,
      },
    });
    assert.deepEqual(out.spec.containers, [
      { name: 'a', image: 'a:1', args: ['x'] },
      { name: 'b', image: 'b:2' },
      { name: 'c', image: 'c:1' },
    ]);
    assert.equal('finalizers' in out.spec, false);
  });
  test('$patch: delete and replace', () => {
    const del = strategicMergePatch<typeof live>(live, {
      spec: { containers: [{ name: 'a', $patch: 'delete' }] },
    });
    assert.deepEqual(
      del.spec.containers.map((c) => c.name),
      ['b'],
    );
    const rep = strategicMergePatch<typeof live>(live, {
      spec: { containers: [{ name: 'z', image: 'z' }, { $patch: 'replace' }] },
    });
    assert.deepEqual(rep.spec.containers, [{ name: 'z', image: 'z' }]);
    const repMap = strategicMergePatch<typeof live>(live, {
      spec: { strategy: { $patch: 'replace', type: 'Recreate' } },
    });
    assert.deepEqual(repMap.spec.strategy, { type: 'Recreate' });
  });
  test('$retainKeys, $deleteFromPrimitiveList and $setElementOrder', () => {
    const out = strategicMergePatch<typeof live>(live, {
      spec: {
        strategy: { $retainKeys: ['type'], type: 'Recreate' },
        '$deleteFromPrimitiveList/finalizers': ['f1'],
        '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
        containers: [{ name: 'a', image: 'a:2' }],
      },
    });
    assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
    assert.deepEqual(out.spec.finalizers, ['f2']);
    assert.deepEqual(
      out.spec.containers.map((c) => `${c.name}=${c.image}`),
      ['b=b:1', 'a=a:2'],
    );
    assert.equal(live.spec.containers[0].image, 'a:1', 'live is not modified');
  });
});
