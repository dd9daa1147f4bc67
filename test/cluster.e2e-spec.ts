/**
 * Issue 4 end to end, with real processes only: one Redis, two control planes (the first leads),
 * three agents running real runc containers, a real registry with two images, and berthctl.
 *
 *  - a Deployment of 6 spreads 2/2/2;
 *  - an image update rolls out without ever dropping below replicas - maxUnavailable ready pods
 *    (sampled every 100 ms); `berthctl rollout undo` brings the old image back;
 *  - the leader control plane is killed mid-rollout: the other one finishes it;
 *  - one agent is frozen (SIGSTOP: no heartbeat, its containers keep running under conmon): its
 *    node goes NotReady, its pods are replaced on the other two; when it resumes (SIGCONT) the
 *    containers of its evicted pods are stopped: no pod runs twice;
 *  - a pod whose requests fit no node stays Pending with the reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  api,
  buildBusyboxImage,
  sleep,
  startAgent,
  startControlPlane,
  startRegistry,
  tempDir,
  TestRedis,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
} from '@berth/testing';

const TOKEN = 'cluster-e2e-token';
const PODS = '/api/v1/namespaces/default/pods';
const DEPLOY = '/apis/apps/v1/namespaces/default/deployments';
const BIN = path.resolve(__dirname, '..', '..', 'bin', 'berthctl');

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string; containers: { name: string; image: string }[] };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

const isReady = (p: Pod) =>
  !p.metadata.deletionTimestamp &&
  p.status?.phase === 'Running' &&
  !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** The agent's runtime id of a pod's container (apps/agent containerId). */
const containerId = (uid: string, name: string) =>
  createHash('sha256').update(`${uid}/${name}`).digest('hex').slice(0, 32);

function running(agent: TestAgent): string[] {
  const out = execFileSync('runc', ['--root', agent.runcRoot, 'list', '--format', 'json'], {
    encoding: 'utf8',
  });
  const list = (JSON.parse(out || 'null') ?? []) as { id: string; status: string }[];
  return list.filter((c) => c.status === 'running').map((c) => c.id);
}

