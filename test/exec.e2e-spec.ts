// End-to-end: pods/{name}/exec with real processes: a --tls control plane (kubectl sends its token
// only over TLS), a real agent running busybox containers with runc, unmodified kubectl 1.33 and
// 1.29 (WebSocket channel protocol), berthctl exec, and a WebSocket client for what kubectl cannot
// show without a terminal (TTY and resize, the command killed when the client goes away).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import WebSocket from 'ws';
import { CHANNEL, EXEC_PROTOCOLS, encodeFrame } from '@berth/api';
import { execInPod } from '@berth/client';
import {
  TestRedis,
  api,
  buildBusyboxImage,
  haveKubectl,
  kubectl,
  startAgent,
  startControlPlane,
  startRegistry,
  tempDir,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type KubectlTarget,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

const ROOT = path.resolve(__dirname, '..', '..');
const BERTHCTL = path.join(ROOT, 'bin', 'berthctl');
const isRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

const pod = (name: string, node: string, image: string, containers: string[]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: {
    nodeName: node,
    terminationGracePeriodSeconds: 1,
    containers: containers.map((c) => ({
      name: c,
      image,
      command: ['sleep', '3600'],
      env: [{ name: 'WHO', value: c }],
    })),
  },
});

describe(
  'kubectl exec / berthctl exec (pods/{name}/exec over WebSocket)',
  { skip: !isRoot && 'needs root, runc and conmon' },
  () => {
    let redis: TestRedis;
    let cp: ControlPlane;
    let reg: TestRegistry;
    let agent: TestAgent;
    let k: ApiCaller;
    let target: KubectlTarget;
    const node = `exec-e2e-${process.pid}`;
    const dir = tempDir('berth-exec-e2e-');
    const berthEnv = (): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        BERTH_SERVER: cp.url,
        BERTH_TOKEN: cp.token,
        BERTH_CA_FILE: cp.caFile,
        BERTH_CONFIG: path.join(dir.path, 'no-config'),
      };
      return env;
    };
    const containerIds = (name: string) =>
      k
        .get(`/api/v1/namespaces/default/pods/${name}`)
        .then((r) =>
          (r.body.status?.containerStatuses ?? []).map((c: any) => c.containerID.replace(/^runc:\/\//, '')),
        );

    before(async () => {
      redis = await TestRedis.start();
      cp = await startControlPlane({ tls: true, redisUrl: redis.url });
      k = api(cp.url, cp.token, { ca: cp.ca });
      target = { url: cp.url, token: cp.token, cacheDir: dir.path, caFile: cp.caFile };
      reg = await startRegistry();
      const image = (await buildBusyboxImage(reg, 'e2e/busybox', 'v1')).ref;
      agent = await startAgent({ server: cp.url, token: cp.token, nodeName: node, caFile: cp.caFile });
      for (const p of [pod('one', node, image, ['main']), pod('two', node, image, ['main', 'side'])])
        assert.equal((await k.post('/api/v1/namespaces/default/pods', p)).status, 201);
      await waitFor(
        'both pods running',
        async () => {
          const items = (await k.get('/api/v1/namespaces/default/pods')).body.items;
          return (
            items.length === 2 &&
            items.every(
              (p: any) =>
                (p.status?.containerStatuses ?? []).length === p.spec.containers.length &&
                p.status.containerStatuses.every((c: any) => c.state?.running),
            )
          );
        },
        90_000,
      );
    });

    after(async () => {
      await agent?.stop();
      await reg?.stop();
      await cp?.stop();
      await redis?.stop();
      dir.remove();
    });

    test(
      'kubectl 1.33: exec POD -- echo hi prints hi and exits 0',
      { skip: !haveKubectl(33) && 'no kubectl 1.33' },
      async () => {
        const r = await kubectl(33, target, ['exec', 'one', '--', 'echo', 'hi']);
        assert.equal(r.stderr, '');
        assert.equal(r.stdout, 'hi\n');
        assert.equal(r.code, 0);
      },
    );

    test(
      "kubectl 1.33: the command's exit code is kubectl's (sh -c 'exit 3' → 3)",
      { skip: !haveKubectl(33) && 'no kubectl 1.33' },
      async () => {
        const r = await kubectl(33, target, ['exec', 'one', '--', 'sh', '-c', 'exit 3']);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, /command terminated with exit code 3/);
      },
    );

    test(
      'kubectl 1.33: exec -i copies stdin and closes it at EOF (cat ends); stdout and stderr stay apart',
      { skip: !haveKubectl(33) && 'no kubectl 1.33' },
      async () => {
        const input = 'line one\nline two\n' + 'x'.repeat(200_000) + '\n';
        const cat = await kubectl(33, target, ['exec', '-i', 'one', '--', 'cat'], { input });
        assert.equal(cat.code, 0, cat.stderr);
        assert.equal(cat.stdout, input);
        const both = await kubectl(33, target, [
          'exec',
          'one',
          '--',
          'sh',
          '-c',
          'echo out; echo err >&2; exit 0',
        ]);
        assert.equal(both.code, 0, both.stderr);
        assert.equal(both.stdout, 'out\n');
        assert.equal(both.stderr, 'err\n');
      },
    );

    test(
      'kubectl 1.33: -c picks the container; an unknown pod or container is a clear error',
      { skip: !haveKubectl(33) && 'no kubectl 1.33' },
      async () => {
        for (const c of ['main', 'side']) {
          const r = await kubectl(33, target, ['exec', 'two', '-c', c, '--', 'sh', '-c', 'echo $WHO']);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, `${c}\n`);
        }
        const noPod = await kubectl(33, target, ['exec', 'nope', '--', 'true']);
        assert.equal(noPod.code, 1);
        assert.match(noPod.stderr, /pods "nope" not found/);
        const noContainer = await kubectl(33, target, ['exec', 'two', '-c', 'nope', '--', 'true']);
        assert.equal(noContainer.code, 1);
        assert.match(noContainer.stderr, /container nope is not valid for pod two/);
      },
    );

    test(
      'kubectl 1.29 execs over WebSocket with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true; without it (SPDY) it is told so',
      { skip: !haveKubectl(29) && 'no kubectl 1.29' },
      async () => {
        const ws = await kubectl(29, target, ['exec', 'one', '--', 'echo', 'hi'], {
          env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'true' },
        });
        assert.equal(ws.stdout, 'hi\n', ws.stderr);
        assert.equal(ws.code, 0);
        const exit = await kubectl(29, target, ['exec', 'one', '--', 'sh', '-c', 'exit 4'], {
          env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'true' },
        });
        assert.equal(exit.code, 4, exit.stderr);
        const spdy = await kubectl(29, target, ['exec', 'one', '--', 'echo', 'hi'], {
          env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' },
        });
        assert.equal(spdy.code, 1);
        assert.match(spdy.stderr, /KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true/);
      },
    );

    test('berthctl exec: output, exit code, -i, -c, and not-found exit 3', async () => {
      const env = berthEnv();
      const hi = await run(BERTHCTL, ['exec', 'one', '--', 'echo', 'hi'], env);
      assert.deepEqual(hi, { code: 0, stdout: 'hi\n', stderr: '' });
      const three = await run(BERTHCTL, ['exec', 'one', '--', 'sh', '-c', 'echo e >&2; exit 3'], env);
      assert.deepEqual(three, { code: 3, stdout: '', stderr: 'e\n' });
      const cat = await run(BERTHCTL, ['exec', '-i', 'one', '--', 'cat'], env, 'piped\n');
      assert.deepEqual(cat, { code: 0, stdout: 'piped\n', stderr: '' });
      const side = await run(BERTHCTL, ['exec', 'two', '-c', 'side', '--', 'sh', '-c', 'echo $WHO'], env);
      assert.deepEqual(side, { code: 0, stdout: 'side\n', stderr: '' });
      const several = await run(BERTHCTL, ['exec', 'two', '--', 'true'], env);
      assert.equal(several.code, 5);
      assert.match(
        several.stderr,
        /^error: a container name must be specified for pod two, choose one of: \[main side\]/,
      );
      const missing = await run(BERTHCTL, ['exec', 'nope', '--', 'true'], env);
      assert.equal(missing.code, 3);
      assert.match(missing.stderr, /^error: pods "nope" not found/);
      const usage = await run(BERTHCTL, ['exec', 'one'], env);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /at least one command/);
    });

    test('the upgrade needs the bearer token (401 without or with a wrong one); a plain request is 400', async () => {
      const path = '/api/v1/namespaces/default/pods/one/exec?command=true&stdout=true';
      const attempt = (auth?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const ws = new WebSocket(cp.url.replace(/^https/, 'wss') + path, [EXEC_PROTOCOLS.v5], {
            ca: cp.ca,
            headers: auth ? { authorization: auth } : {},
          });
          ws.on('unexpected-response', (_req, res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          ws.on('open', () => reject(new Error('the upgrade was accepted')));
          ws.on('error', (e) => reject(e));
        });
      const none = await attempt();
      assert.equal(none.status, 401);
      assert.equal(JSON.parse(none.body).reason, 'Unauthorized');
      assert.equal((await attempt('Bearer wrong')).status, 401);
      // the agent also wants the token: its endpoint refuses an upgrade without it
      const direct = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(
          `ws://127.0.0.1:${agent.port}/exec/default/one/main?command=true&stdout=true`,
          [EXEC_PROTOCOLS.v5],
        );
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('the agent accepted an exec without a token')));
        ws.on('error', reject);
      });
      assert.equal(direct, 401);
      const plain = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        https
          .get(cp.url + path, { ca: cp.ca, headers: { authorization: `Bearer ${cp.token}` } }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
      assert.equal(plain.status, 400);
      assert.match(JSON.parse(plain.body).message, /Upgrade request required/);
    });

    test('tty=true: the command gets a terminal, resize sets its size, and the exit code comes back', async () => {
      const stdin = new PassThrough();
      const stdout = sink();
      const running = execInPod(
        { server: cp.url, token: cp.token, ca: Buffer.from(cp.ca!) },
        'default',
        'one',
        { command: ['sh'], stdin: true, stdout: true, stderr: false, tty: true },
        {
          stdin,
          stdout,
          terminal: { size: () => ({ width: 100, height: 40 }), onResize: () => () => undefined },
        },
      );
      // the shell prompts once it runs; the size was sent right after the handshake
      await waitFor('a shell prompt', async () => stdout.text.includes('#'), 15_000);
      stdin.write('tty; stty size; exit 7\n');
      const outcome = await running;
      assert.deepEqual(outcome, { exitCode: 7 });
      assert.match(stdout.text, /\/dev\/pts\/\d+/);
      assert.match(stdout.text, /\r?\n40 100\r?\n/);
    });

    test('when the client goes away the command is killed in the container', async () => {
      const [id] = await containerIds('one');
      const ps = () =>
        execFileSync('runc', ['--root', agent.runcRoot, 'exec', id, 'ps', '-o', 'args'], {
          encoding: 'utf8',
        });
      const ws = new WebSocket(
        cp.url.replace(/^https/, 'wss') +
          '/api/v1/namespaces/default/pods/one/exec?command=sh&command=-c&command=echo%20started%3B%20sleep%20313&stdout=true&stdin=true',
        [EXEC_PROTOCOLS.v5, EXEC_PROTOCOLS.v4],
        { ca: cp.ca, headers: { authorization: `Bearer ${cp.token}` } },
      );
      let out = '';
      ws.on('message', (m: Buffer) => {
        if (m[0] === CHANNEL.stdout) out += m.subarray(1).toString();
      });
      await new Promise((r) => ws.once('open', r));
      assert.equal(ws.protocol, EXEC_PROTOCOLS.v5);
      ws.send(encodeFrame(CHANNEL.stdin, 'ignored\n'));
      await waitFor('the command to start', async () => out.includes('started'), 15_000);
      assert.match(ps(), /sleep 313/);
      ws.terminate();
      await waitFor('the command to be gone', async () => !/sleep 313/.test(ps()), 10_000);
    });
  },
);
