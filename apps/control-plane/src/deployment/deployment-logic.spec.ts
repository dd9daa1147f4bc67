import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { claimReplicaSets, syncDeployment, type Action, type SyncInput } from './deployment-logic';
import {
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  computeHash,
  deploymentParams,
  equalIgnoreHash,
  type DeploymentStatus,
} from './deployment-util';

const NOW = new Date('2026-11-27T12:00:00Z');
const UID = 'd-uid';

function template(image: string) {
  return { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } };
}

function deployment(opts: {
  replicas?: number;
  image?: string;
  strategy?: Record<string, unknown>;
  generation?: number;
  status?: Partial<DeploymentStatus>;
  annotations?: Record<string, string>;
  extra?: Record<string, unknown>;
}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: UID,
      generation: opts.generation ?? 1,
      resourceVersion: '10',
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      replicas: opts.replicas ?? 4,
      selector: { matchLabels: { app: 'web' } },
      template: template(opts.image ?? 'img:1'),
      strategy: opts.strategy ?? { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      ...(opts.extra ?? {}),
    },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

let serial = 0;
/** A ReplicaSet as the controller would have made it for `image`, with the given sizes. */
function replicaSet(
  image: string,
  revision: number,
  replicas: number,
  status: { replicas?: number; available?: number } = {},
  annotations: Record<string, string> = {},
): KubeObject {
  const t = template(image);
  const hash = computeHash(t);
  serial++;
  const available = status.available ?? replicas;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${hash}`,
      namespace: 'default',
      uid: `rs-${image}`,
      resourceVersion: String(serial),
      generation: 1,
      creationTimestamp: `2026-11-27T10:${String(revision).padStart(2, '0')}:00Z`,
      labels: { app: 'web', [POD_TEMPLATE_HASH_LABEL]: hash },
      annotations: { [REVISION_ANNOTATION]: String(revision), ...annotations },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: 'web',
          uid: UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas,
      minReadySeconds: 0,
      selector: { matchLabels: { app: 'web', [POD_TEMPLATE_HASH_LABEL]: hash } },
      template: { ...t, metadata: { labels: { ...t.metadata.labels, [POD_TEMPLATE_HASH_LABEL]: hash } } },
    },
    status: {
      replicas: status.replicas ?? replicas,
      readyReplicas: available,
      availableReplicas: available,
      observedGeneration: 1,
    },
  };
}

/** One line per action, for exact assertions. */
function summary(actions: Action[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'createReplicaSet':
        return `create ${a.replicaSet.metadata.name} ${a.replicaSet.spec.replicas}`;
      case 'updateReplicaSet':
        return a.from === a.replicaSet.spec.replicas
          ? `annotate ${a.replicaSet.metadata.name}`
          : `scale ${a.replicaSet.metadata.name} ${a.from}→${a.replicaSet.spec.replicas}`;
      case 'deleteReplicaSet':
        return `delete ${a.name}`;
      case 'updateDeploymentAnnotations':
        return `revision ${a.annotations[REVISION_ANNOTATION]}`;
      case 'updateStatus':
        return 'status';
    }
  });
}

const nameOf = (image: string) => `web-${computeHash(template(image))}`;
const statusOf = (actions: Action[]) =>
  (actions.find((a) => a.type === 'updateStatus') as { status: DeploymentStatus } | undefined)?.status;
const cond = (s: DeploymentStatus | undefined, type: string) => s?.conditions.find((c) => c.type === type);

describe('deploymentParams: maxSurge rounds up, maxUnavailable down', () => {
  test('25% of 10 is a surge of 3 and 2 unavailable', () => {
    const p = deploymentParams(
      deployment({
        replicas: 10,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      }),
    );
    assert.equal(p.maxSurge, 3);
    assert.equal(p.maxUnavailable, 2);
  });
  test('both resolving to 0 allow one unavailable pod', () => {
    const p = deploymentParams(
      deployment({
        replicas: 5,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '10%' } },
      }),
    );
    assert.equal(p.maxSurge, 0);
    assert.equal(p.maxUnavailable, 1);
  });
  test('maxUnavailable is capped at replicas; Recreate has neither', () => {
    const p = deploymentParams(
      deployment({
        replicas: 2,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 5 } },
      }),
    );
    assert.equal(p.maxUnavailable, 2);
    const r = deploymentParams(deployment({ strategy: { type: 'Recreate' } }));
    assert.deepEqual([r.maxSurge, r.maxUnavailable], [0, 0]);
  });
  test('defaults when fields are missing: 25%/25%, history 10, deadline 600', () => {
    const d = deployment({ replicas: 4 });
    delete d.spec.strategy;
    const p = deploymentParams(d);
    assert.deepEqual(
      [p.maxSurge, p.maxUnavailable, p.revisionHistoryLimit, p.progressDeadlineSeconds],
      [1, 1, 10, 600],
    );
  });
  test('a bad value names the field', () => {
    assert.throws(
      () =>
        deploymentParams(
          deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 'lots' } } }),
        ),
      /spec\.strategy\.rollingUpdate\.maxSurge/,
    );
  });
});

describe('computeHash', () => {
  test('is stable, lowercase alphanumeric, independent of key order, and changes with collisionCount', () => {
    const a = computeHash({ spec: { x: 1, y: [1, 2] }, metadata: { labels: { a: 'b' } } });
    const b = computeHash({ metadata: { labels: { a: 'b' } }, spec: { y: [1, 2], x: 1 } });
    assert.equal(a, b);
    assert.match(a, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.notEqual(computeHash({ a: 1 }), computeHash({ a: 2 }));
    assert.notEqual(computeHash({ a: 1 }, 1), computeHash({ a: 1 }));
  });
});

describe('syncDeployment', () => {
  test('first rollout: one ReplicaSet <name>-<hash> at full size, owned, labelled, annotated; revision 1', () => {
    const d = deployment({ replicas: 3, annotations: { 'kubernetes.io/change-cause': 'v1' } });
    const plan = syncDeployment({ deployment: d, replicaSets: [], now: NOW });
    assert.deepEqual(summary(plan.actions), [`create ${nameOf('img:1')} 3`, 'revision 1', 'status']);
    const rs = (plan.actions[0] as { replicaSet: KubeObject }).replicaSet;
    const hash = computeHash(d.spec.template);
    assert.equal(rs.metadata.name, `web-${hash}`);
    assert.deepEqual(rs.metadata.labels, { app: 'web', [POD_TEMPLATE_HASH_LABEL]: hash });
    assert.deepEqual(rs.spec.selector, { matchLabels: { app: 'web', [POD_TEMPLATE_HASH_LABEL]: hash } });
    assert.equal(rs.spec.template.metadata.labels[POD_TEMPLATE_HASH_LABEL], hash);
    assert.deepEqual(rs.metadata.annotations, {
      'kubernetes.io/change-cause': 'v1',
      [REVISION_ANNOTATION]: '1',
      [DESIRED_REPLICAS_ANNOTATION]: '3',
      [MAX_REPLICAS_ANNOTATION]: '4',
    });
    assert.deepEqual(rs.metadata.ownerReferences, [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'web',
        uid: UID,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.deepEqual((plan.actions[0] as { event?: unknown }).event, {
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: `Scaled up replica set web-${hash} to 3`,
    });
    const s = statusOf(plan.actions)!;
    assert.equal(s.observedGeneration, 1);
    assert.equal(cond(s, 'Progressing')?.reason, 'NewReplicaSetCreated');
    assert.equal(cond(s, 'Progressing')?.lastUpdateTime, '2026-11-27T12:00:00Z');
    assert.equal(cond(s, 'Available')?.reason, 'MinimumReplicasUnavailable');
  });

  test('a steady Deployment writes nothing the second time', () => {
    const rs = replicaSet(
      'img:1',
      1,
      4,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const d = deployment({ annotations: { [REVISION_ANNOTATION]: '1' } });
    const first = syncDeployment({ deployment: d, replicaSets: [rs], now: NOW });
    assert.deepEqual(summary(first.actions), ['status']);
    const s = statusOf(first.actions)!;
    assert.deepEqual(
      [s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas, s.unavailableReplicas],
      [4, 4, 4, 4, 0],
    );
    assert.equal(cond(s, 'Available')?.reason, 'MinimumReplicasAvailable');
    // Found (no Progressing yet) and complete in the same pass: NewReplicaSetAvailable.
    assert.equal(cond(s, 'Progressing')?.reason, 'NewReplicaSetAvailable');
    const third = syncDeployment({ deployment: { ...d, status: s }, replicaSets: [rs], now: NOW });
    assert.deepEqual(third.actions, []);
    assert.equal(third.requeueAfterMs, undefined);
  });

  test('an image change starts a rolling update: new RS surges to 1, old scales 4→3', () => {
    const old = replicaSet(
      'img:1',
      1,
      4,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const d = deployment({ image: 'img:2', generation: 2, annotations: { [REVISION_ANNOTATION]: '1' } });
    const plan = syncDeployment({ deployment: d, replicaSets: [old], now: NOW });
    assert.deepEqual(summary(plan.actions), [
      `create ${nameOf('img:2')} 1`,
      `scale ${nameOf('img:1')} 4→3`,
      'revision 2',
      'status',
    ]);
    const scale = plan.actions[1] as { event?: { message: string } };
    assert.equal(scale.event?.message, `Scaled down replica set ${nameOf('img:1')} to 3 from 4`);
  });

  test('percentages: 10 replicas at 25%/25% surge 3 and scale the old one down by 2', () => {
    const old = replicaSet(
      'img:1',
      1,
      10,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '10', [MAX_REPLICAS_ANNOTATION]: '13' },
    );
    const d = deployment({
      replicas: 10,
      image: 'img:2',
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    });
    const plan = syncDeployment({ deployment: d, replicaSets: [old], now: NOW });
    assert.deepEqual(summary(plan.actions).slice(0, 2), [
      `create ${nameOf('img:2')} 3`,
      `scale ${nameOf('img:1')} 10→8`,
    ]);
  });

  for (const [surge, unavailable] of [
    [1, 1],
    [0, 1],
    [2, 0],
    ['25%', '25%'],
    [3, 2],
  ] as const) {
    test(`rolling update (maxSurge ${surge}, maxUnavailable ${unavailable}) keeps availability at every step of a simulated cluster`, () => {
      const sim = new Cluster(
        deployment({
          replicas: 4,
          strategy: {
            type: 'RollingUpdate',
            rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable },
          },
        }),
        7,
      );
      sim.runUntilComplete();
      const p = deploymentParams(sim.d);
      assert.equal(sim.availablePods(), 4);
      sim.d.spec.template = template('img:2');
      sim.d.metadata.generation = 2;
      let steps = 0;
      sim.onStep = () => {
        steps++;
        assert.ok(
          sim.availablePods() >= 4 - p.maxUnavailable,
          `available ${sim.availablePods()} < ${4 - p.maxUnavailable} at step ${steps}`,
        );
        assert.ok(sim.specTotal() <= 4 + p.maxSurge, `pods ${sim.specTotal()} > ${4 + p.maxSurge}`);
      };
      sim.runUntilComplete();
      assert.ok(steps > 3);
      const rss = sim.rss.filter((r) => r.spec.replicas > 0);
      assert.equal(rss.length, 1);
      assert.equal(rss[0].metadata.name, nameOf('img:2'));
      assert.equal(rss[0].metadata.annotations?.[REVISION_ANNOTATION], '2');
      assert.equal(sim.d.metadata.annotations?.[REVISION_ANNOTATION], '2');
      const s = sim.d.status as DeploymentStatus;
      assert.deepEqual([s.replicas, s.updatedReplicas, s.availableReplicas], [4, 4, 4]);
      assert.equal(cond(s, 'Progressing')?.reason, 'NewReplicaSetAvailable');
      assert.equal(cond(s, 'Available')?.status, 'True');
    });
  }

  test('a stale old ReplicaSet status (still reporting the pods it is deleting) is not counted beyond its size', () => {
    // Old was scaled 4→3 but its status still says 4 available; new has 1 available pod.
    const ann = { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' };
    const old = replicaSet('img:1', 1, 3, { replicas: 4, available: 4 }, ann);
    const nu = replicaSet('img:2', 2, 1, { available: 1 }, ann);
    const d = deployment({ image: 'img:2', annotations: { [REVISION_ANNOTATION]: '2' } });
    const plan = syncDeployment({ deployment: d, replicaSets: [old, nu], now: NOW });
    // Counting the stale 4 would allow 2 more down (to 1): only 3 + 1 - minAvailable 3 = 1 may go.
    assert.deepEqual(
      summary(plan.actions).filter((a) => a.startsWith('scale')),
      [`scale ${nameOf('img:2')} 1→2`],
    );
    const old2 = { ...old, status: { ...old.status } };
    const nu2 = replicaSet('img:2', 2, 2, { available: 1 }, ann);
    const next = syncDeployment({ deployment: d, replicaSets: [old2, nu2], now: NOW });
    // allPods 5 - minAvailable 3 - newUnavailable 1 = 1; available min(3,4) + 1 = 4 → 1 down.
    assert.deepEqual(
      summary(next.actions).filter((a) => a.startsWith('scale')),
      [`scale ${nameOf('img:1')} 3→2`],
    );
  });

  test('unhealthy old replicas are scaled away first', () => {
    // Old has 4 pods of which 2 are not available; new is at its surge limit with nothing available.
    const old = replicaSet('img:1', 1, 4, { available: 2 }, { [DESIRED_REPLICAS_ANNOTATION]: '4' });
    const nu = replicaSet('img:2', 2, 1, { available: 0 }, { [DESIRED_REPLICAS_ANNOTATION]: '4' });
    const d = deployment({
      image: 'img:2',
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 2 } },
    });
    const plan = syncDeployment({ deployment: d, replicaSets: [old, nu], now: NOW });
    // allPods 5 - minAvailable 2 - newUnavailable 1 = 2 may go: the 2 unhealthy ones.
    assert.deepEqual(
      summary(plan.actions).filter((a) => a.startsWith('scale')),
      [`scale ${nameOf('img:1')} 4→2`],
    );
  });

  test('Recreate: old to 0, wait until its pods are gone, then the new ReplicaSet at full size', () => {
    const strategy = { type: 'Recreate' };
    const old = replicaSet('img:1', 1, 3, {}, { [DESIRED_REPLICAS_ANNOTATION]: '3' });
    const d = deployment({
      replicas: 3,
      image: 'img:2',
      strategy,
      annotations: { [REVISION_ANNOTATION]: '1' },
    });
    const step1 = syncDeployment({ deployment: d, replicaSets: [old], now: NOW });
    assert.deepEqual(summary(step1.actions), [`scale ${nameOf('img:1')} 3→0`, 'status']);

    const scaled = { ...old, spec: { ...old.spec, replicas: 0 } };
    const step2 = syncDeployment({ deployment: d, replicaSets: [scaled], now: NOW });
    assert.ok(!summary(step2.actions).some((a) => a.startsWith('create')), 'waits while status.replicas > 0');

    const emptied = { ...scaled, status: { replicas: 0, availableReplicas: 0, observedGeneration: 1 } };
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'default',
        deletionTimestamp: '2026-11-27T11:59:59Z',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: old.metadata.uid!, controller: true },
        ],
      },
      status: { phase: 'Running' },
    };
    const step3 = syncDeployment({ deployment: d, replicaSets: [emptied], pods: [pod], now: NOW });
    assert.ok(!summary(step3.actions).some((a) => a.startsWith('create')), 'waits while an old pod runs');

    const done = { ...pod, status: { phase: 'Succeeded' } };
    const step4 = syncDeployment({ deployment: d, replicaSets: [emptied], pods: [done], now: NOW });
    assert.deepEqual(summary(step4.actions).slice(0, 2), [`create ${nameOf('img:2')} 3`, 'revision 2']);
  });

  test('undo: the old ReplicaSet with the same template becomes the new one at revision max+1, keeping its old number', () => {
    const rev1 = replicaSet('img:1', 1, 0, {}, { [DESIRED_REPLICAS_ANNOTATION]: '4' });
    const rev2 = replicaSet(
      'img:2',
      2,
      4,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const d = deployment({ image: 'img:1', generation: 3, annotations: { [REVISION_ANNOTATION]: '2' } });
    const plan = syncDeployment({ deployment: d, replicaSets: [rev1, rev2], now: NOW });
    const lines = summary(plan.actions);
    assert.ok(!lines.some((l) => l.startsWith('create')), 'no new ReplicaSet');
    assert.deepEqual(lines.slice(0, 2), [`annotate ${nameOf('img:1')}`, `scale ${nameOf('img:1')} 0→1`]);
    const annotated = (plan.actions[0] as { replicaSet: KubeObject }).replicaSet;
    assert.equal(annotated.metadata.annotations![REVISION_ANNOTATION], '3');
    assert.equal(annotated.metadata.annotations![REVISION_HISTORY_ANNOTATION], '1');
    assert.ok(lines.includes('revision 3'));
  });

  test('undo by kubectl: a template written back as kubectl serialises it (creationTimestamp: null, resources: {}) still finds its old ReplicaSet', () => {
    const rev1 = replicaSet('img:1', 1, 0, {}, { [DESIRED_REPLICAS_ANNOTATION]: '4' });
    const rev2 = replicaSet(
      'img:2',
      2,
      4,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const d = deployment({ generation: 3, annotations: { [REVISION_ANNOTATION]: '2' } });
    // what `kubectl rollout undo` PATCHes in: the ReplicaSet's template through Go structs
    d.spec.template = {
      metadata: { creationTimestamp: null, labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', image: 'img:1', resources: {}, ports: [] }], volumes: null },
    };
    const plan = syncDeployment({ deployment: d, replicaSets: [rev1, rev2], now: NOW });
    const lines = summary(plan.actions);
    assert.ok(!lines.some((l) => l.startsWith('create')), `no new ReplicaSet: ${lines.join(', ')}`);
    assert.deepEqual(lines.slice(0, 2), [`annotate ${nameOf('img:1')}`, `scale ${nameOf('img:1')} 0→1`]);
    assert.ok(lines.includes('revision 3'));
  });

  test('template equality keeps what has a meaning: emptyDir: {}, resources with limits, another image', () => {
    const base = template('img:1') as any;
    const withVolume = (source: unknown) => ({
      ...base,
      spec: { ...base.spec, volumes: [{ name: 'v', ...(source as object) }] },
    });
    assert.ok(equalIgnoreHash(withVolume({ emptyDir: {} }), withVolume({ emptyDir: {} })));
    assert.ok(!equalIgnoreHash(withVolume({ emptyDir: {} }), withVolume({})));
    const limited = {
      ...base,
      spec: { containers: [{ name: 'c', image: 'img:1', resources: { limits: { cpu: '1' } } }] },
    };
    assert.ok(!equalIgnoreHash(limited, base));
    assert.ok(!equalIgnoreHash(template('img:2'), base));
    assert.ok(
      equalIgnoreHash(
        {
          ...base,
          metadata: {
            labels: { ...base.metadata.labels, [POD_TEMPLATE_HASH_LABEL]: 'abc' },
            annotations: {},
          },
        },
        base,
      ),
    );
  });

  test('revision history: beyond revisionHistoryLimit the oldest empty ReplicaSets are deleted once complete', () => {
    const olds = [1, 2, 3, 4].map((r) => replicaSet(`img:${r}`, r, 0));
    const busy = replicaSet('img:0', 0, 0, { replicas: 1, available: 0 });
    const cur = replicaSet(
      'img:5',
      5,
      4,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const status: Partial<DeploymentStatus> = {
      observedGeneration: 1,
      replicas: 4,
      updatedReplicas: 4,
      availableReplicas: 4,
      conditions: [],
    };
    const d = deployment({
      image: 'img:5',
      extra: { revisionHistoryLimit: 2 },
      status,
      annotations: { [REVISION_ANNOTATION]: '5' },
    });
    const plan = syncDeployment({ deployment: d, replicaSets: [busy, ...olds, cur], now: NOW });
    // 5 old ones, limit 2: the 3 lowest revisions go, except the one that still has a pod.
    assert.deepEqual(
      summary(plan.actions).filter((l) => l.startsWith('delete')),
      [`delete ${nameOf('img:1')}`, `delete ${nameOf('img:2')}`],
    );
  });

  test('progress deadline: no progress for progressDeadlineSeconds sets Progressing=False ProgressDeadlineExceeded', () => {
    const old = replicaSet(
      'img:1',
      1,
      3,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const nu = replicaSet(
      'img:2',
      2,
      2,
      { available: 0 },
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const progressing = (ago: number) => ({
      type: 'Progressing',
      status: 'True' as const,
      reason: 'ReplicaSetUpdated',
      message: 'x',
      lastUpdateTime: new Date(NOW.getTime() - ago * 1000).toISOString().replace('.000', ''),
      lastTransitionTime: '2026-11-27T10:00:00Z',
    });
    const status = (ago: number): Partial<DeploymentStatus> => ({
      observedGeneration: 1,
      replicas: 5,
      updatedReplicas: 2,
      readyReplicas: 3,
      availableReplicas: 3,
      unavailableReplicas: 2,
      conditions: [progressing(ago)],
    });
    const base = {
      image: 'img:2',
      annotations: { [REVISION_ANNOTATION]: '2' },
      extra: { progressDeadlineSeconds: 600 },
    };
    const early = syncDeployment({
      deployment: deployment({ ...base, status: status(100) }),
      replicaSets: [old, nu],
      now: NOW,
    });
    const before = cond(statusOf(early.actions), 'Progressing');
    assert.deepEqual([before?.status, before?.reason], ['True', 'ReplicaSetUpdated'], 'not timed out yet');
    assert.equal(early.requeueAfterMs, 501_000, 'looks again just after the deadline');

    const late = syncDeployment({
      deployment: deployment({ ...base, status: status(700) }),
      replicaSets: [old, nu],
      now: NOW,
    });
    const c = cond(statusOf(late.actions), 'Progressing');
    assert.equal(c?.status, 'False');
    assert.equal(c?.reason, 'ProgressDeadlineExceeded');
    assert.equal(c?.message, `ReplicaSet "${nameOf('img:2')}" has timed out progressing.`);
    assert.equal(late.requeueAfterMs, undefined);
  });

  test('paused: a template change creates no ReplicaSet; Progressing says DeploymentPaused', () => {
    const old = replicaSet(
      'img:1',
      1,
      4,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const d = deployment({
      image: 'img:2',
      extra: { paused: true },
      annotations: { [REVISION_ANNOTATION]: '1' },
    });
    const plan = syncDeployment({ deployment: d, replicaSets: [old], now: NOW });
    assert.deepEqual(summary(plan.actions), ['status']);
    assert.equal(cond(statusOf(plan.actions), 'Progressing')?.reason, 'DeploymentPaused');
  });

  test('scaling mid-rollout is proportional (Kubernetes example: 8 old + 5 new, 10→15 gives 11 + 7)', () => {
    const ann = { [DESIRED_REPLICAS_ANNOTATION]: '10', [MAX_REPLICAS_ANNOTATION]: '13' };
    const old = replicaSet('img:1', 1, 8, {}, ann);
    const nu = replicaSet('img:2', 2, 5, { available: 0 }, ann);
    const d = deployment({
      replicas: 15,
      image: 'img:2',
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } },
      annotations: { [REVISION_ANNOTATION]: '2' },
    });
    const plan = syncDeployment({ deployment: d, replicaSets: [old, nu], now: NOW });
    assert.deepEqual(
      summary(plan.actions).filter((l) => l.startsWith('scale')),
      [`scale ${nameOf('img:1')} 8→11`, `scale ${nameOf('img:2')} 5→7`],
    );
    const upd = plan.actions.find((a) => a.type === 'updateReplicaSet') as { replicaSet: KubeObject };
    assert.equal(upd.replicaSet.metadata.annotations![DESIRED_REPLICAS_ANNOTATION], '15');
    assert.equal(upd.replicaSet.metadata.annotations![MAX_REPLICAS_ANNOTATION], '18');
  });

  test('scaling a steady Deployment resizes its one ReplicaSet', () => {
    const rs = replicaSet(
      'img:1',
      1,
      4,
      {},
      { [DESIRED_REPLICAS_ANNOTATION]: '4', [MAX_REPLICAS_ANNOTATION]: '5' },
    );
    const d = deployment({ replicas: 2, annotations: { [REVISION_ANNOTATION]: '1' } });
    const plan = syncDeployment({ deployment: d, replicaSets: [rs], now: NOW });
    assert.deepEqual(summary(plan.actions), [`scale ${nameOf('img:1')} 4→2`, 'status']);
  });
});

// ---------------------------------------------------------------------------------------------
// A small simulated cluster: ReplicaSets with pods that become available over time.

interface SimPod {
  available: boolean;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Cluster {
  rss: KubeObject[] = [];
  pods = new Map<string, SimPod[]>();
  onStep?: () => void;
  private rv = 100;
  private minute = 0;
  private readonly random: () => number;

  constructor(
    public d: KubeObject,
    seed: number,
  ) {
    this.random = rng(seed);
  }

  availablePods(): number {
    let n = 0;
    for (const ps of this.pods.values()) n += ps.filter((p) => p.available).length;
    return n;
  }

  specTotal(): number {
    return this.rss.reduce((n, rs) => n + rs.spec.replicas, 0);
  }

  /** The Deployment controller: one sync with the current (possibly stale) ReplicaSet statuses. */
  private controller(): void {
    const input: SyncInput = { deployment: this.d, replicaSets: this.rss, now: NOW };
    for (const a of syncDeployment(input).actions) {
      if (a.type === 'createReplicaSet') {
        const rs = structuredClone(a.replicaSet);
        rs.metadata.uid = `uid-${rs.metadata.name}`;
        rs.metadata.creationTimestamp = `2026-11-27T11:${String(this.minute++).padStart(2, '0')}:00Z`;
        rs.metadata.resourceVersion = String(++this.rv);
        rs.status = { replicas: 0, readyReplicas: 0, availableReplicas: 0 };
        this.rss.push(rs);
        this.pods.set(rs.metadata.name!, []);
      } else if (a.type === 'updateReplicaSet') {
        const i = this.rss.findIndex((r) => r.metadata.name === a.replicaSet.metadata.name);
        this.rss[i] = { ...structuredClone(a.replicaSet), status: this.rss[i].status };
      } else if (a.type === 'deleteReplicaSet') {
        this.rss = this.rss.filter((r) => r.metadata.name !== a.name);
      } else if (a.type === 'updateDeploymentAnnotations') {
        this.d = { ...this.d, metadata: { ...this.d.metadata, annotations: a.annotations } };
      } else if (a.type === 'updateStatus') {
        this.d = { ...this.d, status: structuredClone(a.status) };
      }
    }
  }

  /** The ReplicaSet controller for one RS: pods to spec (unavailable ones deleted first), then status. */
  private replicaSetController(rs: KubeObject): void {
    const pods = this.pods.get(rs.metadata.name!) ?? [];
    while (pods.length < rs.spec.replicas) pods.push({ available: false });
    pods.sort((a, b) => Number(a.available) - Number(b.available));
    while (pods.length > rs.spec.replicas) pods.shift();
    this.pods.set(rs.metadata.name!, pods);
    const available = pods.filter((p) => p.available).length;
    rs.status = { replicas: pods.length, readyReplicas: available, availableReplicas: available };
  }

  /** A kubelet: one not-yet-available pod becomes available. */
  private kubelet(): void {
    for (const ps of this.pods.values()) {
      const p = ps.find((x) => !x.available);
      if (p) {
        p.available = true;
        return;
      }
    }
  }

  private complete(): boolean {
    const s = this.d.status as DeploymentStatus | undefined;
    const r = this.d.spec.replicas;
    const newRS = this.rss.find(
      (rs) =>
        rs.metadata.annotations?.[REVISION_ANNOTATION] === this.d.metadata.annotations?.[REVISION_ANNOTATION],
    );
    return (
      !!s &&
      s.observedGeneration === this.d.metadata.generation &&
      s.updatedReplicas === r &&
      s.replicas === r &&
      s.availableReplicas === r &&
      !!newRS &&
      this.pods.get(newRS.metadata.name!)?.filter((p) => p.available).length === r &&
      this.rss.every((rs) => rs === newRS || rs.spec.replicas === 0)
    );
  }

  /** Runs the three actors in a random order until the rollout is complete. */
  runUntilComplete(): void {
    for (let i = 0; i < 5000; i++) {
      const x = this.random();
      if (x < 0.4) this.controller();
      else if (x < 0.8) {
        const rs = this.rss[Math.floor(this.random() * this.rss.length)];
        if (rs) this.replicaSetController(rs);
      } else this.kubelet();
      this.onStep?.();
      if (this.complete()) return;
    }
    throw new Error(`rollout did not complete: ${JSON.stringify(this.d.status)}`);
  }
}

describe('claimReplicaSets', () => {
  const rs = (name: string, labels: Record<string, string>, controller?: string): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: 'default',
      labels,
      ...(controller
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: controller, controller: true },
            ],
          }
        : {}),
    },
  });
  test('adopts matching orphans, releases owned ones the selector no longer matches, never while deleting', () => {
    const d = deployment({});
    const orphan = rs('a', { app: 'web', 'pod-template-hash': 'h' });
    const stranger = rs('b', { app: 'other' });
    const owned = rs('c', { app: 'moved' }, UID);
    const res = claimReplicaSets(d, [owned], [orphan, stranger]);
    assert.deepEqual(
      [res.adopt.map((x) => x.metadata.name), res.release.map((x) => x.metadata.name)],
      [['a'], ['c']],
    );
    const deleting = { ...d, metadata: { ...d.metadata, deletionTimestamp: '2026-11-27T12:00:00Z' } };
    assert.deepEqual(claimReplicaSets(deleting, [owned], [orphan]), { adopt: [], release: [] });
  });
});
