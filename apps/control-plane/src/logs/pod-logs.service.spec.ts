import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject } from '@berth/api';
import { LogStreamFilter, formatLogTime, logTarget, parseLogTime } from './pod-logs.service';

const pod = (containers: string[], nodeName?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'team a' },
  spec: { nodeName, containers: containers.map((name) => ({ name, image: 'busybox' })) },
});
const node: KubeObject = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'n1' },
  status: {
    addresses: [
      { type: 'Hostname', address: 'n1' },
      { type: 'InternalIP', address: '127.0.0.1' },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
  },
};

test('the log of the only container is asked from the InternalIP and port its node publishes', () => {
  const t = logTarget(pod(['app'], 'n1'), node, { follow: 'true', tailLines: '5' });
  assert.deepEqual(t, {
    host: '127.0.0.1',
    port: 10250,
    path: '/containerLogs/team%20a/web/app?follow=true&tailLines=5',
  });
});

test('a pod with several containers needs -c, and a wrong container name is refused', () => {
  assert.throws(
    () => logTarget(pod(['a', 'b'], 'n1'), node, {}),
    (e: unknown) => e instanceof ApiError && e.code === 400 && /choose one of: \[a b\]/.test(e.message),
  );
  assert.throws(
    () => logTarget(pod(['a', 'b'], 'n1'), node, { container: 'c' }),
    (e: unknown) => e instanceof ApiError && /container c is not valid/.test(e.message),
  );
  assert.equal(
    logTarget(pod(['a', 'b'], 'n1'), node, { container: 'b', previous: '1' }).path,
    '/containerLogs/team%20a/web/b?previous=true',
  );
});

test('an unscheduled pod, an unknown node and bad parameters give clear errors', () => {
  assert.throws(() => logTarget(pod(['a']), node, {}), /not scheduled to a node/);
  assert.throws(
    () => logTarget(pod(['a'], 'n1'), undefined, {}),
    (e: unknown) => e instanceof ApiError && e.code === 503,
  );
  assert.throws(
    () => logTarget(pod(['a'], 'n1'), node, { tailLines: '-1' }),
    /tailLines must be a whole number/,
  );
  assert.throws(() => logTarget(pod(['a'], 'n1'), node, { follow: 'yes' }), /follow must be true or false/);
});

test('timestamps and since ask the agent for timestamped lines; limitBytes, since and timestamps make a filter', () => {
  const now = Date.parse('2026-11-28T10:00:00.250Z');
  const plain = logTarget(pod(['a'], 'n1'), node, { follow: 'true' }, now);
  assert.equal(plain.filter, undefined, 'nothing to do: the stream passes as it is');

  const ts = logTarget(pod(['a'], 'n1'), node, { timestamps: 'true' }, now);
  assert.equal(ts.path, '/containerLogs/team%20a/web/a?timestamps=true');
  assert.deepEqual(ts.filter, { timestamps: true });

  const since = logTarget(pod(['a'], 'n1'), node, { sinceSeconds: '60', tailLines: '3' }, now);
  assert.equal(since.path, '/containerLogs/team%20a/web/a?tailLines=3&timestamps=true');
  assert.deepEqual(since.filter, {
    timestamps: false,
    since: { seconds: Date.parse('2026-11-28T09:59:00Z') / 1000, nanos: 250_000_000 },
  });

  const sinceTime = logTarget(pod(['a'], 'n1'), node, { sinceTime: '2026-11-28T11:00:00+01:00' }, now);
  assert.deepEqual(sinceTime.filter?.since, { seconds: Date.parse('2026-11-28T10:00:00Z') / 1000, nanos: 0 });

  const limited = logTarget(pod(['a'], 'n1'), node, { limitBytes: '10' }, now);
  assert.equal(limited.path, '/containerLogs/team%20a/web/a');
  assert.deepEqual(limited.filter, { timestamps: false, limitBytes: 10 });
});

test('bad since, limitBytes and timestamps values are refused with the parameter named', () => {
  const bad = (q: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => logTarget(pod(['a'], 'n1'), node, q),
      (e: unknown) => e instanceof ApiError && e.code === 400 && re.test(e.message),
    );
  bad({ sinceSeconds: '0' }, /sinceSeconds must be a whole number ≥ 1/);
  bad({ sinceSeconds: '1.5' }, /sinceSeconds/);
  bad({ limitBytes: '0' }, /limitBytes must be a whole number ≥ 1/);
  bad({ sinceTime: 'yesterday' }, /sinceTime must be an RFC 3339 time/);
  bad({ sinceTime: '2026-11-28T10:00:00Z', sinceSeconds: '5' }, /at most one of sinceTime or sinceSeconds/);
  bad({ timestamps: 'yes' }, /timestamps must be true or false/);
});

test('log times: any offset and fraction read to the nanosecond, written as RFC 3339 UTC like kubelet', () => {
  const t = parseLogTime('2026-11-28T11:00:00.123456789+01:00')!;
  assert.deepEqual(t, { seconds: Date.parse('2026-11-28T10:00:00Z') / 1000, nanos: 123456789 });
  assert.equal(formatLogTime(t), '2026-11-28T10:00:00.123456789Z');
  assert.equal(formatLogTime(parseLogTime('2026-11-28T10:00:00.500Z')!), '2026-11-28T10:00:00.5Z');
  assert.equal(formatLogTime(parseLogTime('2026-11-28T10:00:00Z')!), '2026-11-28T10:00:00Z');
  assert.equal(parseLogTime('line-1'), undefined);
});

test('the stream filter drops lines before since, keeps or strips times, and cuts at limitBytes across chunks', () => {
  const since = parseLogTime('2026-11-28T10:00:00.5Z')!;
  const input =
    '2026-11-28T10:00:00.499999999+00:00 old\n' +
    '2026-11-28T10:00:00.500000000+00:00 at since\n' +
    '2026-11-28T10:00:01.000000000+00:00 later\n';
  const run = (f: LogStreamFilter, chunks: string[]): string =>
    Buffer.concat([...chunks.map((c) => f.push(c)), f.end()]).toString();
  // the same output however the input is cut
  for (const cut of [1, 7, 40, input.length]) {
    const chunks: string[] = [];
    for (let i = 0; i < input.length; i += cut) chunks.push(input.slice(i, i + cut));
    assert.equal(run(new LogStreamFilter({ since, timestamps: false }), chunks), 'at since\nlater\n');
    assert.equal(
      run(new LogStreamFilter({ since, timestamps: true }), chunks),
      '2026-11-28T10:00:00.5Z at since\n2026-11-28T10:00:01Z later\n',
    );
  }
  const limited = new LogStreamFilter({ timestamps: false, limitBytes: 10 });
  assert.equal(limited.push('line-1\nli').toString(), 'line-1\nli');
  assert.equal(limited.full, false);
  assert.equal(limited.push('ne-2\nline-3\n').toString(), 'n');
  assert.equal(limited.full, true);
  assert.equal(limited.push('more\n').length, 0);
  const both = new LogStreamFilter({ since, timestamps: false, limitBytes: 12 });
  assert.equal(run(both, [input]), 'at since\nlat');
  // a last line without a newline keeps having none; a line without a time passes as it is
  assert.equal(
    run(new LogStreamFilter({ timestamps: true }), ['no time here\n2026-11-28T10:00:00Z tail']),
    'no time here\n2026-11-28T10:00:00Z tail',
  );
});
