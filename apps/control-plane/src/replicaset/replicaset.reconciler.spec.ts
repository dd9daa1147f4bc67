import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject } from '@berth/api';
import { Informer, TerminalError, type EventType } from '@berth/controllers';
import type { ResourceStore } from '@berth/store';
import { PODS, REPLICASETS, ReplicaSetReconciler } from './replicaset.reconciler';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Write {
  op: 'create' | 'update' | 'delete' | 'get';
  kind: string;
  obj?: KubeObject;
  name?: string;
  opts?: unknown;
}

/** A store that records writes; creates name pods from generateName and give them uids. */
class RecordingStore {
  writes: Write[] = [];
  private n = 0;
  failCreate?: (obj: KubeObject) => Error | undefined;
  rsForGet?: KubeObject;

  async create(kind: { kind: string }, obj: KubeObject): Promise<KubeObject> {
    await Promise.resolve();
    const err = this.failCreate?.(obj);
    if (err) throw err;
    this.n++;
    const out: KubeObject = structuredClone(obj);
    out.metadata.name = `${obj.metadata.generateName}${String(this.n).padStart(5, '0')}`;
    out.metadata.uid = `created-${this.n}`;
    out.metadata.resourceVersion = String(1000 + this.n);
    out.metadata.creationTimestamp = iso(NOW);
    this.writes.push({ op: 'create', kind: kind.kind, obj: out });
    return out;
  }
  async update(kind: { kind: string }, obj: KubeObject, opts?: unknown): Promise<KubeObject> {
    await Promise.resolve();
    const out = structuredClone(obj);
    out.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion ?? 0) + 1);
    this.writes.push({ op: 'update', kind: kind.kind, obj: structuredClone(obj), opts });
    return out;
  }
  async delete(kind: { kind: string }, _ns: string, name: string, opts?: unknown): Promise<KubeObject> {
    await Promise.resolve();
    this.writes.push({ op: 'delete', kind: kind.kind, name, opts });
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name } };
  }
  async get(_kind: { kind: string }, _ns: string, name: string): Promise<KubeObject> {
    await Promise.resolve();
    if (!this.rsForGet) throw new ApiError('NotFound', `${name} not found`);
    return this.rsForGet;
  }
  of(op: Write['op'], kind: string): Write[] {
    return this.writes.filter((w) => w.op === op && w.kind === kind);
  }
}

class RecordingEvents {
  events: { type: EventType; reason: string; message: string }[] = [];
  record(_obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    this.events.push({ type, reason, message });
    return Promise.resolve();
  }
}

function rs(
  over: { replicas?: number; minReadySeconds?: number; image?: string; labels?: object } = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web', namespace: 'default', uid: 'rs-uid', generation: 2, resourceVersion: '10' },
    spec: {
      replicas: over.replicas ?? 3,
      minReadySeconds: over.minReadySeconds ?? 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: over.labels ?? { app: 'web' } },
        spec: { containers: [{ name: 'c', image: over.image ?? 'busybox:1.36' }] },
      },
    },
  };
}

let rv = 100;
function pod(
  name: string,
  o: {
    owned?: boolean;
    labels?: Record<string, string>;
    phase?: string;
    created?: number;
    ready?: number;
  } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: String(rv++),
      labels: o.labels ?? { app: 'web' },
      creationTimestamp: iso(o.created ?? NOW - 60_000),
      ...(o.owned === false
        ? {}
        : {
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
          }),
    },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox:1.36' }] },
    status: {
      phase: o.phase ?? 'Running',
      conditions:
        o.ready !== undefined
          ? [{ type: 'Ready', status: 'True', lastTransitionTime: iso(o.ready) }]
          : [{ type: 'Ready', status: 'False' }],
    },
  };
}

function setup(rsObj: KubeObject, pods: KubeObject[] = [], opts: { burst?: number } = {}) {
  const noSource = async function* () {};
  const replicaSets = new Informer(REPLICASETS, noSource);
  const podInformer = new Informer(PODS, noSource);
  const store = new RecordingStore();
  store.rsForGet = rsObj;
  const events = new RecordingEvents();
  const r = new ReplicaSetReconciler({
    replicaSets,
    pods: podInformer,
    store: store as unknown as ResourceStore,
    events,
    now: () => NOW,
    burst: opts.burst,
  });
  r.attach();
  replicaSets.apply({ type: 'SYNC', items: [rsObj], resourceVersion: '1' });
  podInformer.apply({ type: 'SYNC', items: pods, resourceVersion: '1' });
  /** Delivers the created pods to the pod informer, as the watch would. */
  const deliverCreates = () => {
    for (const w of store.of('create', 'Pod')) podInformer.apply({ type: 'ADDED', object: w.obj! });
  };
  return { r, store, events, replicaSets, podInformer, deliverCreates };
}

const lastStatus = (s: RecordingStore) => s.of('update', 'ReplicaSet').at(-1);

