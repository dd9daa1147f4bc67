import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { imageRows, splitImageName } from './images.command';

test('image names split into repository, tag and digest as docker images shows them', () => {
  assert.deepEqual(splitImageName('127.0.0.1:5000/library/busybox:1.36'), {
    repo: '127.0.0.1:5000/library/busybox',
    tag: '1.36',
    digest: '',
  });
  assert.deepEqual(splitImageName('host:5000/a/b@sha256:abc'), {
    repo: 'host:5000/a/b',
    tag: '<none>',
    digest: 'sha256:abc',
  });
});

test('one row per tag with the digest and size the node reported, node column for several nodes', () => {
  const node = (name: string, images: unknown[]): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: { images },
  });
  const d = 'sha256:' + 'a'.repeat(64);
  const rows = imageRows(
    [
      node('n1', [
        {
          names: [
            `docker.io/library/busybox@${d}`,
            'docker.io/library/busybox:1.36',
            'docker.io/library/busybox:latest',
          ],
          sizeBytes: 1_088_135,
        },
      ]),
      node('n2', []),
    ],
    true,
  );
  assert.deepEqual(rows, [
    ['n1', 'docker.io/library/busybox', '1.36', d.slice(0, 19), '1.09MB'],
    ['n1', 'docker.io/library/busybox', 'latest', d.slice(0, 19), '1.09MB'],
  ]);
});
