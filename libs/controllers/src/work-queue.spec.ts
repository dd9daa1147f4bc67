import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './work-queue';

describe('work queue', () => {
  test('a key added many times while waiting is reconciled once', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(
      async (k) => {
        if (k === 'block') await gate;
        seen.push(k);
      },
      { workers: 1 },
    );
    q.add('block');
    q.add('a');
    q.add('a');
    q.add('a');
    release();
    await q.idle();
    assert.deepEqual(seen, ['block', 'a']);
  });

  test('one key never runs twice at once; an add while running runs it again after', async () => {
    let running = 0;
    let max = 0;
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(
      async () => {
        running++;
        max = Math.max(max, running);
        calls++;
        if (calls === 1) await gate;
        running--;
      },
      { workers: 4 },
    );
    q.add('k');
    await new Promise((r) => setImmediate(r));
    q.add('k');
    q.add('k');
    release();
    await new Promise((r) => setTimeout(r, 20));
    await q.idle();
    assert.equal(max, 1);
    assert.equal(calls, 2);
  });

  test('a failure is retried with backoff; requeueAfterMs schedules another run', async () => {
    const calls: string[] = [];
    const errors: string[] = [];
    let n = 0;
    const q = new WorkQueue(
      async (k) => {
        calls.push(k);
        if (k === 'fail' && n++ === 0) throw new Error('boom');
        if (k === 'again' && calls.filter((c) => c === 'again').length === 1) return { requeueAfterMs: 5 };
      },
      { failureBaseMs: 5, onError: (k) => errors.push(k) },
    );
    q.add('fail');
    q.add('again');
    for (let i = 0; i < 100 && calls.length < 4; i++) await new Promise((r) => setTimeout(r, 5));
    await q.idle();
    assert.deepEqual(errors, ['fail']);
    assert.equal(calls.filter((c) => c === 'fail').length, 2);
    assert.equal(calls.filter((c) => c === 'again').length, 2);
    q.shutdown();
  });
});

describe('WorkQueue with a long backlog', () => {
  test('hands out 20,000 keys in the order they were added, each once', async () => {
    const seen: string[] = [];
    const q = new WorkQueue(
      async (k) => {
        seen.push(k);
      },
      { workers: 1 },
    );
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}`);
    for (const k of keys) q.add(k);
    for (const k of keys.slice(1, 100)) q.add(k); // still queued (k0 is running): no duplicates
    await q.idle();
    assert.deepEqual(seen, keys);
    assert.equal(q.length, 0);
  });
});
