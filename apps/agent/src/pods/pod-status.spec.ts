import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../supervisor';
import type { Pod } from './container-config';
import { buildPodStatus, containerStatus, podPhase, qosClass, type ContainerView } from './pod-status';

function rec(over: Partial<ContainerRecord>): ContainerRecord {
  return {
    id: 'abc',
    spec: {} as ContainerRecord['spec'],
    logPath: '/l',
    state: 'running',
    restartCount: 0,
    crashCount: 0,
    ...over,
  };
}

const view = (r?: Partial<ContainerRecord>, waiting?: ContainerView['waiting']): ContainerView => ({
  name: 'main',
  image: 'busybox',
  imageID: 'docker.io/library/busybox@sha256:00',
  record: r ? rec(r) : undefined,
  waiting,
});

const pod = (status?: object, spec: object = {}): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u' },
    spec: { containers: [{ name: 'main', image: 'busybox' }], ...spec },
    status,
  }) as Pod;

describe('pod status', () => {
  test('phase: Pending before start, Running while running or restarting, Succeeded / Failed when all ended', () => {
    assert.equal(podPhase([view(undefined, { reason: 'ErrImagePull' })]), 'Pending');
    assert.equal(podPhase([view({ state: 'waiting', reason: 'ContainerCreating' })]), 'Pending');
    assert.equal(podPhase([view({ state: 'running' })]), 'Running');
    assert.equal(
      podPhase([
        view({
          state: 'waiting',
          reason: 'CrashLoopBackOff',
          lastState: { exitCode: 1, reason: 'Error', finishedAt: 't' },
        }),
      ]),
      'Running',
    );
    assert.equal(
      podPhase([view({ state: 'terminated', exitCode: 0 }), view({ state: 'terminated', exitCode: 0 })]),
      'Succeeded',
    );
    assert.equal(
      podPhase([view({ state: 'terminated', exitCode: 0 }), view({ state: 'terminated', exitCode: 2 })]),
      'Failed',
    );
    assert.equal(
      podPhase([view({ state: 'terminated', exitCode: 2 }), view({ state: 'running' })]),
      'Running',
    );
  });

  test('container status: waiting before the supervisor has it; running; terminated with lastState and containerID', () => {
    assert.deepEqual(containerStatus(view(undefined, { reason: 'ImagePullBackOff', message: 'Back-off' })), {
      name: 'main',
      image: 'busybox',
      imageID: 'docker.io/library/busybox@sha256:00',
      state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off' } },
      ready: false,
      restartCount: 0,
      started: false,
    });
    const r = containerStatus(
      view({
        state: 'running',
        startedAt: 's2',
        restartCount: 2,
        lastState: { exitCode: 1, reason: 'Error', startedAt: 's1', finishedAt: 'f1' },
      }),
    );
    assert.deepEqual(r.state, { running: { startedAt: 's2' } });
    assert.equal(r.ready, true);
    assert.equal(r.restartCount, 2);
    assert.equal(r.containerID, 'runc://abc');
    assert.deepEqual(r.lastState, {
      terminated: {
        exitCode: 1,
        reason: 'Error',
        startedAt: 's1',
        finishedAt: 'f1',
        containerID: 'runc://abc',
      },
    });
    const t = containerStatus(
      view({ state: 'terminated', exitCode: 0, reason: 'Completed', startedAt: 's', finishedAt: 'f' }),
    );
    assert.deepEqual(t.state, {
      terminated: {
        exitCode: 0,
        reason: 'Completed',
        startedAt: 's',
        finishedAt: 'f',
        containerID: 'runc://abc',
      },
    });
    assert.equal(t.ready, false);
    const w = containerStatus(view({ state: 'waiting', reason: 'CrashLoopBackOff', message: 'back-off 2s' }));
    assert.deepEqual(w.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2s' } });
  });

  test('conditions keep their transition time while unchanged; startTime is kept; hostNetwork gets the host IP', () => {
    const first = buildPodStatus(pod(), [view({ state: 'running' })], '10.0.0.5', 'T1');
    assert.equal(first.phase, 'Running');
    assert.equal(first.startTime, 'T1');
    assert.equal(first.podIP, undefined);
    for (const t of ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'])
      assert.equal(first.conditions!.find((c) => c.type === t)?.status, 'True');
    const again = buildPodStatus(pod(first), [view({ state: 'running' })], '10.0.0.5', 'T2');
    assert.deepEqual(again, first);
    const notReady = buildPodStatus(
      pod(first),
      [
        view({
          state: 'waiting',
          reason: 'CrashLoopBackOff',
          lastState: { exitCode: 1, reason: 'Error', finishedAt: 'x' },
        }),
      ],
      '10.0.0.5',
      'T3',
    );
    const ready = notReady.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.lastTransitionTime, 'T3');
    assert.equal(notReady.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime, 'T1');
    const host = buildPodStatus(
      pod(undefined, { hostNetwork: true }),
      [view({ state: 'running' })],
      '10.0.0.5',
      'T1',
    );
    assert.equal(host.podIP, '10.0.0.5');
  });

  test('QoS class', () => {
    assert.equal(qosClass(pod()), 'BestEffort');
    assert.equal(
      qosClass(
        pod(undefined, {
          containers: [{ name: 'a', image: 'b', resources: { limits: { cpu: '1', memory: '1Gi' } } }],
        }),
      ),
      'Guaranteed',
    );
    assert.equal(
      qosClass(
        pod(undefined, { containers: [{ name: 'a', image: 'b', resources: { requests: { cpu: '1' } } }] }),
      ),
      'Burstable',
    );
  });
});
