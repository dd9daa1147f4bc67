import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import { resolveKindName } from '@berth/api';
import { BerthClient } from '@berth/client';
import {
  Managed,
  api,
  freePort,
  haveKubectl,
  kubectl,
  startAgent,
  startControlPlane,
  tempDir,
  waitFor,
  type ControlPlane,
  type KubectlTarget,
  type TestAgent,
} from '@berth/testing';
import { writeKubeconfig } from '../apps/cli/src/kubeconfig';

/**
 * The control plane over HTTPS (issue 6: client-go sends a bearer token only over TLS). A control
 * plane started with --tls (its own CA under DATA_DIR/pki) is reached by berthctl through a context
 * naming the CA, by an agent with --ca-file, and by unmodified kubectl 1.33 and 1.29 with
 * --certificate-authority/--token or a kubeconfig, without any proxy; each refuses the server when
 * it does not trust the CA. Also --tls-cert-file/--tls-private-key-file with given files.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const BERTHCTL = path.join(ROOT, 'bin', 'berthctl');
const CP_BIN = path.join(ROOT, 'bin', 'berth-control-plane');
const isRoot = process.getuid?.() === 0 && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/conmon');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** The certificate the server presents to a client that trusts `ca`, checked for `servername` (or 127.0.0.1). */
function presented(port: number, ca: string, servername?: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.on('error', reject);
  });
}

