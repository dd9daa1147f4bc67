import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import {
  claimPods,
  computeStatus,
  decideReplicas,
  podFromTemplate,
  rankForDeletion,
  slowStartBatches,
  statusUnchanged,
  templateMatchesSelector,
} from './replicaset-logic';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function rs(
  over: { replicas?: number; minReadySeconds?: number; deleting?: boolean; status?: object } = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'rs-uid',
      generation: 3,
      ...(over.deleting ? { deletionTimestamp: iso(T0) } : {}),
    },
    spec: {
      replicas: over.replicas ?? 3,
      minReadySeconds: over.minReadySeconds ?? 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'front' }, annotations: { a: 'b' } },
        spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
      },
    },
    ...(over.status ? { status: over.status } : {}),
  };
}

interface PodOpts {
  owner?: string | null;
  labels?: Record<string, string>;
  phase?: string;
  node?: string;
  ready?: boolean;
  readySince?: number;
  created?: number;
  deleting?: boolean;
  restarts?: number;
}

function pod(name: string, o: PodOpts = {}): KubeObject {
  const owner = o.owner === undefined ? 'rs-uid' : o.owner;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      labels: o.labels ?? { app: 'web', tier: 'front' },
      creationTimestamp: iso(o.created ?? T0),
      ...(owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: owner, controller: true },
            ],
          }
        : {}),
      ...(o.deleting ? { deletionTimestamp: iso(T0) } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], ...(o.node ? { nodeName: o.node } : {}) },
    status: {
      phase: o.phase ?? 'Running',
      conditions: o.ready
        ? [{ type: 'Ready', status: 'True', lastTransitionTime: iso(o.readySince ?? T0) }]
        : [{ type: 'Ready', status: 'False' }],
      containerStatuses: [
        { name: 'c', restartCount: o.restarts ?? 0, ready: !!o.ready, image: '', imageID: '' },
      ],
    },
  };
}

const names = (pods: KubeObject[]) => pods.map((p) => p.metadata.name);

describe('claimPods', () => {
  test('keeps matching controlled pods, adopts matching orphans, releases controlled pods that stopped matching', () => {
    const r = claimPods(rs(), [
      pod('mine'),
      pod('orphan', { owner: null }),
      pod('orphan-other-labels', { owner: null, labels: { app: 'db' } }),
      pod('relabelled', { labels: { app: 'other' } }),
      pod('someone-elses', { owner: 'other-uid' }),
    ]);
    assert.deepEqual(names(r.owned), ['mine']);
    assert.deepEqual(names(r.adopt), ['orphan']);
    assert.deepEqual(names(r.release), ['relabelled']);
  });
  test('adopts nothing while the ReplicaSet or the orphan is being deleted; releases no pod being deleted', () => {
    assert.deepEqual(claimPods(rs({ deleting: true }), [pod('o', { owner: null })]).adopt, []);
    const r = claimPods(rs(), [
      pod('o', { owner: null, deleting: true }),
      pod('r', { labels: { app: 'x' }, deleting: true }),
    ]);
    assert.deepEqual([r.owned, r.adopt, r.release], [[], [], []]);
  });
  test('a pod listed twice (owner index and orphan index) is claimed once', () => {
    const p = pod('mine');
    assert.deepEqual(names(claimPods(rs(), [p, p]).owned), ['mine']);
  });
});

describe('decideReplicas', () => {
  test('too few active pods: create the difference', () => {
    assert.deepEqual(decideReplicas(rs({ replicas: 3 }), [pod('a')]), { create: 2, delete: [] });
  });
  test('creates are capped at the burst', () => {
    assert.equal(decideReplicas(rs({ replicas: 2000 }), [], 500).create, 500);
  });
  test('failed and succeeded pods count as gone and are replaced; they stay until replacements exist', () => {
    const pods = [pod('a'), pod('b', { phase: 'Failed' }), pod('c', { phase: 'Succeeded' })];
    assert.deepEqual(decideReplicas(rs({ replicas: 3 }), pods), { create: 2, delete: [] });
  });
  test('terminal pods are deleted once their replacements exist', () => {
    const pods = [pod('a'), pod('b'), pod('c'), pod('dead', { phase: 'Failed' })];
    const d = decideReplicas(rs({ replicas: 3 }), pods);
    assert.equal(d.create, 0);
    assert.deepEqual(names(d.delete), ['dead']);
  });
  test('pods being deleted do not count as active (replaced) and are not deleted again', () => {
    const d = decideReplicas(rs({ replicas: 2 }), [pod('a'), pod('b', { deleting: true })]);
    assert.deepEqual(d, { create: 1, delete: [] });
  });
  test('too many: delete the surplus, newest first', () => {
    const pods = [
      pod('old', { node: 'n', created: T0 }),
      pod('newest', { node: 'n', created: T0 + 3000 }),
      pod('mid', { node: 'n', created: T0 + 1000 }),
      pod('newer', { node: 'n', created: T0 + 2000 }),
    ];
    assert.deepEqual(names(decideReplicas(rs({ replicas: 2 }), pods).delete), ['newest', 'newer']);
  });
  test('scaled to zero deletes every active pod and terminal ones too', () => {
    const d = decideReplicas(rs({ replicas: 0 }), [pod('a'), pod('f', { phase: 'Failed' })]);
    assert.deepEqual(names(d.delete).sort(), ['a', 'f']);
  });
  test('a ReplicaSet being deleted gets no creates or deletes', () => {
    assert.deepEqual(decideReplicas(rs({ deleting: true, replicas: 5 }), []), { create: 0, delete: [] });
  });
});

