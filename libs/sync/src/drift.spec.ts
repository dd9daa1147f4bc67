import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDrift, driftOf } from './drift';

const file = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
  spec: {
    replicas: 3,
    template: {
      spec: {
        containers: [{ name: 'web', image: 'web:1', ports: [{ containerPort: 8080 }], args: ['-v'] }],
      },
    },
  },
};

/** What the server stores: the file plus defaults, server metadata and status. */
function live(): any {
  return {
    ...structuredClone(file),
    metadata: { ...file.metadata, uid: 'u1', resourceVersion: '7', labels: { app: 'web', extra: 'x' } },
    spec: {
      replicas: 3,
      revisionHistoryLimit: 10,
      strategy: { type: 'RollingUpdate' },
      template: {
        spec: {
          restartPolicy: 'Always',
          containers: [
            {
              name: 'web',
              image: 'web:1',
              imagePullPolicy: 'IfNotPresent',
              ports: [{ containerPort: 8080, protocol: 'TCP' }],
              args: ['-v'],
            },
            { name: 'sidecar', image: 'proxy:1' },
          ],
        },
      },
    },
    status: { replicas: 1, readyReplicas: 0 },
  };
}

describe('driftOf', () => {
  test('defaults, server metadata, status, labels and list items others added are not drift', () => {
    assert.deepEqual(driftOf(file, live()), []);
  });

  test('a field the file sets and someone changed is drift, with its path', () => {
    const l = live();
    l.spec.replicas = 5;
    l.spec.template.spec.containers[0].image = 'web:2';
    const d = driftOf(file, l);
    assert.deepEqual(
      d.map((x) => [x.path, x.have, x.want]),
      [
        ['spec.replicas', 5, 3],
        ['spec.template.spec.containers[name=web].image', 'web:2', 'web:1'],
      ],
    );
    assert.equal(
      describeDrift(d),
      'spec.replicas: 5 → 3, spec.template.spec.containers[name=web].image: "web:2" → "web:1"',
    );
  });

  test('a removed label, a removed container, a changed atomic list and a missing object', () => {
    const l = live();
    delete l.metadata.labels.app;
    assert.deepEqual(
      driftOf(file, l).map((x) => x.path),
      ['metadata.labels.app'],
    );
    const l2 = live();
    l2.spec.template.spec.containers.shift();
    assert.deepEqual(
      driftOf(file, l2).map((x) => x.path),
      ['spec.template.spec.containers[name=web]'],
    );
    const l3 = live();
    l3.spec.template.spec.containers[0].args = ['-v', '-q'];
    assert.deepEqual(
      driftOf(file, l3).map((x) => x.path),
      ['spec.template.spec.containers[name=web].args'],
    );
    assert.equal(driftOf(file, undefined).length, 1);
  });

  test('a number the server keeps as a string (or back) is the same value; keys with dots are bracketed', () => {
    const f = { metadata: { annotations: { 'a.b/c': '1' } }, data: { port: 8080 } };
    assert.deepEqual(driftOf(f, { metadata: { annotations: { 'a.b/c': '1' } }, data: { port: '8080' } }), []);
    assert.deepEqual(
      driftOf(f, { metadata: { annotations: { 'a.b/c': '2' } }, data: { port: 8080 } }).map((x) => x.path),
      ['metadata.annotations[a.b/c]'],
    );
  });
});
