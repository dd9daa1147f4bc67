import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Expectations } from './expectations';

describe('Expectations', () => {
  test('no record is satisfied', () => {
    assert.equal(new Expectations().satisfied('ns/a', 'u1'), true);
  });
  test('creations are satisfied only once every create was observed', () => {
    const e = new Expectations();
    e.expectCreations('ns/a', 'u1', 2);
    assert.equal(e.satisfied('ns/a', 'u1'), false);
    e.creationObserved('ns/a');
    assert.equal(e.satisfied('ns/a', 'u1'), false);
    e.creationObserved('ns/a');
    assert.equal(e.satisfied('ns/a', 'u1'), true);
  });
  test('failed creates lower the expectation in one call', () => {
    const e = new Expectations();
    e.expectCreations('ns/a', 'u1', 5);
    e.creationObserved('ns/a', 5);
    assert.equal(e.satisfied('ns/a', 'u1'), true);
  });
  test('deletions are tracked by pod uid; observing another pod changes nothing', () => {
    const e = new Expectations();
    e.expectDeletions('ns/a', 'u1', ['p1', 'p2']);
    e.deletionObserved('ns/a', 'p1');
    e.deletionObserved('ns/a', 'p1');
    e.deletionObserved('ns/a', 'other');
    assert.equal(e.satisfied('ns/a', 'u1'), false);
    e.deletionObserved('ns/a', 'p2');
    assert.equal(e.satisfied('ns/a', 'u1'), true);
  });
  test('expectations expire after the timeout', () => {
    let now = 1000;
    const e = new Expectations(() => now, 60_000);
    e.expectCreations('ns/a', 'u1', 3);
    now += 59_999;
    assert.equal(e.satisfied('ns/a', 'u1'), false);
    assert.equal(e.expiresInMs('ns/a'), 1);
    now += 1;
    assert.equal(e.satisfied('ns/a', 'u1'), true);
  });
  test('a ReplicaSet recreated under the same name (other uid) is not held by the old record', () => {
    const e = new Expectations();
    e.expectCreations('ns/a', 'old', 3);
    assert.equal(e.satisfied('ns/a', 'new'), true);
  });
  test('a new expectation replaces the old one', () => {
    const e = new Expectations();
    e.expectCreations('ns/a', 'u1', 3);
    e.expectDeletions('ns/a', 'u1', ['p']);
    assert.deepEqual(e.pending('ns/a'), { adds: 0, deletes: 1 });
  });
});
