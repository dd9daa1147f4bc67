// End-to-end: the scheduler inside a real control plane (real redis-server) placing pods on Node
// objects made through the API; two control planes sharing one Redis; and one real agent (runc)
// running a pod that was created without a node. Everything is removed in after()/finally.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  TestRedis,
  api,
  buildBusyboxImage,
  openWatch,
  startAgent,
  startControlPlane,
  startRegistry,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type OpenWatch,
  type TestAgent,
  type TestRegistry,
  ok,
} from '@berth/testing';

const SCHEDULER_ONLY = ['--controllers', 'scheduler'];

interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: string;
  ready?: boolean;
  unschedulable?: boolean;
  labels?: Record<string, string>;
}

function nodeObject(name: string, o: NodeOpts = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: o.unschedulable ? { unschedulable: true } : {},
    status: {
      capacity: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110' },
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110' },
      conditions: [
        {
          type: 'Ready',
          status: o.ready === false ? 'False' : 'True',
          reason: o.ready === false ? 'KubeletNotReady' : 'KubeletReady',
          lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
    },
  };
}

function podObject(
  ns: string,
  name: string,
  o: {
    memory?: string;
    cpu?: string;
    nodeSelector?: Record<string, string>;
    owner?: string;
    image?: string;
  } = {},
) {
  const requests = { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      ...(o.owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-rs', uid: o.owner, controller: true },
            ],
          }
        : {}),
    },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: o.image ?? '127.0.0.1:1/none:v1',
          command: ['sleep', '3600'],
          ...(Object.keys(requests).length ? { resources: { requests } } : {}),
        },
      ],
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
    },
  };
}

/** Test helpers over one control plane's API. */
function cluster(k: ApiCaller) {
  const made: string[] = [];
  return {
    async createNode(name: string, o: NodeOpts = {}) {
      await ok(k.post('/api/v1/nodes', nodeObject(name, o)), `create node ${name}`);
      made.push(name);
    },
    async setNode(name: string, o: NodeOpts) {
      const cur = await ok(k.get(`/api/v1/nodes/${name}`), `get node ${name}`);
      const want = nodeObject(name, o);
      await ok(
        k.put(`/api/v1/nodes/${name}`, {
          ...cur,
          spec: want.spec,
          metadata: { ...cur.metadata, labels: want.metadata.labels },
        }),
        `update node ${name}`,
      );
      const fresh = await ok(k.get(`/api/v1/nodes/${name}`), `get node ${name}`);
      await ok(
        k.put(`/api/v1/nodes/${name}/status`, { ...fresh, status: want.status }),
        `update node ${name} status`,
      );
    },
    async deleteNodes() {
      for (const n of made.splice(0)) await k.delete(`/api/v1/nodes/${n}`);
    },
    async createNamespace(ns: string) {
      await ok(
        k.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }),
        `namespace ${ns}`,
      );
    },
    async createPod(ns: string, name: string, o: Parameters<typeof podObject>[2] = {}) {
      return ok(k.post(`/api/v1/namespaces/${ns}/pods`, podObject(ns, name, o)), `create pod ${name}`);
    },
    async getPod(ns: string, name: string) {
      return ok(k.get(`/api/v1/namespaces/${ns}/pods/${name}`), `get pod ${name}`);
    },
    async pods(ns: string): Promise<any[]> {
      return (await ok(k.get(`/api/v1/namespaces/${ns}/pods`), `list pods in ${ns}`)).items;
    },
    async events(ns: string, pod: string): Promise<any[]> {
      const list = await ok(k.get(`/api/v1/namespaces/${ns}/events`), `list events in ${ns}`);
      return list.items.filter((e: any) => e.involvedObject?.name === pod);
    },
    /** Waits until every named pod has a node; returns name → node. */
    async waitBound(ns: string, names: string[], timeoutMs = 30_000): Promise<Map<string, string>> {
      return waitFor(
        `pods ${names.join(',')} in ${ns} to be bound`,
        async () => {
          const items = await this.pods(ns);
          const m = new Map<string, string>();
          for (const p of items)
            if (names.includes(p.metadata.name) && p.spec.nodeName) m.set(p.metadata.name, p.spec.nodeName);
          return m.size === names.length ? m : undefined;
        },
        timeoutMs,
      );
    },
  };
}

