import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WatchSink, parseEntry } from './watch-hub';

describe('WatchSink', () => {
  test('wait resolves when an item is pushed', async () => {
    const s = new WatchSink(10);
    const ac = new AbortController();
    const w = s.wait(undefined, ac.signal);
    s.push({ progress: 3 });
    await w;
    assert.deepEqual(s.queue, [{ progress: 3 }]);
  });

  test('wait resolves on abort and on timeout', async () => {
    const s = new WatchSink(10);
    const ac = new AbortController();
    const w = s.wait(undefined, ac.signal);
    ac.abort();
    await w;
    await s.wait(5, new AbortController().signal);
    assert.equal(s.queue.length, 0);
  });

  test('a consumer that falls behind the limit fails instead of growing memory', () => {
    const s = new WatchSink(2);
    s.push({ progress: 1 });
    s.push({ progress: 2 });
    s.push({ progress: 3 });
    assert.equal(s.queue.length, 2);
    assert.match(String(s.error), /fell more than 2 events behind/);
  });
});

test('parseEntry reads revision, type, object and previous projection', () => {
  const c = parseEntry('17-0', [
    'type',
    'MODIFIED',
    'p',
    '12',
    'object',
    '{"metadata":{"name":"a"}}',
    'prev',
    '{"metadata":{}}',
  ]);
  assert.equal(c.rev, 17);
  assert.equal(c.type, 'MODIFIED');
  assert.equal(c.obj.metadata.name, 'a');
  assert.deepEqual(c.prev, { metadata: {} });
});
