import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApiError, resolveKindName, type KubeObject, type WatchEvent } from '@berth/api';
import { BerthClient } from './client';
import { ConfigError } from './config';
import { ConnectionError } from './http';
import { listAndWatch, type InformerEvent } from './informer';
import { readLines } from './ndjson';

const pods = resolveKindName('pods')!;
const deploys = resolveKindName('deploy')!;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A tiny fake API server: each test installs a handler; requests are recorded. */
class FakeServer {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      this.seen.push(seen);
      this.handler(seen, res);
    });
  });
  seen: Seen[] = [];
  handler: (req: Seen, res: http.ServerResponse) => void = (_r, res) => res.end();
  url = '';
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

function pod(name: string, rv: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', resourceVersion: rv } };
}

function json(res: http.ServerResponse, code: number, body: unknown) {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe('readLines', () => {
  test('reassembles lines and multi-byte characters cut at any chunk boundary', async () => {
    const text = '{"a":"é€😀"}\n\n{"b":2}\r\n{"c":3}';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      async function* chunks() {
        yield bytes.subarray(0, cut);
        yield bytes.subarray(cut);
      }
      const lines: string[] = [];
      for await (const l of readLines(chunks())) lines.push(l);
      assert.deepEqual(lines, ['{"a":"é€😀"}', '{"b":2}', '{"c":3}'], `cut at ${cut}`);
    }
  });
});

