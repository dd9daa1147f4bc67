import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KindInfo, type KubeObject } from '@berth/api';
import { Informer, objectKey } from '@berth/controllers';
import type { ResourceStore, UpdateOptions } from '@berth/store';
import { DEPLOYMENT_KIND, DeploymentReconciler, POD_KIND, REPLICASET_KIND } from './deployment.reconciler';
import { REVISION_ANNOTATION, computeHash } from './deployment-util';

/** An in-memory store that records every write (compare-and-swap on resourceVersion like Redis). */
class FakeStore {
  rv = 100;
  readonly objects = new Map<string, KubeObject>();
  readonly writes: string[] = [];
  /** Fails the next update of this kind with a Conflict. */
  conflictOnce?: string;

  private key(kind: KindInfo, ns: string | undefined, name: string) {
    return `${kind.resource}/${ns}/${name}`;
  }

  createAttempts = 0;

  async create(kind: KindInfo, obj: KubeObject): Promise<KubeObject> {
    this.createAttempts++;
    const k = this.key(kind, obj.metadata.namespace, obj.metadata.name as string);
    if (this.objects.has(k)) throw ApiError.alreadyExists(kind.kind, obj.metadata.name as string);
    const o = structuredClone(obj);
    o.metadata.uid = `uid-${obj.metadata.name}`;
    o.metadata.resourceVersion = String(++this.rv);
    o.metadata.generation = 1;
    o.metadata.creationTimestamp = '2026-11-27T12:00:00Z';
    this.objects.set(k, o);
    this.writes.push(`create ${kind.kind} ${obj.metadata.name} replicas=${obj.spec?.replicas}`);
    return structuredClone(o);
  }

  async get(kind: KindInfo, ns: string | undefined, name: string): Promise<KubeObject> {
    const o = this.objects.get(this.key(kind, ns, name));
    if (!o) throw ApiError.notFound(kind.kind, name);
    return structuredClone(o);
  }

  async update(kind: KindInfo, obj: KubeObject, opts: UpdateOptions = {}): Promise<KubeObject> {
    const k = this.key(kind, obj.metadata.namespace, obj.metadata.name as string);
    const cur = this.objects.get(k);
    if (!cur) throw ApiError.notFound(kind.kind, obj.metadata.name as string);
    if (
      this.conflictOnce === kind.kind ||
      (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion)
    ) {
      this.conflictOnce = undefined;
      throw ApiError.conflict(kind.kind, obj.metadata.name as string, 'the object has been modified');
    }
    const next =
      opts.subresource === 'status'
        ? { ...structuredClone(cur), status: structuredClone(obj.status) }
        : { ...structuredClone(obj), status: structuredClone(cur.status) };
    next.metadata = { ...next.metadata, resourceVersion: String(++this.rv) };
    this.objects.set(k, next);
    this.writes.push(
      opts.subresource === 'status'
        ? `status ${kind.kind} ${obj.metadata.name}`
        : `update ${kind.kind} ${obj.metadata.name} replicas=${obj.spec?.replicas}`,
    );
    return structuredClone(next);
  }

  async delete(kind: KindInfo, ns: string | undefined, name: string): Promise<KubeObject> {
    const k = this.key(kind, ns, name);
    const o = this.objects.get(k);
    if (!o) throw ApiError.notFound(kind.kind, name);
    this.objects.delete(k);
    this.writes.push(`delete ${kind.kind} ${name}`);
    return o;
  }
}

const never = () => (async function* () {})();

function setup() {
  const store = new FakeStore();
  const deployments = new Informer(DEPLOYMENT_KIND, never);
  const replicaSets = new Informer(REPLICASET_KIND, never);
  const pods = new Informer(POD_KIND, never);
  const events: string[] = [];
  const r = new DeploymentReconciler({
    deployments,
    replicaSets,
    pods,
    store: store as unknown as ResourceStore,
    recorder: {
      record: async (_o, type, reason, message) => {
        events.push(`${type} ${reason} ${message}`);
      },
    },
    now: () => new Date('2026-11-27T12:00:00Z'),
  });
  return { store, deployments, replicaSets, pods, events, r };
}

async function seedDeployment(s: ReturnType<typeof setup>, image = 'img:1'): Promise<KubeObject> {
  const d = await s.store.create(DEPLOYMENT_KIND, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    },
  });
  s.store.writes.length = 0;
  return d;
}

function sync(inf: Informer, items: KubeObject[], rv: string) {
  inf.apply({ type: 'SYNC', items, resourceVersion: rv });
}

