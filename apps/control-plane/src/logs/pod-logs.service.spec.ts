import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject } from '@berth/api';
import { logTarget } from './pod-logs.service';

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
