import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kindFor, type KindInfo, type KubeObject } from '@berth/api';
import { Informer } from '@berth/controllers';
import type { UpdateOptions } from '@berth/store';
import { PodScheduler } from './scheduler';
import { SchedulerCache } from './scheduler-cache';
import { podInfo } from './schedule-algorithm';

const PODS = kindFor('v1', 'Pod') as KindInfo;
const NODES = kindFor('v1', 'Node') as KindInfo;

let rv = 100;
const nextRv = () => String(++rv);

function node(
  name: string,
  o: { cpu?: string; ready?: boolean; labels?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `uid-${name}`, resourceVersion: nextRv(), labels: o.labels ?? {} },
    spec: {},
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: '8Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

function pod(name: string, o: { cpu?: string; nodeName?: string; owner?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: nextRv(),
      generation: 1,
      ...(o.owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: o.owner, controller: true },
            ],
          }
        : {}),
    },
    spec: {
      containers: [
        { name: 'c', image: 'busybox', ...(o.cpu ? { resources: { requests: { cpu: o.cpu } } } : {}) },
      ],
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
    },
  };
}

interface Write {
  obj: KubeObject;
  opts?: UpdateOptions;
}

/** A store that records writes, holds the latest pods, and can be told to fail a binding. */
class FakeStore {
  readonly writes: Write[] = [];
  readonly pods = new Map<string, KubeObject>();
  failBinding?: (obj: KubeObject) => ApiError | undefined;

  seed(p: KubeObject): KubeObject {
    this.pods.set(p.metadata.name as string, p);
    return p;
  }

  async get(_kind: KindInfo, _ns: string | undefined, name: string): Promise<KubeObject> {
    const p = this.pods.get(name);
    if (!p) throw ApiError.notFound('Pod', name);
    return p;
  }

  async update(_kind: KindInfo, obj: KubeObject, opts?: UpdateOptions): Promise<KubeObject> {
    await Promise.resolve();
    this.writes.push({ obj, opts });
    const cur = this.pods.get(obj.metadata.name as string);
    if (!cur) throw ApiError.notFound('Pod', obj.metadata.name as string);
    const err = opts?.subresource === 'binding' ? this.failBinding?.(obj) : undefined;
    if (err) throw err;
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw ApiError.conflict('Pod', obj.metadata.name as string, 'stale');
    }
    const next = structuredClone(cur);
    next.metadata.resourceVersion = nextRv();
    if (opts?.subresource === 'binding') next.spec.nodeName = obj.spec.nodeName;
    if (opts?.subresource === 'status') next.status = obj.status;
    this.pods.set(obj.metadata.name as string, next);
    return next;
  }

  bindings(): [string, string][] {
    return this.writes
      .filter((w) => w.opts?.subresource === 'binding')
      .map((w) => [w.obj.metadata.name as string, w.obj.spec.nodeName as string]);
  }
  statusWrites(): KubeObject[] {
    return this.writes.filter((w) => w.opts?.subresource === 'status').map((w) => w.obj);
  }
}

interface Recorded {
  name: string;
  type: string;
  reason: string;
  message: string;
}

const silent = { info() {}, warn() {}, debug() {} };