const configMap = (name: string, v: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: default
data:
  k: "${v}"
`;

describe('control plane with --tls', () => {
  let cp: ControlPlane;
  const dir = tempDir('berth-tls-e2e-');
  const berthEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
    for (const k of ['BERTH_SERVER', 'BERTH_TOKEN', 'BERTH_CA_FILE']) if (!(k in extra)) delete env[k];
    return env;
  };

  before(async () => {
    cp = await startControlPlane({ tls: true });
  });
  after(async () => {
    await cp?.stop();
    dir.remove();
  });

  test('serves HTTPS only, with a serving certificate its own CA verifies for 127.0.0.1 and localhost; keys 0600', async () => {
    assert.match(cp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(cp.caFile && cp.ca);
    for (const f of ['ca.key', 'serving.key'])
      assert.equal(statSync(path.join(cp.dataDir, 'pki', f)).mode & 0o777, 0o600, f);
    assert.equal(statSync(path.join(cp.dataDir, 'pki')).mode & 0o777, 0o700);
    const byIp = await presented(cp.port, cp.ca!);
    assert.match(byIp.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
    assert.match(byIp.subjectaltname ?? '', /DNS:localhost/);
    await presented(cp.port, cp.ca!, 'localhost');
    const r = await api(cp.url, cp.token, { ca: cp.ca })('GET', '/api/v1/namespaces');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.items.map((n: any) => n.metadata.name),
      ['default', 'kube-system'],
    );
    // Plain HTTP on the same port gets no answer (the socket is closed by the TLS server).
    await assert.rejects(
      new Promise((resolve, reject) =>
        http.get(cp.url.replace('https:', 'http:') + '/version', resolve).on('error', reject),
      ),
    );
    // No private key in the control plane's output.
    assert.doesNotMatch(cp.proc.output, /PRIVATE KEY/);
    assert.match(cp.proc.output, /"msg":"tls: issued a serving certificate"/);
  });

  test('berthctl through a context naming the CA gets, applies and watches; without the CA it fails naming the certificate problem', async () => {
    const config = path.join(dir.path, 'berth-config');
    writeFileSync(
      config,
      [
        'currentContext: tls',
        'contexts:',
        '  - name: tls',
        `    server: ${cp.url}`,
        `    token: ${cp.token}`,
        `    certificateAuthority: ${cp.caFile}`,
        '  - name: no-ca',
        `    server: ${cp.url}`,
        `    token: ${cp.token}`,
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const env = berthEnv({ BERTH_CONFIG: config });
    const got = await run(BERTHCTL, ['get', 'ns'], env);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^default {3,}Active/m);
    const applied = await run(BERTHCTL, ['apply', '-f', '-'], env, configMap('via-berthctl', '1'));
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, 'configmap/via-berthctl created\n');

    // A watch stream over TLS sees a change made meanwhile.
    const client = new BerthClient({ server: cp.url, token: cp.token, ca: cp.caFile });
    const ac = new AbortController();
    const cms = resolveKindName('cm')!;
    const seen: string[] = [];
    const watching = (async () => {
      for await (const ev of client.watch(cms, { namespace: 'default', resourceVersion: '0' }, ac.signal)) {
        seen.push(`${ev.type} ${ev.object.metadata.name}`);
        if (ev.object.metadata.name === 'watched') ac.abort();
      }
    })();
    await run(BERTHCTL, ['apply', '-f', '-'], env, configMap('watched', '1'));
    await Promise.race([watching, new Promise((r) => setTimeout(r, 10_000))]);
    ac.abort();
    client.close();
    assert.ok(seen.includes('ADDED watched'), seen.join(', '));

    const refused = await run(BERTHCTL, ['--context', 'no-ca', 'get', 'ns'], env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(
      refused.stderr,
      /^error: cannot reach the Berth API server at https:\/\/127\.0\.0\.1:\d+: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE) \(the server's TLS certificate was refused: it is signed by a certificate authority this client does not trust/,
    );
    assert.match(refused.stderr, /--certificate-authority FILE or BERTH_CA_FILE/);
    // The flag (or BERTH_CA_FILE) supplies the CA for a context that lacks it.
    const withFlag = await run(
      BERTHCTL,
      ['--context', 'no-ca', '--certificate-authority', cp.caFile!, 'get', 'cm', 'via-berthctl'],
      env,
    );
    assert.equal(withFlag.code, 0, withFlag.stderr);
    const withEnv = await run(
      BERTHCTL,
      ['get', 'ns', 'default'],
      berthEnv({
        BERTH_SERVER: cp.url,
        BERTH_TOKEN: cp.token,
        BERTH_CA_FILE: cp.caFile!,
        BERTH_CONFIG: config,
      }),
    );
    assert.equal(withEnv.code, 0, withEnv.stderr);
  });

  for (const minor of [33, 29]) {
    test(
      `kubectl 1.${minor} with --certificate-authority and --token, and with a kubeconfig like up writes: get namespaces, apply -f (no proxy)`,
      { skip: !haveKubectl(minor) && `kubectl 1.${minor} is not installed` },
      async () => {
        const cacheDir = tempDir(`berth-kubectl-${minor}-`);
        try {
          const target: KubectlTarget = {
            url: cp.url,
            token: cp.token,
            cacheDir: cacheDir.path,
            caFile: cp.caFile,
          };
          const ns = await kubectl(minor, target, ['get', 'namespaces']);
          assert.equal(ns.code, 0, ns.stderr);
          // (Columns beyond NAME depend on the server's Table support, not on TLS.)
          assert.match(ns.stdout, /^NAME +/);
          assert.match(ns.stdout, /^default +/m);
          assert.match(ns.stdout, /^kube-system +/m);
          const name = `kubectl-${minor}`;
          const created = await kubectl(minor, target, ['apply', '-f', '-'], {
            input: configMap(name, '1'),
          });
          assert.equal(created.code, 0, created.stderr);
          assert.equal(created.stdout, `configmap/${name} created\n`);

          const kubeconfig = path.join(cacheDir.path, 'kubeconfig');
          writeKubeconfig(kubeconfig, {
            name: 'berth-local',
            server: cp.url,
            caPem: cp.ca!,
            token: cp.token,
          });
          const viaFile = { kubeconfig, cacheDir: path.join(cacheDir.path, 'kc-cache') };
          const configured = await kubectl(minor, viaFile, ['apply', '-f', '-'], {
            input: configMap(name, '2'),
          });
          assert.equal(configured.code, 0, configured.stderr);
          assert.equal(configured.stdout, `configmap/${name} configured\n`);
          const read = await kubectl(minor, viaFile, ['get', 'cm', name, '-o', 'jsonpath={.data.k}']);
          assert.equal(read.code, 0, read.stderr);
          assert.equal(read.stdout, '2');

          // Without the CA kubectl refuses the server (and so never sends the token).
          const untrusted = await kubectl(minor, { ...target, caFile: undefined }, ['get', 'namespaces']);
          assert.notEqual(untrusted.code, 0);
          assert.match(untrusted.stderr, /x509: certificate signed by unknown authority/);
        } finally {
          cacheDir.remove();
        }
      },
    );
  }

  test('a restart reuses the CA and serving certificate (clients keep working with the CA they have)', async () => {
    const before = ['ca.crt', 'serving.crt', 'serving.key'].map((f) =>
      readFileSync(path.join(cp.dataDir, 'pki', f), 'utf8'),
    );
    await cp.restart();
    const after = ['ca.crt', 'serving.crt', 'serving.key'].map((f) =>
      readFileSync(path.join(cp.dataDir, 'pki', f), 'utf8'),
    );
    assert.deepEqual(after, before);
    assert.match(cp.proc.output, /"generated":"none"/);
    const r = await api(cp.url, cp.token, { ca: before[0] }).get('/api/v1/namespaces/default');
    assert.equal(r.status, 200);
  });

  test(
    'an agent with --ca-file registers its node and handles its pods over TLS; without it, it says the certificate was refused',
    { skip: !isRoot && 'needs root, runc and conmon' },
    async () => {
      const node = `tls-e2e-${process.pid}`;
      let agent: TestAgent | undefined;
      const k = api(cp.url, cp.token, { ca: cp.ca });
      try {
        agent = await startAgent({ server: cp.url, token: cp.token, nodeName: node, caFile: cp.caFile });
        const n = await k.get(`/api/v1/nodes/${node}`);
        assert.equal(n.status, 200);
        // A pod bound to the node: the agent sees it through its watch and reports a status.
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'tls-pod', namespace: 'default' },
          spec: { nodeName: node, containers: [{ name: 'c', image: '127.0.0.1:1/none/img:1' }] },
        };
        assert.equal((await k.post('/api/v1/namespaces/default/pods', pod)).status, 201);
        await waitFor('the agent to report the pod', async () => {
          const p = (await k.get('/api/v1/namespaces/default/pods/tls-pod')).body;
          return p.status?.containerStatuses?.[0]?.state?.waiting?.reason ? p : undefined;
        });
        await k.delete('/api/v1/namespaces/default/pods/tls-pod');
      } finally {
        await agent?.stop();
      }

      // The same agent without --ca-file: it cannot register, and its log says why.
      const side = tempDir('berth-tls-agent-');
      const tokenFile = path.join(side.path, 'token');
      writeFileSync(tokenFile, cp.token + '\n', { mode: 0o600 });
      const noCa = new Managed('berth-agent (no CA)', path.join(ROOT, 'bin', 'berth-agent'), [
        '--server',
        cp.url,
        '--token-file',
        tokenFile,
        '--node-name',
        `${node}-no-ca`,
        '--data-dir',
        path.join(side.path, 'data'),
        '--listen',
        `127.0.0.1:${await freePort()}`,
      ]);
      try {
        await noCa.waitForOutput(
          /TLS certificate was refused: it is signed by a certificate authority this client does not trust.*"msg":"cannot register the node yet"/,
          20_000,
        );
        assert.equal((await k.get(`/api/v1/nodes/${node}-no-ca`)).status, 404);
      } finally {
        await noCa.stop(15_000);
        side.remove();
      }
    },
  );
});

describe('control plane with --tls-cert-file and --tls-private-key-file', () => {
  const dir = tempDir('berth-tls-files-');
  let cp: ControlPlane | undefined;
  after(async () => {
    await cp?.stop();
    dir.remove();
  });

  /** A CA and a serving certificate for 127.0.0.1 it signed, made with the openssl CLI. */
  function opensslPki(): { ca: string; cert: string; key: string; otherKey: string } {
    const f = (n: string) => path.join(dir.path, n);
    const ossl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ossl([
      'req',
      '-x509',
      ...ec,
      '-subj',
      '/CN=test-ca',
      '-days',
      '2',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
    ]);
    ossl(['req', ...ec, '-subj', '/CN=berth', '-keyout', f('tls.key'), '-out', f('tls.csr')]);
    writeFileSync(f('ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    ossl([
      'x509',
      '-req',
      '-in',
      f('tls.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f('ext'),
      '-out',
      f('tls.crt'),
    ]);
    ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('other.key')]);
    return { ca: f('ca.crt'), cert: f('tls.crt'), key: f('tls.key'), otherKey: f('other.key') };
  }

  test('serves HTTPS with the given pair (kubectl trusts the given CA); a key that does not match is one line, exit 2', async () => {
    const pki = opensslPki();
    cp = await startControlPlane({
      extraArgs: ['--tls-cert-file', pki.cert, '--tls-private-key-file', pki.key],
    });
    assert.match(cp.url, /^https:/);
    assert.equal(cp.caFile, undefined);
    assert.equal(
      existsSync(path.join(cp.dataDir, 'pki')),
      false,
      'no CA is generated when the files are given',
    );
    const r = await api(cp.url, cp.token, { ca: readFileSync(pki.ca) }).get('/api/v1/namespaces');
    assert.equal(r.status, 200);
    if (haveKubectl(33)) {
      const cache = path.join(dir.path, 'cache');
      const ns = await kubectl(33, { url: cp.url, token: cp.token, cacheDir: cache, caFile: pki.ca }, [
        'get',
        'ns',
        'default',
        '-o',
        'name',
      ]);
      assert.equal(ns.code, 0, ns.stderr);
      assert.equal(ns.stdout, 'namespace/default\n');
    }

    const bad = new Managed('berth-control-plane (bad key)', CP_BIN, [
      '--data-dir',
      path.join(dir.path, 'bad'),
      '--port',
      '0',
      '--tls-cert-file',
      pki.cert,
      '--tls-private-key-file',
      pki.otherKey,
    ]);
    try {
      const code = await bad.exited;
      assert.equal(code, 2);
      assert.match(
        bad.output,
        /berth-control-plane: error: flags --tls-cert-file\/--tls-private-key-file: .* are not a usable certificate and key: .*mismatch/,
      );
      assert.doesNotMatch(bad.output, /PRIVATE KEY/);
    } finally {
      await bad.stop(5000);
    }
  });
});