describe('BerthClient', () => {
  const fake = new FakeServer();
  before(() => fake.start());
  after(() => fake.stop());

  test('get sends the bearer token to the Kubernetes path and returns the object', async () => {
    fake.seen = [];
    fake.handler = (_r, res) => json(res, 200, pod('web', '7'));
    const c = new BerthClient({ server: fake.url + '/', token: 'tok' });
    const got = await c.get(pods, 'default', 'web');
    assert.equal(got.metadata.name, 'web');
    assert.equal(fake.seen[0].url, '/api/v1/namespaces/default/pods/web');
    assert.equal(fake.seen[0].headers.authorization, 'Bearer tok');
  });

  test('a Status answer becomes an ApiError with its reason, code and causes', async () => {
    fake.handler = (_r, res) =>
      json(res, 422, {
        apiVersion: 'v1',
        kind: 'Status',
        metadata: {},
        status: 'Failure',
        reason: 'Invalid',
        code: 422,
        message: 'Pod "x" is invalid',
        details: { causes: [{ field: 'spec.containers[0].image', message: 'Required value' }] },
      });
    const c = new BerthClient({ server: fake.url });
    await assert.rejects(c.get(pods, 'default', 'x'), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 422);
      assert.equal(e.reason, 'Invalid');
      assert.equal(e.details?.causes?.[0].field, 'spec.containers[0].image');
      return true;
    });
  });

  test('a non-Status error body still gives an ApiError from the HTTP code', async () => {
    fake.handler = (_r, res) => {
      res.writeHead(404);
      res.end('404 page not found');
    };
    const c = new BerthClient({ server: fake.url });
    await assert.rejects(c.get(pods, 'default', 'x'), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.reason, 'NotFound');
      assert.equal(e.code, 404);
      return true;
    });
  });

  test('listAll follows continue tokens and keeps the first resourceVersion', async () => {
    fake.seen = [];
    fake.handler = (r, res) => {
      const u = new URL(r.url, 'http://x');
      if (!u.searchParams.get('continue'))
        json(res, 200, {
          kind: 'PodList',
          metadata: { resourceVersion: '10', continue: 'p2' },
          items: [pod('a', '1')],
        });
      else json(res, 200, { kind: 'PodList', metadata: { resourceVersion: '10' }, items: [pod('b', '2')] });
    };
    const c = new BerthClient({ server: fake.url });
    const l = await c.listAll(pods, { namespace: 'default', labelSelector: 'app=web', limit: 1 });
    assert.deepEqual(
      l.items.map((i) => i.metadata.name),
      ['a', 'b'],
    );
    assert.equal(l.metadata.resourceVersion, '10');
    assert.match(fake.seen[1].url, /continue=p2/);
    assert.match(fake.seen[1].url, /labelSelector=app%3Dweb/);
  });

  test('apply PATCHes the whole object as apply-patch+yaml with fieldManager and dryRun', async () => {
    fake.seen = [];
    fake.handler = (r, res) => json(res, 200, JSON.parse(r.body));
    const c = new BerthClient({ server: fake.url });
    const obj = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'prod' },
      spec: {},
    };
    await c.apply(obj, { dryRun: true, force: true });
    const s = fake.seen[0];
    assert.equal(s.method, 'PATCH');
    assert.equal(s.headers['content-type'], 'application/apply-patch+yaml');
    const u = new URL(s.url, 'http://x');
    assert.equal(u.pathname, '/apis/apps/v1/namespaces/prod/deployments/web');
    assert.equal(u.searchParams.get('fieldManager'), 'berthctl');
    assert.equal(u.searchParams.get('dryRun'), 'All');
    assert.equal(u.searchParams.get('force'), 'true');
    assert.deepEqual(JSON.parse(s.body), obj);
  });

  test('patch, delete and scale use the Kubernetes content types, query and subresource', async () => {
    fake.seen = [];
    fake.handler = (r, res) => json(res, 200, { kind: 'Scale', metadata: {}, spec: { replicas: 3 } });
    const c = new BerthClient({ server: fake.url });
    await c.patch(deploys, 'd', 'web', [{ op: 'add', path: '/x', value: 1 }], 'json');
    await c.patch(deploys, 'd', 'web', { spec: {} }, 'merge');
    await c.delete(deploys, 'd', 'web', { propagationPolicy: 'Foreground', dryRun: true });
    await c.setScale(deploys, 'd', 'web', 3);
    assert.equal(fake.seen[0].headers['content-type'], 'application/json-patch+json');
    assert.equal(fake.seen[1].headers['content-type'], 'application/merge-patch+json');
    assert.equal(fake.seen[2].method, 'DELETE');
    assert.match(fake.seen[2].url, /propagationPolicy=Foreground&dryRun=All$/);
    assert.equal(fake.seen[3].method, 'PUT');
    assert.equal(
      new URL(fake.seen[3].url, 'http://x').pathname,
      '/apis/apps/v1/namespaces/d/deployments/web/scale',
    );
    assert.equal(JSON.parse(fake.seen[3].body).spec.replicas, 3);
    await assert.rejects(c.getScale(pods, 'd', 'p'), /no scale subresource/);
  });

  test('watch yields events written byte by byte and across chunk boundaries', async () => {
    fake.seen = [];
    const events: WatchEvent[] = [
      { type: 'ADDED', object: pod('a', '11') },
      {
        type: 'MODIFIED',
        object: { ...pod('a', '12'), metadata: { name: 'a', resourceVersion: '12', labels: { x: 'ü' } } },
      },
      { type: 'DELETED', object: pod('a', '13') },
    ];
    fake.handler = (_r, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const bytes = Buffer.from(events.map((e) => JSON.stringify(e) + '\n').join(''));
      let i = 0;
      const step = () => {
        if (i >= bytes.length) return res.end();
        const n = 1 + (i % 7);
        res.write(bytes.subarray(i, i + n));
        i += n;
        setImmediate(step);
      };
      step();
    };
    const c = new BerthClient({ server: fake.url });
    const got: WatchEvent[] = [];
    for await (const e of c.watch(pods, {
      namespace: 'default',
      resourceVersion: '10',
      allowBookmarks: true,
    }))
      got.push(e);
    assert.deepEqual(got, events);
    const u = new URL(fake.seen[0].url, 'http://x');
    assert.equal(u.searchParams.get('watch'), 'true');
    assert.equal(u.searchParams.get('resourceVersion'), '10');
    assert.equal(u.searchParams.get('allowWatchBookmarks'), 'true');
  });

  test('a watch ERROR event with a Status is thrown as ApiError (410 Gone)', async () => {
    fake.handler = (_r, res) => {
      res.writeHead(200);
      res.write(JSON.stringify({ type: 'ADDED', object: pod('a', '5') }) + '\n');
      res.end(
        JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            reason: 'Gone',
            code: 410,
            message: 'too old resource version',
          },
        }) + '\n',
      );
    };
    const c = new BerthClient({ server: fake.url });
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of c.watch(pods, { resourceVersion: '1' })) got.push(e.type);
      })(),
      (e: unknown) => e instanceof ApiError && e.code === 410,
    );
    assert.deepEqual(got, ['ADDED']);
  });

  test('aborting the signal ends a watch that is waiting for events', async () => {
    fake.handler = (_r, res) => {
      res.writeHead(200);
      res.write(JSON.stringify({ type: 'ADDED', object: pod('a', '5') }) + '\n');
    };
    const c = new BerthClient({ server: fake.url });
    const ac = new AbortController();
    const got: string[] = [];
    for await (const e of c.watch(pods, {}, ac.signal)) {
      got.push(e.object.metadata.name!);
      ac.abort();
    }
    assert.deepEqual(got, ['a']);
  });

  test('logs streams the body and emits a NotFound ApiError as a stream error', async () => {
    fake.seen = [];
    fake.handler = (r, res) => {
      if (r.url.includes('/pods/missing/'))
        return json(res, 404, {
          kind: 'Status',
          message: 'pods "missing" not found',
          reason: 'NotFound',
          code: 404,
        });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('line 1\nline 2\n');
    };
    const c = new BerthClient({ server: fake.url });
    let text = '';
    for await (const ch of c.logs('default', 'web', { container: 'app', tailLines: 5, follow: true }))
      text += ch;
    assert.equal(text, 'line 1\nline 2\n');
    const u = new URL(fake.seen[0].url, 'http://x');
    assert.equal(u.pathname, '/api/v1/namespaces/default/pods/web/log');
    assert.equal(u.searchParams.get('container'), 'app');
    assert.equal(u.searchParams.get('tailLines'), '5');
    assert.equal(u.searchParams.get('follow'), 'true');
    await assert.rejects(
      (async () => {
        for await (const _ of c.logs('default', 'missing')) void _;
      })(),
      (e: unknown) => e instanceof ApiError && e.code === 404,
    );
  });

  test('listAndWatch relists after 410 and resumes from the last seen resourceVersion after a disconnect', async () => {
    fake.seen = [];
    let lists = 0;
    let watches = 0;
    fake.handler = (r, res) => {
      const u = new URL(r.url, 'http://x');
      if (u.searchParams.get('watch') !== 'true') {
        lists++;
        return json(res, 200, {
          kind: 'PodList',
          metadata: { resourceVersion: lists === 1 ? '10' : '30' },
          items: [pod('a', '9')],
        });
      }
      watches++;
      res.writeHead(200);
      if (watches === 1) {
        // two events, then the connection drops
        res.write(JSON.stringify({ type: 'ADDED', object: pod('b', '11') }) + '\n');
        res.write(
          JSON.stringify({
            type: 'BOOKMARK',
            object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '15' } },
          }) + '\n',
        );
        setTimeout(() => res.socket?.destroy(), 50);
      } else if (watches === 2) {
        res.end(
          JSON.stringify({
            type: 'ERROR',
            object: { kind: 'Status', message: 'gone', reason: 'Gone', code: 410 },
          }) + '\n',
        );
      } else {
        res.write(JSON.stringify({ type: 'MODIFIED', object: pod('a', '31') }) + '\n');
      }
    };
    const c = new BerthClient({ server: fake.url });
    const ac = new AbortController();
    const got: InformerEvent[] = [];
    for await (const e of listAndWatch(c, pods, { namespace: 'default', retryDelayMs: 10 }, ac.signal)) {
      got.push(e);
      if (got.length === 4) ac.abort();
    }
    assert.deepEqual(
      got.map((e) =>
        e.type === 'SYNC' ? `SYNC@${e.resourceVersion}` : `${e.type}:${e.object.metadata.name}`,
      ),
      ['SYNC@10', 'ADDED:b', 'SYNC@30', 'MODIFIED:a'],
    );
    const watchRvs = fake.seen
      .filter((s) => s.url.includes('watch=true'))
      .map((s) => new URL(s.url, 'http://x').searchParams.get('resourceVersion'));
    assert.deepEqual(watchRvs, ['10', '15', '30']);
  });

  test('a refused connection says where and how to start a server', async () => {
    const c = new BerthClient({ server: 'http://127.0.0.1:1' });
    await assert.rejects(c.get(pods, 'default', 'x'), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(
        e.message,
        'cannot reach the Berth API server at http://127.0.0.1:1: ECONNREFUSED (is it running? start one with `berthctl up`)',
      );
      return true;
    });
  });
});

