/**
 * The control plane's own controllers through the API, with real processes and a real Redis but
 * no agents (nodes are objects this test writes, as an agent would): garbage collection with the
 * three propagation policies, node lifecycle (NotReady, taints, eviction, recovery), event expiry,
 * and leader election between two control planes sharing one Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  api,
  startControlPlane,
  tempDir,
  TestRedis,
  waitFor,
  type ApiCaller,
  type ControlPlane,
} from '@berth/testing';

const NS = '/api/v1/namespaces/default';
const APPS = '/apis/apps/v1/namespaces/default';

function owner(kind: string, o: { metadata: { name: string; uid: string } }, block = true) {
  return {
    apiVersion: kind === 'Deployment' || kind === 'ReplicaSet' ? 'apps/v1' : 'v1',
    kind,
    name: o.metadata.name,
    uid: o.metadata.uid,
    controller: true,
    blockOwnerDeletion: block,
  };
}

const template = {
  metadata: { labels: { app: 'gc' } },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
};

async function chain(call: ApiCaller, name: string) {
  const d = await call.post(`${APPS}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { replicas: 0, selector: { matchLabels: { app: 'gc' } }, template },
  });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  const rs = await call.post(`${APPS}/replicasets`, {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `${name}-rs`, ownerReferences: [owner('Deployment', d.body)] },
    spec: { replicas: 0, selector: { matchLabels: { app: 'gc' } }, template },
  });
  assert.equal(rs.status, 201, JSON.stringify(rs.body));
  const pods = [];
  for (const i of [1, 2]) {
    const p = await call.post(`${NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-p${i}`,
        labels: { app: 'gc' },
        ownerReferences: [owner('ReplicaSet', rs.body)],
      },
      spec: template.spec,
    });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    pods.push(p.body);
  }
  return { d: d.body, rs: rs.body, pods };
}

const gone = async (call: ApiCaller, p: string) => (await call.get(p)).status === 404;

describe('controllers against a real control plane', () => {
  let cp: ControlPlane;
  let call: ApiCaller;

  before(async () => {
    cp = await startControlPlane({
      extraArgs: [
        '--controllers',
        'garbagecollector,nodelifecycle,eventttl',
        '--node-monitor-grace-period',
        '2s',
        '--pod-eviction-timeout',
        '2s',
        '--event-ttl',
        '3s',
      ],
    });
    call = api(cp.url, cp.token);
    await waitFor(
      'the leader lease',
      async () => {
        const l = await call.get(
          '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controller-manager',
        );
        return l.status === 200 && l.body.spec.holderIdentity !== '';
      },
      10_000,
    );
  });
  after(async () => {
    await cp?.stop();
  });

  test('background deletion of a Deployment removes its ReplicaSet and then the pods', async () => {
    const { rs, pods } = await chain(call, 'bg');
    assert.equal((await call.delete(`${APPS}/deployments/bg`)).status, 200);
    await waitFor(
      'the ReplicaSet to be collected',
      () => gone(call, `${APPS}/replicasets/${rs.metadata.name}`),
      10_000,
    );
    for (const p of pods)
      await waitFor('the pods to be collected', () => gone(call, `${NS}/pods/${p.metadata.name}`), 10_000);
  });

  test('foreground deletion keeps the Deployment (with its finalizer) until its dependents are gone', async () => {
    const { rs, pods } = await chain(call, 'fg');
    const del = await call.delete(`${APPS}/deployments/fg`, { propagationPolicy: 'Foreground' });
    assert.equal(del.status, 200);
    assert.deepEqual(del.body.metadata.finalizers, ['foregroundDeletion']);
    await waitFor(
      'the foreground-deleted Deployment to go',
      () => gone(call, `${APPS}/deployments/fg`),
      10_000,
    );
    // By the time the owner is gone, everything under it is gone too.
    assert.ok(await gone(call, `${APPS}/replicasets/${rs.metadata.name}`));
    for (const p of pods) assert.ok(await gone(call, `${NS}/pods/${p.metadata.name}`));
  });

  test('orphan deletion removes the Deployment and leaves its ReplicaSet without the owner reference', async () => {
    const { rs, pods } = await chain(call, 'or');
    assert.equal((await call.delete(`${APPS}/deployments/or?propagationPolicy=Orphan`)).status, 200);
    await waitFor('the orphaned Deployment to go', () => gone(call, `${APPS}/deployments/or`), 10_000);
    const left = await call.get(`${APPS}/replicasets/${rs.metadata.name}`);
    assert.equal(left.status, 200);
    assert.equal(left.body.metadata.ownerReferences, undefined);
    for (const p of pods) assert.equal((await call.get(`${NS}/pods/${p.metadata.name}`)).status, 200);
    // Clean up: the ReplicaSet's own pods still go with it.
    await call.delete(`${APPS}/replicasets/${rs.metadata.name}`);
    for (const p of pods)
      await waitFor(
        'the orphaned ReplicaSet pods to go',
        () => gone(call, `${NS}/pods/${p.metadata.name}`),
        10_000,
      );
  });

  test('a node whose lease stops is NotReady and tainted, its pods are evicted; it recovers when it reports', async () => {
    const now = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    const node = await call.post('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n-silent' },
    });
    assert.equal(node.status, 201);
    const ready = (status: string) => ({
      ...node.body,
      metadata: { name: 'n-silent' },
      status: {
        conditions: [
          { type: 'Ready', status, lastHeartbeatTime: now().replace(/\.\d+Z/, 'Z'), reason: 'AgentReady' },
        ],
        allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
      },
    });
    assert.equal((await call.put('/api/v1/nodes/n-silent/status', ready('True'))).status, 200);
    await call.post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'kube-node-lease' },
    });
    const lease = await call.post('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'n-silent' },
      spec: { holderIdentity: 'n-silent', leaseDurationSeconds: 40, renewTime: now() },
    });
    assert.equal(lease.status, 201, JSON.stringify(lease.body));
    const p = await call.post(`${NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'on-silent' },
      spec: { nodeName: 'n-silent', containers: [{ name: 'c', image: 'busybox' }] },
    });
    assert.equal(p.status, 201);
    // Nobody renews: after the 2 s grace period the node is NotReady (Unknown) and tainted.
    await waitFor(
      'the node to be Unknown',
      async () => {
        const n = await call.get('/api/v1/nodes/n-silent');
        const r = n.body.status.conditions.find((c: { type: string }) => c.type === 'Ready');
        return r.status === 'Unknown';
      },
      15_000,
    );
    const n = await call.get('/api/v1/nodes/n-silent');
    assert.deepEqual(
      n.body.spec.taints.map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`).sort(),
      ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule'],
    );
    const evs = await call.get(`/api/v1/events?fieldSelector=involvedObject.name=n-silent`);
    assert.ok(
      evs.body.items.some((e: { reason: string }) => e.reason === 'NodeNotReady'),
      JSON.stringify(evs.body),
    );
    // After the eviction timeout the pod is deleted.
    await waitFor('the pod to be evicted', () => gone(call, `${NS}/pods/on-silent`), 15_000);
    // The agent comes back: renews its lease and reports Ready; the taints go away.
    const cur = await call.get('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n-silent');
    await call.put('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n-silent', {
      ...cur.body,
      spec: { ...cur.body.spec, renewTime: now() },
    });
    assert.equal((await call.put('/api/v1/nodes/n-silent/status', ready('True'))).status, 200);
    await waitFor(
      'the taints to go',
      async () => {
        const x = await call.get('/api/v1/nodes/n-silent');
        return !x.body.spec?.taints?.length;
      },
      15_000,
    );
  });

  test('events expire after --event-ttl counted from when they were last seen', async () => {
    const ev = await call.post(`${NS}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'ttl-test' },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'x', namespace: 'default' },
      reason: 'Test',
      message: 'expires',
      type: 'Normal',
      lastTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    assert.equal(ev.status, 201);
    assert.equal((await call.get(`${NS}/events/ttl-test`)).status, 200);
    await waitFor('the event to expire', () => gone(call, `${NS}/events/ttl-test`), 15_000);
  });
});

describe('leader election between two control planes on one Redis', () => {
  let redis: TestRedis;
  const cps: ControlPlane[] = [];

  before(async () => {
    redis = await TestRedis.start();
  });
  after(async () => {
    for (const c of cps) await c.stop().catch(() => undefined);
    await redis?.stop();
  });

  test('one leads; when it is killed the other takes the lease within the lease duration and collects garbage', async () => {
    const dir = tempDir('berth-ha-');
    after(() => dir.remove());
    const tokenFile = path.join(dir.path, 'token');
    writeFileSync(tokenFile, 'ha-token\n');
    const flags = [
      '--token-file',
      tokenFile,
      '--controllers',
      'garbagecollector',
      '--leader-elect-lease-duration',
      '3s',
      '--leader-elect-renew-deadline',
      '2s',
      '--leader-elect-retry-period',
      '500ms',
    ];
    for (let i = 0; i < 2; i++) cps.push(await startControlPlane({ redisUrl: redis.url, extraArgs: flags }));
    const call = api(cps[0].url, 'ha-token');
    const leasePath = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controller-manager';
    const holder = async () => (await call.get(leasePath)).body?.spec?.holderIdentity as string | undefined;
    await waitFor('a lease holder', async () => !!(await holder()), 10_000);
    const first = (await holder())!;
    const leader = cps.find((c) => first.endsWith(`_${c.port}`))!;
    const other = cps.find((c) => c !== leader)!;
    assert.ok(leader && other, `holder ${first} is one of the two`);
    // Both serve the API.
    assert.equal((await api(other.url, 'ha-token').get('/api/v1/namespaces')).status, 200);
    await leader.kill9();
    const callOther = api(other.url, 'ha-token');
    await waitFor(
      'the other control plane to take the lease',
      async () => {
        const h = (await callOther.get(leasePath)).body?.spec?.holderIdentity as string;
        return h.endsWith(`_${other.port}`);
      },
      15_000,
    );
    // The new leader runs the controllers: garbage is collected.
    const { rs } = await chain(callOther, 'ha');
    await callOther.delete(`${APPS}/deployments/ha`);
    await waitFor(
      'the ReplicaSet to be collected by the new leader',
      () => gone(callOther, `${APPS}/replicasets/${rs.metadata.name}`),
      10_000,
    );
  });
});
