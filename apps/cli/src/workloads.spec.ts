import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import {
  deploymentRolloutState,
  newAndOldReplicaSets,
  revisionHistory,
  rfc3339,
  rolledBackAnnotations,
  sameTemplate,
  templateWithoutHash,
} from './workloads';

function deploy(status: Record<string, unknown>, generation = 2, replicas = 6): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: 'd1', generation },
    spec: { replicas, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [] } } },
    status,
  };
}

function rs(
  name: string,
  revision: string | undefined,
  image: string,
  owner = 'd1',
  replicas = 1,
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: 'default',
      creationTimestamp: `2026-01-0${name.length % 9}T00:00:00Z`,
      annotations: revision ? { 'deployment.kubernetes.io/revision': revision } : {},
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: owner, controller: true },
      ],
    },
    spec: {
      replicas,
      template: {
        metadata: { labels: { app: 'web', 'pod-template-hash': name } },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  };
}

describe('rollout status messages (kubectl)', () => {
  test('an unobserved generation waits for the spec update to be observed', () => {
    assert.deepEqual(deploymentRolloutState(deploy({ observedGeneration: 1 })), {
      message: 'Waiting for deployment spec update to be observed...',
      done: false,
    });
  });
  test('fewer updated than desired, old replicas pending termination, updated not yet available, done', () => {
    const s = (st: Record<string, unknown>) =>
      deploymentRolloutState(deploy({ observedGeneration: 2, ...st })).message;
    assert.equal(
      s({ updatedReplicas: 2, replicas: 6 }),
      'Waiting for deployment "web" rollout to finish: 2 out of 6 new replicas have been updated...',
    );
    assert.equal(
      s({ updatedReplicas: 6, replicas: 8 }),
      'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...',
    );
    assert.equal(
      s({ updatedReplicas: 6, replicas: 6, availableReplicas: 2 }),
      'Waiting for deployment "web" rollout to finish: 2 of 6 updated replicas are available...',
    );
    const done = deploymentRolloutState(
      deploy({ observedGeneration: 3, updatedReplicas: 6, replicas: 6, availableReplicas: 6 }),
    );
    assert.deepEqual(done, { message: 'deployment "web" successfully rolled out', done: true });
  });
  test('ProgressDeadlineExceeded on Progressing is a failure', () => {
    const st = deploymentRolloutState(
      deploy({
        observedGeneration: 2,
        updatedReplicas: 1,
        conditions: [
          { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' },
        ],
      }),
    );
    assert.deepEqual(st, {
      message: 'deployment "web" exceeded its progress deadline',
      done: false,
      failed: true,
    });
  });
  test('replicas defaults to 1 when unset', () => {
    const d = deploy({ observedGeneration: 2, updatedReplicas: 1, replicas: 1, availableReplicas: 1 });
    delete d.spec.replicas;
    assert.equal(deploymentRolloutState(d).done, true);
  });
});

describe('revision history', () => {
  test('only ReplicaSets controlled by the Deployment with a numeric revision, sorted by revision', () => {
    const h = revisionHistory(deploy({}), [
      rs('c', '10', 'x:10'),
      rs('a', '2', 'x:2'),
      rs('other', '5', 'x:5', 'someone-else'),
      rs('none', undefined, 'x'),
      rs('bad', 'v3', 'x'),
    ]);
    assert.deepEqual([...h.keys()], [2, 10]);
    assert.equal(h.get(10)!.metadata.name, 'c');
  });
  test('templates compare without pod-template-hash; the copy drops only that label', () => {
    const a = rs('abc', '1', 'x:1').spec.template;
    const d = deploy({});
    d.spec.template = {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'app', image: 'x:1' }] },
    };
    assert.ok(sameTemplate(a, d.spec.template));
    assert.ok(!sameTemplate(rs('abc', '1', 'x:2').spec.template, d.spec.template));
    assert.deepEqual(templateWithoutHash(a).metadata.labels, { app: 'web' });
    assert.equal(a.metadata.labels['pod-template-hash'], 'abc', 'the original is not modified');
  });
  test('rollback annotations: the ReplicaSet change cause replaces the Deployment one, revision bookkeeping stays', () => {
    const d = deploy({});
    d.metadata.annotations = {
      'deployment.kubernetes.io/revision': '3',
      'kubernetes.io/change-cause': 'now',
      keep: 'me',
    };
    const old = rs('a', '1', 'x');
    old.metadata.annotations!['kubernetes.io/change-cause'] = 'then';
    assert.deepEqual(rolledBackAnnotations(d, old), {
      'deployment.kubernetes.io/revision': '3',
      'kubernetes.io/change-cause': 'then',
      keep: 'me',
    });
    assert.deepEqual(rolledBackAnnotations(d, rs('b', '2', 'x')), {
      'deployment.kubernetes.io/revision': '3',
      keep: 'me',
    });
  });
  test('new ReplicaSet matches the template; old ones are the others that still have replicas', () => {
    const d = deploy({});
    d.spec.template = {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'app', image: 'x:2' }] },
    };
    const { newRs, old } = newAndOldReplicaSets(d, [
      rs('one', '1', 'x:1', 'd1', 0),
      rs('two', '2', 'x:2'),
      rs('three', '3', 'x:3', 'd1', 2),
    ]);
    assert.equal(newRs?.metadata.name, 'two');
    assert.deepEqual(
      old.map((r) => r.metadata.name),
      ['three'],
    );
  });
  test('rfc3339 is UTC to the second', () => {
    assert.equal(rfc3339(Date.parse('2026-01-10T12:00:00.789Z')), '2026-01-10T12:00:00Z');
  });
});
