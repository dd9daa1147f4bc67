import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { EventRecorder, type EventSink } from './event-recorder';

class FakeSink implements EventSink {
  readonly stored = new Map<string, KubeObject>();
  writes: string[] = [];
  create(ev: KubeObject): Promise<KubeObject> {
    this.writes.push(`create ${ev.reason as string} count=${ev.count as number}`);
    const out = { ...ev, metadata: { ...ev.metadata, resourceVersion: '1' } };
    this.stored.set(ev.metadata.name as string, out);
    return Promise.resolve(out);
  }
  update(ev: KubeObject): Promise<KubeObject> {
    this.writes.push(`update ${ev.reason as string} count=${ev.count as number}`);
    if (!this.stored.has(ev.metadata.name as string)) {
      return Promise.reject(Object.assign(new Error('not found'), { code: 404 }));
    }
    this.stored.set(ev.metadata.name as string, ev);
    return Promise.resolve(ev);
  }
}

const pod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', uid: 'u1' },
};

describe('EventRecorder', () => {
  test('repeats within the window become one event with a count and a later lastTimestamp', async () => {
    const sink = new FakeSink();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const r = new EventRecorder(sink, { component: 'test', now: () => new Date(now) });
    await r.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    now += 5000;
    await r.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    now += 5000;
    await r.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    assert.deepEqual(sink.writes, [
      'create BackOff count=1',
      'update BackOff count=2',
      'update BackOff count=3',
    ]);
    const [ev] = [...sink.stored.values()];
    assert.equal(ev.count, 3);
    assert.equal(ev.firstTimestamp, '2026-01-01T00:00:00Z');
    assert.equal(ev.lastTimestamp, '2026-01-01T00:00:10Z');
    assert.deepEqual(ev.involvedObject, {
      apiVersion: 'v1',
      kind: 'Pod',
      name: 'p',
      namespace: 'ns',
      uid: 'u1',
    });
  });

  test('a different message, reason or object is a separate event; so is a repeat after the window', async () => {
    const sink = new FakeSink();
    let now = 0;
    const r = new EventRecorder(sink, {
      component: 'test',
      aggregateWindowMs: 1000,
      now: () => new Date(now),
    });
    await r.record(pod, 'Normal', 'Pulled', 'a');
    await r.record(pod, 'Normal', 'Pulled', 'b');
    await r.record({ ...pod, metadata: { ...pod.metadata, uid: 'u2' } }, 'Normal', 'Pulled', 'a');
    now = 2000;
    await r.record(pod, 'Normal', 'Pulled', 'a');
    assert.equal(sink.writes.filter((w) => w.startsWith('create')).length, 4);
  });

  test('an aggregated event that was deleted (TTL) starts a new series', async () => {
    const sink = new FakeSink();
    const r = new EventRecorder(sink, { component: 'test' });
    await r.record(pod, 'Normal', 'Started', 'x');
    sink.stored.clear();
    await r.record(pod, 'Normal', 'Started', 'x');
    assert.deepEqual(sink.writes, [
      'create Started count=1',
      'update Started count=2',
      'create Started count=1',
    ]);
    assert.equal(sink.stored.size, 1);
  });

  test('failures are reported, never thrown', async () => {
    const errors: string[] = [];
    const r = new EventRecorder(
      { create: () => Promise.reject(new Error('down')), update: () => Promise.reject(new Error('down')) },
      { component: 'test', onError: (m) => errors.push(m) },
    );
    await r.record(pod, 'Normal', 'Started', 'x');
    assert.equal(errors.length, 1);
    assert.match(errors[0], /Started for Pod ns\/p/);
  });

  test('past 10 different messages for one object and reason, the rest share one combined Event', async () => {
    const sink = new FakeSink();
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-1', namespace: 'ns', uid: 'rs1' },
    };
    const r = new EventRecorder(sink, { component: 'test' });
    for (let i = 1; i <= 15; i++)
      await r.record(rs, 'Normal', 'SuccessfulCreate', `Created pod: web-1-p${i}`);
    assert.equal(sink.writes.filter((w) => w.startsWith('create')).length, 11);
    assert.equal(sink.writes.filter((w) => w.startsWith('update')).length, 4);
    const combined = [...sink.stored.values()].filter((e) => String(e.message).startsWith('(combined'));
    assert.equal(combined.length, 1);
    assert.equal(combined[0].count, 5);
    assert.equal(combined[0].message, '(combined from similar events): Created pod: web-1-p15');
    // A repeat of a message seen before the threshold still bumps its own Event.
    await r.record(rs, 'Normal', 'SuccessfulCreate', 'Created pod: web-1-p3');
    const p3 = [...sink.stored.values()].find((e) => e.message === 'Created pod: web-1-p3');
    assert.equal(p3?.count, 2);
  });

  test('a burst of repeats is written as one update carrying the whole count', async () => {
    const sink = new FakeSink();
    const r = new EventRecorder(sink, { component: 'test' });
    await r.record(pod, 'Warning', 'Unhealthy', 'Readiness probe failed');
    await Promise.all(
      Array.from({ length: 20 }, () => r.record(pod, 'Warning', 'Unhealthy', 'Readiness probe failed')),
    );
    assert.deepEqual(sink.writes, ['create Unhealthy count=1', 'update Unhealthy count=21']);
  });
});
