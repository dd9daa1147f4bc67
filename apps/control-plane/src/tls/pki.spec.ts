import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PKI_FILES, certNames, ensurePki, servingNames, type SubjectAltNames } from './pki';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-pki-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(tmp, `pki-${n++}`);
const DAY = 86_400_000;
const SANS: SubjectAltNames = { dns: ['localhost', 'node-a'], ips: ['127.0.0.1', '::1'] };

const read = (dir: string, f: string) => readFileSync(path.join(dir, f), 'utf8');
const cert = (dir: string, f: string) => new X509Certificate(read(dir, f));
const mode = (p: string) => statSync(p).mode & 0o777;

/**
 * One HTTPS request to a loopback server using the generated pair, trusting only `ca`; the name
 * checked is 127.0.0.1, or `servername` when given. Resolves the status or rejects with the TLS error.
 */
async function handshake(dir: string, ca: string, servername?: string): Promise<number> {
  const server = https.createServer(
    { cert: read(dir, PKI_FILES.cert), key: read(dir, PKI_FILES.key) },
    (_req, res) => res.end('ok'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, ca, servername, path: '/', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

describe('ensurePki (--tls auto)', () => {
  test('first start: a CA and a serving certificate for every wanted name; keys 0600 in a 0700 directory', async () => {
    const dir = freshDir();
    const r = await ensurePki(dir, SANS);
    assert.equal(r.generated, 'ca+serving');
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(r.caFile), 0o644);
    assert.equal(mode(path.join(dir, PKI_FILES.caKey)), 0o600);
    assert.equal(mode(r.keyFile), 0o600);
    const ca = cert(dir, PKI_FILES.caCert);
    const serving = cert(dir, PKI_FILES.cert);
    assert.equal(ca.ca, true);
    assert.equal(serving.ca, false);
    assert.ok(
      serving.checkIssued(ca) && serving.verify(ca.publicKey),
      'serving certificate signed by the CA',
    );
    assert.deepEqual(certNames(serving), { dns: ['localhost', 'node-a'], ips: ['127.0.0.1', '::1'] });
    assert.deepEqual(serving.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage serverAuth');
    assert.equal(r.caFingerprint, ca.fingerprint256);
    // A real client trusting only the CA accepts it, by IP and by DNS name.
    assert.equal(await handshake(dir, read(dir, PKI_FILES.caCert)), 200);
    assert.equal(await handshake(dir, read(dir, PKI_FILES.caCert), 'localhost'), 200);
  });

  test('a client that does not trust the CA is refused', async () => {
    const dir = freshDir();
    const other = freshDir();
    await ensurePki(dir, SANS);
    await ensurePki(other, SANS);
    await assert.rejects(handshake(dir, read(other, PKI_FILES.caCert)), (e: NodeJS.ErrnoException) =>
      /CERT|SIGNATURE|ISSUER/.test(e.code ?? ''),
    );
  });

  test('later starts reuse both, byte for byte', async () => {
    const dir = freshDir();
    await ensurePki(dir, SANS);
    const before = [PKI_FILES.caCert, PKI_FILES.caKey, PKI_FILES.cert, PKI_FILES.key].map((f) =>
      read(dir, f),
    );
    const r = await ensurePki(dir, { dns: ['node-a', 'localhost'], ips: ['::1', '127.0.0.1'] });
    assert.equal(r.generated, 'none');
    assert.deepEqual(
      [PKI_FILES.caCert, PKI_FILES.caKey, PKI_FILES.cert, PKI_FILES.key].map((f) => read(dir, f)),
      before,
    );
  });

  test('a new --host (a name the certificate lacks) re-issues the serving certificate under the same CA', async () => {
    const dir = freshDir();
    await ensurePki(dir, SANS);
    const caBefore = read(dir, PKI_FILES.caCert);
    const servingBefore = read(dir, PKI_FILES.cert);
    const r = await ensurePki(dir, { dns: SANS.dns, ips: [...SANS.ips, '10.1.2.3'] });
    assert.equal(r.generated, 'serving');
    assert.match(r.reason ?? '', /lacks 10\.1\.2\.3/);
    assert.equal(read(dir, PKI_FILES.caCert), caBefore);
    assert.notEqual(read(dir, PKI_FILES.cert), servingBefore);
    assert.ok(certNames(cert(dir, PKI_FILES.cert)).ips.includes('10.1.2.3'));
  });

  test('a serving certificate that ends within 90 days is re-issued; an expired CA is replaced with everything it signed', async () => {
    const dir = freshDir();
    const start = new Date('2030-01-01T00:00:00Z');
    await ensurePki(dir, SANS, start);
    const caBefore = read(dir, PKI_FILES.caCert);
    assert.equal((await ensurePki(dir, SANS, new Date(start.getTime() + 200 * DAY))).generated, 'none');
    const renewed = await ensurePki(dir, SANS, new Date(start.getTime() + 300 * DAY));
    assert.equal(renewed.generated, 'serving');
    assert.match(renewed.reason ?? '', /ends/);
    assert.equal(read(dir, PKI_FILES.caCert), caBefore);
    const later = new Date(start.getTime() + 3651 * DAY);
    const replaced = await ensurePki(dir, SANS, later);
    assert.equal(replaced.generated, 'ca+serving');
    assert.notEqual(read(dir, PKI_FILES.caCert), caBefore);
    const serving = cert(dir, PKI_FILES.cert);
    assert.ok(serving.checkIssued(cert(dir, PKI_FILES.caCert)));
    assert.ok(Date.parse(serving.validTo) > later.getTime() + 300 * DAY);
  });

  test('a serving key that does not match its certificate, or loosened key modes, are repaired', async () => {
    const dir = freshDir();
    await ensurePki(dir, SANS);
    const other = freshDir();
    await ensurePki(other, SANS);
    writeFileSync(path.join(dir, PKI_FILES.key), read(other, PKI_FILES.key));
    chmodSync(path.join(dir, PKI_FILES.caKey), 0o644);
    const r = await ensurePki(dir, SANS);
    assert.equal(r.generated, 'serving');
    assert.ok(cert(dir, PKI_FILES.cert).checkPrivateKey(createPrivateKey(read(dir, PKI_FILES.key))));
    assert.equal(mode(path.join(dir, PKI_FILES.caKey)), 0o600);
  });
});

describe('servingNames', () => {
  const ifaces = {
    lo: [{ address: '127.0.0.1' }, { address: '::1' }],
    eth0: [{ address: '192.168.1.5' }, { address: 'fe80::1' }],
  } as unknown as NodeJS.Dict<os.NetworkInterfaceInfo[]>;

  test('loopback, localhost and the host name always; the --host address or name', () => {
    assert.deepEqual(servingNames('127.0.0.1', 'Build-01', ifaces), {
      dns: ['build-01', 'localhost'],
      ips: ['127.0.0.1', '::1'],
    });
    assert.deepEqual(servingNames('10.0.0.7', 'h', ifaces).ips, ['10.0.0.7', '127.0.0.1', '::1']);
    assert.deepEqual(servingNames('api.example.test', 'h', ifaces).dns, [
      'api.example.test',
      'h',
      'localhost',
    ]);
    assert.deepEqual(servingNames('[0:0:0:0:0:0:0:1]', 'h', ifaces).ips, ['127.0.0.1', '::1']);
  });

  test('a wildcard --host adds the machine’s interface addresses (not link-local ones)', () => {
    assert.deepEqual(servingNames('0.0.0.0', 'h', ifaces).ips, ['127.0.0.1', '192.168.1.5', '::1']);
  });
});
