// End-to-end: the ReplicaSet controller inside a real control plane (real redis-server), checked
// through the HTTP API: pods created with owner references, replaced when deleted or failed,
// surplus removed newest first, orphans adopted and strays released, status counts with
// minReadySeconds; then with the scheduler and one real agent (runc), pods that become Running
// and Ready until availableReplicas reaches replicas. Everything is removed in after()/finally.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  TestRedis,
  api,
  buildBusyboxImage,
  sleep,
  startAgent,
  startControlPlane,
  startRegistry,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
  ok,
} from '@berth/testing';

const iso = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function replicaSet(
  name: string,
  replicas: number,
  o: { app?: string; image?: string; minReadySeconds?: number } = {},
) {
  const app = o.app ?? name;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name },
    spec: {
      replicas,
      ...(o.minReadySeconds !== undefined ? { minReadySeconds: o.minReadySeconds } : {}),
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: o.image ?? '127.0.0.1:1/none:v1', command: ['sleep', '3600'] }],
        },
      },
    },
  };
}

/** Helpers over one namespace of one control plane. */
function ns(k: ApiCaller, name: string) {
  const rsPath = (rs = '') => `/apis/apps/v1/namespaces/${name}/replicasets${rs ? `/${rs}` : ''}`;
  const podPath = (p = '') => `/api/v1/namespaces/${name}/pods${p ? `/${p}` : ''}`;
  const self = {
    async create() {
      await ok(
        k.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }),
        `namespace ${name}`,
      );
    },
    async createRs(obj: ReturnType<typeof replicaSet>) {
      return ok(k.post(rsPath(), obj), `create replicaset ${obj.metadata.name}`);
    },
    async getRs(rs: string) {
      return ok(k.get(rsPath(rs)), `get replicaset ${rs}`);
    },
    async scale(rs: string, replicas: number) {
      await ok(k.patch(rsPath(rs), { spec: { replicas } }), `scale ${rs} to ${replicas}`);
    },
    async pods(): Promise<any[]> {
      return (await ok(k.get(podPath()), `list pods in ${name}`)).items;
    },
    /** Active pods (not terminal, not being deleted) controlled by the ReplicaSet with this uid. */
    async activePodsOf(uid: string): Promise<any[]> {
      return (await self.pods()).filter(
        (p) =>
          p.metadata.ownerReferences?.some((r: any) => r.uid === uid && r.controller) &&
          !p.metadata.deletionTimestamp &&
          !['Failed', 'Succeeded'].includes(p.status?.phase),
      );
    },
    async waitActive(uid: string, n: number, timeoutMs = 30_000): Promise<any[]> {
      return waitFor(
        `${n} active pods of ${uid} in ${name}`,
        async () => {
          const pods = await self.activePodsOf(uid);
          return pods.length === n ? pods : undefined;
        },
        timeoutMs,
      );
    },
    async waitStatus(rs: string, want: Record<string, number>, timeoutMs = 30_000): Promise<any> {
      return waitFor(
        `replicaset ${rs} status ${JSON.stringify(want)}`,
        async () => {
          const cur = await self.getRs(rs);
          const st = cur.status ?? {};
          return Object.entries(want).every(([f, v]) => (st[f] ?? 0) === v) ? cur : undefined;
        },
        timeoutMs,
      );
    },
    async deletePod(p: string) {
      await ok(k.delete(podPath(p)), `delete pod ${p}`);
    },
    async setPodStatus(p: string, status: object) {
      const cur = await ok(k.get(podPath(p)), `get pod ${p}`);
      await ok(k.put(podPath(`${p}/status`), { ...cur, status }), `status of pod ${p}`);
    },
    async events(involved: string): Promise<any[]> {
      const list = await ok(k.get(`/api/v1/namespaces/${name}/events`), `events in ${name}`);
      return list.items.filter((e: any) => e.involvedObject?.name === involved);
    },
    /** Scales to 0, waits for its pods to go, deletes the ReplicaSet (no garbage collector runs here). */
    async removeRs(rs: string, uid: string) {
      await self.scale(rs, 0);
      await self.waitActive(uid, 0);
      await k.delete(rsPath(rs));
    },
  };
  return self;
}