describe('DeploymentReconciler', () => {
  test('writes the new ReplicaSet, the revision and the status, and records the scaling event', async () => {
    const s = setup();
    const d = await seedDeployment(s);
    sync(s.deployments, [d], d.metadata.resourceVersion!);
    sync(s.replicaSets, [], d.metadata.resourceVersion!);
    sync(s.pods, [], d.metadata.resourceVersion!);
    await s.r.reconcile('default/web', new AbortController().signal);
    const hash = computeHash(d.spec.template);
    assert.deepEqual(s.store.writes, [
      `create ReplicaSet web-${hash} replicas=3`,
      'update Deployment web replicas=3',
      'status Deployment web',
    ]);
    const stored = await s.store.get(DEPLOYMENT_KIND, 'default', 'web');
    assert.equal(stored.metadata.annotations?.[REVISION_ANNOTATION], '1');
    assert.equal(stored.status.observedGeneration, 1);
    assert.deepEqual(s.events, [`Normal ScalingReplicaSet Scaled up replica set web-${hash} to 3`]);
  });

  test('a second reconcile before the watch delivers our writes creates nothing again', async () => {
    const s = setup();
    const d = await seedDeployment(s);
    sync(s.deployments, [d], d.metadata.resourceVersion!);
    sync(s.replicaSets, [], d.metadata.resourceVersion!);
    sync(s.pods, [], d.metadata.resourceVersion!);
    await s.r.reconcile('default/web', new AbortController().signal);
    const first = s.store.writes.length;
    const attempts = s.store.createAttempts;
    // The informers still hold the old state: no ReplicaSet, the Deployment without status.
    await s.r.reconcile('default/web', new AbortController().signal);
    assert.deepEqual(s.store.writes.slice(first), [], 'nothing written the second time');
    assert.equal(s.store.createAttempts, attempts, 'no create even tried');
    assert.equal([...s.store.objects.keys()].filter((k) => k.startsWith('replicasets/')).length, 1);
  });

  test('AlreadyExists for our own ReplicaSet (cache behind, e.g. after a restart) plans again with it', async () => {
    const s = setup();
    const d = await seedDeployment(s);
    const hash = computeHash(d.spec.template);
    // Made by an earlier leader; this process's informer has not seen it.
    await s.store.create(REPLICASET_KIND, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `web-${hash}`,
        namespace: 'default',
        annotations: { [REVISION_ANNOTATION]: '1' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata.uid!, controller: true },
        ],
      },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } },
        template: { ...d.spec.template, metadata: { labels: { app: 'web', 'pod-template-hash': hash } } },
      },
    });
    s.store.writes.length = 0;
    sync(s.deployments, [d], d.metadata.resourceVersion!);
    sync(s.replicaSets, [], d.metadata.resourceVersion!);
    sync(s.pods, [], d.metadata.resourceVersion!);
    const res = await s.r.reconcile('default/web', new AbortController().signal);
    assert.deepEqual(res, { requeueAfterMs: 0 });
    assert.equal(s.store.writes.length, 0, 'no collision counted');
    await s.r.reconcile('default/web', new AbortController().signal);
    assert.ok(!s.store.writes.some((w) => w.startsWith('create')), s.store.writes.join('; '));
    assert.ok(s.store.writes.includes('status Deployment web'));
  });

  test('a name taken by a ReplicaSet that is not ours counts a collision; the next hash differs', async () => {
    const s = setup();
    const d = await seedDeployment(s);
    const hash = computeHash(d.spec.template);
    await s.store.create(REPLICASET_KIND, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `web-${hash}`, namespace: 'default' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { x: 'y' } },
        template: { metadata: { labels: { x: 'y' } } },
      },
    });
    s.store.writes.length = 0;
    sync(s.deployments, [d], d.metadata.resourceVersion!);
    sync(s.replicaSets, [], '1');
    sync(s.pods, [], '1');
    await s.r.reconcile('default/web', new AbortController().signal);
    assert.deepEqual(s.store.writes, ['status Deployment web']);
    assert.equal((await s.store.get(DEPLOYMENT_KIND, 'default', 'web')).status.collisionCount, 1);
    await s.r.reconcile('default/web', new AbortController().signal);
    assert.equal(s.store.writes[1], `create ReplicaSet web-${computeHash(d.spec.template, 1)} replicas=3`);
  });

  test('a write conflict asks to be called again soon instead of failing', async () => {
    const s = setup();
    const d = await seedDeployment(s);
    sync(s.deployments, [d], d.metadata.resourceVersion!);
    sync(s.replicaSets, [], d.metadata.resourceVersion!);
    sync(s.pods, [], d.metadata.resourceVersion!);
    s.store.conflictOnce = 'Deployment';
    const res = await s.r.reconcile('default/web', new AbortController().signal);
    assert.deepEqual(res, { requeueAfterMs: 100 });
  });

  test('ReplicaSet and pod events map to their Deployment key (pods only for Recreate)', () => {
    const s = setup();
    const [, rsWatch, podWatch] = s.r.watches();
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-abc',
        namespace: 'default',
        uid: 'rs1',
        resourceVersion: '5',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true },
        ],
      },
    };
    assert.deepEqual(rsWatch.keys(rs), ['default/web']);
    sync(s.replicaSets, [rs], '5');
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web-abc-x',
        namespace: 'default',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs1', controller: true },
        ],
      },
    };
    const dep = (type: string): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: 'd1',
        resourceVersion: type === 'Recreate' ? '7' : '6',
      },
      spec: { strategy: { type } },
    });
    sync(s.deployments, [dep('RollingUpdate')], '6');
    assert.deepEqual(podWatch.keys(pod), []);
    sync(s.deployments, [dep('Recreate')], '7');
    assert.deepEqual(podWatch.keys(pod), ['default/web']);
    assert.equal(objectKey(rs), 'default/web-abc');
  });
});
