// End-to-end: the node agent against a real control plane (real redis), a real registry and real
// runc/conmon/overlayfs/cgroups. Needs root. Everything is cleaned up by id in after().
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  TestRedis,
  api,
  buildBusyboxImage,
  startAgent,
  startControlPlane,
  startRegistry,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

const isRoot =
  process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

function pod(name: string, node: string, image: string, extra: Record<string, any> = {}, container: Record<string, any> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'main', image, ...container }],
      ...extra,
    },
  };
}

describe('agent e2e (control plane + registry + runc)', { skip: !isRoot && 'needs root, runc and conmon' }, () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let reg: TestRegistry;
  let agent: TestAgent;
  let k: ApiCaller;
  let image: string;
  const node = `agent-e2e-${process.pid}`;

  const getPod = async (name: string) => (await k.get(`/api/v1/namespaces/default/pods/${name}`)).body;
  const containerStatus = async (name: string) => (await getPod(name)).status?.containerStatuses?.[0];
  const idOf = (cs: { containerID: string }) => cs.containerID.replace(/^runc:\/\//, '');
  const runcExec = (id: string, args: string[]) =>
    execFileSync('runc', ['--root', agent.runcRoot, 'exec', id, ...args], { encoding: 'utf8' });

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url });
    k = api(cp.url, cp.token);
    reg = await startRegistry();
    image = (await buildBusyboxImage(reg, 'e2e/busybox', 'v1', { format: 'v2s2' })).ref;
    agent = await startAgent({
      server: cp.url,
      token: cp.token,
      nodeName: node,
      extraArgs: ['--restart-initial-delay', '500ms', '--restart-max-delay', '4s', '--heartbeat-interval', '1s'],
    });
  });

  after(async () => {
    await agent?.stop();
    await reg?.stop();
    await cp?.stop();
    await redis?.stop();
  });

  test('registers its Node with capacity, nodeInfo and a Ready heartbeat that advances', async () => {
    const n = (await k.get(`/api/v1/nodes/${node}`)).body;
    assert.equal(n.metadata.name, node);
    assert.ok(Number(n.status.capacity.cpu) >= 1);
    assert.match(n.status.capacity.memory, /^\d+Ki$/);
    assert.equal(n.status.capacity.pods, '110');
    assert.equal(n.status.nodeInfo.kubeletVersion, 'berth/0.1.0');
    assert.match(n.status.nodeInfo.containerRuntimeVersion, /^runc:\/\/\d+\.\d+/);
    assert.equal(n.status.daemonEndpoints.kubeletEndpoint.Port, agent.port);
    const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(ready.status, 'True');
    const first = ready.lastHeartbeatTime;
    await waitFor('a later heartbeat', async () => {
      const m = (await k.get(`/api/v1/nodes/${node}`)).body;
      return m.status.conditions.find((c: any) => c.type === 'Ready').lastHeartbeatTime !== first;
    }, 10_000);
  });

  test('a Pod becomes Running: PID 1 is the command, hostname is the pod name, root is the image, only lo, memory limit', async () => {
    const r = await k.post(
      '/api/v1/namespaces/default/pods',
      pod('web', node, image, {}, {
        command: ['sleep', '3600'],
        resources: { limits: { memory: '64Mi' } },
      }),
    );
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const p = await waitFor('pod web Running', async () => {
      const x = await getPod('web');
      return x.status?.phase === 'Running' && x.status.containerStatuses?.[0]?.ready ? x : undefined;
    });
    const cs = p.status.containerStatuses[0];
    assert.ok(cs.state.running.startedAt);
    assert.equal(cs.restartCount, 0);
    assert.match(cs.imageID, /^127\.0\.0\.1:\d+\/e2e\/busybox@sha256:[a-f0-9]{64}$/);
    assert.match(cs.containerID, /^runc:\/\/[a-f0-9]+$/);
    assert.ok(p.status.startTime);
    assert.ok(p.status.hostIP);
    for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'])
      assert.equal(p.status.conditions.find((c: any) => c.type === t)?.status, 'True', t);

    const id = idOf(cs);
    const ps = runcExec(id, ['ps', '-o', 'pid,args']);
    assert.match(ps, /^\s*1\s+sleep 3600\s*$/m);
    assert.equal(runcExec(id, ['hostname']).trim(), 'web');
    assert.equal(runcExec(id, ['cat', '/etc/hostname']).trim(), 'web');
    assert.ok(runcExec(id, ['ls', '/bin']).includes('busybox'));
    assert.equal(runcExec(id, ['ls', '/']).includes('work'), false, 'the host root is not visible');
    const links = runcExec(id, ['ls', '/sys/class/net']).split(/\s+/).filter(Boolean);
    assert.deepEqual(links, ['lo']);
    const limit = runcExec(id, ['cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']).trim();
    assert.equal(limit, String(64 * 1024 * 1024));
    // the host's view of the same cgroup
    const hostLimit = readFileSync(`/sys/fs/cgroup/memory/berth/${p.metadata.uid}/${id}/memory.limit_in_bytes`, 'utf8').trim();
    assert.equal(hostLimit, String(64 * 1024 * 1024));
  });

  test('a file written in the container is in its upper dir only; a second pod reuses the same layer dirs', async () => {
    const cs = await containerStatus('web');
    const id = idOf(cs);
    runcExec(id, ['sh', '-c', 'echo hello > /written-by-test']);
    const snaps = path.join(agent.dataDir, 'snapshots', 's');
    const metas = execFileSync('sh', ['-c', `cat ${snaps}/*/meta.json`], { encoding: 'utf8' });
    const infos = metas.split(/(?<=\})\s*(?=\{)/).map((s) => JSON.parse(s));
    const mine = infos.find((i: any) => i.key === id);
    assert.ok(mine, 'snapshot of the container');
    assert.equal(readFileSync(path.join(mine.upperDir, 'written-by-test'), 'utf8'), 'hello\n');
    for (const l of mine.parents) assert.equal(existsSync(path.join(l, 'written-by-test')), false);

    await k.post('/api/v1/namespaces/default/pods', pod('web2', node, image, {}, { command: ['sleep', '3600'] }));
    const cs2 = await waitFor('web2 running', async () => {
      const c = await containerStatus('web2');
      return c?.state?.running ? c : undefined;
    });
    const metas2 = execFileSync('sh', ['-c', `cat ${snaps}/*/meta.json`], { encoding: 'utf8' })
      .split(/(?<=\})\s*(?=\{)/)
      .map((s) => JSON.parse(s));
    const other = metas2.find((i: any) => i.key === idOf(cs2));
    assert.deepEqual(other.parents, mine.parents);
    assert.notEqual(other.upperDir, mine.upperDir);
    assert.equal(existsSync(path.join(other.upperDir, 'written-by-test')), false);
  });
});
