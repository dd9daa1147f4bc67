// End-to-end: what a pod draws from the API and the agent's settings — ConfigMap/Secret env and
// volumes, field refs, imagePullSecrets against a basic-auth registry, a registry mirror for
// docker.io, and flag validation at boot. Needs root; cleans up by id in after().
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  TestRedis,
  api,
  buildBusyboxImage,
  startAgent,
  startControlPlane,
  startRegistry,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

const isRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

describe(
  'agent e2e: config sources, pull secrets, mirrors, flags',
  { skip: !isRoot && 'needs root, runc and conmon' },
  () => {
    let redis: TestRedis;
    let cp: ControlPlane;
    let plain: TestRegistry;
    let authed: TestRegistry;
    let agent: TestAgent;
    let k: ApiCaller;
    let image: string;
    const node = `agent-src-${process.pid}`;
    const user = { user: 'puller', pass: 'pa55word' };

    const getPod = async (name: string) => (await k.get(`/api/v1/namespaces/default/pods/${name}`)).body;
    const running = (name: string, timeoutMs = 30_000) =>
      waitFor(
        `${name} running`,
        async () => {
          const c = (await getPod(name)).status?.containerStatuses?.[0];
          return c?.state?.running ? c : undefined;
        },
        timeoutMs,
      );
    const exec = (cid: string, args: string[]) =>
      execFileSync('runc', ['--root', agent.runcRoot, 'exec', cid.replace(/^runc:\/\//, ''), ...args], {
        encoding: 'utf8',
      });
    const create = async (obj: object) => {
      const r = await k.post(
        `/api/v1/namespaces/default/${(obj as { kind: string }).kind.toLowerCase()}s`,
        obj,
      );
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };

    before(async () => {
      redis = await TestRedis.start();
      cp = await startControlPlane({ redisUrl: redis.url });
      k = api(cp.url, cp.token);
      plain = await startRegistry();
      authed = await startRegistry({ htpasswd: user });
      image = (await buildBusyboxImage(plain, 'src/busybox', 'v1')).ref;
      // what `busybox:mirror-test` (docker.io/library/busybox) resolves to through the mirror
      await buildBusyboxImage(plain, 'library/busybox', 'mirror-test', { format: 'v2s2' });
      await buildBusyboxImage(authed, 'private/busybox', 'v1', { creds: user });
      agent = await startAgent({
        server: cp.url,
        token: cp.token,
        nodeName: node,
        extraArgs: [
          '--registry-mirror',
          `docker.io=${plain.url}`,
          '--restart-initial-delay',
          '500ms',
          '--restart-max-delay',
          '2s',
        ],
      });
    });

    after(async () => {
      await agent?.stop();
      await authed?.stop();
      await plain?.stop();
      await cp?.stop();
      await redis?.stop();
    });

    test('env from ConfigMap, Secret and field refs; configMap and secret volumes as files', async () => {
      await create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'app-config', namespace: 'default' },
        data: { mode: 'fast', 'a.conf': 'x=1\n' },
      });
      await create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'app-secret', namespace: 'default' },
        type: 'Opaque',
        data: { password: Buffer.from('hunter2').toString('base64') },
      });
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'cfg', namespace: 'default', labels: { app: 'cfg' } },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          volumes: [
            {
              name: 'conf',
              configMap: { name: 'app-config', items: [{ key: 'a.conf', path: 'app/a.conf' }] },
            },
            { name: 'sec', secret: { secretName: 'app-secret', defaultMode: 0o400 } },
          ],
          containers: [
            {
              name: 'main',
              image,
              command: ['sleep', '3600'],
              workingDir: '/tmp',
              envFrom: [{ configMapRef: { name: 'app-config' }, prefix: 'CFG_' }],
              env: [
                { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'mode' } } },
                { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'GREETING', value: 'hello $(POD_NAME)' },
              ],
              volumeMounts: [
                { name: 'conf', mountPath: '/etc/app', readOnly: true },
                { name: 'sec', mountPath: '/etc/secret', readOnly: true },
              ],
            },
          ],
        },
      });
      const c = await running('cfg');
      const env = Object.fromEntries(
        exec(c.containerID, ['env'])
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      assert.equal(env.MODE, 'fast');
      assert.equal(env.CFG_mode, 'fast');
      assert.equal(env.PASSWORD, 'hunter2');
      assert.equal(env.POD_NAME, 'cfg');
      assert.equal(env.POD_NS, 'default');
      assert.equal(env.NODE, node);
      assert.equal(env.GREETING, 'hello cfg');
      assert.equal(exec(c.containerID, ['pwd']).trim(), '/tmp');
      assert.equal(exec(c.containerID, ['cat', '/etc/app/app/a.conf']), 'x=1\n');
      assert.equal(exec(c.containerID, ['cat', '/etc/secret/password']), 'hunter2');
      assert.equal(exec(c.containerID, ['stat', '-c', '%a', '/etc/secret/password']).trim(), '400');
      const ro = spawnSync(
        'runc',
        ['--root', agent.runcRoot, 'exec', c.containerID.slice(7), 'touch', '/etc/app/new'],
        {
          encoding: 'utf8',
        },
      );
      assert.notEqual(ro.status, 0, 'readOnly volume mounts are read-only');
      await k.delete('/api/v1/namespaces/default/pods/cfg');
    });

    test('a missing ConfigMap is CreateContainerConfigError, then the pod starts once it exists', async () => {
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'needs-cm', namespace: 'default' },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image,
              command: ['sleep', '3600'],
              env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'late-cm', key: 'x' } } }],
            },
          ],
        },
      });
      const w = await waitFor('CreateContainerConfigError', async () => {
        const s = (await getPod('needs-cm')).status?.containerStatuses?.[0]?.state?.waiting;
        return s?.reason === 'CreateContainerConfigError' ? s : undefined;
      });
      assert.match(w.message, /configmap "late-cm" not found/);
      await create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'late-cm', namespace: 'default' },
        data: { x: '42' },
      });
      const c = await running('needs-cm');
      assert.match(exec(c.containerID, ['env']), /^X=42$/m);
      await k.delete('/api/v1/namespaces/default/pods/needs-cm');
    });

    test('imagePullSecrets (kubernetes.io/dockerconfigjson) pull from a basic-auth registry; without them the pull is refused', async () => {
      const ref = `${authed.host}/private/busybox:v1`;
      const spec = (secrets?: { name: string }[]) => ({
        nodeName: node,
        terminationGracePeriodSeconds: 1,
        ...(secrets ? { imagePullSecrets: secrets } : {}),
        containers: [{ name: 'main', image: ref, command: ['sleep', '3600'] }],
      });
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'no-creds', namespace: 'default' },
        spec: spec(),
      });
      const w = await waitFor('ErrImagePull without credentials', async () => {
        const s = (await getPod('no-creds')).status?.containerStatuses?.[0]?.state?.waiting;
        return s?.reason === 'ErrImagePull' ? s : undefined;
      });
      assert.match(w.message, /401|unauthorized|authentication/i);
      const dockerConfig = {
        auths: { [authed.host]: { auth: Buffer.from(`${user.user}:${user.pass}`).toString('base64') } },
      };
      await create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'regcred', namespace: 'default' },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerConfig)).toString('base64') },
      });
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'with-creds', namespace: 'default' },
        spec: spec([{ name: 'regcred' }]),
      });
      const c = await running('with-creds');
      assert.match(c.imageID, /private\/busybox@sha256:/);
      await k.delete('/api/v1/namespaces/default/pods/no-creds');
      await k.delete('/api/v1/namespaces/default/pods/with-creds');
    });

    test('--registry-mirror: a docker.io image name runs from the local mirror', async () => {
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'mirrored', namespace: 'default' },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: 'busybox:mirror-test', command: ['sleep', '3600'] }],
        },
      });
      const c = await running('mirrored');
      assert.match(c.imageID, /^docker\.io\/library\/busybox@sha256:[a-f0-9]{64}$/);
      const images = await fetch(`${agent.url}/images`, { headers: { authorization: `Bearer ${cp.token}` } });
      assert.equal(images.status, 200);
      const names = ((await images.json()) as { images: { names: string[] }[] }).images.flatMap(
        (i) => i.names,
      );
      assert.ok(names.includes('docker.io/library/busybox:mirror-test'), names.join(', '));
      await k.delete('/api/v1/namespaces/default/pods/mirrored');
    });

    test('securityContext runAsUser and readOnlyRootFilesystem; hostNetwork shares the host network and IP', async () => {
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'locked', namespace: 'default' },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image,
              command: ['sleep', '3600'],
              securityContext: { runAsUser: 65534, runAsGroup: 65534, readOnlyRootFilesystem: true },
            },
          ],
        },
      });
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'hostnet', namespace: 'default' },
        spec: {
          nodeName: node,
          hostNetwork: true,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image, command: ['sleep', '3600'] }],
        },
      });
      const l = await running('locked');
      assert.equal(exec(l.containerID, ['id', '-u']).trim(), '65534');
      const w = spawnSync('runc', ['--root', agent.runcRoot, 'exec', l.containerID.slice(7), 'touch', '/x'], {
        encoding: 'utf8',
      });
      assert.notEqual(w.status, 0, 'the root filesystem is read-only');
      assert.match(w.stderr, /Read-only file system/);
      const h = await running('hostnet');
      const links = exec(h.containerID, ['ls', '/sys/class/net']).split(/\s+/).filter(Boolean).sort();
      const hostLinks = execFileSync('ls', ['/sys/class/net'], { encoding: 'utf8' })
        .split(/\s+/)
        .filter(Boolean)
        .sort();
      assert.deepEqual(links, hostLinks);
      const p = await getPod('hostnet');
      assert.equal(p.status.podIP, p.status.hostIP);
      await k.delete('/api/v1/namespaces/default/pods/locked');
      await k.delete('/api/v1/namespaces/default/pods/hostnet');
    });

    test('a pod deleted while the agent is down is removed when it comes back', async () => {
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'orphan', namespace: 'default' },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image, command: ['sleep', '3600'] }],
        },
      });
      const c = await running('orphan');
      const id = c.containerID.slice(7);
      const uid = (await getPod('orphan')).metadata.uid;
      await agent.kill9();
      assert.equal((await k.delete('/api/v1/namespaces/default/pods/orphan')).status, 200);
      await agent.restart();
      await waitFor('the orphan container removed', async () => {
        const list = execFileSync('runc', ['--root', agent.runcRoot, 'list', '-q'], { encoding: 'utf8' });
        return (
          !list.includes(id) &&
          !existsSync(path.join(agent.dataDir, 'bundles', id)) &&
          !existsSync(path.join(agent.dataDir, 'pods', uid))
        );
      });
      assert.equal(existsSync(`/sys/fs/cgroup/memory/berth/${uid}`), false);
    });

    test('init containers run to completion, in order, before the containers start', async () => {
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'with-init', namespace: 'default' },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          volumes: [{ name: 'shared', emptyDir: {} }],
          initContainers: [
            {
              name: 'first',
              image,
              command: ['sh', '-c', 'echo first >> /shared/order'],
              volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
            },
            {
              name: 'second',
              image,
              command: ['sh', '-c', 'sleep 1; echo second >> /shared/order'],
              volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
            },
          ],
          containers: [
            {
              name: 'main',
              image,
              command: ['sh', '-c', 'echo main >> /shared/order; sleep 3600'],
              volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
            },
          ],
        },
      });
      const c = await running('with-init');
      await waitFor('main to write', async () =>
        exec(c.containerID, ['cat', '/shared/order']).includes('main'),
      );
      assert.equal(exec(c.containerID, ['cat', '/shared/order']), 'first\nsecond\nmain\n');
      const p = await getPod('with-init');
      assert.deepEqual(
        p.status.initContainerStatuses.map((s: any) => [
          s.name,
          s.state.terminated?.exitCode,
          s.state.terminated?.reason,
        ]),
        [
          ['first', 0, 'Completed'],
          ['second', 0, 'Completed'],
        ],
      );
      assert.equal(p.status.conditions.find((x: any) => x.type === 'Initialized').status, 'True');
      await k.delete('/api/v1/namespaces/default/pods/with-init');
    });

    test('a control plane restart: the agent resumes its watch and heartbeat and runs new pods', async () => {
      await cp.restart();
      const since = new Date(Date.now() + 1000).toISOString();
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'after-restart', namespace: 'default' },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image, command: ['sleep', '3600'] }],
        },
      });
      await running('after-restart', 60_000);
      await waitFor('a heartbeat after the restart', async () => {
        const n = (await k.get(`/api/v1/nodes/${node}`)).body;
        const hb = n.status.conditions.find((c: any) => c.type === 'Ready').lastHeartbeatTime;
        return Date.parse(hb) >= Date.parse(since.replace(/\.\d+Z$/, 'Z')) - 1000;
      });
      await k.delete('/api/v1/namespaces/default/pods/after-restart');
    });

    test('logs follow=true streams a running container and ends when it exits, with every line; also through the control plane pods/{name}/log', async () => {
      await create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'talker', namespace: 'default' },
        spec: {
          nodeName: node,
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image,
              command: [
                'sh',
                '-c',
                'sleep 1; for i in 1 2 3; do echo line $i; sleep 0.3; done; echo oops >&2',
              ],
            },
          ],
        },
      });
      await running('talker');
      const res = await fetch(`${agent.url}/containerLogs/default/talker/main?follow=true`, {
        headers: { authorization: `Bearer ${cp.token}` },
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'line 1\nline 2\nline 3\noops\n');
      const p = await waitFor('talker Succeeded', async () => {
        const x = await getPod('talker');
        return x.status?.phase === 'Succeeded' ? x : undefined;
      });
      assert.equal(p.status.containerStatuses[0].state.terminated.exitCode, 0);
      // the same through the control plane's pods/{name}/log, which proxies to this agent
      const viaCp = await fetch(`${cp.url}/api/v1/namespaces/default/pods/talker/log?tailLines=2`, {
        headers: { authorization: `Bearer ${cp.token}` },
      });
      assert.equal(viaCp.status, 200);
      assert.equal(await viaCp.text(), 'line 3\noops\n');
      await k.delete('/api/v1/namespaces/default/pods/talker');
    });

    test('image GC: past the threshold, images no pod uses are removed, images in use stay', async () => {
      const gcNode = `${node}-gc`;
      const gcAgent = await startAgent({
        server: cp.url,
        token: cp.token,
        nodeName: gcNode,
        extraArgs: ['--image-gc-threshold', '1', '--image-gc-interval', '1s'],
      });
      try {
        const other = (
          await buildBusyboxImage(plain, 'src/other', 'v1', {
            extraLayers: [{ files: { 'other.txt': 'o' } }],
          })
        ).ref;
        const mk = (name: string, img: string) =>
          create({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name, namespace: 'default' },
            spec: {
              nodeName: gcNode,
              terminationGracePeriodSeconds: 1,
              containers: [{ name: 'main', image: img, command: ['sleep', '3600'] }],
            },
          });
        await mk('gc-keep', image);
        await mk('gc-drop', other);
        await running('gc-keep');
        await running('gc-drop');
        const list = async () => {
          const r = await fetch(`${gcAgent.url}/images`, {
            headers: { authorization: `Bearer ${cp.token}` },
          });
          return ((await r.json()) as { images: { names: string[] }[] }).images.flatMap((i) => i.names);
        };
        assert.ok((await list()).includes(other), 'both images present while used');
        await k.delete('/api/v1/namespaces/default/pods/gc-drop');
        await waitFor('the unused image to be collected', async () => !(await list()).includes(other));
        assert.ok((await list()).includes(image), 'the image in use stays');
        await waitFor('node status lists its images', async () => {
          const m = (await k.get(`/api/v1/nodes/${gcNode}`)).body;
          return (m.status.images ?? []).some((i: { names: string[] }) => i.names.includes(image));
        });
        await k.delete('/api/v1/namespaces/default/pods/gc-keep');
      } finally {
        await gcAgent.stop();
      }
    });

    test('bad flags stop the agent at boot with one line naming the flag', () => {
      const bin = path.join(__dirname, '..', '..', 'bin', 'berth-agent');
      const cases: [string[], RegExp][] = [
        [['--token', 'x'], /^berth-agent: error: --server: required/],
        [
          ['--server', cp.url, '--token', 'x', '--listen', 'nope'],
          /^berth-agent: error: --listen: must be HOST:PORT/,
        ],
        [
          ['--server', cp.url, '--token', 'x', '--registry-mirror', 'docker.io'],
          /^berth-agent: error: --registry-mirror: must be REGISTRY=URL/,
        ],
        [
          ['--server', cp.url, '--token', 'x', '--restart-max-delay', 'soon'],
          /^berth-agent: error: --restart-max-delay: must be a duration/,
        ],
      ];
      for (const [args, re] of cases) {
        const r = spawnSync(bin, args, { encoding: 'utf8' });
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, re);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
    });
  },
);
