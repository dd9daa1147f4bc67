import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject } from '@berth/api';
import { execTarget } from './pod-exec.proxy';

const pod = (containers: string[], nodeName?: string, phase = 'Running'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'team a' },
  spec: { nodeName, containers: containers.map((name) => ({ name, image: 'busybox' })) },
  status: { phase },
});
const node: KubeObject = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'n1' },
  status: {
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
  },
};
const q = (s: string) => new URLSearchParams(s);

test("exec goes to the agent of the pod's node with the container in the path and the streams in the query", () => {
  assert.deepEqual(
    execTarget(pod(['app'], 'n1'), node, q('command=sh&command=-c&command=ls /&stdin=true&stdout=true')),
    {
      host: '127.0.0.1',
      port: 10250,
      path: '/exec/team%20a/web/app?command=sh&command=-c&command=ls+%2F&stdin=true&stdout=true',
    },
  );
  assert.equal(
    execTarget(pod(['a', 'b'], 'n1'), node, q('command=ls&container=b&stdout=1')).path,
    '/exec/team%20a/web/b?command=ls&stdout=true',
  );
});

test('exec errors read as Kubernetes’: container choice, completed pods, unscheduled, bad query', () => {
  const bad = (p: KubeObject, query: string, re: RegExp, code = 400) =>
    assert.throws(
      () => execTarget(p, node, q(query)),
      (e: unknown) => e instanceof ApiError && e.code === code && re.test(e.message),
    );
  bad(
    pod(['a', 'b'], 'n1'),
    'command=ls&stdout=1',
    /a container name must be specified for pod web, choose one of: \[a b\]/,
  );
  bad(pod(['a'], 'n1'), 'command=ls&stdout=1&container=c', /container c is not valid for pod web/);
  bad(
    pod(['a'], 'n1', 'Succeeded'),
    'command=ls&stdout=1',
    /cannot exec into a container in a completed pod; current phase is Succeeded/,
  );
  bad(pod(['a']), 'command=ls&stdout=1', /not scheduled/);
  bad(pod(['a'], 'n1'), 'stdout=1', /at least 1 command/);
  assert.throws(
    () => execTarget(pod(['a'], 'n1'), undefined, q('command=ls&stdout=1')),
    (e: unknown) => e instanceof ApiError && e.code === 503,
  );
});