function setup(o: { nodes: KubeObject[]; pods: KubeObject[]; backoffInitialMs?: number }) {
  const store = new FakeStore();
  for (const p of o.pods) store.seed(p);
  const none = async function* () {};
  const pods = new Informer(PODS, none);
  const nodes = new Informer(NODES, none);
  pods.apply({ type: 'SYNC', items: o.pods, resourceVersion: '1' });
  nodes.apply({ type: 'SYNC', items: o.nodes, resourceVersion: '1' });
  const events: Recorded[] = [];
  const sched = new PodScheduler({
    pods,
    nodes,
    store,
    events: {
      record: async (obj, type, reason, message) => {
        events.push({ name: obj.metadata.name as string, type, reason, message });
      },
    },
    log: silent,
    backoffInitialMs: o.backoffInitialMs ?? 60_000,
  });
  const abort = new AbortController();
  const done = sched.run(abort.signal);
  stops.push(async () => {
    abort.abort();
    await done;
  });
  /** Delivers the store's current pod to the informer, as the watch would. */
  const deliver = (name: string) =>
    pods.apply({ type: 'MODIFIED', object: store.pods.get(name) as KubeObject });
  return { store, pods, nodes, events, sched, deliver };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('PodScheduler', () => {
  test('binds every pending pod through the binding subresource with the cached resourceVersion, and records Scheduled', async () => {
    const p1 = pod('p1');
    const s = setup({ nodes: [node('a')], pods: [p1, pod('bound', { nodeName: 'a' })] });
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), [['p1', 'a']]);
    const w = s.store.writes[0];
    assert.equal(w.obj.metadata.resourceVersion, p1.metadata.resourceVersion);
    assert.equal(w.obj.metadata.uid, 'uid-p1');
    assert.deepEqual(s.events, [
      { name: 'p1', type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned default/p1 to a' },
    ]);
  });

  test('six replicas of one owner over three nodes: 2/2/2, before any watch event confirms a binding', async () => {
    const pods = [1, 2, 3, 4, 5, 6].map((i) => pod(`r${i}`, { owner: 'rs1' }));
    const s = setup({ nodes: [node('a'), node('b'), node('c')], pods });
    await s.sched.idle();
    const per = new Map<string, number>();
    for (const [, n] of s.store.bindings()) per.set(n, (per.get(n) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries([...per].sort()), { a: 2, b: 2, c: 2 });
  });

  test('assumed pods count: a node with room for two takes two of three, the third is Unschedulable with condition and event', async () => {
    const s = setup({
      nodes: [node('a', { cpu: '1' })],
      pods: [pod('p1', { cpu: '500m' }), pod('p2', { cpu: '500m' }), pod('p3', { cpu: '500m' })],
    });
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), [
      ['p1', 'a'],
      ['p2', 'a'],
    ]);
    const [st] = s.store.statusWrites();
    assert.equal(st.metadata.name, 'p3');
    const cond = st.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled');
    assert.equal(cond.status, 'False');
    assert.equal(cond.reason, 'Unschedulable');
    assert.equal(cond.message, '0/1 nodes are available: 1 Insufficient cpu.');
    assert.equal(st.status.phase, 'Pending');
    const failed = s.events.filter((e) => e.reason === 'FailedScheduling');
    assert.deepEqual(failed, [
      {
        name: 'p3',
        type: 'Warning',
        reason: 'FailedScheduling',
        message: '0/1 nodes are available: 1 Insufficient cpu.',
      },
    ]);
  });

  test('the condition is not written again when the message did not change; a node change retries at once', async () => {
    const s = setup({ nodes: [node('a', { cpu: '1' })], pods: [pod('big', { cpu: '2' })] });
    await s.sched.idle();
    assert.equal(s.store.statusWrites().length, 1);
    s.deliver('big'); // our own status write comes back: no retry for that
    await s.sched.idle();
    assert.equal(s.sched.stats.failed, 1);
    // A heartbeat-only node update is no reason to retry.
    const beat = structuredClone(s.nodes.get('a') as KubeObject);
    beat.metadata.resourceVersion = nextRv();
    beat.status.conditions[0].lastHeartbeatTime = '2026-01-01T00:00:00Z';
    s.nodes.apply({ type: 'MODIFIED', object: beat });
    await s.sched.idle();
    assert.equal(s.sched.stats.failed, 1);
    // A second too-small node: retried at once (backoff is 60 s here), same kind of failure, new message.
    s.nodes.apply({ type: 'ADDED', object: node('b', { cpu: '1' }) });
    await s.sched.idle();
    assert.equal(s.sched.stats.failed, 2);
    assert.equal(s.store.statusWrites().length, 2);
    assert.equal(
      s.store.statusWrites()[1].status.conditions[0].message,
      '0/2 nodes are available: 2 Insufficient cpu.',
    );
    s.deliver('big');
    // A node update that changes the same fields again but keeps the message: retried, not rewritten.
    const bigger = node('b', { cpu: '1500m' });
    s.nodes.apply({ type: 'MODIFIED', object: bigger });
    await s.sched.idle();
    assert.equal(s.sched.stats.failed, 3);
    assert.equal(s.store.statusWrites().length, 2);
    // A node large enough: bound at once.
    s.nodes.apply({ type: 'ADDED', object: node('c', { cpu: '4' }) });
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), [['big', 'c']]);
  });

  test('a node becoming Ready lets a pending pod schedule', async () => {
    const s = setup({ nodes: [node('a', { ready: false })], pods: [pod('p')] });
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), []);
    assert.equal(
      s.store.statusWrites()[0].status.conditions[0].message,
      '0/1 nodes are available: 1 node(s) were not ready.',
    );
    s.nodes.apply({ type: 'MODIFIED', object: node('a') });
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), [['p', 'a']]);
  });

  test('a bound pod going away retries unschedulable pods at once', async () => {
    const s = setup({
      nodes: [node('a', { cpu: '1' })],
      pods: [pod('old', { cpu: '1', nodeName: 'a' }), pod('new', { cpu: '1' })],
    });
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), []);
    s.pods.apply({ type: 'DELETED', object: s.pods.get('default/old') as KubeObject });
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), [['new', 'a']]);
  });

  test('a conflict with a pod bound elsewhere drops it and releases the assumed room', async () => {
    const s = setup({ nodes: [node('a', { cpu: '1' })], pods: [pod('p1', { cpu: '1' })] });
    s.store.failBinding = (obj) => {
      // Another scheduler bound p1 to node z first.
      const cur = s.store.pods.get('p1') as KubeObject;
      s.store.pods.set('p1', {
        ...cur,
        spec: { ...cur.spec, nodeName: 'z' },
        metadata: { ...cur.metadata, resourceVersion: nextRv() },
      });
      return ApiError.conflict('Pod', obj.metadata.name as string, 'pod is already assigned to node "z"');
    };
    await s.sched.idle();
    assert.deepEqual(s.store.bindings(), [['p1', 'a']]);
    assert.equal(s.sched.stats.conflicts, 1);
    assert.equal(s.sched.cache.nodeInfo('a')?.requested.milliCpu, 0);
    assert.equal(s.sched.cache.nodeOf('default/p1'), undefined);
    s.deliver('p1');
    assert.equal(s.sched.cache.nodeOf('default/p1'), 'z');
    assert.equal(s.events.filter((e) => e.reason === 'Scheduled').length, 0);
  });

  test('a conflict from a stale copy re-reads the pod and binds with the fresh resourceVersion', async () => {
    const p = pod('p');
    const s = setup({ nodes: [node('a')], pods: [p] });
    // The store moved on (a label change the watch has not delivered yet).
    const moved = { ...p, metadata: { ...p.metadata, resourceVersion: nextRv(), labels: { x: 'y' } } };
    s.store.pods.set('p', moved);
    await s.sched.idle();
    const binds = s.store.writes.filter((w) => w.opts?.subresource === 'binding');
    assert.equal(binds.length, 2);
    assert.equal(binds[0].obj.metadata.resourceVersion, p.metadata.resourceVersion);
    assert.equal(binds[1].obj.metadata.resourceVersion, moved.metadata.resourceVersion);
    assert.equal((s.store.pods.get('p') as KubeObject).spec.nodeName, 'a');
    assert.equal(s.events.filter((e) => e.reason === 'Scheduled').length, 1);
  });

  test('pods for another scheduler, finished or being deleted are left alone', async () => {
    const other = pod('other');
    other.spec.schedulerName = 'my-scheduler';
    const done = { ...pod('done'), status: { phase: 'Succeeded' } };
    const s = setup({ nodes: [node('a')], pods: [other, done] });
    await s.sched.idle();
    assert.deepEqual(s.store.writes, []);
  });
});