describe('replicaset e2e (replicaset controller only, pods through the API)', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let k: ApiCaller;

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url, extraArgs: ['--controllers', 'replicaset'] });
    k = api(cp.url, cp.token);
  });

  after(async () => {
    await cp?.stop();
    await redis?.stop();
  });

  test('creates the replicas with the ReplicaSet as controlling owner, reports them in status and as events', async () => {
    const n = ns(k, 'rs-create');
    await n.create();
    const rs = await n.createRs(replicaSet('web', 3));
    const pods = await n.waitActive(rs.metadata.uid, 3);
    for (const p of pods) {
      assert.match(p.metadata.name, /^web-[a-z0-9]{5}$/);
      assert.deepEqual(p.metadata.labels, { app: 'web' });
      assert.deepEqual(p.metadata.ownerReferences, [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web',
          uid: rs.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      assert.equal(p.spec.containers[0].image, '127.0.0.1:1/none:v1');
    }
    const cur = await n.waitStatus('web', {
      replicas: 3,
      fullyLabeledReplicas: 3,
      readyReplicas: 0,
      availableReplicas: 0,
    });
    assert.equal(cur.status.observedGeneration, cur.metadata.generation);
    // Exactly 3: a second reconcile before the watch delivered the creates must not create more.
    await sleep(500);
    assert.equal((await n.pods()).length, 3);
    const created = await waitFor('3 SuccessfulCreate events', async () => {
      const evs = (await n.events('web')).filter((e) => e.reason === 'SuccessfulCreate');
      return evs.length === 3 ? evs : undefined;
    });
    assert.deepEqual(
      created.map((e) => e.message).sort(),
      pods.map((p) => `Created pod: ${p.metadata.name}`).sort(),
    );
    await n.removeRs('web', rs.metadata.uid);
  });

  test('a deleted pod is replaced, and a Failed pod is replaced and then removed', async () => {
    const n = ns(k, 'rs-replace');
    await n.create();
    const rs = await n.createRs(replicaSet('web', 2));
    const first = await n.waitActive(rs.metadata.uid, 2);
    const gone = first[0].metadata.name;
    await n.deletePod(gone);
    const second = await waitFor('a replacement for the deleted pod', async () => {
      const pods = await n.activePodsOf(rs.metadata.uid);
      return pods.length === 2 && !pods.some((p) => p.metadata.name === gone) ? pods : undefined;
    });
    const failing = second[0].metadata.name;
    await n.setPodStatus(failing, {
      phase: 'Failed',
      reason: 'Error',
      message: 'the container exited with 1',
    });
    await waitFor('the Failed pod replaced and deleted', async () => {
      const all = await n.pods();
      const active = await n.activePodsOf(rs.metadata.uid);
      return active.length === 2 && !all.some((p) => p.metadata.name === failing);
    });
    const deleted = (await n.events('web'))
      .filter((e) => e.reason === 'SuccessfulDelete')
      .map((e) => e.message);
    assert.ok(deleted.includes(`Deleted pod: ${failing}`), JSON.stringify(deleted));
    await n.removeRs('web', rs.metadata.uid);
  });

  test('scaled down, the surplus is removed newest first', async () => {
    const n = ns(k, 'rs-scale');
    await n.create();
    const rs = await n.createRs(replicaSet('web', 2));
    const oldest = (await n.waitActive(rs.metadata.uid, 2)).map((p) => p.metadata.name).sort();
    // creationTimestamp has one-second resolution: the next pods must be visibly newer.
    await sleep(1100);
    await n.scale('web', 4);
    const four = await n.waitActive(rs.metadata.uid, 4);
    const newer = four.map((p) => p.metadata.name).filter((x) => !oldest.includes(x));
    assert.equal(newer.length, 2);
    await n.scale('web', 2);
    await waitFor('the two newest pods deleted', async () => {
      const left = (await n.activePodsOf(rs.metadata.uid)).map((p) => p.metadata.name).sort();
      return left.length === 2 && JSON.stringify(left) === JSON.stringify(oldest);
    });
    await n.waitStatus('web', { replicas: 2 });
    await n.removeRs('web', rs.metadata.uid);
  });

  test('adopts a matching orphan instead of creating, and releases a pod whose labels stop matching', async () => {
    const n = ns(k, 'rs-adopt');
    await n.create();
    await ok(
      k.post('/api/v1/namespaces/rs-adopt/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'orphan', labels: { app: 'web' } },
        spec: { containers: [{ name: 'main', image: '127.0.0.1:1/none:v1' }] },
      }),
      'create orphan',
    );
    const rs = await n.createRs(replicaSet('web', 2));
    const pods = await n.waitActive(rs.metadata.uid, 2);
    assert.ok(
      pods.some((p) => p.metadata.name === 'orphan'),
      'the orphan was adopted',
    );
    assert.equal((await n.pods()).length, 2, 'only one pod was created');
    await ok(
      k.patch('/api/v1/namespaces/rs-adopt/pods/orphan', { metadata: { labels: { app: 'other' } } }),
      'relabel',
    );
    await waitFor('orphan released and replaced', async () => {
      const all = await n.pods();
      const o = all.find((p) => p.metadata.name === 'orphan');
      const active = await n.activePodsOf(rs.metadata.uid);
      return (
        o &&
        !o.metadata.ownerReferences?.length &&
        active.length === 2 &&
        !active.some((p) => p.metadata.name === 'orphan')
      );
    });
    await n.removeRs('web', rs.metadata.uid);
    await n.deletePod('orphan');
  });

  test('status counts ready pods, and available ones once minReadySeconds have passed', async () => {
    const n = ns(k, 'rs-status');
    await n.create();
    const rs = await n.createRs(replicaSet('web', 2, { minReadySeconds: 2 }));
    const pods = await n.waitActive(rs.metadata.uid, 2);
    const readyStatus = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: iso() }],
    };
    await n.setPodStatus(pods[0].metadata.name, readyStatus);
    const st = (await n.waitStatus('web', { replicas: 2, readyReplicas: 1 })).status;
    assert.equal(st.availableReplicas, 0, 'ready for less than minReadySeconds');
    // Nothing else changes: the controller must come back by itself when the pod becomes available.
    await n.waitStatus('web', { replicas: 2, readyReplicas: 1, availableReplicas: 1 }, 15_000);
    await n.removeRs('web', rs.metadata.uid);
  });
});