describe('BerthClient over https', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-client-tls-'));
  /** A self-signed certificate for 127.0.0.1 (its own CA), made with the openssl CLI. */
  const selfSigned = (name: string) => {
    const key = path.join(dir, `${name}.key`);
    const crt = path.join(dir, `${name}.crt`);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '2',
        '-keyout',
        key,
        '-out',
        crt,
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(key), cert: readFileSync(crt), crt };
  };
  const served = selfSigned('served');
  const stranger = selfSigned('stranger');
  let server: https.Server;
  let url = '';
  const seen: string[] = [];

  before(async () => {
    server = https.createServer({ key: served.key, cert: served.cert }, (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      if (req.url?.includes('watch=true')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(JSON.stringify({ type: 'ADDED', object: pod('a', '2') }) + '\n');
        res.end(JSON.stringify({ type: 'MODIFIED', object: pod('a', '3') }) + '\n');
        return;
      }
      json(res, 200, pod('a', '1'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('with the CA (a file or PEM text) requests and watches work and carry the token', async () => {
    for (const ca of [served.crt, served.cert.toString()]) {
      const c = new BerthClient({ server: url, token: 't0k', ca });
      try {
        assert.equal((await c.get(pods, 'default', 'a')).metadata.resourceVersion, '1');
        const events: string[] = [];
        for await (const ev of c.watch(pods, { namespace: 'default' }))
          events.push(`${ev.type} ${ev.object.metadata.resourceVersion}`);
        assert.deepEqual(events, ['ADDED 2', 'MODIFIED 3']);
      } finally {
        c.close();
      }
    }
    assert.ok(
      seen.every((l) => l.endsWith('Bearer t0k')),
      seen.join('\n'),
    );
  });

  test('without the CA, or with another one, the request fails and the error names the certificate problem', async () => {
    for (const ca of [undefined, stranger.crt]) {
      const c = new BerthClient({ server: url, token: 't0k', ca });
      const before = seen.length;
      await assert.rejects(c.get(pods, 'default', 'a'), (e: unknown) => {
        assert.ok(e instanceof ConnectionError, String(e));
        assert.match(e.causeCode, /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
        assert.match(
          e.message,
          /TLS certificate was refused: .*(not trust|self-signed).*give the client the CA/,
        );
        return true;
      });
      assert.equal(seen.length, before, 'nothing (so no token) reached the server');
      c.close();
    }
  });

  test('an https URL at a plain-HTTP server says so; an unreadable CA file is a ConfigError', async () => {
    const plain = new FakeServer();
    await plain.start();
    try {
      const c = new BerthClient({ server: plain.url.replace('http:', 'https:'), ca: served.crt });
      await assert.rejects(
        c.get(pods, 'default', 'a'),
        /EPROTO \(no TLS answer: does the server serve plain HTTP\? then use http:\/\/\)/,
      );
      c.close();
    } finally {
      await plain.stop();
    }
    assert.throws(
      () => new BerthClient({ server: url, ca: '/nonexistent/ca.crt' }),
      (e: unknown) =>
        e instanceof ConfigError && /cannot read the CA file \/nonexistent\/ca.crt: ENOENT/.test(e.message),
    );
  });
});
