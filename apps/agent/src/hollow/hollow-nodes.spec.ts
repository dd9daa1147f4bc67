import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KindInfo, type KubeList, type KubeObject, type WatchEvent } from '@berth/api';
import type { BerthClient } from '@berth/client';
import { startHollowNodes } from './hollow-nodes';

/** A fake API for startHollowNodes: records writes, serves one pod watch fed by the test. */
class FakeApi {
  objects = new Map<string, KubeObject>();
  writes: Array<{ verb: string; path: string; body?: unknown }> = [];
  /** Answer the next N status writes with 409 Conflict. */
  conflicts = 0;
  /** Lease patches take this long (a slow server); concurrency is recorded. */
  leaseDelayMs = 0;
  leasesInFlight = new Map<string, number>();
  maxLeasesInFlight = 0;
  maxPerLease = 0;
  private rv = 10;
  private events = new Map<string, WatchEvent[]>();
  private wake = new Map<string, () => void>();

  private key(kind: string, ns: string | undefined, name: string): string {
    return `${kind}/${ns ?? ''}/${name}`;
  }

  put(o: KubeObject): KubeObject {
    const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(this.key(o.kind, o.metadata.namespace, o.metadata.name!), stored);
    return stored;
  }

  emit(type: WatchEvent['type'], o: KubeObject): void {
    const q = this.events.get(o.kind) ?? [];
    this.events.set(o.kind, q);
    q.push({ type, object: o });
    this.wake.get(o.kind)?.();
  }

  private async *watchEvents(kind: string, signal?: AbortSignal): AsyncGenerator<WatchEvent> {
    while (!signal?.aborted) {
      const ev = this.events.get(kind)?.shift();
      if (ev) {
        yield ev;
        continue;
      }
      await new Promise<void>((r) => {
        this.wake.set(kind, r);
        signal?.addEventListener('abort', () => r(), { once: true });
      });
    }
  }

  client(): BerthClient {
    const create = async (o: KubeObject): Promise<KubeObject> => {
      this.writes.push({
        verb: 'create',
        path: this.key(o.kind, o.metadata.namespace, o.metadata.name!),
        body: o,
      });
      if (this.objects.has(this.key(o.kind, o.metadata.namespace, o.metadata.name!)))
        throw new ApiError('AlreadyExists', `${o.metadata.name} exists`);
      return this.put(o);
    };
    const patch = async (
      kind: KindInfo,
      ns: string | undefined,
      name: string,
      body: KubeObject,
      _type: string,
      opts: { subresource?: string } = {},
    ): Promise<KubeObject> => {
      const k = this.key(kind.kind, ns, name);
      this.writes.push({ verb: `patch${opts.subresource ? '/' + opts.subresource : ''}`, path: k, body });

      const cur = this.objects.get(k);
      if (!cur) throw new ApiError('NotFound', `${name} not found`);
      return this.put({
        ...cur,
        spec: { ...cur.spec, ...body.spec },
        status: { ...cur.status, ...body.status },
      });
    };
    const update = async (o: KubeObject): Promise<KubeObject> => {
      const k = this.key(o.kind, o.metadata.namespace, o.metadata.name!);
      this.writes.push({ verb: 'update', path: k, body: o });
      if (o.kind === 'Lease' && this.leaseDelayMs) {
        const n = (this.leasesInFlight.get(k) ?? 0) + 1;
        this.leasesInFlight.set(k, n);
        this.maxPerLease = Math.max(this.maxPerLease, n);
        const all = [...this.leasesInFlight.values()].reduce((a, b) => a + b, 0);
        this.maxLeasesInFlight = Math.max(this.maxLeasesInFlight, all);
        await new Promise((r) => setTimeout(r, this.leaseDelayMs));
        this.leasesInFlight.set(k, this.leasesInFlight.get(k)! - 1);
      }
      const cur = this.objects.get(k);
      if (!cur) throw new ApiError('NotFound', `${o.metadata.name} not found`);
      if (cur.metadata.resourceVersion !== o.metadata.resourceVersion)
        throw new ApiError('Conflict', 'the object has been modified');
      return this.put(o);
    };
    const updateStatus = async (o: KubeObject): Promise<KubeObject> => {
      const k = this.key(o.kind, o.metadata.namespace, o.metadata.name!);
      this.writes.push({ verb: 'updateStatus', path: k, body: o });
      const cur = this.objects.get(k);
      if (!cur) throw new ApiError('NotFound', `${o.metadata.name} not found`);
      if (this.conflicts > 0) {
        this.conflicts--;
        this.put(cur); // someone else wrote meanwhile
        throw new ApiError('Conflict', 'the object has been modified');
      }
      if (cur.metadata.resourceVersion !== o.metadata.resourceVersion)
        throw new ApiError('Conflict', 'the object has been modified');
      const stored = this.put({ ...cur, status: o.status });
      this.emit('MODIFIED', stored);
      return stored;
    };
    const get = async (kind: KindInfo, ns: string | undefined, name: string): Promise<KubeObject> => {
      this.writes.push({ verb: 'get', path: this.key(kind.kind, ns, name) });
      const cur = this.objects.get(this.key(kind.kind, ns, name));
      if (!cur) throw new ApiError('NotFound', `${name} not found`);
      return cur;
    };
    const listAll = async (kind: KindInfo): Promise<KubeList> => ({
      apiVersion: 'v1',
      kind: 'PodList',
      metadata: { resourceVersion: String(this.rv) },
      items: [...this.objects.values()].filter((o) => o.kind === kind.kind),
    });
    const watch = (kind: KindInfo, _opts: unknown, signal?: AbortSignal) =>
      this.watchEvents(kind.kind, signal);
    return { create, patch, update, updateStatus, get, listAll, watch } as unknown as BerthClient;
  }
}

