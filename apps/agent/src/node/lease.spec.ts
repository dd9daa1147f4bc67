import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KindInfo, type KubeObject } from '@berth/api';
import { microTime, NodeLease, renewedLease } from './lease';

/** An in-memory API with resourceVersion compare-and-swap, enough for the Lease. */
class FakeApi {
  objects = new Map<string, KubeObject>();
  calls: string[] = [];
  rv = 10;
  private key(kind: string, ns: string | undefined, name: string) {
    return `${kind}/${ns ?? ''}/${name}`;
  }
  async get(kind: KindInfo, ns: string | undefined, name: string): Promise<KubeObject> {
    this.calls.push(`get ${kind.kind}`);
    const o = this.objects.get(this.key(kind.kind, ns, name));
    if (!o) throw new ApiError('NotFound', `${kind.kind} ${name} not found`);
    return structuredClone(o);
  }
  async create(o: KubeObject): Promise<KubeObject> {
    this.calls.push(`create ${o.kind}`);
    const k = this.key(o.kind, o.metadata.namespace, o.metadata.name!);
    if (this.objects.has(k)) throw new ApiError('AlreadyExists', `${o.kind} exists`);
    const stored = {
      ...structuredClone(o),
      metadata: { ...o.metadata, uid: 'lease-uid', resourceVersion: String(++this.rv) },
    };
    this.objects.set(k, stored);
    return structuredClone(stored);
  }
  async update(o: KubeObject): Promise<KubeObject> {
    this.calls.push(`update ${o.kind}`);
    const k = this.key(o.kind, o.metadata.namespace, o.metadata.name!);
    const cur = this.objects.get(k);
    if (!cur) throw new ApiError('NotFound', `${o.kind} not found`);
    if (o.metadata.resourceVersion && o.metadata.resourceVersion !== cur.metadata.resourceVersion)
      throw new ApiError('Conflict', 'the object has been modified');
    const stored = { ...structuredClone(o), metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(k, stored);
    return structuredClone(stored);
  }
}

const LEASE_KEY = 'Lease/kube-node-lease/n1';

describe('node lease', () => {
  test('MicroTime has six fractional digits', () => {
    assert.equal(microTime(new Date('2026-11-27T23:59:59.123Z'), 456), '2026-11-27T23:59:59.123456Z');
    assert.equal(microTime(new Date('2026-11-27T23:59:59Z')), '2026-11-27T23:59:59.000000Z');
  });

  test('the Lease the kubelet writes: holder, 40 s, renewTime, owned by the Node', () => {
    const l = renewedLease(undefined, 'n1', { name: 'n1', uid: 'node-uid' }, '2026-01-01T00:00:00.000001Z');
    assert.deepEqual(l, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: 'n1',
        namespace: 'kube-node-lease',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid' }],
      },
      spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-01-01T00:00:00.000001Z' },
    });
  });

  test('first renew makes the namespace and creates the Lease; later ones are one CAS update each', async () => {
    const api = new FakeApi();
    let t = 0;
    const lease = new NodeLease({
      client: api as never,
      nodeName: 'n1',
      now: () => `2026-01-01T00:00:0${t}.000000Z`,
    });
    lease.setOwner({ name: 'n1', uid: 'node-uid' });
    await lease.renew();
    assert.deepEqual(api.calls, ['get Lease', 'create Namespace', 'create Lease']);
    assert.ok(api.objects.has('Namespace//kube-node-lease'));
    const created = api.objects.get(LEASE_KEY)!;
    assert.equal((created.spec as { acquireTime?: string }).acquireTime, '2026-01-01T00:00:00.000000Z');
    api.calls = [];
    t = 1;
    await lease.renew();
    t = 2;
    await lease.renew();
    assert.deepEqual(api.calls, ['update Lease', 'update Lease']);
    const spec = api.objects.get(LEASE_KEY)!.spec as { renewTime: string; holderIdentity: string };
    assert.equal(spec.renewTime, '2026-01-01T00:00:02.000000Z');
    assert.equal(spec.holderIdentity, 'n1');
  });

  test('a Conflict re-reads and retries once; a deleted Lease is created again; an existing namespace is fine', async () => {
    const api = new FakeApi();
    api.objects.set('Namespace//kube-node-lease', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'kube-node-lease' },
    });
    const lease = new NodeLease({
      client: api as never,
      nodeName: 'n1',
      now: () => '2026-01-01T00:00:00.000000Z',
    });
    await lease.renew();
    // someone else wrote it meanwhile: our resourceVersion is stale
    const stored = api.objects.get(LEASE_KEY)!;
    api.objects.set(LEASE_KEY, { ...stored, metadata: { ...stored.metadata, resourceVersion: '99' } });
    api.calls = [];
    await lease.renew();
    assert.deepEqual(api.calls, ['update Lease', 'get Lease', 'update Lease']);
    api.objects.delete(LEASE_KEY);
    api.calls = [];
    await lease.renew();
    assert.deepEqual(api.calls, ['update Lease', 'create Lease']);
    assert.ok(api.objects.has(LEASE_KEY));
  });

  test('an error other than Conflict/NotFound is thrown (the heartbeat logs it and tries next time)', async () => {
    const api = new FakeApi();
    api.get = async () => {
      throw new ApiError('InternalError', 'redis down');
    };
    const lease = new NodeLease({ client: api as never, nodeName: 'n1' });
    await assert.rejects(lease.renew(), /redis down/);
  });
});
