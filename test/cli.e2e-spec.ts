import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { resolveKindName } from '@berth/api';
import { BerthClient } from '@berth/client';
import {
  Managed,
  TestRedis,
  freePort,
  haveKubectl,
  kubectl,
  startControlPlane,
  tempDir,
  type ControlPlane,
} from '@berth/testing';

/**
 * berthctl end to end: the built CLI (bin/berthctl) as a child process against a real control
 * plane on a real redis-server. stdout, stderr and the exit code are asserted separately.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'berthctl');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function berthctl(args: string[], env: Record<string, string>, input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const deployment = (replicas: number, image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: ${image}
        command: ["sleep", "3600"]
`;

describe('berthctl against a real control plane', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  const dir = tempDir('berth-cli-e2e-');
  let env: Record<string, string>;
  let client: BerthClient;
  const cms = resolveKindName('cm')!;

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url });
    env = { BERTH_SERVER: cp.url, BERTH_TOKEN: cp.token, BERTH_CONFIG: path.join(dir.path, 'config') };
    client = new BerthClient({ server: cp.url, token: cp.token });
  });
  after(async () => {
    await cp?.stop();
    await redis?.stop();
    dir.remove();
  });

  test('apply creates, re-apply is unchanged, an edited file is configured and raises metadata.generation', async () => {
    const file = path.join(dir.path, 'web.yaml');
    writeFileSync(file, deployment(2, 'busybox:1.36'));
    let r = await berthctl(['apply', '-f', file], env);
    assert.deepEqual(r, { code: 0, stdout: 'deployment.apps/web created\n', stderr: '' });

    r = await berthctl(['get', 'deploy', 'web', '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const first = JSON.parse(r.stdout);
    assert.equal(first.spec.replicas, 2);

    r = await berthctl(['apply', '-f', file], env);
    assert.deepEqual(r, { code: 0, stdout: 'deployment.apps/web unchanged\n', stderr: '' });

    writeFileSync(file, deployment(3, 'busybox:1.37'));
    r = await berthctl(['apply', '-f', file], env);
    assert.deepEqual(r, { code: 0, stdout: 'deployment.apps/web configured\n', stderr: '' });

    r = await berthctl(['get', 'deploy', 'web', '-o', 'yaml'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^apiVersion: apps\/v1\nkind: Deployment\n/);
    const live = await client.get(resolveKindName('deploy')!, 'default', 'web');
    assert.equal(live.spec.replicas, 3);
    assert.equal(live.spec.template.spec.containers[0].image, 'busybox:1.37');
    assert.ok(live.metadata.generation! > first.metadata.generation, 'generation rose');

    r = await berthctl(['get', 'deployments'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^NAME {3}READY {3}UP-TO-DATE {3}AVAILABLE {3}AGE\nweb {4}\d\/3 {5}\d {12}\d {11}\S+\n$/,
    );
  });

  test('delete removes the object; get of it then is not found (exit 3) on stderr only', async () => {
    let r = await berthctl(['delete', 'deploy', 'web', '--wait'], env);
    assert.deepEqual(r, { code: 0, stdout: 'deployment.apps "web" deleted\n', stderr: '' });
    r = await berthctl(['get', 'deploy', 'web'], env);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: deployments\.apps "web" not found\n/);
    r = await berthctl(['get', 'deploy'], env);
    assert.deepEqual(r, { code: 0, stdout: '', stderr: 'No resources found in default namespace.\n' });
  });

  test('bad manifests each fail with file:line:col while the valid files beside them apply', async () => {
    const bad = path.join(dir.path, 'corpus');
    mkdirSync(bad);
    const cm = (name: string, extra = '') =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${extra}`;
    writeFileSync(path.join(bad, '00-good.yaml'), cm('good-one', 'data:\n  a: "1"\n'));
    writeFileSync(path.join(bad, '01-malformed.yaml'), cm('malformed', 'data:\n  a: [1, 2\n  b: 3\n'));
    writeFileSync(
      path.join(bad, '02-wrong-type.yaml'),
      deployment(1, 'busybox')
        .replace('replicas: 1', 'replicas: "three"')
        .replace('name: web', 'name: typed'),
    );
    writeFileSync(path.join(bad, '03-unknown-field.yaml'), cm('unknown', 'data: {}\nsepc: {}\n'));
    writeFileSync(path.join(bad, '04-bad-name.yaml'), cm('Bad_Name'));
    writeFileSync(
      path.join(bad, '05-bad-quantity.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: q\nspec:\n  containers:\n  - name: a\n    image: busybox\n    resources:\n      limits:\n        memory: 12XB\n',
    );
    writeFileSync(
      path.join(bad, '06-huge.yaml'),
      cm('huge', `data:\n  big: "${'x'.repeat(2 * 1024 * 1024)}"\n`),
    );
    const garbage = Buffer.alloc(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 256;
    writeFileSync(path.join(bad, '07-garbage.yaml'), garbage);
    writeFileSync(
      path.join(bad, '08-good.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'good-two' } }),
    );

    const before = (await client.listAll(cms, {})).items.map(
      (o) => `${o.metadata.namespace}/${o.metadata.name}`,
    );
    const r = await berthctl(['apply', '-f', bad], env);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, 'configmap/good-one created\nconfigmap/good-two created\n');
    const f = (n: string) => path.join(bad, n).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const expected: [string, RegExp][] = [
      ['malformed YAML', new RegExp(`^${f('01-malformed.yaml')}:\\d+:\\d+: invalid YAML`, 'm')],
      ['wrong type', new RegExp(`^${f('02-wrong-type.yaml')}:8:3: spec\\.replicas: .*integer`, 'm')],
      ['unknown field', new RegExp(`^${f('03-unknown-field.yaml')}:6:1: sepc: .*unknown field`, 'm')],
      ['bad name', new RegExp(`^${f('04-bad-name.yaml')}:4:3: metadata\\.name: .*"Bad_Name"`, 'm')],
      [
        'bad quantity',
        new RegExp(
          `^${f('05-bad-quantity.yaml')}:11:9: spec\\.containers\\[0\\]\\.resources\\.limits\\[memory\\]: .*"12XB"`,
          'm',
        ),
      ],
      ['huge document', new RegExp(`^${f('06-huge.yaml')}:5:1: data: .*too long`, 'm')],
      ['binary garbage', new RegExp(`^${f('07-garbage.yaml')}:\\d+:\\d+: not a text file`, 'm')],
    ];
    for (const [what, re] of expected) assert.match(r.stderr, re, `${what} in:\n${r.stderr}`);
    assert.match(
      r.stderr,
      /^error: 7 of 9 objects were not applied \(2 unreadable files\); fix the errors above and apply again\n/m,
    );

    const after = (await client.listAll(cms, {})).items.map(
      (o) => `${o.metadata.namespace}/${o.metadata.name}`,
    );
    assert.deepEqual(after.sort(), [...before, 'default/good-one', 'default/good-two'].sort());
    const pods = await client.listAll(resolveKindName('po')!, {});
    assert.equal(pods.items.filter((p) => p.metadata.name === 'q').length, 0);
    const deps = await client.listAll(resolveKindName('deploy')!, {});
    assert.equal(deps.items.filter((d) => d.metadata.name === 'typed').length, 0);
  });

  test('a 1 MiB ConfigMap applies twice: created, then unchanged', async () => {
    const file = path.join(dir.path, 'big.yaml');
    const value = 'y'.repeat(1024 * 1024 - 64);
    writeFileSync(
      file,
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  payload: "${value}"\n`,
    );
    let r = await berthctl(['apply', '-f', file], env);
    assert.deepEqual(r, { code: 0, stdout: 'configmap/big created\n', stderr: '' });
    r = await berthctl(['apply', '-f', file], env);
    assert.deepEqual(r, { code: 0, stdout: 'configmap/big unchanged\n', stderr: '' });
    const live = await client.get(cms, 'default', 'big');
    assert.equal(live.data.payload.length, value.length);
  });

  test('get -w prints the current rows, then one row per change', async () => {
    const watchEnv = { ...process.env, ...env };
    const w = new Managed('berthctl get -w', BIN, ['get', 'cm', '-w', '-l', 'watched=yes'], {
      env: watchEnv,
    });
    try {
      await client.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'w1', namespace: 'default', labels: { watched: 'yes' } },
      });
      await w.waitForOutput(/^w1 +0 +\S+$/m, 60_000);
      await client.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'w2', namespace: 'default', labels: { watched: 'yes' } },
        data: { a: '1', b: '2' },
      });
      await w.waitForOutput(/^w2 +2 +\S+$/m, 60_000);
      // one header, with the first row
      assert.equal(w.output.match(/^NAME +DATA +AGE$/gm)?.length, 1, w.output);
      assert.doesNotMatch(w.output, /settings|good-one/, 'the label selector applies to the watch');
    } finally {
      await w.stop();
    }
  });

  test('describe shows the object, its replicas and strategy, and the events about it', async () => {
    const file = path.join(dir.path, 'web2.yaml');
    writeFileSync(file, deployment(2, 'busybox:1.36').replace('name: web', 'name: web2'));
    assert.equal((await berthctl(['apply', '-f', file], env)).code, 0);
    const dep = await client.get(resolveKindName('deploy')!, 'default', 'web2');
    await client.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web2.test', namespace: 'default' },
      involvedObject: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'web2',
        namespace: 'default',
        uid: dep.metadata.uid,
      },
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set web2-abc to 2',
      type: 'Normal',
      source: { component: 'deployment-controller' },
      count: 1,
    });
    const r = await berthctl(['describe', 'deploy', 'web2'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Name: +web2\nNamespace: +default\n/);
    assert.match(r.stdout, /^Labels: +app=web$/m);
    assert.match(
      r.stdout,
      /^Replicas: +2 desired \| \d+ updated \| \d+ total \| \d+ available \| \d+ unavailable$/m,
    );
    assert.match(r.stdout, /^StrategyType: +RollingUpdate$/m);
    assert.match(r.stdout, /^ +Image: +busybox:1\.36$/m);
    assert.match(r.stdout, /^Events:\n +Type +Reason +Age +From +Message\n/m);
    assert.match(
      r.stdout,
      /^ +Normal +ScalingReplicaSet +\S+ +deployment-controller +Scaled up replica set web2-abc to 2$/m,
    );

    const scaled = await berthctl(['scale', 'deploy/web2', '--replicas=5'], env);
    assert.deepEqual(scaled, { code: 0, stdout: 'deployment.apps/web2 scaled\n', stderr: '' });
    assert.equal((await client.get(resolveKindName('deploy')!, 'default', 'web2')).spec.replicas, 5);

    await client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'described', namespace: 'default' },
    });
    const cmOut = await berthctl(['describe', 'cm', 'described'], env);
    assert.equal(cmOut.code, 0, cmOut.stderr);
    assert.match(cmOut.stdout, /^Events: +<none>$/m);
  });

  test('get -A adds NAMESPACE; an empty kind says so on stderr and exits 0', async () => {
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'in-team', namespace: 'team' },
    });
    await client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'in-default', namespace: 'default' },
      data: { k: 'v' },
    });
    let r = await berthctl(['get', 'cm', '-A'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAMESPACE +NAME +DATA +AGE\n/);
    assert.match(r.stdout, /^team +in-team +0 +\S+$/m);
    assert.match(r.stdout, /^default +in-default +1 +\S+$/m);
    r = await berthctl(['get', 'secrets', '-n', 'team'], env);
    assert.deepEqual(r, { code: 0, stdout: '', stderr: 'No resources found in team namespace.\n' });
    // (Pods are not empty any more: the Deployment applied above has its ReplicaSet's pods.)
    r = await berthctl(['get', 'secrets', '-A'], env);
    assert.deepEqual(r, { code: 0, stdout: '', stderr: 'No resources found\n' });
    r = await berthctl(['get', 'cm', 'in-team', '-n', 'team', '-o', 'name'], env);
    assert.deepEqual(r, { code: 0, stdout: 'configmap/in-team\n', stderr: '' });
  });

  test('server dry run reports without changing anything', async () => {
    const file = path.join(dir.path, 'dry.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata:\n  a: "1"\n');
    const r = await berthctl(['apply', '-f', file, '--dry-run=server'], env);
    assert.deepEqual(r, { code: 0, stdout: 'configmap/dry created (server dry run)\n', stderr: '' });
    await assert.rejects(client.get(cms, 'default', 'dry'), /not found/);
  });
});

/** Every descendant pid of `pid` (from /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(state);
  } catch {
    return false;
  }
}

describe('berthctl up', () => {
  test('brings up a cluster (control plane + agent) in a temp data dir, writes the context, serves get ns and a Ready node, and SIGTERM leaves no process', async () => {
    const dir = tempDir('berth-up-');
    const port = await freePort();
    const config = path.join(dir.path, 'berth-config');
    const dataDir = path.join(dir.path, 'data');
    const env: NodeJS.ProcessEnv = { ...process.env, BERTH_CONFIG: config };
    delete env.BERTH_SERVER;
    delete env.BERTH_TOKEN;
    const agentPort = await freePort();
    const nodeName = `up-e2e-${port}`;
    const up = new Managed(
      'berthctl up',
      BIN,
      [
        'up',
        '--data-dir',
        dataDir,
        '--port',
        String(port),
        '--agent-listen',
        `127.0.0.1:${agentPort}`,
        '--node-name',
        nodeName,
      ],
      { env },
    );
    let pids: number[] = [];
    try {
      await up.waitForOutput(/Berth is up: (\S+) \(admin token in (\S+)\)/, 120_000);
      assert.match(
        up.output,
        new RegExp(
          `Berth is up: https://127\\.0\\.0\\.1:${port} \\(admin token in ${dataDir.replace(/[/.]/g, '\\$&')}/admin\\.token\\)`,
        ),
      );
      assert.ok(existsSync(path.join(dataDir, 'admin.token')));
      const cfg = readFileSync(config, 'utf8');
      assert.match(cfg, /currentContext: berth-local/);
      assert.match(cfg, new RegExp(`server: https://127.0.0.1:${port}`));
      assert.match(cfg, new RegExp(`certificateAuthority: ${path.join(dataDir, 'pki', 'ca.crt')}`));
      const kubeconfig = path.join(dataDir, 'kubeconfig');
      assert.match(up.output, new RegExp(`kubectl: export KUBECONFIG=${kubeconfig}`));
      assert.equal(statSync(kubeconfig).mode & 0o777, 0o600);

      // The context alone (no flags, no BERTH_SERVER/TOKEN) reaches the cluster.
      const r = await berthctl(['get', 'ns'], env as Record<string, string>);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^NAME {2,}STATUS {3}AGE\n/);
      assert.match(r.stdout, /^default {3,}Active {3}\S+$/m);

      // Unmodified kubectl with only the kubeconfig up wrote (HTTPS, its CA, the admin token).
      if (haveKubectl(33)) {
        const kc = await kubectl(33, { kubeconfig, cacheDir: path.join(dir.path, 'kube-cache') }, [
          'get',
          'namespace',
          'default',
          '-o',
          'name',
        ]);
        assert.equal(kc.code, 0, kc.stderr);
        assert.equal(kc.stdout, 'namespace/default\n');
      }

      // The agent up started (https, --ca-file) registers its Node, and it becomes Ready.
      const deadline0 = Date.now() + 90_000;
      let nodes: Result = { code: null, stdout: '', stderr: '' };
      while (Date.now() < deadline0) {
        nodes = await berthctl(['get', 'nodes'], env as Record<string, string>);
        if (new RegExp(`^${nodeName} +Ready `, 'm').test(nodes.stdout)) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      assert.match(nodes.stdout, new RegExp(`^${nodeName} +Ready `, 'm'), `${nodes.stderr}\n${up.output}`);

      // The control plane's scheduler binds a pod without spec.nodeName to the local node. (The image
      // is on a loopback port where nothing listens, so the agent's pull fails locally and nothing runs.)
      const unbound = JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'unbound' },
        spec: { containers: [{ name: 'c', image: '127.0.0.1:1/none/img:1' }] },
      });
      const applied = await berthctl(['apply', '-f', '-'], env as Record<string, string>, unbound);
      assert.equal(applied.code, 0, applied.stderr);
      let bound = '';
      const deadline1 = Date.now() + 30_000;
      while (Date.now() < deadline1 && bound !== nodeName) {
        const g = await berthctl(['get', 'pod', 'unbound', '-o', 'json'], env as Record<string, string>);
        bound = g.code === 0 ? (JSON.parse(g.stdout).spec.nodeName ?? '') : '';
        if (bound !== nodeName) await new Promise((res) => setTimeout(res, 200));
      }
      assert.equal(bound, nodeName, up.output);
      const del = await berthctl(['delete', 'pod', 'unbound', '--wait'], env as Record<string, string>);
      assert.equal(del.code, 0, del.stderr);

      pids = descendants(up.child.pid!);
      assert.ok(pids.length >= 3, `the control plane, its redis and the agent run under up: ${pids}`);
      up.child.kill('SIGTERM');
      const code = await up.exited;
      assert.equal(code, 0, up.output);
      const deadline = Date.now() + 10_000;
      while (pids.some(alive) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(pids.filter(alive), [], 'no process started by up is left');
    } finally {
      // Whatever happened above, nothing up started may outlive the test.
      const all = [...new Set([...pids, ...(up.running ? descendants(up.child.pid!) : [])])];
      await up.stop();
      for (const p of all.filter(alive)) process.kill(p, 'SIGKILL');
      dir.remove();
    }
  });

  test('when the control plane cannot start (port taken), up exits 1 with its last output', async () => {
    const dir = tempDir('berth-up-');
    const env: NodeJS.ProcessEnv = { ...process.env, BERTH_CONFIG: path.join(dir.path, 'cfg') };
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await berthctl(
        ['up', '--data-dir', path.join(dir.path, 'data'), '--port', String(port), '--no-agent'],
        env as Record<string, string>,
      );
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /error: control plane exited before it was ready:\n/);
      assert.match(r.stderr, /EADDRINUSE/);
      assert.equal(
        existsSync(path.join(dir.path, 'cfg')),
        false,
        'no context written for a cluster that is not up',
      );
    } finally {
      blocker.close();
      dir.remove();
    }
  });
});
