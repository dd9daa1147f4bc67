import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiError, type KubeObject } from '@berth/api';
import type { BerthClient } from '@berth/client';
import type { ImageRecord } from '@berth/oci';
import type { ContainerRecord, ContainerSupervisor, SupervisedContainer } from '../supervisor';
import { VolumeManager } from '../volumes/volumes';
import { containerId, type Pod } from './container-config';
import type { EventRecorder } from './events';
import { PodSyncer, type PodSyncerOptions } from './pod-syncer';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'agent-syncer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };

const image: ImageRecord = {
  reference: '127.0.0.1:5000/app/web:v1',
  digest: 'sha256:' + 'a'.repeat(64),
  repoDigest: '127.0.0.1:5000/app/web@sha256:' + 'a'.repeat(64),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  configDigest: 'sha256:' + 'b'.repeat(64),
  config: { config: { Cmd: ['sh'], Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [] } },
  platform: { os: 'linux', architecture: 'amd64' },
  layers: [
    { digest: 'sha256:1', diffID: 'sha256:1', size: 1, mediaType: 'x', id: 'l1', dir: '/layers/l1' },
    { digest: 'sha256:2', diffID: 'sha256:2', size: 1, mediaType: 'x', id: 'l2', dir: '/layers/l2' },
  ],
  chainIDs: [],
  size: 10,
  pulledAt: '2026-01-01T00:00:00Z',
};

class FakeSupervisor {
  readonly records = new Map<string, ContainerRecord>();
  readonly runs: SupervisedContainer[] = [];
  readonly stops: [string, number][] = [];
  get(id: string) {
    return this.records.get(id);
  }
  list() {
    return [...this.records.values()];
  }
  async run(spec: SupervisedContainer) {
    this.runs.push(spec);
    const r: ContainerRecord = {
      id: spec.config.id,
      spec,
      logPath: spec.logPath!,
      state: 'running',
      startedAt: '2026-01-01T00:00:01.000Z',
      restartCount: 0,
      crashCount: 0,
    };
    this.records.set(r.id, r);
    return r;
  }
  async stop(id: string, grace: number) {
    this.stops.push([id, grace]);
    this.records.delete(id);
  }
}

function setup(opts: { have?: boolean; pullError?: Error; prober?: PodSyncerOptions['prober'] } = {}) {
  const writes: KubeObject[] = [];
  const events: string[] = [];
  const pulls: string[] = [];
  const client = {
    updateStatus: async (o: KubeObject) => {
      writes.push(structuredClone(o));
      return {
        ...o,
        metadata: { ...o.metadata, resourceVersion: String(Number(o.metadata.resourceVersion) + 1) },
      };
    },
    get: async () => {
      throw new ApiError('NotFound', 'not found');
    },
  } as unknown as BerthClient;
  const supervisor = new FakeSupervisor();
  const volumes = new VolumeManager(path.join(tmp, `pods-${Math.random().toString(36).slice(2)}`));
  const syncer = new PodSyncer({
    client,
    images: {
      get: async () => (opts.have ? image : undefined),
      pull: async (ref: string) => {
        pulls.push(ref);
        if (opts.pullError) throw opts.pullError;
        return image;
      },
    },
    supervisor: supervisor as unknown as ContainerSupervisor,
    volumes,
    events: {
      record: (_p: unknown, _t: string, reason: string) => events.push(reason),
    } as unknown as EventRecorder,
    prober: opts.prober,
    nodeName: 'n1',
    hostIP: '10.0.0.5',
    logDir: '/logs',
    pullBackoff: { initialDelayMs: 1000, maxDelayMs: 8000 },
    log: quiet,
  });
  return { syncer, supervisor, volumes, writes, events, pulls };
}

const pod = (over: Record<string, unknown> = {}): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1', resourceVersion: '7' },
    spec: {
      nodeName: 'n1',
      restartPolicy: 'OnFailure',
      terminationGracePeriodSeconds: 5,
      volumes: [{ name: 'scratch', emptyDir: {} }],
      containers: [
        {
          name: 'main',
          image: '127.0.0.1:5000/app/web:v1',
          imagePullPolicy: 'IfNotPresent',
          args: ['-c', 'sleep 1'],
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
        },
      ],
    },
    ...over,
  }) as Pod;

