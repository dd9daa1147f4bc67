import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kindFor, type KindInfo, type KubeObject } from '@berth/api';
import { BY_OWNER, Informer, objectKey, splitKey } from './informer';

const PODS = kindFor('v1', 'Pod') as KindInfo;
const pod = (name: string, rv: string, uid = `u-${name}`, owner?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'ns',
    uid,
    resourceVersion: rv,
    ...(owner
      ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: owner }] }
      : {}),
  },
});

function recorder(inf: Informer) {
  const log: string[] = [];
  inf.addHandler({
    add: (o) => log.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
    update: (a, b) =>
      log.push(`update ${a.metadata.name}@${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
    delete: (o) => log.push(`delete ${o.metadata.name}`),
  });
  return log;
}

describe('Informer', () => {
  test('keys are namespace/name and split back', () => {
    assert.equal(objectKey(pod('a', '1')), 'ns/a');
    assert.deepEqual(splitKey('ns/a'), { namespace: 'ns', name: 'a' });
    assert.deepEqual(splitKey('node1'), { name: 'node1' });
  });

  test('a relist reports what was added, changed and removed while not watching', async () => {
    const inf = new Informer(PODS, async function* () {});
    const log = recorder(inf);
    inf.apply({ type: 'SYNC', items: [pod('a', '1'), pod('b', '2')], resourceVersion: '2' });
    await inf.whenSynced();
    assert.equal(inf.hasSynced, true);
    inf.apply({ type: 'SYNC', items: [pod('b', '5'), pod('c', '6')], resourceVersion: '6' });
    assert.deepEqual(log, ['add a@1', 'add b@2', 'delete a', 'update b@2->5', 'add c@6']);
    assert.deepEqual(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      ['b', 'c'],
    );
    assert.equal(inf.lastResourceVersion, '6');
  });

  test('stale and repeated events are ignored; a recreated object is a delete then an add', () => {
    const inf = new Informer(PODS, async function* () {});
    const log = recorder(inf);
    inf.apply({ type: 'SYNC', items: [pod('a', '5')], resourceVersion: '5' });
    inf.apply({ type: 'MODIFIED', object: pod('a', '4') });
    inf.apply({ type: 'MODIFIED', object: pod('a', '5') });
    inf.apply({ type: 'MODIFIED', object: pod('a', '7', 'other-uid') });
    assert.deepEqual(log, ['add a@5', 'delete a', 'add a@7']);
    assert.equal(inf.get('ns/a')?.metadata.uid, 'other-uid');
  });

  test('the owner index follows adds, owner changes and deletes', () => {
    const inf = new Informer(PODS, async function* () {});
    inf.apply({
      type: 'SYNC',
      items: [pod('a', '1', 'ua', 'rs1'), pod('b', '2', 'ub', 'rs1')],
      resourceVersion: '2',
    });
    assert.deepEqual(
      inf
        .byIndex(BY_OWNER, 'rs1')
        .map((o) => o.metadata.name)
        .sort(),
      ['a', 'b'],
    );
    inf.apply({ type: 'MODIFIED', object: pod('a', '3', 'ua', 'rs2') });
    assert.deepEqual(
      inf.byIndex(BY_OWNER, 'rs1').map((o) => o.metadata.name),
      ['b'],
    );
    assert.deepEqual(
      inf.byIndex(BY_OWNER, 'rs2').map((o) => o.metadata.name),
      ['a'],
    );
    inf.apply({ type: 'DELETED', object: pod('b', '4', 'ub', 'rs1') });
    assert.deepEqual(inf.byIndex(BY_OWNER, 'rs1'), []);
  });

  test('run() consumes its source until it ends', async () => {
    const inf = new Informer(PODS, async function* () {
      yield { type: 'SYNC', items: [pod('a', '1')], resourceVersion: '1' };
      yield { type: 'ADDED', object: pod('b', '2') };
    });
    await inf.run(new AbortController().signal);
    assert.equal(inf.size, 2);
  });
});