describe('ReplicaSetReconciler', () => {
  test('creates the missing pods from the template with the ReplicaSet as controller, and events', async () => {
    const { r, store, events } = setup(rs({ replicas: 3 }));
    await r.reconcile('default/web');
    const created = store.of('create', 'Pod').map((w) => w.obj!);
    assert.equal(created.length, 3);
    for (const p of created) {
      assert.equal(p.metadata.generateName, 'web-');
      assert.deepEqual(p.metadata.labels, { app: 'web' });
      assert.deepEqual(p.metadata.ownerReferences, [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web',
          uid: 'rs-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      assert.equal(p.spec.restartPolicy, 'Always');
    }
    assert.deepEqual(
      events.events.map((e) => `${e.reason}: ${e.message}`),
      created.map((p) => `SuccessfulCreate: Created pod: ${p.metadata.name}`),
    );
    const st = lastStatus(store)!;
    assert.deepEqual(st.opts, { subresource: 'status' });
    assert.deepEqual(st.obj!.status, {
      replicas: 0,
      fullyLabeledReplicas: 0,
      readyReplicas: 0,
      availableReplicas: 0,
      observedGeneration: 2,
    });
  });

  test('expectations: a reconcile before the cache shows the creates creates nothing more', async () => {
    const { r, store, podInformer, deliverCreates } = setup(rs({ replicas: 3 }));
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 3);
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 3, 'no second round of creates');
    // One pod seen: still waiting for the other two.
    podInformer.apply({ type: 'ADDED', object: store.of('create', 'Pod')[0].obj! });
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 3);
    deliverCreates();
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 3);
    assert.equal(lastStatus(store)!.obj!.status.replicas, 3);
  });

  test('a pod that vanishes is replaced', async () => {
    const pods = [pod('a'), pod('b'), pod('c')];
    const { r, store, podInformer } = setup(rs({ replicas: 3 }), pods);
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 0);
    podInformer.apply({ type: 'DELETED', object: pods[1] });
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 1);
  });

  test('surplus pods are deleted newest first, with uid preconditions and events', async () => {
    const pods = [
      pod('oldest', { created: NOW - 50_000 }),
      pod('newest', { created: NOW - 10_000 }),
      pod('middle', { created: NOW - 30_000 }),
      pod('newer', { created: NOW - 20_000 }),
    ];
    const { r, store, events } = setup(rs({ replicas: 2 }), pods);
    await r.reconcile('default/web');
    const dels = store.of('delete', 'Pod');
    assert.deepEqual(dels.map((d) => d.name).sort(), ['newer', 'newest']);
    assert.deepEqual(dels.find((d) => d.name === 'newest')!.opts, { preconditions: { uid: 'uid-newest' } });
    assert.deepEqual(events.events.map((e) => e.message).sort(), [
      'Deleted pod: newer',
      'Deleted pod: newest',
    ]);
    // Not observed yet: a second reconcile deletes nothing more.
    await r.reconcile('default/web');
    assert.equal(store.of('delete', 'Pod').length, 2);
  });

  test('a failed pod is replaced, then deleted once its replacement exists', async () => {
    const { r, store, deliverCreates } = setup(rs({ replicas: 2 }), [
      pod('a'),
      pod('dead', { phase: 'Failed' }),
    ]);
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 1);
    assert.equal(store.of('delete', 'Pod').length, 0);
    deliverCreates();
    await r.reconcile('default/web');
    assert.deepEqual(
      store.of('delete', 'Pod').map((d) => d.name),
      ['dead'],
    );
  });

  test('failing creates stop after the first slow-start batch, set ReplicaFailure, and the next round may retry', async () => {
    const { r, store, events } = setup(rs({ replicas: 10 }));
    let attempts = 0;
    store.failCreate = () => {
      attempts++;
      return new ApiError('InternalError', 'redis is down');
    };
    await assert.rejects(r.reconcile('default/web'), /Error creating: redis is down/);
    assert.equal(attempts, 1, 'only the first batch (of 1) was tried');
    const st = lastStatus(store)!.obj!.status;
    assert.equal(st.conditions[0].type, 'ReplicaFailure');
    assert.equal(st.conditions[0].reason, 'FailedCreate');
    assert.match(st.conditions[0].message, /redis is down/);
    assert.deepEqual(
      events.events.map((e) => [e.type, e.reason]),
      [['Warning', 'FailedCreate']],
    );
    assert.equal(r.expectations.satisfied('default/web', 'rs-uid'), true);
    store.failCreate = undefined;
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 10);
  });

  test('the condition is removed when creates succeed again', async () => {
    const failing = rs({ replicas: 1 });
    failing.status = {
      replicas: 0,
      conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'x' }],
    };
    const { r, store } = setup(failing);
    await r.reconcile('default/web');
    assert.equal(lastStatus(store)!.obj!.status.conditions, undefined);
  });

  test('a template that does not validate creates nothing and says which field is wrong', async () => {
    const { r, store, events } = setup(rs({ image: 'Not A Valid Image!!' }));
    await assert.rejects(r.reconcile('default/web'), (e: unknown) => {
      assert.ok(e instanceof TerminalError);
      assert.match((e as Error).message, /spec\.template\.spec\.containers\[0\]\.image/);
      return true;
    });
    assert.equal(store.of('create', 'Pod').length, 0);
    assert.equal(events.events[0].reason, 'FailedCreate');
    assert.match(lastStatus(store)!.obj!.status.conditions[0].message, /containers\[0\]\.image/);
  });

  test('adopts matching orphans (counted) and releases owned pods that stopped matching', async () => {
    const orphan = pod('orphan', { owned: false });
    const strayed = pod('strayed', { labels: { app: 'other' } });
    const { r, store } = setup(rs({ replicas: 2 }), [
      orphan,
      strayed,
      pod('other-app', { owned: false, labels: { app: 'db' } }),
    ]);
    await r.reconcile('default/web');
    const updates = store.of('update', 'Pod').map((w) => w.obj!);
    const adopted = updates.find((p) => p.metadata.name === 'orphan')!;
    assert.equal(adopted.metadata.resourceVersion, orphan.metadata.resourceVersion, 'compare-and-swap');
    assert.equal(adopted.metadata.ownerReferences![0].uid, 'rs-uid');
    const released = updates.find((p) => p.metadata.name === 'strayed')!;
    assert.equal(released.metadata.ownerReferences, undefined);
    assert.equal(updates.length, 2, 'the pod of another app is left alone');
    assert.equal(store.of('create', 'Pod').length, 1, 'the adopted pod counts');
  });

  test('adopting a pod that already names the ReplicaSet without controller replaces that reference', async () => {
    const p = pod('half', { owned: false });
    p.metadata.ownerReferences = [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid' },
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'cm', uid: 'cm-uid' },
    ];
    const { r, store } = setup(rs({ replicas: 1 }), [p]);
    await r.reconcile('default/web');
    const [w] = store.of('update', 'Pod');
    assert.deepEqual(
      w.obj!.metadata.ownerReferences!.map((o) => [o.uid, o.controller ?? false]),
      [
        ['cm-uid', false],
        ['rs-uid', true],
      ],
    );
    assert.equal(store.of('create', 'Pod').length, 0);
  });

  test('creates at most the burst per reconcile', async () => {
    const { r, store } = setup(rs({ replicas: 50 }), [], { burst: 20 });
    await r.reconcile('default/web');
    assert.equal(store.of('create', 'Pod').length, 20);
  });

  test('counts ready and available pods and requeues when the next one becomes available', async () => {
    const pods = [pod('a', { ready: NOW - 20_000 }), pod('b', { ready: NOW - 4_000 }), pod('c')];
    const { r, store } = setup(rs({ replicas: 3, minReadySeconds: 10 }), pods);
    const res = await r.reconcile('default/web');
    assert.deepEqual(lastStatus(store)!.obj!.status, {
      replicas: 3,
      fullyLabeledReplicas: 3,
      readyReplicas: 2,
      availableReplicas: 1,
      observedGeneration: 2,
    });
    assert.ok(res && res.requeueAfterMs !== undefined);
    assert.ok(res.requeueAfterMs >= 6000 && res.requeueAfterMs < 6100, String(res.requeueAfterMs));
  });

  test('does not write status when it is unchanged', async () => {
    const cur = rs({ replicas: 1 });
    cur.status = {
      replicas: 1,
      fullyLabeledReplicas: 1,
      readyReplicas: 0,
      availableReplicas: 0,
      observedGeneration: 2,
    };
    const { r, store } = setup(cur, [pod('a')]);
    await r.reconcile('default/web');
    assert.equal(store.writes.filter((w) => w.op !== 'get').length, 0);
  });

  test('keysForPod: the controlling ReplicaSet, or for an orphan every ReplicaSet that selects it', () => {
    const { r, replicaSets } = setup(rs());
    const other = rs();
    other.metadata = { ...other.metadata, name: 'db', uid: 'db-uid' };
    other.spec = { ...other.spec, selector: { matchLabels: { app: 'db' } } };
    replicaSets.apply({ type: 'ADDED', object: other });
    assert.deepEqual(r.keysForPod(pod('x')), ['default/web']);
    assert.deepEqual(r.keysForPod(pod('o', { owned: false })), ['default/web']);
    assert.deepEqual(r.keysForPod(pod('o', { owned: false, labels: { app: 'db' } })), ['default/db']);
    assert.deepEqual(r.keysForPod(pod('o', { owned: false, labels: { app: 'none' } })), []);
  });

  test('a ReplicaSet that is gone is forgotten', async () => {
    const { r, replicaSets, store } = setup(rs({ replicas: 2 }));
    await r.reconcile('default/web');
    replicaSets.apply({ type: 'DELETED', object: rs() });
    assert.equal(r.expectations.pending('default/web'), undefined);
    const before = store.writes.length;
    await r.reconcile('default/web');
    assert.equal(store.writes.length, before);
  });
});