describe('SchedulerCache', () => {
  test('assume, confirm through the informer, forget and delete keep the node sums exact', () => {
    const c = new SchedulerCache();
    c.setNode(node('a'));
    const p = pod('p', { cpu: '500m', owner: 'o' });
    c.assume('default/p', 'uid-p', podInfo(p), 'a');
    assert.equal(c.nodeInfo('a')?.requested.milliCpu, 500);
    assert.equal(c.nodeInfo('a')?.ownerCounts.get('o'), 1);
    // A stale unbound copy keeps the assumption.
    assert.equal(c.updatePod('default/p', p), false);
    assert.equal(c.isAssumed('default/p'), true);
    // The bound copy confirms it, without counting twice.
    c.updatePod('default/p', { ...p, spec: { ...p.spec, nodeName: 'a' } });
    assert.equal(c.isAssumed('default/p'), false);
    assert.equal(c.nodeInfo('a')?.requested.milliCpu, 500);
    assert.equal(c.nodeInfo('a')?.requested.pods, 1);
    // Finished pods free their node.
    assert.equal(
      c.updatePod('default/p', { ...p, spec: { ...p.spec, nodeName: 'a' }, status: { phase: 'Failed' } }),
      true,
    );
    assert.equal(c.nodeInfo('a')?.requested.milliCpu, 0);
    assert.equal(c.nodeInfo('a')?.ownerCounts.size, 0);
    // forget() undoes an assumption.
    c.assume('default/q', 'uid-q', podInfo(pod('q', { cpu: '1' })), 'a');
    c.forget('default/q', 'uid-q');
    assert.equal(c.nodeInfo('a')?.requested.milliCpu, 0);
    assert.equal(c.podCount, 0);
  });

  test('pods bound to an unknown node are counted there and the node becomes schedulable when it appears', () => {
    const c = new SchedulerCache();
    c.updatePod('default/p', pod('p', { cpu: '1', nodeName: 'later' }));
    assert.equal(c.nodes.length, 0);
    assert.equal(c.setNode(node('later')), true);
    assert.equal(c.nodes.length, 1);
    assert.equal(c.nodes[0].requested.milliCpu, 1000);
    c.removeNode('later');
    assert.equal(c.nodes.length, 0);
    assert.equal(c.nodeInfo('later')?.requested.milliCpu, 1000);
    assert.equal(c.removePod('default/p', 'uid-p'), true);
    assert.equal(c.nodeInfo('later'), undefined);
  });
});