const countBy = (m: Map<string, string>) => {
  const out: Record<string, number> = {};
  for (const v of m.values()) out[v] = (out[v] ?? 0) + 1;
  return out;
};

describe('scheduler e2e (one control plane, Node objects made through the API)', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let k: ApiCaller;
  let c: ReturnType<typeof cluster>;

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url, extraArgs: SCHEDULER_ONLY });
    k = api(cp.url, cp.token);
    c = cluster(k);
  });

  after(async () => {
    await cp?.stop();
    await redis?.stop();
  });

  test('six pods with one controller owner spread 2/2/2 over three equal nodes', async () => {
    try {
      await c.createNamespace('spread');
      for (const n of ['sp-a', 'sp-b', 'sp-c']) await c.createNode(n, { labels: { pool: 'spread' } });
      const names = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'];
      for (const n of names) {
        await c.createPod('spread', n, { owner: 'rs-uid-1', nodeSelector: { pool: 'spread' }, cpu: '100m' });
      }
      const bound = await c.waitBound('spread', names);
      assert.deepEqual(countBy(bound), { 'sp-a': 2, 'sp-b': 2, 'sp-c': 2 });
      const p = await c.getPod('spread', 'w1');
      const cond = p.status.conditions.find((x: any) => x.type === 'PodScheduled');
      assert.equal(cond.status, 'True');
      const ev = await waitFor('a Scheduled event for w1', async () =>
        (await c.events('spread', 'w1')).find((e) => e.reason === 'Scheduled'),
      );
      assert.equal(ev.type, 'Normal');
      assert.equal(ev.message, `Successfully assigned spread/w1 to ${bound.get('w1')}`);
      const metrics = (await k.get('/metrics')).body as string;
      const m = /^berth_scheduler_schedule_attempts_total\{result="scheduled"\} (\d+)$/m.exec(metrics);
      assert.ok(m && Number(m[1]) >= 6, `scheduled attempts in /metrics: ${m?.[0]}`);
    } finally {
      await c.deleteNodes();
    }
  });

  test('a pod that fits no node stays Pending with PodScheduled=False and a FailedScheduling event naming the reasons; it schedules once a node grows', async () => {
    try {
      await c.createNamespace('toobig');
      await c.createNode('tb-a', { memory: '1Gi', labels: { zone: 'x' } });
      await c.createNode('tb-b', { memory: '1Gi', labels: { zone: 'x' } });
      await c.createNode('tb-c', { memory: '64Gi', labels: { zone: 'y' } });
      await c.createPod('toobig', 'hog', { memory: '4Gi', nodeSelector: { zone: 'x' } });
      const want =
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient memory.";
      const cond = await waitFor('the Unschedulable condition', async () => {
        const p = await c.getPod('toobig', 'hog');
        return p.status?.conditions?.find((x: any) => x.type === 'PodScheduled' && x.status === 'False');
      });
      assert.equal(cond.reason, 'Unschedulable');
      assert.equal(cond.message, want);
      const ev = await waitFor('a FailedScheduling event', async () =>
        (await c.events('toobig', 'hog')).find((e) => e.reason === 'FailedScheduling'),
      );
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.message, want);
      const p = await c.getPod('toobig', 'hog');
      assert.equal(p.spec.nodeName, undefined);
      assert.equal(p.status.phase, 'Pending');

      await c.setNode('tb-b', { memory: '8Gi', labels: { zone: 'x' } });
      const bound = await c.waitBound('toobig', ['hog']);
      assert.equal(bound.get('hog'), 'tb-b');
      const after = await c.getPod('toobig', 'hog');
      assert.equal(after.status.conditions.find((x: any) => x.type === 'PodScheduled').status, 'True');
    } finally {
      await c.deleteNodes();
    }
  });

  test('nodeSelector is respected and a cordoned node is skipped; uncordoning makes it usable', async () => {
    try {
      await c.createNamespace('select');
      await c.createNode('sel-ssd', { labels: { disk: 'ssd' } });
      await c.createNode('sel-hdd', { labels: { disk: 'hdd' } });
      await c.createNode('sel-ssd-cordoned', { labels: { disk: 'ssd' }, unschedulable: true });
      const names = ['s1', 's2', 's3', 's4'];
      for (const n of names) await c.createPod('select', n, { nodeSelector: { disk: 'ssd' } });
      const bound = await c.waitBound('select', names);
      assert.deepEqual(countBy(bound), { 'sel-ssd': 4 });

      // A pod only the cordoned node could take waits, and is placed when the node is uncordoned.
      await c.createPod('select', 'only-cordoned', {
        nodeSelector: { 'kubernetes.io/hostname': 'sel-ssd-cordoned' },
      });
      const cond = await waitFor('the Unschedulable condition', async () => {
        const p = await c.getPod('select', 'only-cordoned');
        return p.status?.conditions?.find((x: any) => x.type === 'PodScheduled' && x.status === 'False');
      });
      assert.equal(
        cond.message,
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector.",
      );
      await c.setNode('sel-ssd-cordoned', { labels: { disk: 'ssd' } });
      const b2 = await c.waitBound('select', ['only-cordoned']);
      assert.equal(b2.get('only-cordoned'), 'sel-ssd-cordoned');
    } finally {
      await c.deleteNodes();
    }
  });

  test('a node becoming Ready lets a pending pod schedule', async () => {
    try {
      await c.createNamespace('ready');
      await c.createNode('rd-a', { ready: false });
      await c.createPod('ready', 'waiter');
      const cond = await waitFor('the Unschedulable condition', async () => {
        const p = await c.getPod('ready', 'waiter');
        return p.status?.conditions?.find((x: any) => x.type === 'PodScheduled' && x.status === 'False');
      });
      assert.equal(cond.message, '0/1 nodes are available: 1 node(s) were not ready.');
      await c.setNode('rd-a', { ready: true });
      const bound = await c.waitBound('ready', ['waiter']);
      assert.equal(bound.get('waiter'), 'rd-a');
    } finally {
      await c.deleteNodes();
    }
  });

  test('pods bound before a control-plane crash and restart are counted after it: a full node takes no more', async () => {
    try {
      await c.createNamespace('restart');
      await c.createNode('rs-a', { pods: '3' });
      for (const n of ['a1', 'a2', 'a3']) await c.createPod('restart', n);
      await c.waitBound('restart', ['a1', 'a2', 'a3']);
      await cp.kill9(); // a crash: nothing is handed over but what the store holds
      await cp.restart();
      await c.createPod('restart', 'a4');
      const cond = await waitFor('the Unschedulable condition', async () => {
        const p = await c.getPod('restart', 'a4');
        return p.status?.conditions?.find((x: any) => x.type === 'PodScheduled' && x.status === 'False');
      });
      assert.equal(cond.message, '0/1 nodes are available: 1 Too many pods.');
      // Freeing a slot lets it in.
      await ok(k.delete('/api/v1/namespaces/restart/pods/a1'), 'delete a1');
      const bound = await c.waitBound('restart', ['a4']);
      assert.equal(bound.get('a4'), 'rs-a');
    } finally {
      await c.deleteNodes();
    }
  });
});

