import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { decideDependent, decideOwner, FINALIZER_FOREGROUND, FINALIZER_ORPHAN } from './ownership';

const ref = (uid: string) => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: `rs-${uid}`,
  uid,
  controller: true,
});
const obj = (
  name: string,
  uid: string,
  refs: string[] = [],
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', uid, ownerReferences: refs.map(ref), ...extra },
});

describe('garbage collector decisions', () => {
  test('an object whose only owner is gone is deleted; one with a live owner is kept', () => {
    assert.deepEqual(decideDependent(obj('p', 'u1', ['a']), new Map([['a', 'absent']])), { type: 'delete' });
    assert.deepEqual(decideDependent(obj('p', 'u1', ['a']), new Map([['a', 'present']])), { type: 'none' });
    assert.deepEqual(decideDependent(obj('p', 'u1', ['a']), new Map([['a', 'unknown']])), { type: 'none' });
    assert.deepEqual(decideDependent(obj('p', 'u1'), new Map()), { type: 'none' });
  });

  test('with one owner gone and another alive only the dangling reference is dropped', () => {
    assert.deepEqual(
      decideDependent(
        obj('p', 'u1', ['a', 'b']),
        new Map([
          ['a', 'absent'],
          ['b', 'present'],
        ]),
      ),
      { type: 'dropRefs', uids: ['a'] },
    );
  });

  test('an object already being deleted is left to its deletion', () => {
    const o = obj('p', 'u1', ['a'], { deletionTimestamp: '2026-01-01T00:00:00Z' });
    assert.deepEqual(decideDependent(o, new Map([['a', 'absent']])), { type: 'none' });
  });

  test('orphan: dependents are released first, then the finalizer goes', () => {
    const owner = obj('rs', 'a', [], { deletionTimestamp: 't', finalizers: [FINALIZER_ORPHAN] });
    const deps = [obj('p1', 'u1', ['a']), obj('p2', 'u2', ['zz'])];
    assert.deepEqual(decideOwner(owner, deps), { type: 'orphanDependents', dependents: [deps[0]] });
    assert.deepEqual(decideOwner(owner, [deps[1]]), { type: 'removeFinalizer', finalizer: FINALIZER_ORPHAN });
  });

  test('foreground: dependents are deleted, the owner waits until none is left', () => {
    const owner = obj('d', 'a', [], { deletionTimestamp: 't', finalizers: [FINALIZER_FOREGROUND] });
    const live = obj('rs1', 'u1', ['a']);
    const dying = obj('rs2', 'u2', ['a'], { deletionTimestamp: 't', finalizers: [FINALIZER_FOREGROUND] });
    assert.deepEqual(decideOwner(owner, [live, dying]), { type: 'deleteDependents', dependents: [live] });
    assert.deepEqual(decideOwner(owner, [dying]), { type: 'none' });
    assert.deepEqual(decideOwner(owner, []), { type: 'removeFinalizer', finalizer: FINALIZER_FOREGROUND });
  });

  test('an owner that is not being deleted needs nothing', () => {
    assert.deepEqual(decideOwner(obj('d', 'a', [], { finalizers: [FINALIZER_FOREGROUND] }), []), {
      type: 'none',
    });
  });
});
