// End-to-end: probes run by the agent, the node Lease, and an agent that resumes after being
// stopped. A real control plane (real redis), a real registry and real runc/conmon/overlayfs/
// cgroups; busybox httpd and nc inside the containers. Needs root. Everything is cleaned up in after().
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LinuxProbeExecutor } from '../apps/agent/src/probes/probe-executor';
import {
  Managed,
  TestRedis,
  api,
  buildBusyboxImage,
  freePort,
  startAgent,
  startControlPlane,
  startRegistry,
  tempDir,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

const isRoot =
  process.getuid?.() === 0 &&
  existsSync('/usr/sbin/runc') &&
  existsSync('/usr/bin/conmon') &&
  existsSync('/usr/bin/nsenter') &&
  existsSync('/bin/busybox');

type Json = Record<string, any>;

function pod(name: string, node: string, image: string, container: Json, extra: Json = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image, ...container }],
      ...extra,
    },
  };
}

describe(
  'agent probes, node lease and resume (control plane + registry + runc)',
  { skip: !isRoot && 'needs root, runc, conmon, nsenter and busybox' },
  () => {
    let redis: TestRedis;
    let cp: ControlPlane;
    let reg: TestRegistry;
    let agent: TestAgent;
    let k: ApiCaller;
    let image: string;
    const node = `probes-e2e-${process.pid}`;

    const getPod = async (name: string): Promise<Json> =>
      (await k.get(`/api/v1/namespaces/default/pods/${name}`)).body;
    const condition = (p: Json, type: string) =>
      p.status?.conditions?.find((c: Json) => c.type === type)?.status as string | undefined;
    const eventsOf = async (name: string): Promise<Json[]> =>
      ((await k.get('/api/v1/namespaces/default/events')).body.items as Json[]).filter(
        (e) => e.involvedObject?.name === name,
      );
    const idOf = (p: Json) => String(p.status.containerStatuses[0].containerID).replace(/^runc:\/\//, '');
    const runcExec = (id: string, args: string[]) =>
      execFileSync('runc', ['--root', agent.runcRoot, 'exec', id, ...args], { encoding: 'utf8' });
    const runcState = (id: string) => {
      try {
        return JSON.parse(
          execFileSync('runc', ['--root', agent.runcRoot, 'state', id], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          }),
        ) as Json;
      } catch {
        return undefined;
      }
    };
    const create = async (body: Json) => {
      const r = await k.post('/api/v1/namespaces/default/pods', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };
    const httpd = 'mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 127.0.0.1:8080 -h /www';

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
        // the full Node status only when it changes: the Lease alone carries the heartbeat
        extraArgs: [
          '--restart-initial-delay',
          '200ms',
          '--restart-max-delay',
          '2s',
          '--heartbeat-interval',
          '1s',
          '--status-report-interval',
          '1h',
        ],
      });
    });

    after(async () => {
      // a test that failed half way may have left the agent stopped
      if (agent?.proc.child.pid) {
        try {
          process.kill(agent.proc.child.pid, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
      await agent?.stop();
      await reg?.stop();
      await cp?.stop();
      await redis?.stop();
    });

    test('a failing liveness exec probe restarts the container: Unhealthy and Killing events, restartCount rises', async () => {
      await create(
        pod('live', node, image, {
          command: ['sh', '-c', 'touch /tmp/alive; exec sleep 3600'],
          livenessProbe: { exec: { command: ['cat', '/tmp/alive'] }, periodSeconds: 1, failureThreshold: 2 },
        }),
      );
      const p = await waitFor('live Running and ready', async () => {
        const x = await getPod('live');
        return x.status?.containerStatuses?.[0]?.ready ? x : undefined;
      });
      assert.equal(p.status.containerStatuses[0].restartCount, 0);
      const firstId = idOf(p);
      const firstPid = runcState(firstId)?.pid as number;
      runcExec(firstId, ['rm', '/tmp/alive']);
      const restarted = await waitFor('live restarted', async () => {
        const x = await getPod('live');
        const cs = x.status?.containerStatuses?.[0];
        return cs?.restartCount >= 1 && cs.state?.running ? x : undefined;
      });
      const cs = restarted.status.containerStatuses[0];
      assert.ok(cs.lastState?.terminated, 'the killed run is the last state');
      assert.notEqual(runcState(firstId)?.pid, firstPid, 'a new process');
      const evs = await eventsOf('live');
      const unhealthy = evs.filter((e) => e.reason === 'Unhealthy');
      // Each failed probe is one occurrence; repeats of the same message aggregate into a count.
      const occurrences = unhealthy.reduce((n, e) => n + (e.count ?? 1), 0);
      assert.ok(occurrences >= 2, `one Unhealthy occurrence per failed probe: ${JSON.stringify(unhealthy)}`);
      assert.equal(unhealthy[0].type, 'Warning');
      assert.match(unhealthy[0].message, /^Liveness probe failed: /);
      assert.equal(unhealthy[0].involvedObject.fieldPath, 'spec.containers{main}');
      const killing = evs.find((e) => e.reason === 'Killing');
      assert.equal(killing?.message, 'Container main failed liveness probe, will be restarted');
      // the new run recreated /tmp/alive: it is probed afresh and passes, so it stays up
      const again = await waitFor('the restarted container probed and ready', async () => {
        const x = await getPod('live');
        return x.status?.containerStatuses?.[0]?.ready ? x : undefined;
      });
      assert.equal(again.status.containerStatuses[0].restartCount, cs.restartCount);
      await k.delete('/api/v1/namespaces/default/pods/live');
    });

    test('an httpGet readiness probe against busybox httpd: Ready only while the probed file exists, never restarted', async () => {
      await create(
        pod('ready', node, image, {
          command: ['sh', '-c', httpd],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: {
            httpGet: { path: '/healthz', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'berth' }] },
            periodSeconds: 1,
            failureThreshold: 1,
          },
        }),
      );
      const p = await waitFor('ready: Ready True', async () => {
        const x = await getPod('ready');
        return condition(x, 'Ready') === 'True' ? x : undefined;
      });
      assert.equal(condition(p, 'ContainersReady'), 'True');
      assert.equal(p.status.containerStatuses[0].ready, true);
      const id = idOf(p);
      runcExec(id, ['rm', '/www/healthz']);
      const down = await waitFor('ready: Ready False', async () => {
        const x = await getPod('ready');
        return condition(x, 'Ready') === 'False' ? x : undefined;
      });
      assert.equal(condition(down, 'ContainersReady'), 'False');
      assert.equal(down.status.containerStatuses[0].ready, false);
      assert.equal(down.status.phase, 'Running');
      assert.ok(down.status.containerStatuses[0].state.running, 'still running: readiness never restarts');
      const ev = await waitFor('a Readiness Unhealthy event', async () =>
        (await eventsOf('ready')).find((e) => e.reason === 'Unhealthy'),
      );
      assert.equal(ev.message, 'Readiness probe failed: HTTP probe failed with statuscode: 404');
      runcExec(id, ['sh', '-c', 'echo ok > /www/healthz']);
      const up = await waitFor('ready: Ready True again', async () => {
        const x = await getPod('ready');
        return condition(x, 'Ready') === 'True' ? x : undefined;
      });
      assert.equal(up.status.containerStatuses[0].restartCount, 0);
      assert.equal(
        (await eventsOf('ready')).some((e) => e.reason === 'Killing'),
        false,
      );
      await k.delete('/api/v1/namespaces/default/pods/ready');
    });

    test('tcpSocket readiness: a listening port makes the pod Ready, a port nobody listens on keeps it not ready', async () => {
      await create(
        pod('tcp-open', node, image, {
          command: ['sh', '-c', httpd],
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        }),
      );
      await create(
        pod('tcp-closed', node, image, {
          command: ['sh', '-c', httpd],
          readinessProbe: { tcpSocket: { port: 9999 }, periodSeconds: 1, failureThreshold: 1 },
        }),
      );
      await waitFor('tcp-open Ready', async () => condition(await getPod('tcp-open'), 'Ready') === 'True');
      // three failed probes seen, and the pod never became ready
      const evs = await waitFor('three failed tcp probes', async () => {
        const e = (await eventsOf('tcp-closed')).filter((x) => x.reason === 'Unhealthy');
        return e.reduce((n, x) => n + (x.count ?? 1), 0) >= 3 ? e : undefined;
      });
      assert.equal(evs.length, 1, 'identical failures aggregate into one Event');
      assert.equal(
        evs[0].message,
        'Readiness probe failed: dial tcp 127.0.0.1:9999: connect: connection refused',
      );
      const p = await getPod('tcp-closed');
      assert.equal(p.status.phase, 'Running');
      assert.equal(condition(p, 'Ready'), 'False');
      assert.equal(p.status.containerStatuses[0].ready, false);
      await k.delete('/api/v1/namespaces/default/pods/tcp-open');
      await k.delete('/api/v1/namespaces/default/pods/tcp-closed');
    });

    test('the agent keeps a Lease in kube-node-lease owned by its Node and renews it', async () => {
      const nodeObj = (await k.get(`/api/v1/nodes/${node}`)).body;
      const ns = await k.get('/api/v1/namespaces/kube-node-lease');
      assert.equal(ns.status, 200);
      const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}`;
      const l = (await k.get(path)).body;
      assert.equal(l.spec.holderIdentity, node);
      assert.equal(l.spec.leaseDurationSeconds, 40);
      assert.match(l.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.deepEqual(l.metadata.ownerReferences, [
        { apiVersion: 'v1', kind: 'Node', name: node, uid: nodeObj.metadata.uid },
      ]);
      const heartbeat = async () =>
        ((await k.get(`/api/v1/nodes/${node}`)).body.status.conditions as Json[]).find(
          (c) => c.type === 'Ready',
        )?.lastHeartbeatTime as string;
      const before = await heartbeat();
      // three renewals, and the Node status was not rewritten for them
      let seen = l.spec.renewTime as string;
      for (let i = 0; i < 3; i++)
        seen = await waitFor('a renewal', async () => {
          const t = (await k.get(path)).body.spec.renewTime as string;
          return t !== seen ? t : undefined;
        });
      assert.equal(await heartbeat(), before, 'an unchanged status is not posted at every heartbeat');
    });

    test('after SIGSTOP/SIGCONT the agent kills the containers of pods deleted meanwhile and puts Ready back to True', async () => {
      await create(pod('doomed', node, image, { command: ['sleep', '3600'] }));
      const p = await waitFor('doomed running', async () => {
        const x = await getPod('doomed');
        return x.status?.containerStatuses?.[0]?.state?.running ? x : undefined;
      });
      const id = idOf(p);
      assert.equal(runcState(id)?.status, 'running');
      const pid = agent.proc.child.pid!;
      process.kill(pid, 'SIGSTOP');
      try {
        const del = await k.delete('/api/v1/namespaces/default/pods/doomed');
        assert.ok(del.status < 300, JSON.stringify(del.body));
        // what the node-lifecycle controller writes when the lease runs out
        const n = (await k.get(`/api/v1/nodes/${node}`)).body;
        n.status.conditions = n.status.conditions.map((c: Json) =>
          c.type === 'Ready' ? { ...c, status: 'Unknown', reason: 'NodeStatusUnknown' } : c,
        );
        const w = await k.put(`/api/v1/nodes/${node}/status`, n);
        assert.equal(w.status, 200, JSON.stringify(w.body));
        assert.equal(runcState(id)?.status, 'running', 'nothing happens while the agent is stopped');
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await waitFor('the deleted pod’s container gone', async () => runcState(id) === undefined);
      await waitFor('Ready True again', async () => {
        const n = (await k.get(`/api/v1/nodes/${node}`)).body;
        return n.status.conditions.find((c: Json) => c.type === 'Ready')?.status === 'True';
      });
    });
  },
);

describe(
  'LinuxProbeExecutor against real servers on 127.0.0.1 (hostNetwork: no namespace to enter)',
  { skip: !(existsSync('/bin/busybox') && existsSync('/usr/bin/openssl')) && 'needs busybox and openssl' },
  () => {
    const target = { id: 'none', pid: 0, hostNetwork: true, ports: [{ name: 'web', containerPort: 0 }] };
    const exec = new LinuxProbeExecutor({ runtimeBinary: '/usr/sbin/runc', runtimeRoot: '/nonexistent' });
    let dir: { path: string; remove(): void };
    let httpd: Managed;
    let tls: Managed;
    let silent: net.Server;
    const silentSockets = new Set<net.Socket>();
    let httpPort: number;
    let tlsPort: number;
    let silentPort: number;
    let closedPort: number;

    const listening = (port: number) =>
      waitFor(`127.0.0.1:${port} listening`, () => {
        return new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
      });

    before(async () => {
      dir = tempDir('berth-probe-e2e-');
      const www = path.join(dir.path, 'www');
      mkdirSync(www);
      writeFileSync(path.join(www, 'healthz'), 'ok\n');
      [httpPort, tlsPort, closedPort] = [await freePort(), await freePort(), await freePort()];
      target.ports[0].containerPort = httpPort;
      httpd = new Managed('httpd', '/bin/busybox', ['httpd', '-f', '-p', `127.0.0.1:${httpPort}`, '-h', www]);
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-keyout',
          path.join(dir.path, 'k.pem'),
          '-out',
          path.join(dir.path, 'c.pem'),
        ],
        { stdio: 'ignore' },
      );
      tls = new Managed(
        'openssl s_server',
        'openssl',
        [
          's_server',
          '-accept',
          `127.0.0.1:${tlsPort}`,
          '-key',
          '../k.pem',
          '-cert',
          '../c.pem',
          '-WWW',
          '-quiet',
        ],
        { cwd: www },
      );
      // accepts connections and never answers
      silent = net.createServer((sock) => void silentSockets.add(sock));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      silentPort = (silent.address() as net.AddressInfo).port;
      await listening(httpPort);
      await listening(tlsPort);
    });

    after(async () => {
      await httpd?.stop();
      await tls?.stop();
      for (const sock of silentSockets) sock.destroy();
      await new Promise((r) => (silent ? silent.close(r) : r(undefined)));
      dir?.remove();
    });

    test('httpGet: 200 on a file, statuscode 404 on a missing one, connection refused on a closed port; named ports', async () => {
      assert.deepEqual(await exec.run({ httpGet: { port: 'web', path: '/healthz' } }, target, 2000), {
        outcome: 'success',
        message: '',
      });
      assert.deepEqual(await exec.run({ httpGet: { port: httpPort, path: '/missing' } }, target, 2000), {
        outcome: 'failure',
        message: 'HTTP probe failed with statuscode: 404',
      });
      const refused = await exec.run({ httpGet: { port: closedPort } }, target, 2000);
      assert.equal(refused.outcome, 'failure');
      assert.equal(
        refused.message,
        `Get "http://127.0.0.1:${closedPort}/": dial tcp 127.0.0.1:${closedPort}: connect: connection refused`,
      );
    });

    test('httpGet HTTPS through openssl s_client (self-signed certificate not verified)', async () => {
      const ok = await exec.run(
        { httpGet: { port: tlsPort, path: '/healthz', scheme: 'HTTPS' } },
        target,
        3000,
      );
      assert.deepEqual(ok, { outcome: 'success', message: '' });
      const refused = await exec.run({ httpGet: { port: closedPort, scheme: 'HTTPS' } }, target, 3000);
      assert.equal(refused.outcome, 'failure');
      assert.match(refused.message, /connection refused/);
    });

    test('a server that never answers fails the probe at its timeout, and the helper is gone', async () => {
      const r = await exec.run({ httpGet: { port: silentPort } }, target, 1000);
      assert.equal(r.outcome, 'failure');
      assert.match(r.message, /context deadline exceeded/);
      const tcp = await exec.run({ tcpSocket: { port: silentPort } }, target, 1000);
      assert.deepEqual(tcp, { outcome: 'success', message: '' }, 'tcpSocket only needs the connection');
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      assert.equal(ps.includes(`nc -w 1 127.0.0.1 ${silentPort}`), false, 'no nc left behind');
    });
  },
);