describe('scheduler e2e: two control planes sharing one Redis', () => {
  let redis: TestRedis;
  const cps: ControlPlane[] = [];
  let watch: OpenWatch | undefined;

  const leaderFlags = [
    ...SCHEDULER_ONLY,
    '--leader-elect-lease-duration',
    '3s',
    '--leader-elect-renew-deadline',
    '2s',
    '--leader-elect-retry-period',
    '500ms',
  ];

  before(async () => {
    redis = await TestRedis.start();
    cps.push(await startControlPlane({ redisUrl: redis.url, extraArgs: leaderFlags }));
    cps.push(await startControlPlane({ redisUrl: redis.url, extraArgs: leaderFlags }));
  });

  after(async () => {
    watch?.close();
    for (const cp of cps) await cp.stop();
    await redis?.stop();
  });

  test('every pod is bound exactly once and stays, also across a leader crash, and no node is over-committed', async () => {
    const k = api(cps[0].url, cps[0].token);
    const c = cluster(k);
    await c.createNamespace('ha');
    for (const n of ['ha-a', 'ha-b', 'ha-c']) await c.createNode(n, { pods: '20' });
    const names = Array.from({ length: 60 }, (_, i) => `p${i}`);
    // Who leads now: the Lease names it by its port. The watch goes through the other one.
    const lease = await waitFor('a leader', async () => {
      const l = (
        await k.get('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controller-manager')
      ).body;
      return l?.spec?.holderIdentity ? l : undefined;
    });
    const leader = cps.find((cp) => lease.spec.holderIdentity.endsWith(`_${cp.port}`));
    assert.ok(leader, `leader ${lease.spec.holderIdentity} is one of ours`);
    const survivor = cps.find((cp) => cp !== leader)!;
    const ks = api(survivor.url, survivor.token);
    const list = await ok(ks.get('/api/v1/namespaces/ha/pods'), 'list');
    watch = await openWatch(
      survivor.url,
      survivor.token,
      `/api/v1/namespaces/ha/pods?watch=true&resourceVersion=${list.metadata.resourceVersion}`,
    );
    for (const n of names.slice(0, 30)) await c.createPod('ha', n);
    await leader.kill9(); // a crash, mid-run: bindings may be in flight
    const cs = cluster(ks);
    for (const n of names.slice(30)) await cs.createPod('ha', n);
    const bound = await cs.waitBound('ha', names, 60_000);
    assert.deepEqual(countBy(bound), { 'ha-a': 20, 'ha-b': 20, 'ha-c': 20 });
    await waitFor('the watch to have seen every binding', async () => {
      const boundSeen = new Set(
        watch!.events.filter((e) => e.object?.spec?.nodeName).map((e) => e.object.metadata.name),
      );
      return boundSeen.size === names.length;
    });
    // Every event the watch saw: a pod's nodeName, once set, never changes.
    const seen = new Map<string, string>();
    for (const ev of watch.events) {
      const p = ev.object;
      const node = p?.spec?.nodeName;
      const prev = seen.get(p?.metadata?.name);
      if (prev) assert.equal(node, prev, `${p.metadata.name} moved from ${prev} to ${node}`);
      else if (node) seen.set(p.metadata.name, node);
    }
    assert.deepEqual(new Map([...seen].sort()), new Map([...bound].sort()));
  });
});