describe('pod syncer reconcile', () => {
  test('a new pod with a cached image: hands the container to the supervisor and writes Running', async () => {
    const { syncer, supervisor, writes, pulls, events } = setup({ have: true });
    syncer.cache.set('default/web', pod());
    assert.equal(await syncer.reconcile('default/web'), undefined);
    assert.deepEqual(pulls, [], 'IfNotPresent with the image present: no pull');
    assert.equal(supervisor.runs.length, 1);
    const run = supervisor.runs[0];
    assert.equal(run.config.id, containerId('uid-1', 'main'));
    assert.equal(run.config.podName, 'web');
    assert.deepEqual(run.config.args, ['-c', 'sleep 1']);
    assert.deepEqual(run.layers, ['/layers/l1', '/layers/l2']);
    assert.equal(run.restartPolicy, 'OnFailure');
    assert.equal(run.logPath, `/logs/${run.config.id}.log`);
    assert.equal(run.config.mounts?.[0].destination, '/scratch');
    assert.ok(run.config.etcFiles?.hosts && existsSync(run.config.etcFiles.hosts));
    assert.equal(writes.length, 1, 'one status write (no early Pending: nothing to pull)');
    const st = writes[0].status;
    assert.equal(st.phase, 'Running');
    assert.equal(st.hostIP, '10.0.0.5');
    assert.equal(st.containerStatuses[0].imageID, image.repoDigest);
    assert.equal(st.containerStatuses[0].containerID, `runc://${run.config.id}`);
    assert.deepEqual(
      events.filter((e) => e === 'Created' || e === 'Started'),
      ['Created', 'Started'],
    );
    // level-triggered: nothing changed, so a second reconcile writes nothing and starts nothing
    syncer.cache.set('default/web', {
      ...pod(),
      status: st,
      metadata: { ...pod().metadata, resourceVersion: '8' },
    });
    await syncer.reconcile('default/web');
    assert.equal(supervisor.runs.length, 1);
    assert.equal(writes.length, 1);
  });

  test('a failed pull: ErrImagePull with a requeue, then ImagePullBackOff without pulling until the backoff ends', async () => {
    const { syncer, supervisor, writes, pulls, events } = setup({ pullError: new Error('manifest unknown') });
    syncer.cache.set('default/web', pod());
    const r1 = await syncer.reconcile('default/web');
    assert.deepEqual(pulls, ['127.0.0.1:5000/app/web:v1']);
    assert.ok(r1 && r1.requeueAfterMs! > 0 && r1.requeueAfterMs! <= 1000);
    const last = () => writes[writes.length - 1].status.containerStatuses[0].state.waiting;
    assert.equal(writes[0].status.phase, 'Pending');
    assert.equal(last().reason, 'ErrImagePull');
    assert.match(last().message, /manifest unknown/);
    assert.ok(events.includes('Pulling') && events.includes('Failed'));
    // A reconcile right away (our own status write coming back on the watch) keeps ErrImagePull
    // for the first half of the wait, without pulling.
    const writesBefore = writes.length;
    const r2 = await syncer.reconcile('default/web');
    assert.equal(pulls.length, 1, 'no pull while backing off');
    assert.equal(last().reason, 'ErrImagePull');
    assert.equal(writes.length, writesBefore, 'nothing changed, nothing written');
    assert.ok(r2 && r2.requeueAfterMs! > 0 && r2.requeueAfterMs! <= r1.requeueAfterMs!);
    // Half way through: ImagePullBackOff, still no pull.
    await new Promise((r) => setTimeout(r, r2.requeueAfterMs! + 5));
    const r3 = await syncer.reconcile('default/web');
    assert.equal(pulls.length, 1, 'no pull while backing off');
    assert.equal(last().reason, 'ImagePullBackOff');
    assert.ok(r3 && r3.requeueAfterMs! > 0);
    assert.equal(supervisor.runs.length, 0);
  });

  test('the prober decides ready: a running container whose readiness probe fails makes the pod not Ready; teardown stops its probes', async () => {
    const updates: string[] = [];
    const removed: string[] = [];
    let ready = false;
    const prober: PodSyncerOptions['prober'] = {
      update: (_p, c, run) => void updates.push(`${c.name}:${run.state}`),
      status: () => ({ started: true, ready }),
      removePod: (uid) => void removed.push(uid),
    };
    const { syncer, writes } = setup({ have: true, prober });
    syncer.cache.set('default/web', pod());
    await syncer.reconcile('default/web');
    assert.deepEqual(updates, ['main:running'], 'the prober hears of the running container');
    let st = writes[writes.length - 1].status;
    assert.equal(st.phase, 'Running');
    assert.equal(st.containerStatuses[0].ready, false);
    assert.equal(st.containerStatuses[0].started, true);
    for (const t of ['Ready', 'ContainersReady'])
      assert.equal(st.conditions.find((c: { type: string }) => c.type === t).status, 'False', t);
    ready = true;
    await syncer.reconcile('default/web');
    st = writes[writes.length - 1].status;
    assert.equal(st.containerStatuses[0].ready, true);
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'Ready').status, 'True');
    syncer.cache.delete('default/web');
    await syncer.reconcile('default/web');
    assert.deepEqual(removed, ['uid-1']);
  });

  test('a pod gone from the cache: its containers are stopped with the grace period and its directories removed', async () => {
    const { syncer, supervisor, volumes, events } = setup({ have: true });
    syncer.cache.set('default/web', pod());
    await syncer.reconcile('default/web');
    assert.ok(existsSync(volumes.podDir('uid-1')));
    syncer.cache.delete('default/web');
    await syncer.reconcile('default/web');
    assert.deepEqual(supervisor.stops, [[containerId('uid-1', 'main'), 5]]);
    assert.equal(events[events.length - 1], 'Killing', 'kubelet says it stops the container');
    assert.equal(existsSync(volumes.podDir('uid-1')), false);
    assert.equal(syncer.keyOfUID('uid-1'), undefined);
  });

  test('a pod replaced under the same name (new uid) tears the old one down before starting the new', async () => {
    const { syncer, supervisor } = setup({ have: true });
    syncer.cache.set('default/web', pod());
    await syncer.reconcile('default/web');
    syncer.cache.set(
      'default/web',
      pod({ metadata: { name: 'web', namespace: 'default', uid: 'uid-2', resourceVersion: '9' } }),
    );
    await syncer.reconcile('default/web');
    assert.deepEqual(
      supervisor.stops.map((s) => s[0]),
      [containerId('uid-1', 'main')],
    );
    assert.deepEqual(
      supervisor.runs.map((r) => r.config.podUID),
      ['uid-1', 'uid-2'],
    );
  });

  test('a config error (missing Secret) is CreateContainerConfigError, not a crash', async () => {
    const { syncer, supervisor, writes } = setup({ have: true });
    const p = pod();
    p.spec.containers[0].env = [
      { name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } },
    ] as never;
    syncer.cache.set('default/web', p);
    const r = await syncer.reconcile('default/web');
    assert.ok(r && r.requeueAfterMs! > 0);
    assert.equal(supervisor.runs.length, 0);
    const w = writes[writes.length - 1].status.containerStatuses[0].state.waiting;
    assert.equal(w.reason, 'CreateContainerConfigError');
    assert.match(w.message, /secret "nope" not found/);
  });

  test('init containers run one at a time to completion before the containers start', async () => {
    const { syncer, supervisor, writes } = setup({ have: true });
    const p = pod();
    p.spec.initContainers = [
      {
        name: 'init-a',
        image: '127.0.0.1:5000/app/web:v1',
        imagePullPolicy: 'IfNotPresent',
        command: ['true'],
      },
      {
        name: 'init-b',
        image: '127.0.0.1:5000/app/web:v1',
        imagePullPolicy: 'IfNotPresent',
        command: ['true'],
      },
    ] as never;
    syncer.cache.set('default/web', p);
    await syncer.reconcile('default/web');
    assert.deepEqual(
      supervisor.runs.map((r) => r.config.name),
      ['init-a'],
    );
    assert.equal(supervisor.runs[0].restartPolicy, 'OnFailure');
    let st = writes[writes.length - 1].status;
    assert.equal(st.phase, 'Pending');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'Initialized').status, 'False');
    assert.equal(st.initContainerStatuses[1].state.waiting.reason, 'PodInitializing');
    assert.equal(st.containerStatuses[0].state.waiting.reason, 'PodInitializing');
    const finish = (name: string, exitCode: number) =>
      Object.assign(supervisor.records.get(containerId('uid-1', name))!, {
        state: 'terminated',
        exitCode,
        reason: exitCode ? 'Error' : 'Completed',
      });
    finish('init-a', 0);
    await syncer.reconcile('default/web');
    assert.deepEqual(
      supervisor.runs.map((r) => r.config.name),
      ['init-a', 'init-b'],
    );
    finish('init-b', 0);
    await syncer.reconcile('default/web');
    assert.deepEqual(
      supervisor.runs.map((r) => r.config.name),
      ['init-a', 'init-b', 'main'],
    );
    st = writes[writes.length - 1].status;
    assert.equal(st.phase, 'Running');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'Initialized').status, 'True');
    assert.equal(st.initContainerStatuses[0].state.terminated.reason, 'Completed');
  });

  test('with restartPolicy Never a failed init container fails the pod and nothing else starts', async () => {
    const { syncer, supervisor, writes } = setup({ have: true });
    const p = pod();
    p.spec.restartPolicy = 'Never';
    p.spec.initContainers = [
      { name: 'init', image: '127.0.0.1:5000/app/web:v1', imagePullPolicy: 'IfNotPresent' },
    ] as never;
    syncer.cache.set('default/web', p);
    await syncer.reconcile('default/web');
    assert.equal(supervisor.runs[0].restartPolicy, 'Never');
    Object.assign(supervisor.records.get(containerId('uid-1', 'init'))!, {
      state: 'terminated',
      exitCode: 2,
      reason: 'Error',
    });
    await syncer.reconcile('default/web');
    assert.equal(supervisor.runs.length, 1);
    assert.equal(writes[writes.length - 1].status.phase, 'Failed');
  });
});
