/**
 * The store features controllers rely on, against a real redis-server: fenced writes (a leader
 * that lost its lease cannot write), pod binding, and deletion with a propagation policy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kindFor, type KindInfo, type KubeObject } from '@berth/api';
import { RedisStore } from '@berth/store';
import { TestRedis } from '@berth/testing';

const POD = kindFor('v1', 'Pod') as KindInfo;
const LEASE = kindFor('coordination.k8s.io/v1', 'Lease') as KindInfo;
const NS = kindFor('v1', 'Namespace') as KindInfo;
const CM = kindFor('v1', 'ConfigMap') as KindInfo;

const pod = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

async function conflict(p: Promise<unknown>, re: RegExp): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, 409);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a 409 Conflict');
}

describe('store: fencing, binding and propagation policies on a real Redis', () => {
  let redis: TestRedis;
  let store: RedisStore;
  let n = 0;

  before(async () => {
    redis = await TestRedis.start();
    store = new RedisStore(redis.url, { keyPrefix: `sc${process.pid}:` });
    await store.create(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } });
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
  });

  test('a write fenced on a lease succeeds only while the lease names the writer', async () => {
    const lease = await store.create(LEASE, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: `leader-${++n}`, namespace: 'kube-system' },
      spec: { holderIdentity: 'cp-a', leaseDurationSeconds: 15 },
    });
    const fence = { namespace: 'kube-system', name: lease.metadata.name as string, holder: 'cp-a' };
    const cm = await store.create(
      CM,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `cm-${n}`, namespace: 'default' },
        data: { a: '1' },
      },
      { fence },
    );
    // Another control plane takes the lease over.
    await store.update(LEASE, { ...lease, spec: { holderIdentity: 'cp-b', leaseDurationSeconds: 15 } });
    const e = await conflict(
      store.update(CM, { ...cm, data: { a: '2' } }, { fence }),
      /held by "cp-b", not "cp-a"/,
    );
    assert.equal(e.details?.causes?.[0]?.reason, 'Fenced');
    await conflict(store.delete(CM, 'default', cm.metadata.name as string, { fence }), /held by "cp-b"/);
    await conflict(
      store.create(CM, { ...cm, metadata: { name: `other-${n}`, namespace: 'default' } }, { fence }),
      /cp-b/,
    );
    // Nothing the fenced writer tried happened.
    const live = await store.get(CM, 'default', cm.metadata.name as string);
    assert.deepEqual(live.data, { a: '1' });
    // The new holder writes fine; without a lease object at all, fenced writes fail too.
    await store.update(CM, { ...live, data: { a: '3' } }, { fence: { ...fence, holder: 'cp-b' } });
    await conflict(
      store.update(
        CM,
        { ...live, metadata: { ...live.metadata, resourceVersion: undefined }, data: { a: '4' } },
        {
          fence: { ...fence, name: 'no-such-lease' },
        },
      ),
      /held by nobody/,
    );
  });

  test('a binding sets nodeName and PodScheduled in one write and refuses to move a bound pod', async () => {
    const p = await store.create(POD, pod(`bind-${++n}`));
    const bound = await store.update(
      POD,
      { ...p, spec: { ...(p.spec as object), nodeName: 'node-1' } },
      { subresource: 'binding' },
    );
    assert.equal((bound.spec as { nodeName: string }).nodeName, 'node-1');
    const conds = (bound.status as { conditions: { type: string; status: string }[] }).conditions;
    assert.deepEqual(
      conds.map((c) => [c.type, c.status]),
      [['PodScheduled', 'True']],
    );
    assert.equal(Number(bound.metadata.resourceVersion), Number(p.metadata.resourceVersion) + 1);
    // The node index follows: a field-selected list finds it.
    const onNode = await store.list(POD, { fieldSelector: 'spec.nodeName=node-1' });
    assert.ok(onNode.items.some((x) => x.metadata.name === p.metadata.name));
    // A second scheduler that read the pod before the binding loses (stale resourceVersion)...
    await conflict(
      store.update(
        POD,
        { ...p, spec: { ...(p.spec as object), nodeName: 'node-2' } },
        { subresource: 'binding' },
      ),
      /modified/,
    );
    // ...and one with the fresh version is told the pod is bound elsewhere.
    await conflict(
      store.update(
        POD,
        { ...bound, spec: { ...(bound.spec as object), nodeName: 'node-2' } },
        { subresource: 'binding' },
      ),
      /already assigned to node "node-1"/,
    );
  });

  test('delete with Foreground or Orphan marks the object with its finalizer; Background removes it', async () => {
    const mk = async (name: string) =>
      store.create(CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' } });
    const fg = await mk(`fg-${++n}`);
    const out = await store.delete(CM, 'default', fg.metadata.name as string, {
      propagationPolicy: 'Foreground',
    });
    assert.deepEqual(out.metadata.finalizers, ['foregroundDeletion']);
    assert.ok(out.metadata.deletionTimestamp);
    const or = await mk(`or-${n}`);
    const out2 = await store.delete(CM, 'default', or.metadata.name as string, {
      propagationPolicy: 'Orphan',
    });
    assert.deepEqual(out2.metadata.finalizers, ['orphan']);
    // Removing the finalizer completes the deletion.
    await store.update(CM, { ...out2, metadata: { ...out2.metadata, finalizers: [] } });
    await assert.rejects(
      store.get(CM, 'default', or.metadata.name as string),
      (e: ApiError) => e.code === 404,
    );
    const bg = await mk(`bg-${n}`);
    await store.delete(CM, 'default', bg.metadata.name as string, { propagationPolicy: 'Background' });
    await assert.rejects(
      store.get(CM, 'default', bg.metadata.name as string),
      (e: ApiError) => e.code === 404,
    );
  });
});