const canRunContainers =
  process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

describe(
  'scheduler e2e with a real agent',
  { skip: !canRunContainers && 'needs root, runc and conmon' },
  () => {
    let redis: TestRedis;
    let cp: ControlPlane;
    let reg: TestRegistry;
    let agent: TestAgent;
    let image: string;
    const node = `sched-e2e-${process.pid}`;

    before(async () => {
      redis = await TestRedis.start();
      cp = await startControlPlane({ redisUrl: redis.url, extraArgs: SCHEDULER_ONLY });
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

    test('a pod created without spec.nodeName is bound to the agent node and becomes Running', async () => {
      const k = api(cp.url, cp.token);
      const c = cluster(k);
      await c.createPod('default', 'anywhere', { image });
      const running = await waitFor(
        'pod anywhere Running',
        async () => {
          const p = await c.getPod('default', 'anywhere');
          return p.status?.phase === 'Running' ? p : undefined;
        },
        60_000,
      );
      assert.equal(running.spec.nodeName, node);
      assert.equal(running.status.containerStatuses[0].state.running !== undefined, true);
      await ok(k.delete('/api/v1/namespaces/default/pods/anywhere'), 'delete pod');
      await waitFor(
        'pod anywhere gone',
        async () => (await k.get('/api/v1/namespaces/default/pods/anywhere')).status === 404,
        30_000,
      );
    });
  },
);