const log = { info: () => undefined, warn: () => undefined, error: () => undefined };

function pod(name: string, nodeName?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { nodeName, containers: [{ name: 'app', image: 'busybox:1.36' }] },
  };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

describe('startHollowNodes (fake API)', () => {
  test('registers N Ready nodes with a Lease each in kube-node-lease (namespace created first)', async () => {
    const api = new FakeApi();
    const h = await startHollowNodes({
      client: api.client(),
      count: 3,
      prefix: 'h-',
      heartbeatIntervalMs: 60_000,
      log,
    });
    try {
      assert.deepEqual(h.nodeNames, ['h-0', 'h-1', 'h-2']);
      assert.equal(api.writes[0].path, 'Namespace//kube-node-lease');
      for (const n of h.nodeNames) {
        const node = api.objects.get(`Node//${n}`);
        assert.equal(node?.metadata.labels?.['berth.dev/hollow'], 'true');
        assert.equal(node?.status.conditions[0].type, 'Ready');
        const lease = api.objects.get(`Lease/kube-node-lease/${n}`);
        assert.equal(lease?.spec.holderIdentity, n);
        assert.match(lease?.spec.renewTime, /\.\d{6}Z$/);
      }
    } finally {
      await h.stop();
    }
  });

  test('takes over Nodes of an earlier run by writing their status', async () => {
    const api = new FakeApi();
    api.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'h-0' }, status: { phase: 'Pending' } });
    const h = await startHollowNodes({
      client: api.client(),
      count: 1,
      prefix: 'h-',
      heartbeatIntervalMs: 60_000,
      log,
    });
    await h.stop();
    assert.equal(api.objects.get('Node//h-0')?.status.conditions[0].status, 'True');
    assert.ok(api.writes.some((w) => w.verb === 'patch/status' && w.path === 'Node//h-0'));
  });

  test('reports a pod bound to one of its nodes Running, and leaves pods of other nodes and unbound pods alone', async () => {
    const api = new FakeApi();
    const h = await startHollowNodes({
      client: api.client(),
      count: 2,
      prefix: 'h-',
      heartbeatIntervalMs: 60_000,
      log,
    });
    try {
      api.emit('ADDED', api.put(pod('elsewhere', 'real-node')));
      api.emit('ADDED', api.put(pod('unbound')));
      api.emit('ADDED', api.put(pod('mine', 'h-1')));
      await until('the status write', () => h.stats().podsStarted === 1);
      const mine = api.objects.get('Pod/default/mine')!;
      assert.equal(mine.status.phase, 'Running');
      assert.equal(mine.status.containerStatuses[0].containerID, 'hollow://uid-mine/app');
      const statusWrites = api.writes.filter((w) => w.verb === 'updateStatus').map((w) => w.path);
      assert.deepEqual(statusWrites, ['Pod/default/mine']);
      assert.equal(h.stats().pending, 0);
    } finally {
      await h.stop();
    }
  });

  test('a Conflict is answered by reading the pod again and writing once more', async () => {
    const api = new FakeApi();
    const h = await startHollowNodes({
      client: api.client(),
      count: 1,
      prefix: 'h-',
      heartbeatIntervalMs: 60_000,
      log,
    });
    try {
      api.conflicts = 1;
      api.emit('ADDED', api.put(pod('p', 'h-0')));
      await until('the status write', () => h.stats().podsStarted === 1);
      const verbs = api.writes.filter((w) => w.path === 'Pod/default/p').map((w) => w.verb);
      assert.deepEqual(verbs, ['updateStatus', 'get', 'updateStatus']);
      assert.equal(h.stats().statusConflicts, 1);
      assert.equal(api.objects.get('Pod/default/p')?.status.phase, 'Running');
    } finally {
      await h.stop();
    }
  });

  test('pods bound before the start are found in the first list', async () => {
    const api = new FakeApi();
    api.put(pod('early', 'h-0'));
    const h = await startHollowNodes({
      client: api.client(),
      count: 1,
      prefix: 'h-',
      heartbeatIntervalMs: 60_000,
      log,
    });
    try {
      await until('the status write', () => h.stats().podsStarted === 1);
      assert.equal(api.objects.get('Pod/default/early')?.status.phase, 'Running');
    } finally {
      await h.stop();
    }
  });

  test('renews every Lease within one heartbeat interval', async () => {
    const api = new FakeApi();
    const h = await startHollowNodes({
      client: api.client(),
      count: 4,
      prefix: 'h-',
      heartbeatIntervalMs: 200,
      log,
    });
    try {
      const first = h.nodeNames.map((n) => api.objects.get(`Lease/kube-node-lease/${n}`)?.spec.renewTime);
      await until('every lease renewed', () =>
        h.nodeNames.every(
          (n, i) => api.objects.get(`Lease/kube-node-lease/${n}`)?.spec.renewTime !== first[i],
        ),
      );
      assert.ok(h.stats().leaseRenewals >= 4);
    } finally {
      await h.stop();
    }
  });

  test('a node marked Ready=Unknown by someone else is written Ready again at its next heartbeat; a deleted Node is registered again', async () => {
    const api = new FakeApi();
    const h = await startHollowNodes({
      client: api.client(),
      count: 2,
      prefix: 'h-',
      heartbeatIntervalMs: 200,
      log,
    });
    try {
      const node = api.objects.get('Node//h-1')!;
      const unknown = api.put({
        ...node,
        status: {
          ...node.status,
          conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }],
        },
      });
      api.emit('MODIFIED', unknown);
      await until('Ready again', () => api.objects.get('Node//h-1')?.status.conditions[0].status === 'True');
      const gone = api.objects.get('Node//h-0')!;
      api.objects.delete('Node//h-0');
      api.emit('DELETED', gone);
      await until('registered again', () => api.objects.has('Node//h-0'));
    } finally {
      await h.stop();
    }
  });

  test('with a slow server, renewals are not capped globally but never overlap for one node', async () => {
    const api = new FakeApi();
    const h = await startHollowNodes({
      client: api.client(),
      count: 60,
      prefix: 'h-',
      heartbeatIntervalMs: 200,
      log,
    });
    try {
      api.leaseDelayMs = 500; // each renewal takes 2.5 heartbeat intervals
      await until('late renewals', () => h.stats().leaseRenewalsLate > 60);
      assert.ok(api.maxLeasesInFlight > 16, `at most ${api.maxLeasesInFlight} renewals were in flight`);
      assert.equal(api.maxPerLease, 1);
    } finally {
      await h.stop();
    }
  });

  test('a renewal PUTs the last Lease; after someone else changed it, reads it again and renews', async () => {
    const api = new FakeApi();
    const h = await startHollowNodes({
      client: api.client(),
      count: 1,
      prefix: 'h-',
      heartbeatIntervalMs: 200,
      log,
    });
    try {
      const lease = api.objects.get('Lease/kube-node-lease/h-0')!;
      api.put({ ...lease, spec: { ...lease.spec, holderIdentity: 'someone-else' } }); // a new resourceVersion
      const n = h.stats().leaseRenewals;
      await until('two more renewals', () => h.stats().leaseRenewals >= n + 2);
      assert.equal(api.objects.get('Lease/kube-node-lease/h-0')?.spec.holderIdentity, 'h-0');
      const verbs = api.writes.filter((w) => w.path === 'Lease/kube-node-lease/h-0').map((w) => w.verb);
      assert.ok(!verbs.includes('patch'), 'renewals are PUTs, not patches');
      assert.ok(verbs.includes('get'), 'the changed Lease was read again');
      assert.equal(h.stats().leaseFailures, 0);
    } finally {
      await h.stop();
    }
  });
});
