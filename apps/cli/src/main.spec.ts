import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run } from './main';
import type { CliIO } from './io';

/** Runs berthctl in-process with captured stdout/stderr. */
async function berthctl(args: string[], env: NodeJS.ProcessEnv, stdin = '') {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    out: (t) => (stdout += t),
    err: (t) => (stderr += t),
    env,
    readStdin: async () => stdin,
    now: () => Date.parse('2026-01-10T12:00:00Z'),
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

interface Seen {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-'));
const cfgFile = path.join(dir, 'config');
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fake API server keeping ConfigMaps in memory, enough for get/apply/delete. */
const store = new Map<string, Record<string, any>>();
let rv = 1;
const seen: Seen[] = [];
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url!, 'http://x');
    const body = Buffer.concat(chunks).toString();
    seen.push({ method: req.method!, url, headers: req.headers, body });
    const send = (code: number, obj: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    const notFound = (name: string) =>
      send(404, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        reason: 'NotFound',
        code: 404,
        message: `configmaps "${name}" not found`,
      });
    const log = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname);
    if (log) {
      if (log[2] !== 'web')
        return send(404, {
          kind: 'Status',
          reason: 'NotFound',
          code: 404,
          message: `pods "${log[2]}" not found`,
        });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end(
        `log of ${log[1]}/${log[2]} container=${url.searchParams.get('container')} tail=${url.searchParams.get('tailLines')}\n`,
      );
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m)
      return send(404, {
        kind: 'Status',
        reason: 'NotFound',
        code: 404,
        message: `no route ${url.pathname}`,
      });
    const [, ns, name] = m;
    const key = `${ns}/${name}`;
    if (req.method === 'GET' && !name) {
      const items = [...store.entries()].filter(([k]) => k.startsWith(ns + '/')).map(([, v]) => v);
      return send(200, {
        apiVersion: 'v1',
        kind: 'ConfigMapList',
        metadata: { resourceVersion: String(rv) },
        items,
      });
    }
    if (req.method === 'GET') return store.has(key) ? send(200, store.get(key)) : notFound(name);
    if (req.method === 'DELETE') {
      if (!store.has(key)) return notFound(name);
      const o = store.get(key);
      store.delete(key);
      return send(200, o);
    }
    if (req.method === 'PATCH') {
      const desired = JSON.parse(body);
      if (desired.data?.bad) {
        return send(422, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          reason: 'Invalid',
          code: 422,
          message: `ConfigMap "${name}" is invalid`,
          details: { causes: [{ field: 'data[bad]', message: 'the server says no' }] },
        });
      }
      const old = store.get(key);
      const dry = url.searchParams.get('dryRun') === 'All';
      const same = old && JSON.stringify(old.data) === JSON.stringify(desired.data);
      const next = same
        ? old
        : {
            ...desired,
            metadata: {
              ...desired.metadata,
              resourceVersion: String(++rv),
              creationTimestamp: '2026-01-10T11:59:00Z',
            },
          };
      if (!dry) store.set(key, next);
      return send(old ? 200 : 201, next);
    }
    send(405, { kind: 'Status', reason: 'MethodNotAllowed', code: 405, message: 'no' });
  });
});
let env: NodeJS.ProcessEnv = {};
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  env = {
    BERTH_CONFIG: cfgFile,
    BERTH_SERVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    BERTH_TOKEN: 't0k',
  };
});
after(() => {
  server.closeAllConnections();
  server.close();
});

describe('argument parsing and exit codes', () => {
  test('--help lists the exit codes and exits 0', async () => {
    const r = await berthctl(['--help'], env);
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      /Exit codes:\n {2}0 {2}success\n {2}1 {2}server failure.*\n {2}2 {2}usage error.*\n {2}3 {2}not found\n {2}4 {2}conflict.*\n {2}5 {2}invalid input/,
    );
  });

  test('an unknown command or flag is a usage error (exit 2) on stderr', async () => {
    const a = await berthctl(['frobnicate'], env);
    assert.equal(a.code, 2);
    assert.equal(a.stdout, '');
    assert.match(a.stderr, /^error: unknown command 'frobnicate'/);
    const b = await berthctl(['get', 'pods', '--frob'], env);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /^error: unknown option '--frob'/);
    const c = await berthctl(['get'], env);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /missing required argument 'kind'/);
  });

  test('a bad -o is exit 2 and names the allowed formats', async () => {
    const r = await berthctl(['get', 'cm', '-o', 'xml'], env);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^error: unknown output format "xml": allowed formats are wide, yaml, json, name\n/,
    );
  });

  test('an unknown kind is not-found (3) and lists the known types', async () => {
    const r = await berthctl(['get', 'widgets'], env);
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      /error: the server doesn't have a resource type "widgets"\nknown types: namespaces \(ns\), nodes \(no\), pods \(po\)/,
    );
  });

  test('a bad --dry-run value is a usage error', async () => {
    const r = await berthctl(['apply', '-f', '-', '--dry-run=maybe'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /argument 'maybe' is invalid. Allowed choices are none, client, server/);
  });
});

