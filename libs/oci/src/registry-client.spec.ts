import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient } from './registry-client';
import { RegistryHosts } from './hosts';
import { parseReference } from './reference';
import { isOciError } from './errors';
import { MediaType } from './manifest';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A fake registry: each test installs its handler; requests are recorded. */
class Fake {
  server!: http.Server;
  handler: Handler = (_q, r) => void r.writeHead(500).end();
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      this.handler(req, res);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
  }
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  reset(h: Handler): void {
    this.requests = [];
    this.handler = h;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
  layers: [],
});

describe('RegistryClient', () => {
  const reg = new Fake();
  const other = new Fake();
  const client = () => new RegistryClient({ backoffMs: 1, attempts: 3 });
  before(async () => {
    await reg.start();
    await other.start();
  });
  after(async () => {
    await reg.stop();
    await other.stop();
  });

  test('asks for OCI and Docker v2 manifests and lists (never schema 1) and computes the digest', async () => {
    reg.reset((_q, r) => void r.writeHead(200, { 'content-type': MediaType.OciManifest }).end(MANIFEST));
    const m = await client().getManifest(parseReference(`${reg.host}/a/b:1`));
    const accept = String(reg.requests[0].headers.accept);
    for (const t of [
      MediaType.OciManifest,
      MediaType.OciIndex,
      MediaType.DockerManifest,
      MediaType.DockerManifestList,
    ])
      assert.ok(accept.includes(t), `Accept lists ${t}`);
    assert.ok(!accept.includes('v1+prettyjws'));
    assert.equal(reg.requests[0].url, '/v2/a/b/manifests/1');
    assert.match(m.digest, /^sha256:[a-f0-9]{64}$/);
  });

  test('retries 5xx with backoff, then gives up naming the status', async () => {
    let n = 0;
    reg.reset((_q, r) => void (++n < 3 ? r.writeHead(503).end() : r.writeHead(200).end(MANIFEST)));
    await client().getManifest(parseReference(`${reg.host}/a/b:1`));
    assert.equal(n, 3);
    reg.reset((_q, r) => void r.writeHead(502).end('bad gateway'));
    await assert.rejects(
      client().getManifest(parseReference(`${reg.host}/a/b:1`)),
      (e) => isOciError(e, 'Registry') && /HTTP 502/.test(e.message) && e.retryable,
    );
    assert.equal(reg.requests.length, 3, 'bounded attempts');
  });

  test('a broken connection is retried', async () => {
    let n = 0;
    reg.reset((req, r) => {
      if (++n === 1) return void req.socket.destroy();
      r.writeHead(200).end(MANIFEST);
    });
    await client().getManifest(parseReference(`${reg.host}/a/b:1`));
    assert.equal(n, 2);
  });

  test('404 is NotFound naming the reference', async () => {
    reg.reset(
      (_q, r) =>
        void r.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'),
    );
    await assert.rejects(
      client().getManifest(parseReference(`${reg.host}/a/b:7`)),
      (e) =>
        isOciError(e, 'NotFound') &&
        e.message.includes(`${reg.host}/a/b:7`) &&
        e.message.includes('MANIFEST_UNKNOWN'),
    );
  });

  test('bearer: fetches a token from the realm with basic credentials, caches it per scope, retries the 401 once', async () => {
    let tokens = 0;
    other.reset((req, r) => {
      const u = new URL(req.url ?? '', 'http://x');
      assert.equal(u.searchParams.get('service'), 'svc');
      assert.equal(u.searchParams.get('scope'), 'repository:a/b:pull');
      assert.equal(req.headers.authorization, `Basic ${Buffer.from('me:pw').toString('base64')}`);
      tokens++;
      r.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ token: `T${tokens}`, expires_in: 300 }),
      );
    });
    reg.reset((req, r) => {
      if (req.headers.authorization === 'Bearer T1') return void r.writeHead(200).end(MANIFEST);
      r.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${other.host}/token",service="svc",scope="repository:a/b:pull"`,
      }).end();
    });
    const c = new RegistryClient({
      hosts: new RegistryHosts({ credentials: { [reg.host]: { username: 'me', password: 'pw' } } }),
    });
    await c.getManifest(parseReference(`${reg.host}/a/b:1`));
    await c.getManifest(parseReference(`${reg.host}/a/b:2`));
    assert.equal(tokens, 1, 'token cached for the scope');
    assert.equal(reg.requests.length, 3, 'one 401, then two authorised requests');
  });

  test('a token the registry still refuses is Unauthorized after one retry', async () => {
    other.reset((_q, r) => void r.writeHead(200).end('{"token":"nope"}'));
    reg.reset(
      (_q, r) =>
        void r
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://${other.host}/token",service="svc"` })
          .end(),
    );
    await assert.rejects(client().getManifest(parseReference(`${reg.host}/a/b:1`)), (e) =>
      isOciError(e, 'Unauthorized'),
    );
    assert.equal(reg.requests.length, 2);
  });

  test('basic challenge without credentials says none are configured', async () => {
    reg.reset((_q, r) => void r.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end());
    await assert.rejects(
      client().getManifest(parseReference(`${reg.host}/a/b:1`)),
      (e) =>
        isOciError(e, 'Unauthorized') && /no credentials are configured for 127\.0\.0\.1/.test(e.message),
    );
  });

  test('blob redirects are followed and Authorization is not sent to another origin', async () => {
    other.reset((_q, r) => void r.writeHead(200, { 'content-length': '5' }).end('hello'));
    reg.reset((req, r) => {
      if (!req.headers.authorization)
        return void r.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
      r.writeHead(307, { location: `http://${other.host}/storage/blob` }).end();
    });
    const c = new RegistryClient({
      hosts: new RegistryHosts({ credentials: { [reg.host]: { username: 'u', password: 'p' } } }),
    });
    const blob = await c.getBlob(parseReference(`${reg.host}/a/b:1`), `sha256:${'b'.repeat(64)}`);
    let body = '';
    for await (const chunk of blob.stream) body += String(chunk);
    assert.equal(body, 'hello');
    assert.equal(other.requests.length, 1);
    assert.equal(other.requests[0].headers.authorization, undefined);
  });

  test('mirrors are tried first; on a miss the origin answers', async () => {
    other.reset((_q, r) => void r.writeHead(404).end());
    reg.reset((_q, r) => void r.writeHead(200).end(MANIFEST));
    const hosts = new RegistryHosts({ mirrors: { [reg.host]: [`http://${other.host}`] } });
    const m = await new RegistryClient({ hosts }).getManifest(parseReference(`${reg.host}/a/b:1`));
    assert.equal(other.requests.length, 1);
    assert.equal(m.endpoint.url, `http://${reg.host}`);
  });

  test("a pull's own credentials go to the image's registry, never to a mirror", async () => {
    other.reset((_q, r) => void r.writeHead(401, { 'www-authenticate': 'Basic realm="m"' }).end());
    reg.reset((req, r) =>
      req.headers.authorization
        ? void r.writeHead(200).end(MANIFEST)
        : void r.writeHead(401, { 'www-authenticate': 'Basic realm="o"' }).end(),
    );
    const hosts = new RegistryHosts({ mirrors: { [reg.host]: [`http://${other.host}`] } });
    await new RegistryClient({ hosts }).getManifest(parseReference(`${reg.host}/a/b:1`), {
      credentials: { username: 'secret', password: 'pw' },
    });
    assert.ok(other.requests.length >= 1);
    assert.ok(other.requests.every((r) => r.headers.authorization === undefined));
    assert.equal(reg.requests.length, 2);
  });

  test('ping reports the auth challenge', async () => {
    reg.reset(
      (_q, r) =>
        void r.writeHead(401, { 'www-authenticate': 'Bearer realm="http://t/token",service="s"' }).end(),
    );
    const p = await client().ping(reg.host);
    assert.equal(p.status, 401);
    assert.equal(p.challenges[0].params.service, 's');
  });
});