describe('rankForDeletion', () => {
  test('unscheduled, then Pending < Unknown < Running, then not ready, then ready less long, then restarts, then newest', () => {
    const pods = [
      pod('ready-long', { node: 'n', ready: true, readySince: T0 }),
      pod('ready-short', { node: 'n', ready: true, readySince: T0 + 5000 }),
      pod('running-not-ready-old', { node: 'n', created: T0 }),
      pod('running-not-ready-new', { node: 'n', created: T0 + 1000 }),
      pod('running-not-ready-restarts', { node: 'n', created: T0, restarts: 4 }),
      pod('unknown', { node: 'n', phase: 'Unknown' }),
      pod('pending', { node: 'n', phase: 'Pending' }),
      pod('unscheduled', { phase: 'Pending' }),
    ];
    assert.deepEqual(names(rankForDeletion(pods)), [
      'unscheduled',
      'pending',
      'unknown',
      'running-not-ready-restarts',
      'running-not-ready-new',
      'running-not-ready-old',
      'ready-short',
      'ready-long',
    ]);
  });
  test('does not reorder its input', () => {
    const pods = [pod('a', { created: T0 }), pod('b', { created: T0 + 1000 })];
    rankForDeletion(pods);
    assert.deepEqual(names(pods), ['a', 'b']);
  });
});

describe('computeStatus', () => {
  test('counts active, fully labelled, ready and available pods and sets observedGeneration', () => {
    const { status } = computeStatus(
      rs({ minReadySeconds: 10 }),
      [
        pod('avail', { ready: true, readySince: T0 }),
        pod('ready-not-yet-available', { ready: true, readySince: T0 + 5000 }),
        pod('partial-labels', { labels: { app: 'web' } }),
        pod('failed', { phase: 'Failed', ready: true }),
        pod('deleting', { deleting: true, ready: true }),
      ],
      T0 + 10_000,
    );
    assert.deepEqual(status, {
      replicas: 3,
      fullyLabeledReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 1,
      observedGeneration: 3,
    });
  });
  test('reports when the next ready pod becomes available', () => {
    const r = computeStatus(
      rs({ minReadySeconds: 10 }),
      [pod('a', { ready: true, readySince: T0 + 3000 }), pod('b', { ready: true, readySince: T0 + 1000 })],
      T0 + 2000,
    );
    assert.equal(r.status.availableReplicas, 0);
    assert.equal(r.nextAvailableAt, T0 + 11_000);
  });
  test('ReplicaFailure is set while creates fail and removed once they do not', () => {
    const failed = computeStatus(rs(), [], T0, {
      reason: 'FailedCreate',
      message: 'Error creating: boom',
    }).status;
    assert.deepEqual(failed.conditions, [
      {
        type: 'ReplicaFailure',
        status: 'True',
        lastTransitionTime: iso(T0),
        reason: 'FailedCreate',
        message: 'Error creating: boom',
      },
    ]);
    const again = computeStatus(rs({ status: failed }), [], T0 + 5000, {
      reason: 'FailedCreate',
      message: 'Error creating: boom',
    }).status;
    assert.equal(again.conditions?.[0].lastTransitionTime, iso(T0), 'the transition time is kept');
    assert.equal(computeStatus(rs({ status: failed }), [], T0 + 6000).status.conditions, undefined);
  });
  test('statusUnchanged compares counts, generation and conditions', () => {
    const r = rs({
      status: {
        replicas: 1,
        fullyLabeledReplicas: 1,
        readyReplicas: 0,
        availableReplicas: 0,
        observedGeneration: 3,
      },
    });
    const s = computeStatus(r, [pod('a')], T0).status;
    assert.equal(statusUnchanged(r, s), true);
    assert.equal(statusUnchanged(r, { ...s, readyReplicas: 1 }), false);
    assert.equal(statusUnchanged(rs(), s), false);
  });
});

describe('podFromTemplate', () => {
  test('generateName, template labels and annotations, controller owner reference, defaulted spec', () => {
    const p = podFromTemplate(rs());
    assert.deepEqual(p.metadata, {
      generateName: 'web-',
      namespace: 'default',
      labels: { app: 'web', tier: 'front' },
      annotations: { a: 'b' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web',
          uid: 'rs-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    assert.equal(p.spec.restartPolicy, 'Always');
    assert.equal(p.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  });
  test('does not share the template objects', () => {
    const r = rs();
    const p = podFromTemplate(r);
    p.metadata.labels!.x = 'y';
    p.spec.containers[0].name = 'changed';
    assert.equal(r.spec.template.metadata.labels.x, undefined);
    assert.equal(r.spec.template.spec.containers[0].name, 'c');
  });
  test('templateMatchesSelector', () => {
    assert.equal(templateMatchesSelector(rs()), true);
    const bad = rs();
    bad.spec.template.metadata.labels = { app: 'nope' };
    assert.equal(templateMatchesSelector(bad), false);
  });
});

test('slowStartBatches grows 1, 2, 4, ... and ends with what remains', () => {
  assert.deepEqual(slowStartBatches(0), []);
  assert.deepEqual(slowStartBatches(1), [1]);
  assert.deepEqual(slowStartBatches(10), [1, 2, 4, 3]);
  assert.equal(
    slowStartBatches(500).reduce((a, b) => a + b, 0),
    500,
  );
});
