import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { CliIO } from '../io';
import { childSpecs, runUp } from './up.command';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-up-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function fakeRoot(name: string, controlPlane: string, agent?: string): string {
  const root = path.join(tmp, name);
  mkdirSync(path.join(root, 'bin'), { recursive: true });
  const write = (f: string, body: string) => {
    writeFileSync(path.join(root, 'bin', f), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(root, 'bin', f), 0o755);
  };
  write('berth-control-plane', controlPlane);
  if (agent) write('berth-agent', agent);
  return root;
}

function io(env: NodeJS.ProcessEnv) {
  const r = { stdout: '', stderr: '' };
  const cli: CliIO = {
    out: (t) => (r.stdout += t),
    err: (t) => (r.stderr += t),
    env,
    readStdin: async () => '',
    now: () => Date.now(),
  };
  return { r, cli };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('up: children', () => {
  test('the agent gets the server, token file, data dir and every registry flag; only when bin/berth-agent exists', () => {
    const withAgent = fakeRoot('a', 'true', 'true');
    const flags = {
      dataDir: '/d',
      port: '7000',
      registryMirror: ['docker.io=http://127.0.0.1:5000', 'ghcr.io=http://127.0.0.1:5001'],
      insecureRegistry: ['127.0.0.1:5000'],
      agentListen: '127.0.0.1:7001',
    };
    const specs = childSpecs(flags, withAgent);
    assert.deepEqual(
      specs.map((s) => [s.name, path.relative(withAgent, s.command), s.args]),
      [
        ['control plane', 'bin/berth-control-plane', ['--data-dir', '/d', '--port', '7000', '--tls']],
        [
          'agent',
          'bin/berth-agent',
          [
            '--server',
            'https://127.0.0.1:7000',
            '--ca-file',
            '/d/pki/ca.crt',
            '--token-file',
            '/d/admin.token',
            '--data-dir',
            '/d/agent',
            '--on-exit',
            'stop',
            '--listen',
            '127.0.0.1:7001',
            '--registry-mirror',
            'docker.io=http://127.0.0.1:5000',
            '--registry-mirror',
            'ghcr.io=http://127.0.0.1:5001',
            '--insecure-registry',
            '127.0.0.1:5000',
          ],
        ],
      ],
    );
    assert.equal(childSpecs({ ...flags, agent: false }, withAgent).length, 1);
    assert.equal(childSpecs(flags, fakeRoot('b', 'true')).length, 1);
  });

  test('--no-tls: the control plane serves plain HTTP and the agent gets an http:// server and no CA', () => {
    const [cp, agent] = childSpecs(
      { dataDir: '/d', port: '7000', tls: false },
      fakeRoot('n', 'true', 'true'),
    );
    assert.deepEqual(cp.args, ['--data-dir', '/d', '--port', '7000']);
    assert.deepEqual(agent.args.slice(0, 4), [
      '--server',
      'http://127.0.0.1:7000',
      '--token-file',
      '/d/admin.token',
    ]);
    assert.ok(!agent.args.includes('--ca-file'));
  });

  test('--sync-dir (absolute), --sync-name and --no-sync-prune reach the control plane', () => {
    const root = fakeRoot('c', 'true');
    const [cp] = childSpecs(
      { dataDir: '/d', port: '7000', syncDir: 'manifests', syncName: 'prod', syncPrune: false },
      root,
    );
    assert.deepEqual(cp.args, [
      '--data-dir',
      '/d',
      '--port',
      '7000',
      '--tls',
      '--sync-dir',
      path.resolve('manifests'),
      '--sync-name',
      'prod',
      '--sync-prune',
      'false',
    ]);
    const [plain] = childSpecs({ dataDir: '/d', port: '7000', syncDir: '/m', syncPrune: true }, root);
    assert.deepEqual(plain.args.slice(5), ['--sync-dir', '/m']);
  });

  test('SIGTERM stops the control plane and what it started, writes the context, exits 0', async () => {
    const root = fakeRoot(
      'c',
      // like the real one: writes its token, starts a helper child, prints the ready line, runs until killed
      'while [ "$1" != "--data-dir" ]; do shift; done; d=$2\n' +
        'mkdir -p "$d"; echo "# admin token" > "$d/admin.token"; echo s3cret >> "$d/admin.token"\n' +
        'sleep 300 & echo $! > "$d/helper.pid"\n' +
        'echo "berth control plane listening on http://127.0.0.1:7999"\n' +
        'trap "exit 0" TERM; while true; do sleep 0.1; done',
    );
    const dataDir = path.join(tmp, 'data-c');
    const cfg = path.join(tmp, 'cfg-c');
    const { r, cli } = io({ BERTH_CONFIG: cfg });
    const signals = new EventEmitter();
    const done = runUp(cli, { dataDir, port: '7999', agent: false, graceSeconds: '2' }, signals, root);
    try {
      for (let i = 0; i < 200 && !r.stdout; i++) await new Promise((res) => setTimeout(res, 50));
      assert.equal(r.stdout, `Berth is up: http://127.0.0.1:7999 (admin token in ${dataDir}/admin.token)\n`);
      const config = readFileSync(cfg, 'utf8');
      assert.match(config, /currentContext: berth-local/);
      assert.match(config, /token: s3cret/);
      const helper = Number(readFileSync(path.join(dataDir, 'helper.pid'), 'utf8'));
      assert.ok(alive(helper));
      signals.emit('SIGTERM', 'SIGTERM');
      assert.equal(await done, 0);
      for (let i = 0; i < 100 && alive(helper); i++) await new Promise((res) => setTimeout(res, 50));
      assert.equal(alive(helper), false, 'the helper the control plane left behind was stopped too');
    } finally {
      signals.emit('SIGTERM', 'SIGTERM');
      await done.catch(() => undefined);
      try {
        process.kill(Number(readFileSync(path.join(dataDir, 'helper.pid'), 'utf8')), 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
  });

  test('with https: the context trusts DATA_DIR/pki/ca.crt and DATA_DIR/kubeconfig (0600) embeds the CA and token for kubectl', async () => {
    const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const root = fakeRoot(
      't',
      'while [ "$1" != "--data-dir" ]; do shift; done; d=$2\n' +
        'mkdir -p "$d/pki"; echo s3cret > "$d/admin.token"\n' +
        caPem
          .trimEnd()
          .split('\n')
          .map((l) => `echo '${l}' >> "$d/pki/ca.crt"\n`)
          .join('') +
        'echo "berth control plane listening on https://127.0.0.1:7997"\n' +
        'trap "exit 0" TERM; while true; do sleep 0.1; done',
    );
    const dataDir = path.join(tmp, 'data-t');
    const cfg = path.join(tmp, 'cfg-t');
    const { r, cli } = io({ BERTH_CONFIG: cfg });
    const signals = new EventEmitter();
    const done = runUp(cli, { dataDir, port: '7997', agent: false, graceSeconds: '2' }, signals, root);
    try {
      for (let i = 0; i < 200 && !r.stdout; i++) await new Promise((res) => setTimeout(res, 50));
      assert.match(r.stdout, /^Berth is up: https:\/\/127\.0\.0\.1:7997 /);
      const config = readFileSync(cfg, 'utf8');
      assert.match(config, /server: https:\/\/127\.0\.0\.1:7997/);
      assert.match(config, new RegExp(`certificateAuthority: ${dataDir}/pki/ca.crt`));
      const kubeconfig = path.join(dataDir, 'kubeconfig');
      assert.equal(statSync(kubeconfig).mode & 0o777, 0o600);
      const kc = YAML.parse(readFileSync(kubeconfig, 'utf8'));
      assert.equal(kc['current-context'], 'berth-local');
      assert.deepEqual(kc.clusters, [
        {
          name: 'berth-local',
          cluster: {
            server: 'https://127.0.0.1:7997',
            'certificate-authority-data': Buffer.from(caPem).toString('base64'),
          },
        },
      ]);
      assert.deepEqual(kc.users, [{ name: 'berth-local-admin', user: { token: 's3cret' } }]);
      assert.deepEqual(kc.contexts, [
        {
          name: 'berth-local',
          context: { cluster: 'berth-local', user: 'berth-local-admin', namespace: 'default' },
        },
      ]);
      assert.match(r.stderr, new RegExp(`kubectl: export KUBECONFIG=${kubeconfig}\n`));
      signals.emit('SIGTERM', 'SIGTERM');
      assert.equal(await done, 0);
    } finally {
      signals.emit('SIGTERM', 'SIGTERM');
      await done.catch(() => undefined);
    }
  });

  test('a control plane that dies after start-up makes up exit 1 with its last output', async () => {
    const root = fakeRoot(
      'd',
      'while [ "$1" != "--data-dir" ]; do shift; done; d=$2; mkdir -p "$d"; echo tok > "$d/admin.token"\n' +
        'echo "berth control plane listening on http://127.0.0.1:7998"; sleep 0.5; echo "redis went away" >&2; exit 3',
    );
    const { r, cli } = io({ BERTH_CONFIG: path.join(tmp, 'cfg-d') });
    const code = await runUp(
      cli,
      { dataDir: path.join(tmp, 'data-d'), port: '7998', agent: false },
      new EventEmitter(),
      root,
    );
    assert.equal(code, 1);
    assert.match(
      r.stderr,
      /error: the control plane exited with code 3; its last output:\n(.|\n)*redis went away\n/,
    );
  });

  test('bad --port or --registry-mirror values are usage errors', async () => {
    const { cli } = io({ BERTH_CONFIG: path.join(tmp, 'cfg-e') });
    await assert.rejects(
      runUp(cli, { dataDir: tmp, port: 'http' }, new EventEmitter()),
      /--port "http" is not a TCP port/,
    );
    await assert.rejects(
      runUp(cli, { dataDir: tmp, port: '1', registryMirror: ['docker.io'] }, new EventEmitter()),
      /--registry-mirror "docker.io" is not REGISTRY=URL/,
    );
  });
});
