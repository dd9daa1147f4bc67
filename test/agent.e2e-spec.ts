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
  sleep,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

const isRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

function pod(
  name: string,
  node: string,
  image: string,
  extra: Record<string, any> = {},
  container: Record<string, any> = {},
) {
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

describe(
  'agent e2e (control plane + registry + runc)',
  { skip: !isRoot && 'needs root, runc and conmon' },
  () => {
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
        extraArgs: [
          '--restart-initial-delay',
          '500ms',
          '--restart-max-delay',
          '4s',
          '--heartbeat-interval',
          '1s',
        ],
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
      await waitFor(
        'a later heartbeat',
        async () => {
          const m = (await k.get(`/api/v1/nodes/${node}`)).body;
          return m.status.conditions.find((c: any) => c.type === 'Ready').lastHeartbeatTime !== first;
        },
        10_000,
      );
    });

    test('a Pod becomes Running: PID 1 is the command, hostname is the pod name, root is the image, only lo, memory limit', async () => {
      const r = await k.post(
        '/api/v1/namespaces/default/pods',
        pod(
          'web',
          node,
          image,
          {},
          {
            command: ['sleep', '3600'],
            resources: { limits: { memory: '64Mi' } },
          },
        ),
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
      const hostLimit = readFileSync(
        `/sys/fs/cgroup/memory/berth/${p.metadata.uid}/${id}/memory.limit_in_bytes`,
        'utf8',
      ).trim();
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

      await k.post(
        '/api/v1/namespaces/default/pods',
        pod('web2', node, image, {}, { command: ['sleep', '3600'] }),
      );
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

    test('a layer that deletes a file of a lower layer: the file is absent in the container', async () => {
      const wh = (
        await buildBusyboxImage(reg, 'e2e/whiteout', 'v1', {
          format: 'oci',
          extraLayers: [{ files: { 'etc/doomed': 'x', 'etc/kept': 'y' } }, { delete: ['etc/doomed'] }],
        })
      ).ref;
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod('wh', node, wh, {}, { command: ['sleep', '3600'] }),
      );
      const cs = await waitFor('wh running', async () => {
        const c = await containerStatus('wh');
        return c?.state?.running ? c : undefined;
      });
      const id = idOf(cs);
      assert.equal(runcExec(id, ['cat', '/etc/kept']), 'y');
      assert.equal(
        runcExec(id, ['sh', '-c', 'test -e /etc/doomed && echo present || echo absent']).trim(),
        'absent',
      );
      await k.delete('/api/v1/namespaces/default/pods/wh');
    });

    test('Always: restarted with rising delay, restartCount counts, CrashLoopBackOff, logs --previous shows the last run', async () => {
      const script =
        'n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; echo run $n; exit 1';
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod(
          'crash',
          node,
          image,
          { volumes: [{ name: 'data', emptyDir: {} }] },
          { command: ['sh', '-c', script], volumeMounts: [{ name: 'data', mountPath: '/data' }] },
        ),
      );
      // the waiting message names each delay ("back-off 2s restarting failed container main")
      const delays: number[] = [];
      const runs = new Set<string>();
      await waitFor(
        '5 restarts',
        async () => {
          const x = await getPod('crash');
          const c = x.status?.containerStatuses?.[0];
          if (!c) return false;
          const w = c.state?.waiting;
          if (w?.reason === 'CrashLoopBackOff') {
            const d = Number(/back-off (\d+)s/.exec(w.message ?? '')?.[1]);
            if (d && delays[delays.length - 1] !== d) delays.push(d);
          }
          const t = c.lastState?.terminated;
          if (t) {
            assert.equal(t.exitCode, 1);
            assert.equal(t.reason, 'Error');
            runs.add(t.startedAt);
          }
          return c.restartCount >= 5 && delays.length >= 2;
        },
        60_000,
      );
      assert.equal((await getPod('crash')).status.phase, 'Running');
      assert.ok(runs.size >= 2, 'lastState follows each run');
      for (let i = 1; i < delays.length; i++)
        assert.ok(delays[i] > delays[i - 1], `delays rise: ${delays.join(', ')} s`);

      // logs: the current run and the previous one, through the agent's endpoint
      const logs = async (q: string) => {
        const res = await fetch(`${agent.url}/containerLogs/default/crash/main${q}`, {
          headers: { authorization: `Bearer ${cp.token}` },
        });
        return { status: res.status, text: await res.text() };
      };
      const cur = await waitFor('a current log', async () => {
        const r = await logs('');
        return r.status === 200 && /run \d+/.test(r.text) ? r : undefined;
      });
      const prev = await logs('?previous=true');
      assert.equal(prev.status, 200, prev.text);
      const n = Number(/run (\d+)/.exec(cur.text)![1]);
      const p = Number(/run (\d+)/.exec(prev.text)![1]);
      assert.ok(p < n, `previous run ${p} before current ${n}`);
      const unauth = await fetch(`${agent.url}/containerLogs/default/crash/main`);
      assert.equal(unauth.status, 401);
      // `logs --previous` through the control plane
      const viaCp = await fetch(`${cp.url}/api/v1/namespaces/default/pods/crash/log?previous=true`, {
        headers: { authorization: `Bearer ${cp.token}` },
      });
      assert.equal(viaCp.status, 200);
      assert.match(await viaCp.text(), /^run \d+\n$/);
      await k.delete('/api/v1/namespaces/default/pods/crash');
    });

    test('OnFailure with exit 0 ends Completed (Succeeded); Never stays Terminated (Failed)', async () => {
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod(
          'ok-once',
          node,
          image,
          { restartPolicy: 'OnFailure' },
          { command: ['sh', '-c', 'echo done; exit 0'] },
        ),
      );
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod('fail-once', node, image, { restartPolicy: 'Never' }, { command: ['sh', '-c', 'exit 3'] }),
      );
      const ok = await waitFor('ok-once Succeeded', async () => {
        const x = await getPod('ok-once');
        return x.status?.phase === 'Succeeded' ? x : undefined;
      });
      const t = ok.status.containerStatuses[0].state.terminated;
      assert.equal(t.exitCode, 0);
      assert.equal(t.reason, 'Completed');
      assert.equal(ok.status.containerStatuses[0].restartCount, 0);
      const failed = await waitFor('fail-once Failed', async () => {
        const x = await getPod('fail-once');
        return x.status?.phase === 'Failed' ? x : undefined;
      });
      const ft = failed.status.containerStatuses[0].state.terminated;
      assert.equal(ft.exitCode, 3);
      assert.equal(ft.reason, 'Error');
      await sleep(1500);
      const still = await getPod('fail-once');
      assert.equal(still.status.phase, 'Failed');
      assert.equal(still.status.containerStatuses[0].restartCount, 0);
      await k.delete('/api/v1/namespaces/default/pods/ok-once');
      await k.delete('/api/v1/namespaces/default/pods/fail-once');
    });

    test('kill -9 the agent: containers keep running; the restarted agent reports them, including one that exited meanwhile', async () => {
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod('survivor', node, image, {}, { command: ['sleep', '3600'] }),
      );
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod('dies', node, image, { restartPolicy: 'Never' }, { command: ['sh', '-c', 'sleep 3; exit 7'] }),
      );
      const running = async (name: string) =>
        waitFor(`${name} running`, async () => {
          const c = await containerStatus(name);
          return c?.state?.running ? c : undefined;
        });
      const s0 = await running('survivor');
      const d0 = await running('dies');
      const runcState = (id: string) => {
        try {
          return JSON.parse(
            execFileSync('runc', ['--root', agent.runcRoot, 'state', id], { encoding: 'utf8' }),
          ) as {
            status: string;
            pid: number;
          };
        } catch {
          return undefined;
        }
      };
      const pid0 = runcState(idOf(s0))!.pid;
      await agent.kill9();
      assert.equal(runcState(idOf(s0))?.status, 'running', 'the container outlives the agent');
      // 'dies' exits while nobody watches
      await waitFor(
        'dies to exit while the agent is down',
        async () => runcState(idOf(d0))?.status !== 'running',
        20_000,
      );
      await agent.restart();
      const d1 = await waitFor('dies reported Terminated', async () => {
        const c = await containerStatus('dies');
        return c?.state?.terminated ? c : undefined;
      });
      assert.equal(d1.state.terminated.exitCode, 7);
      assert.equal((await getPod('dies')).status.phase, 'Failed');
      const s1 = await containerStatus('survivor');
      assert.ok(s1.state.running, 'still running');
      assert.equal(s1.containerID, s0.containerID);
      assert.equal(s1.state.running.startedAt, s0.state.running.startedAt);
      assert.equal(s1.restartCount, 0);
      assert.equal(runcState(idOf(s1))!.pid, pid0);
      await k.delete('/api/v1/namespaces/default/pods/survivor');
      await k.delete('/api/v1/namespaces/default/pods/dies');
    });

    test('--on-exit stop (as berthctl up runs it): SIGTERM to the agent stops its containers, leaves no mount; the pod stays', async () => {
      const node2 = `${node}-stop`;
      const a2 = await startAgent({
        server: cp.url,
        token: cp.token,
        nodeName: node2,
        extraArgs: ['--on-exit', 'stop'],
      });
      try {
        await k.post(
          '/api/v1/namespaces/default/pods',
          pod('stopped-with-agent', node2, image, {}, { command: ['sleep', '3600'] }),
        );
        const cs = await waitFor('running on the second agent', async () => {
          const c = await containerStatus('stopped-with-agent');
          return c?.state?.running ? c : undefined;
        });
        const id = idOf(cs);
        const listed = () =>
          execFileSync('runc', ['--root', a2.runcRoot, 'list', '-q'], { encoding: 'utf8' });
        assert.ok(listed().includes(id));
        await a2.proc.stop(60_000);
        assert.equal(await a2.proc.exited, 0, a2.proc.output);
        assert.equal(listed().includes(id), false, 'the container was stopped and deleted');
        assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(id), false, 'no mount left');
        assert.equal(
          (await k.get('/api/v1/namespaces/default/pods/stopped-with-agent')).status,
          200,
          'the pod stays in the API',
        );
      } finally {
        await k.delete('/api/v1/namespaces/default/pods/stopped-with-agent');
        await a2.stop();
      }
    });

    test('missing image: ErrImagePull then ImagePullBackOff, then Running once the image is pushed', async () => {
      const ref = `${reg.host}/e2e/late:v1`;
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod('late', node, ref, {}, { command: ['sleep', '3600'] }),
      );
      const seen = new Set<string>();
      await waitFor(
        'ErrImagePull and ImagePullBackOff',
        async () => {
          const w = (await containerStatus('late'))?.state?.waiting;
          if (w?.reason) seen.add(w.reason);
          if (w?.reason === 'ErrImagePull') assert.match(w.message, /late/);
          return seen.has('ErrImagePull') && seen.has('ImagePullBackOff');
        },
        30_000,
      ).catch(async (e: Error) => {
        const st = JSON.stringify((await getPod('late')).status);
        throw new Error(
          `${e.message}; seen ${[...seen].join(',')}; status ${st}; agent: ${agent.proc.output.slice(-3000)}`,
        );
      });
      assert.equal((await getPod('late')).status.phase, 'Pending');
      const events = (await k.get('/api/v1/namespaces/default/events')).body.items.filter(
        (e: any) => e.involvedObject.name === 'late',
      );
      assert.ok(
        events.some((e: any) => e.reason === 'Failed' && e.type === 'Warning'),
        'a Failed event',
      );
      await buildBusyboxImage(reg, 'e2e/late', 'v1');
      const c = await waitFor(
        'late running',
        async () => {
          const x = await containerStatus('late');
          return x?.state?.running ? x : undefined;
        },
        30_000,
      );
      assert.match(c.imageID, /e2e\/late@sha256:/);
      await k.delete('/api/v1/namespaces/default/pods/late');
    });

    test('delete: SIGTERM then SIGKILL after the grace period; no mounts, cgroups, processes or directories left', async () => {
      await k.post(
        '/api/v1/namespaces/default/pods',
        pod(
          'gone',
          node,
          image,
          { volumes: [{ name: 'scratch', emptyDir: {} }] },
          {
            command: ['sleep', '3600'],
            volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
          },
        ),
      );
      const c = await waitFor('gone running', async () => {
        const x = await containerStatus('gone');
        return x?.state?.running ? x : undefined;
      });
      const uid = (await getPod('gone')).metadata.uid;
      const id = idOf(c);
      const state = JSON.parse(
        execFileSync('runc', ['--root', agent.runcRoot, 'state', id], { encoding: 'utf8' }),
      );
      const pid = state.pid as number;
      const bundle = path.join(agent.dataDir, 'bundles', id);
      const cgroup = `/sys/fs/cgroup/memory/berth/${uid}/${id}`;
      assert.ok(existsSync(cgroup));
      assert.ok(existsSync(path.join(agent.dataDir, 'pods', uid)));
      const r = await k.delete('/api/v1/namespaces/default/pods/gone');
      assert.equal(r.status, 200);
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor(
        'everything removed',
        async () =>
          !alive() &&
          !existsSync(bundle) &&
          !existsSync(path.dirname(cgroup)) &&
          !existsSync(path.join(agent.dataDir, 'pods', uid)) &&
          !existsSync(path.join(agent.dataDir, 'logs', `${id}.log`)),
      );
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
      assert.equal(mounts.includes(id), false, 'no mount of the container');
      const cgroups = execFileSync(
        'sh',
        ['-c', `find /sys/fs/cgroup -maxdepth 4 -path '*berth/${uid}*' 2>/dev/null || true`],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(cgroups.trim(), '', 'no cgroup of the pod in any hierarchy');
      assert.equal(
        execFileSync('runc', ['--root', agent.runcRoot, 'list', '-q'], { encoding: 'utf8' }).includes(id),
        false,
      );
    });
  },
);