const canRunContainers =
  process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

describe(
  'replicaset e2e with the scheduler and a real agent',
  { skip: !canRunContainers && 'needs root, runc and conmon' },
  () => {
    let redis: TestRedis;
    let cp: ControlPlane;
    let reg: TestRegistry;
    let agent: TestAgent;
    let image: string;
    const node = `rs-e2e-${process.pid}`;

    before(async () => {
      redis = await TestRedis.start();
      cp = await startControlPlane({
        redisUrl: redis.url,
        extraArgs: ['--controllers', 'replicaset,scheduler'],
      });
      reg = await startRegistry();
      image = (await buildBusyboxImage(reg, 'e2e/busybox', 'v1', { format: 'v2s2' })).ref;
      agent = await startAgent({
        server: cp.url,
        token: cp.token,
        nodeName: node,
        extraArgs: ['--heartbeat-interval', '1s'],
      });
    });

    after(async () => {
      await agent?.stop();
      await reg?.stop();
      await cp?.stop();
      await redis?.stop();
    });

    test('pods become Running and Ready on the node and availableReplicas reaches replicas', async () => {
      const k = api(cp.url, cp.token);
      const n = ns(k, 'default');
      const rs = await n.createRs(replicaSet('busy', 2, { image, minReadySeconds: 1 }));
      try {
        const cur = await n.waitStatus(
          'busy',
          { replicas: 2, readyReplicas: 2, availableReplicas: 2 },
          90_000,
        );
        assert.equal(cur.status.observedGeneration, cur.metadata.generation);
        const pods = await n.activePodsOf(rs.metadata.uid);
        assert.equal(pods.length, 2);
        for (const p of pods) {
          assert.equal(p.spec.nodeName, node);
          assert.equal(p.status.phase, 'Running');
        }
      } finally {
        await n.removeRs('busy', rs.metadata.uid);
      }
    });
  },
);
