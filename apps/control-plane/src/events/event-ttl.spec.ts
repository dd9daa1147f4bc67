import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { expiredEvents, lastSeenMs } from './event-ttl';

const ev = (name: string, f: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
  ...f,
});

describe('event TTL', () => {
  test('an aggregated event lives from its last occurrence, not its first', () => {
    const now = Date.parse('2026-01-01T02:00:00Z');
    const old = ev('old', { firstTimestamp: '2026-01-01T00:00:00Z', lastTimestamp: '2026-01-01T00:30:00Z' });
    const recent = ev('recent', {
      firstTimestamp: '2026-01-01T00:00:00Z',
      lastTimestamp: '2026-01-01T01:30:00Z',
    });
    const onlyEventTime = ev('et', { eventTime: '2026-01-01T00:10:00.000000Z' });
    const onlyCreation = ev('c', {});
    assert.deepEqual(
      expiredEvents([old, recent, onlyEventTime, onlyCreation], now, 3_600_000).map((e) => e.metadata.name),
      ['old', 'et', 'c'],
    );
  });

  test('timestamps are read in order of preference', () => {
    assert.equal(
      lastSeenMs(ev('x', { lastTimestamp: '2026-01-01T00:00:05Z', eventTime: '2026-01-01T00:00:09Z' })),
      Date.parse('2026-01-01T00:00:05Z'),
    );
    assert.ok(Number.isNaN(lastSeenMs({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'n' } })));
  });
});