describe('commands against a fake API server', () => {
  test('program options work after the subcommand: -n and --token reach the request', async () => {
    seen.length = 0;
    const r = await berthctl(['get', 'configmaps', '-n', 'team', '--token', 'flag-token'], env);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'No resources found in team namespace.\n');
    assert.equal(seen[0].url.pathname, '/api/v1/namespaces/team/configmaps');
    assert.equal(seen[0].headers.authorization, 'Bearer flag-token');
  });

  test('apply from stdin: created, then unchanged, then configured; dry runs say so', async () => {
    const doc = (v: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: "${v}"\n`;
    let r = await berthctl(['apply', '-f', '-'], env, doc('1'));
    assert.deepEqual(r, { code: 0, stdout: 'configmap/settings created\n', stderr: '' });
    const patch = seen.find((s) => s.method === 'PATCH')!;
    assert.equal(patch.headers['content-type'], 'application/apply-patch+yaml');
    assert.equal(patch.url.searchParams.get('fieldManager'), 'berthctl');
    assert.equal(JSON.parse(patch.body).metadata.namespace, 'default');
    r = await berthctl(['apply', '-f', '-'], env, doc('1'));
    assert.equal(r.stdout, 'configmap/settings unchanged\n');
    r = await berthctl(['apply', '-f', '-', '--dry-run=server'], env, doc('2'));
    assert.equal(r.stdout, 'configmap/settings configured (server dry run)\n');
    r = await berthctl(['apply', '-f', '-', '--dry-run=client'], env, doc('2'));
    assert.equal(r.stdout, 'configmap/settings configured (dry run)\n');
    r = await berthctl(['apply', '-f', '-'], env, doc('2'));
    assert.equal(r.stdout, 'configmap/settings configured\n');
    r = await berthctl(['get', 'cm', 'settings', '-o', 'json'], env);
    assert.equal(JSON.parse(r.stdout).data.a, '2');
  });

  test("apply maps the server's 422 causes to file:line:col and still applies the other objects", async () => {
    const file = path.join(dir, 'mixed.yaml');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rejected\ndata:\n  bad: "x"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n',
    );
    const r = await berthctl(['apply', '-f', file], env);
    assert.equal(r.code, 5);
    assert.equal(r.stdout, 'configmap/fine created\n');
    assert.match(r.stderr, new RegExp(`${file}:6:3: data\\[bad\\]: the server says no\n`));
    assert.match(r.stderr, /error: 1 of 2 objects were not applied; fix the errors above and apply again\n$/);
  });

  test("apply -n conflicting with the object's namespace is an input error", async () => {
    const r = await berthctl(
      ['apply', '-n', 'other', '-f', '-'],
      env,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: team\n',
    );
    assert.equal(r.code, 5);
    assert.match(
      r.stderr,
      /<stdin>:4:3: metadata.namespace: the namespace from the object \("team"\) does not match the namespace given with -n \("other"\)/,
    );
  });

  test('get of a missing object: exit 3, message and hint on stderr, nothing on stdout', async () => {
    const r = await berthctl(['get', 'cm', 'nope'], env);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: configmaps "nope" not found\ncheck the name/);
  });

  test("delete prints kubectl's line; a second delete is not found unless --ignore-not-found", async () => {
    let r = await berthctl(['delete', 'cm', 'fine'], env);
    assert.deepEqual(r, { code: 0, stdout: 'configmap "fine" deleted\n', stderr: '' });
    r = await berthctl(['delete', 'configmap/fine'], env);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /configmaps "fine" not found/);
    r = await berthctl(['delete', 'cm', 'fine', '--ignore-not-found'], env);
    assert.deepEqual(r, { code: 0, stdout: '', stderr: '' });
  });

  test('logs copies the pod log to stdout; a missing pod is exit 3', async () => {
    let r = await berthctl(['logs', 'pod/web', '-c', 'app', '--tail', '5', '-n', 'prod'], env);
    assert.deepEqual(r, { code: 0, stdout: 'log of prod/web container=app tail=5\n', stderr: '' });
    r = await berthctl(['logs', 'nope'], env);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: pods "nope" not found\n/);
  });

  test('scale needs a whole --replicas and a scalable kind', async () => {
    let r = await berthctl(['scale', 'deploy', 'web', '--replicas', 'lots'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --replicas must be a whole number of at least 0, not "lots"\n/);
    r = await berthctl(['scale', 'cm/x', '--replicas', '1'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: configmaps cannot be scaled\n/);
  });

  test('an unreachable server is exit 1 with the way out', async () => {
    const r = await berthctl(['get', 'cm', '--server', 'http://127.0.0.1:1'], env);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: cannot reach the Berth API server at http:\/\/127.0.0.1:1: ECONNREFUSED \(is it running\? start one with `berthctl up`\)/,
    );
  });
});

describe('config commands', () => {
  test('set-context, use-context, get-contexts, current-context and view (token redacted); file is 0600', async () => {
    const e = { BERTH_CONFIG: cfgFile };
    assert.equal(
      (await berthctl(['config', 'set-context', 'a', '--server', 'http://a:1', '--token', 'sekret'], e))
        .stdout,
      'Context "a" created.\n',
    );
    assert.equal(
      (await berthctl(['config', 'set-context', 'b', '--server', 'http://b:2', '--namespace', 'prod'], e))
        .code,
      0,
    );
    assert.equal((await berthctl(['config', 'current-context'], e)).stdout, 'a\n');
    assert.equal((await berthctl(['config', 'use-context', 'b'], e)).stdout, 'Switched to context "b".\n');
    const r = await berthctl(['config', 'use-context', 'zzz'], e);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no context exists with the name "zzz"/);
    assert.equal(
      (await berthctl(['config', 'get-contexts'], e)).stdout,
      'CURRENT   NAME   SERVER       NAMESPACE\n          a      http://a:1   \n*         b      http://b:2   prod\n',
    );
    const view = (await berthctl(['config', 'view'], e)).stdout;
    assert.match(view, /token: REDACTED/);
    assert.doesNotMatch(view, /sekret/);
    assert.match((await berthctl(['config', 'view', '--raw'], e)).stdout, /token: sekret/);
    assert.equal(statSync(cfgFile).mode & 0o777, 0o600);
    assert.match(readFileSync(cfgFile, 'utf8'), /currentContext: b/);
    rmSync(cfgFile);
  });
});