function berthctl(
  url: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--server', url, '--token', TOKEN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('a three-node cluster with two control planes', { concurrency: false }, () => {
  let redis: TestRedis;
  let leader: ControlPlane;
  let standby: ControlPlane;
  const agents: TestAgent[] = [];
  let reg: Awaited<ReturnType<typeof startRegistry>>;
  let v1: string;
  let v2: string;
  let k: ApiCaller;
  const dir = tempDir('berth-cluster-');
  const frozen = new Set<number>();

  const pods = async (): Promise<Pod[]> =>
    (await k.get(`${PODS}?labelSelector=app%3Dweb`)).body.items as Pod[];
  const perNode = (ps: Pod[]) => {
    const m: Record<string, number> = {};
    for (const p of ps) if (p.spec.nodeName) m[p.spec.nodeName] = (m[p.spec.nodeName] ?? 0) + 1;
    return m;
  };
  const deployment = async () => (await k.get(`${DEPLOY}/web`)).body;
  let lastState = '';
  /** The pods when the fewest were ready (for failure messages). */
  let minState = '';
  /** All 6 pods ready, all on `image`, and the Deployment says the rollout is complete. */
  const settledOn = async (image: string) => {
    const d = await deployment();
    const ps = (await pods()).filter((p) => !p.metadata.deletionTimestamp);
    const s = d.status ?? {};
    lastState = JSON.stringify({
      generation: d.metadata.generation,
      status: {
        ...s,
        conditions: s.conditions?.map(
          (c: { type: string; status: string; reason: string }) => `${c.type}=${c.status}/${c.reason}`,
        ),
      },
      pods: ps.map(
        (p) =>
          `${p.metadata.name}@${p.spec.nodeName ?? '-'} ${p.spec.containers[0].image.split('/').pop()} ${p.status?.phase}${isReady(p) ? ' ready' : ''}`,
      ),
    });
    return (
      s.observedGeneration >= d.metadata.generation &&
      s.updatedReplicas === 6 &&
      s.replicas === 6 &&
      s.availableReplicas === 6 &&
      ps.length === 6 &&
      ps.every((p) => isReady(p) && p.spec.containers[0].image === image)
    );
  };
  /** Samples ready pods every 100 ms until `done` resolves; returns the minimum seen. */
  const sampleReadyUntil = async (done: () => Promise<boolean>, timeoutMs: number) => {
    let min = Infinity;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ps = await pods();
      const ready = ps.filter(isReady).length;
      if (ready < min) {
        min = ready;
        minState = ps
          .map(
            (p) =>
              `${p.metadata.name}@${p.spec.nodeName ?? '-'} ${p.spec.containers[0].image.split('/').pop()} ${p.status?.phase}` +
              (p.metadata.deletionTimestamp ? ' deleting' : '') +
              ` ${JSON.stringify(p.status?.conditions?.find((c) => c.type === 'Ready') ?? {})}`,
          )
          .join('; ');
      }
      if (await done()) return min;
      if (Date.now() > deadline)
        throw new Error(`rollout did not finish in ${timeoutMs} ms; min ready ${min}`);
      await sleep(100);
    }
  };

  before(async () => {
    redis = await TestRedis.start();
    const tokenFile = path.join(dir.path, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const flags = [
      '--token-file',
      tokenFile,
      '--leader-elect-lease-duration',
      '4s',
      '--leader-elect-renew-deadline',
      '3s',
      '--leader-elect-retry-period',
      '500ms',
      '--node-monitor-grace-period',
      '5s',
      '--pod-eviction-timeout',
      '2s',
    ];
    leader = await startControlPlane({ redisUrl: redis.url, extraArgs: flags });
    k = api(leader.url, TOKEN);
    await waitFor(
      'the first control plane to lead',
      async () => {
        const l = await k.get(
          '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controller-manager',
        );
        return l.status === 200 && String(l.body.spec.holderIdentity).endsWith(`_${leader.port}`);
      },
      15_000,
    );
    standby = await startControlPlane({ redisUrl: redis.url, extraArgs: flags });
    reg = await startRegistry();
    v1 = (await buildBusyboxImage(reg, 'e2e/web', 'v1', { extraLayers: [{ files: { '/version': 'v1' } }] }))
      .ref;
    v2 = (await buildBusyboxImage(reg, 'e2e/web', 'v2', { extraLayers: [{ files: { '/version': 'v2' } }] }))
      .ref;
    // Agents talk to the standby so that killing the leader leaves them connected.
    for (const n of ['n1', 'n2', 'n3']) {
      agents.push(
        await startAgent({
          server: standby.url,
          token: TOKEN,
          nodeName: `cluster-${process.pid}-${n}`,
          extraArgs: ['--heartbeat-interval', '1s', '--restart-initial-delay', '500ms'],
        }),
      );
    }
    k = api(standby.url, TOKEN);
    await waitFor(
      'three Ready nodes',
      async () => {
        const ns = (await k.get('/api/v1/nodes')).body.items as Pod[];
        return (
          ns.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
            .length === 3
        );
      },
      30_000,
    );
  });

  after(async () => {
    for (const a of agents) {
      const pid = a.proc.child.pid;
      if (pid && frozen.has(pid)) process.kill(pid, 'SIGCONT');
    }
    for (const a of agents) await a.stop().catch(() => undefined);
    await reg?.stop().catch(() => undefined);
    await standby?.stop().catch(() => undefined);
    await leader?.stop().catch(() => undefined);
    await redis?.stop();
    dir.remove();
  });

  test('a Deployment of 6 replicas spreads 2/2/2 over three nodes', async () => {
    const res = await k.post(DEPLOY, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 6,
        selector: { matchLabels: { app: 'web' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'web',
                image: v1,
                command: [
                  'sh',
                  '-c',
                  'sleep 1; touch /tmp/ready; trap "exit 0" TERM; while true; do sleep 1; done',
                ],
                readinessProbe: {
                  exec: { command: ['cat', '/tmp/ready'] },
                  periodSeconds: 1,
                  timeoutSeconds: 5,
                },
              },
            ],
          },
        },
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await waitFor('6 ready pods on v1', () => settledOn(v1), 90_000).catch((e: Error) => {
      throw new Error(`${e.message}; last state ${lastState}`);
    });
    const spread = Object.values(perNode(await pods())).sort();
    assert.deepEqual(spread, [2, 2, 2]);
  });

  test('an image update rolls out without dropping below replicas - maxUnavailable ready pods', async () => {
    const patched = await k.patch(
      `${DEPLOY}/web`,
      {
        spec: { template: { spec: { containers: [{ name: 'web', image: v2 }] } } },
      },
      'application/strategic-merge-patch+json',
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const min = await sampleReadyUntil(() => settledOn(v2), 120_000);
    assert.ok(
      min >= 5,
      `ready pods dropped to ${min} during the rollout (replicas 6, maxUnavailable 1): ${minState}`,
    );
    const rs = (await k.get('/apis/apps/v1/namespaces/default/replicasets')).body.items as {
      metadata: { annotations: Record<string, string> };
      spec: { replicas: number };
    }[];
    assert.deepEqual(
      rs.map((r) => [r.metadata.annotations['deployment.kubernetes.io/revision'], r.spec.replicas]).sort(),
      [
        ['1', 0],
        ['2', 6],
      ],
    );
  });

  test('berthctl rollout undo returns the old image', async () => {
    const undo = await berthctl(standby.url, ['rollout', 'undo', 'deployment/web']);
    assert.equal(undo.code, 0, undo.stderr);
    assert.match(undo.stdout, /rolled back/);
    const min = await sampleReadyUntil(() => settledOn(v1), 120_000);
    assert.ok(min >= 5, `ready pods dropped to ${min} during the undo: ${minState}`);
    const status = await berthctl(standby.url, ['rollout', 'status', 'deployment/web', '--timeout', '30s']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /successfully rolled out/);
  });

  test('the leader dies mid-rollout; the other control plane finishes it', async () => {
    const patched = await k.patch(
      `${DEPLOY}/web`,
      {
        spec: { template: { spec: { containers: [{ name: 'web', image: v2 }] } } },
      },
      'application/strategic-merge-patch+json',
    );
    assert.equal(patched.status, 200);
    await waitFor(
      'the rollout to be under way',
      async () => (await pods()).some((p) => p.spec.containers[0].image === v2 && isReady(p)),
      60_000,
    );
    assert.equal(await settledOn(v2), false, 'still rolling');
    await leader.kill9();
    const min = await sampleReadyUntil(() => settledOn(v2), 120_000);
    assert.ok(min >= 5, `ready pods dropped to ${min} across the failover: ${minState}`);
    const l = await k.get(
      '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controller-manager',
    );
    assert.ok(String(l.body.spec.holderIdentity).endsWith(`_${standby.port}`), JSON.stringify(l.body.spec));
  });

  test('a frozen agent: its node goes NotReady, its pods are replaced elsewhere, and none runs twice after it resumes', async () => {
    const victim = agents[2];
    const before = (await pods()).filter((p) => p.spec.nodeName === victim.nodeName);
    assert.ok(before.length > 0, 'the victim runs some pods');
    const pid = victim.proc.child.pid!;
    process.kill(pid, 'SIGSTOP');
    frozen.add(pid);
    await waitFor(
      'the node to be NotReady',
      async () => {
        const n = (await k.get(`/api/v1/nodes/${victim.nodeName}`)).body;
        return n.status.conditions.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status !== 'True',
        );
      },
      30_000,
    );
    const evs = (await k.get(`/api/v1/events?fieldSelector=involvedObject.name=${victim.nodeName}`)).body
      .items;
    assert.ok(evs.some((e: { reason: string }) => e.reason === 'NodeNotReady'));
    await waitFor(
      'all 6 pods ready on the two other nodes',
      async () => {
        const ps = (await pods()).filter((p) => !p.metadata.deletionTimestamp);
        return ps.length === 6 && ps.every((p) => isReady(p) && p.spec.nodeName !== victim.nodeName);
      },
      90_000,
    );
    // Meanwhile the frozen node's old containers still run (conmon keeps them).
    const stale = before.map((p) => containerId(p.metadata.uid, 'web'));
    assert.ok(
      running(victim).some((id) => stale.includes(id)),
      'old containers survive the freeze',
    );
    process.kill(pid, 'SIGCONT');
    frozen.delete(pid);
    await waitFor(
      'the resumed agent to stop the containers of its evicted pods',
      async () => !running(victim).some((id) => stale.includes(id)),
      30_000,
    );
    // Every running container on every node belongs to a live pod bound to that node: nothing twice.
    const live = await pods();
    for (const a of agents) {
      const want = live
        .filter((p) => p.spec.nodeName === a.nodeName)
        .map((p) => containerId(p.metadata.uid, 'web'));
      for (const id of running(a))
        assert.ok(want.includes(id), `${a.nodeName} runs ${id}, which no live pod of it owns`);
    }
    await waitFor(
      'the node to be Ready again',
      async () => {
        const n = (await k.get(`/api/v1/nodes/${victim.nodeName}`)).body;
        return (
          n.status.conditions.some(
            (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
          ) && !n.spec?.taints?.length
        );
      },
      30_000,
    );
  });

  test('a pod whose requests fit no node stays Pending with the reason', async () => {
    const res = await k.post(PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'too-big' },
      spec: { containers: [{ name: 'c', image: v1, resources: { requests: { memory: '64Ti' } } }] },
    });
    assert.equal(res.status, 201);
    const cond = await waitFor(
      'the Unschedulable condition',
      async () => {
        const p = (await k.get(`${PODS}/too-big`)).body as Pod;
        return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
      },
      30_000,
    );
    assert.equal(cond.reason, 'Unschedulable');
    assert.match(cond.message ?? '', /^0\/3 nodes are available: .*\bInsufficient memory/);
    const p = (await k.get(`${PODS}/too-big`)).body as Pod;
    assert.equal(p.spec.nodeName, undefined);
    assert.equal(p.status?.phase ?? 'Pending', 'Pending');
    const evs = (await k.get('/api/v1/events?fieldSelector=involvedObject.name=too-big')).body.items;
    assert.ok(
      evs.some(
        (e: { reason: string; message: string }) =>
          e.reason === 'FailedScheduling' && /Insufficient memory/.test(e.message),
      ),
      JSON.stringify(evs),
    );
    await k.delete(`${PODS}/too-big`);
  });
});
