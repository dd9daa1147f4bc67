import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  TestRedis,
  api,
  openWatch,
  startControlPlane,
  type ApiCaller,
  type ControlPlane,
} from '@berth/testing';

const NS = '/api/v1/namespaces/default';
const DEPLOYS = '/apis/apps/v1/namespaces/default/deployments';

function configMap(name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}) }, data };
}

function deployment(
  name: string,
  opts: { replicas?: number; labels?: Record<string, string>; image?: string } = {},
) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: opts.labels ?? { app: name } },
    spec: {
      ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'main', image: opts.image ?? 'busybox:1.36', command: ['sleep', '3600'] }],
        },
      },
    },
  };
}

function pod(name: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
  };
}

function assertStatus(res: { status: number; body: any }, code: number, reason?: string): void {
  assert.equal(res.status, code, JSON.stringify(res.body));
  assert.equal(res.body.kind, 'Status', JSON.stringify(res.body));
  assert.equal(res.body.code, code);
  if (reason) assert.equal(res.body.reason, reason, JSON.stringify(res.body));
}

function redisCli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
}

describe('control plane over a real Redis', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let k: ApiCaller;

  before(async () => {
    redis = await TestRedis.start();
    // The API on its own: controllers would write the Deployments these tests PUT (409s).
    cp = await startControlPlane({
      redisUrl: redis.url,
      env: { BERTH_BOOKMARK_INTERVAL_MS: '300' },
      extraArgs: ['--controllers', 'none'],
    });
    k = api(cp.url, cp.token);
  });

  after(async () => {
    await cp?.stop();
    await redis?.stop();
  });

  test('the system namespaces exist and discovery and /version answer', async () => {
    for (const ns of ['default', 'kube-system'])
      assert.equal((await k.get(`/api/v1/namespaces/${ns}`)).status, 200);
    const v = await k.get('/version');
    assert.equal(v.body.gitVersion, 'v1.32.0-berth');
    const core = await k.get('/api/v1');
    assert.equal(core.body.kind, 'APIResourceList');
    const pods = core.body.resources.find((r: any) => r.name === 'pods');
    assert.deepEqual([pods.kind, pods.namespaced, pods.shortNames], ['Pod', true, ['po']]);
    const apps = await k.get('/apis/apps/v1');
    assert.ok(apps.body.resources.some((r: any) => r.name === 'deployments/scale'));
    assert.equal((await k.get('/apis')).body.groups[0].name, 'apps');
    assert.deepEqual((await k.get('/api')).body.versions, ['v1']);
  });

  test('CRUD through HTTP for a Deployment, Pod, ConfigMap, Namespace and Node', async () => {
    const cases: Array<{ coll: string; obj: any; change: (o: any) => void }> = [
      { coll: DEPLOYS, obj: deployment('crud-web', { replicas: 2 }), change: (o) => (o.spec.replicas = 3) },
      { coll: `${NS}/pods`, obj: pod('crud-pod'), change: (o) => (o.metadata.labels = { x: 'y' }) },
      { coll: `${NS}/configmaps`, obj: configMap('crud-cm'), change: (o) => (o.data.b = '2') },
      {
        coll: '/api/v1/namespaces',
        obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'crud-ns' } },
        change: (o) => (o.metadata.labels = { team: 'a' }),
      },
      {
        coll: '/api/v1/nodes',
        obj: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'crud-node' }, spec: {} },
        change: (o) => (o.metadata.labels = { zone: 'z1' }),
      },
    ];
    for (const c of cases) {
      const name = c.obj.metadata.name;
      const created = await k.post(c.coll, c.obj);
      assert.equal(created.status, 201, `${c.coll}: ${JSON.stringify(created.body)}`);
      assert.ok(created.body.metadata.uid);
      assert.ok(created.body.metadata.resourceVersion);
      assert.equal((await k.post(c.coll, c.obj)).status, 409, `${c.coll} twice`);
      const got = await k.get(`${c.coll}/${name}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.metadata.uid, created.body.metadata.uid);
      const list = await k.get(c.coll);
      assert.equal(list.status, 200);
      assert.ok(list.body.kind.endsWith('List'));
      assert.ok(
        list.body.items.some((i: any) => i.metadata.name === name),
        `${c.coll} lists ${name}`,
      );
      c.change(got.body);
      const put = await k.put(`${c.coll}/${name}`, got.body);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.notEqual(put.body.metadata.resourceVersion, got.body.metadata.resourceVersion);
      const del = await k.delete(`${c.coll}/${name}`);
      assert.equal(del.status, 200, JSON.stringify(del.body));
      assertStatus(await k.get(`${c.coll}/${name}`), 404, 'NotFound');
    }
    // The all-namespaces collection lists namespaced kinds across namespaces.
    await k.post(`${NS}/configmaps`, configMap('crud-all'));
    const all = await k.get('/api/v1/configmaps');
    assert.ok(
      all.body.items.some((i: any) => i.metadata.name === 'crud-all' && i.metadata.namespace === 'default'),
    );
  });

  test('a namespace in the URL wins; a different one in the body is 400; a name mismatch on PUT is 400', async () => {
    const cm = await k.post(`${NS}/configmaps`, configMap('ns-defaulted'));
    assert.equal(cm.body.metadata.namespace, 'default');
    const other = {
      ...configMap('ns-mismatch'),
      metadata: { name: 'ns-mismatch', namespace: 'kube-system' },
    };
    assertStatus(await k.post(`${NS}/configmaps`, other), 400, 'BadRequest');
    assertStatus(await k.put(`${NS}/configmaps/another-name`, cm.body), 400, 'BadRequest');
    assertStatus(
      await k.post('/api/v1/namespaces/nope/configmaps', configMap('in-missing-ns')),
      404,
      'NotFound',
    );
  });

  test('generation rises on spec changes only, not on metadata or status changes', async () => {
    const d = (await k.post(DEPLOYS, deployment('gen', { replicas: 1 }))).body;
    assert.equal(d.metadata.generation, 1);
    const labelled = await k.patch(`${DEPLOYS}/gen`, { metadata: { labels: { app: 'gen', extra: 'x' } } });
    assert.equal(labelled.body.metadata.generation, 1);
    const status = await k.patch(`${DEPLOYS}/gen/status`, { status: { observedGeneration: 1, replicas: 0 } });
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.equal(status.body.metadata.generation, 1);
    const spec = await k.patch(`${DEPLOYS}/gen`, { spec: { replicas: 4 } });
    assert.equal(spec.body.metadata.generation, 2);
  });

  test('status is written only through the status subresource', async () => {
    const d = (await k.post(DEPLOYS, deployment('st', { replicas: 1 }))).body;
    d.status = { replicas: 7 };
    d.spec.replicas = 2;
    const viaMain = await k.put(`${DEPLOYS}/st`, d);
    assert.equal(viaMain.status, 200);
    assert.equal(viaMain.body.status?.replicas, undefined);
    assert.equal(viaMain.body.spec.replicas, 2);
    const cur = viaMain.body;
    cur.status = { replicas: 3 };
    cur.spec.replicas = 9;
    const viaStatus = await k.put(`${DEPLOYS}/st/status`, cur);
    assert.equal(viaStatus.status, 200, JSON.stringify(viaStatus.body));
    assert.equal(viaStatus.body.status.replicas, 3);
    assert.equal(viaStatus.body.spec.replicas, 2);
    assert.equal((await k.get(`${DEPLOYS}/st/status`)).body.status.replicas, 3);
  });

  test('scale subresource reads and writes spec.replicas as an autoscaling/v1 Scale', async () => {
    await k.post(DEPLOYS, deployment('sc', { replicas: 2 }));
    const s = await k.get(`${DEPLOYS}/sc/scale`);
    assert.equal(s.status, 200);
    assert.deepEqual(
      [s.body.apiVersion, s.body.kind, s.body.spec.replicas, s.body.status.selector],
      ['autoscaling/v1', 'Scale', 2, 'app=sc'],
    );
    const put = await k.put(`${DEPLOYS}/sc/scale`, {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: 'sc', namespace: 'default' },
      spec: { replicas: 5 },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.spec.replicas, 5);
    const patched = await k.patch(`${DEPLOYS}/sc/scale`, { spec: { replicas: 6 } });
    assert.equal(patched.body.spec.replicas, 6);
    assert.equal((await k.get(`${DEPLOYS}/sc`)).body.spec.replicas, 6);
    assertStatus(await k.patch(`${DEPLOYS}/sc/scale`, { spec: { replicas: -1 } }), 422, 'Invalid');
    // A stale resourceVersion in a Scale PUT is a conflict.
    const stale = await k.put(`${DEPLOYS}/sc/scale`, { ...s.body, spec: { replicas: 1 } });
    assertStatus(stale, 409, 'Conflict');
  });

  test('merge, JSON and strategic patches', async () => {
    await k.post(`${NS}/configmaps`, configMap('patchme', { a: '1', b: '2' }));
    const merged = await k.patch(`${NS}/configmaps/patchme`, { data: { a: null, c: '3' } });
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.deepEqual(merged.body.data, { b: '2', c: '3' });
    const jp = await k.patch(
      `${NS}/configmaps/patchme`,
      [{ op: 'replace', path: '/data/b', value: 'two' }],
      'application/json-patch+json',
    );
    assert.equal(jp.status, 200, JSON.stringify(jp.body));
    assert.equal(jp.body.data.b, 'two');
    assertStatus(
      await k.patch(
        `${NS}/configmaps/patchme`,
        [{ op: 'test', path: '/data/b', value: 'nope' }],
        'application/json-patch+json',
      ),
      422,
    );
    await k.post(DEPLOYS, deployment('smp'));
    const smp = await k.patch(
      `${DEPLOYS}/smp`,
      { spec: { template: { spec: { containers: [{ name: 'main', image: 'busybox:1.37' }] } } } },
      'application/strategic-merge-patch+json',
    );
    assert.equal(smp.status, 200, JSON.stringify(smp.body));
    const c = smp.body.spec.template.spec.containers;
    assert.equal(c.length, 1);
    assert.equal(c[0].image, 'busybox:1.37');
    assert.deepEqual(c[0].command, ['sleep', '3600']);
    assertStatus(
      await k.patch(`${NS}/configmaps/patchme`, { data: {} }, 'application/json'),
      415,
      'UnsupportedMediaType',
    );
  });

  test('apply creates, updates, then changes nothing; keeps replicas set by scale and drops removed labels', async () => {
    const applyPath = `${DEPLOYS}/applied?fieldManager=e2e`;
    const first = deployment('applied', { labels: { app: 'applied', old: 'yes' } });
    const created = await k.patch(applyPath, first, 'application/apply-patch+yaml');
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.spec.replicas, 1, 'defaulted');
    const scaled = await k.patch(`${DEPLOYS}/applied/scale`, { spec: { replicas: 4 } });
    assert.equal(scaled.status, 200);
    const second = deployment('applied', { labels: { app: 'applied' }, image: 'busybox:1.37' });
    const updated = await k.patch(applyPath, second, 'application/apply-patch+yaml');
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(
      updated.body.spec.replicas,
      4,
      'replicas set by scale survive an apply that does not set them',
    );
    assert.deepEqual(updated.body.metadata.labels, { app: 'applied' });
    assert.equal(updated.body.spec.template.spec.containers[0].image, 'busybox:1.37');
    const again = await k.patch(applyPath, second, 'application/apply-patch+yaml');
    assert.equal(again.status, 200);
    assert.equal(
      again.body.metadata.resourceVersion,
      updated.body.metadata.resourceVersion,
      'unchanged apply writes nothing',
    );
    // YAML bodies work too, and the applied configuration is not part of the object.
    const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n`;
    const y = await k.patch(
      `${NS}/configmaps/from-yaml?fieldManager=e2e`,
      yaml,
      'application/apply-patch+yaml',
    );
    assert.equal(y.status, 201, JSON.stringify(y.body));
    assert.deepEqual(y.body.data, { k: 'v' });
    assert.equal(JSON.stringify(y.body).includes('last-applied'), false);
  });

  test('apply of a ~1 MiB ConfigMap works twice', async () => {
    const big = configMap('big', { blob: 'x'.repeat(1024 * 1024 - 200) });
    const p = `${NS}/configmaps/big?fieldManager=e2e`;
    const a = await k.patch(p, big, 'application/apply-patch+yaml');
    assert.equal(a.status, 201, JSON.stringify(a.body).slice(0, 300));
    big.data.blob = 'y'.repeat(1024 * 1024 - 200);
    const b = await k.patch(p, big, 'application/apply-patch+yaml');
    assert.equal(b.status, 200, JSON.stringify(b.body).slice(0, 300));
    assert.equal((await k.get(`${NS}/configmaps/big`)).body.data.blob[0], 'y');
  });

  test('dryRun=All validates but stores nothing', async () => {
    const r = await k.post(`${NS}/configmaps?dryRun=All`, configMap('dry'));
    assert.equal(r.status, 201);
    assertStatus(await k.get(`${NS}/configmaps/dry`), 404);
    assertStatus(await k.post(`${NS}/configmaps?dryRun=All`, configMap('Bad_Name')), 422, 'Invalid');
  });

  test('two PUTs with the same resourceVersion: exactly one 200 and one 409', async () => {
    const cm = (await k.post(`${NS}/configmaps`, configMap('race'))).body;
    const a = { ...cm, data: { who: 'a' } };
    const b = { ...cm, data: { who: 'b' } };
    const codes = (
      await Promise.all([k.put(`${NS}/configmaps/race`, a), k.put(`${NS}/configmaps/race`, b)])
    ).map((r) => r.status);
    assert.deepEqual(codes.sort(), [200, 409]);
  });

  test('a watch opened at V sees every change after V, in order, with bookmarks when asked', async () => {
    const start = (await k.get(`${NS}/configmaps`)).body.metadata.resourceVersion;
    const w = await openWatch(
      cp.url,
      cp.token,
      `${NS}/configmaps?watch=true&resourceVersion=${start}&labelSelector=w%3D1&allowWatchBookmarks=true`,
    );
    try {
      assert.equal(w.status, 200);
      await k.post(`${NS}/configmaps`, configMap('w1', { a: '1' }, { w: '1' }));
      await k.post(`${NS}/configmaps`, configMap('unrelated', { a: '1' }));
      await k.patch(`${NS}/configmaps/w1`, { data: { a: '2' } });
      await k.delete(`${NS}/configmaps/w1`);
      const seen: string[] = [];
      let bookmark = false;
      while (seen.length < 3) {
        const ev = await w.next(10_000);
        assert.ok(ev, `watch ended early after ${seen.join(',')}`);
        if (ev.type === 'BOOKMARK') {
          bookmark = true;
          continue;
        }
        seen.push(`${ev.type}:${ev.object.metadata.name}:${ev.object.data?.a}`);
      }
      assert.deepEqual(seen, ['ADDED:w1:1', 'MODIFIED:w1:2', 'DELETED:w1:2']);
      while (!bookmark) {
        const ev = await w.next(10_000);
        assert.ok(ev, 'a bookmark arrives');
        bookmark = ev.type === 'BOOKMARK';
        if (bookmark) assert.ok(ev.object.metadata.resourceVersion);
      }
    } finally {
      w.close();
    }
  });

  test('lists page with limit and continue; a watch on one object ends at timeoutSeconds', async () => {
    for (let i = 0; i < 5; i++)
      await k.post(`${NS}/configmaps`, configMap(`page-${i}`, { a: '1' }, { page: 'yes' }));
    const names: string[] = [];
    let cont = '';
    let pages = 0;
    do {
      const r = await k.get(
        `${NS}/configmaps?labelSelector=page%3Dyes&limit=2${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.items.length <= 2);
      names.push(...r.body.items.map((i: any) => i.metadata.name));
      cont = r.body.metadata.continue ?? '';
      pages++;
    } while (cont && pages < 10);
    assert.deepEqual(names.sort(), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    assert.ok(pages >= 3);

    const w = await openWatch(cp.url, cp.token, `${NS}/configmaps/page-1?watch=true`);
    try {
      const first = await w.next(10_000);
      assert.deepEqual([first?.type, first?.object.metadata.name], ['ADDED', 'page-1']);
      await k.patch(`${NS}/configmaps/page-2`, { data: { a: '2' } });
      await k.patch(`${NS}/configmaps/page-1`, { data: { a: '2' } });
      const second = await w.next(10_000);
      assert.deepEqual([second?.type, second?.object.metadata.name], ['MODIFIED', 'page-1']);
    } finally {
      w.close();
    }
    const timed = await openWatch(cp.url, cp.token, `${NS}/configmaps?watch=true&timeoutSeconds=1`);
    try {
      await timed.ended; // the server ends the stream by itself
      assert.ok(timed.events.every((e) => e.type === 'ADDED'));
    } finally {
      timed.close();
    }
  });

  test('watches closed by their clients end on the server (watchers gauge back to zero)', async () => {
    const gauge = async (): Promise<number> => {
      const m = (await k.get('/metrics')).body as string;
      const line = m.split('\n').find((l) => l.startsWith('berth_apiserver_watchers{resource="secrets"}'));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    const watches = await Promise.all(
      Array.from({ length: 30 }, () => openWatch(cp.url, cp.token, `${NS}/secrets?watch=true`)),
    );
    try {
      assert.equal(await gauge(), 30);
      await k.post(`${NS}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'fanout' },
        stringData: { a: 'b' },
      });
      for (const w of watches) assert.equal((await w.next(10_000))?.object.metadata.name, 'fanout');
    } finally {
      for (const w of watches) w.close();
    }
    let open = await gauge();
    for (let i = 0; i < 100 && open !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      open = await gauge();
    }
    assert.equal(open, 0);
  });

  test('a watch from a compacted resourceVersion gets HTTP 200 and one ERROR 410 Expired event', async () => {
    const early = (await k.post(`${NS}/configmaps`, configMap('old-1'))).body.metadata.resourceVersion;
    for (let i = 2; i <= 4; i++) await k.post(`${NS}/configmaps`, configMap(`old-${i}`));
    redisCli(redis.port, 'XTRIM', 'berth:s:configmaps', 'MAXLEN', '1');
    const w = await openWatch(cp.url, cp.token, `${NS}/configmaps?watch=true&resourceVersion=${early}`);
    try {
      assert.equal(w.status, 200);
      const ev = await w.next(10_000);
      assert.equal(ev?.type, 'ERROR');
      assert.equal(ev?.object.code, 410);
      assert.equal(ev?.object.reason, 'Expired');
      await w.ended;
      assert.equal(w.events.length, 1);
    } finally {
      w.close();
    }
  });

  test('bad requests get the right 4xx Status, the server stays up and the store is unchanged', async () => {
    const before = (await k.get('/api/v1/configmaps')).body.items.map(
      (i: any) => `${i.metadata.name}@${i.metadata.resourceVersion}`,
    );
    const coll = `${NS}/configmaps`;
    const cases: Array<[string, () => Promise<{ status: number; body: any }>, number]> = [
      [
        'malformed JSON',
        () => k.post(coll, '{"apiVersion": "v1", "kind": ', { contentType: 'application/json' }),
        400,
      ],
      ['binary garbage', () => k.post(coll, Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x7f])), 400],
      ['a JSON array', () => k.post(coll, [1, 2, 3]), 400],
      [
        'deeply nested JSON',
        () =>
          k.post(
            coll,
            `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
          ),
        400,
      ],
      ['wrong kind for the URL', () => k.post(coll, { ...configMap('wrongkind'), kind: 'Secret' }), 400],
      ['wrong type', () => k.post(coll, { ...configMap('wrongtype'), data: { a: 5 } }), 422],
      ['unknown field', () => k.post(coll, { ...configMap('unknownfield'), bogus: true }), 422],
      ['bad name', () => k.post(coll, configMap('Not_A_DNS_Name')), 422],
      [
        'bad quantity',
        () => {
          const p = pod('badqty') as any;
          p.spec.containers[0].resources = { limits: { memory: '12 parsecs' } };
          return k.post(`${NS}/pods`, p);
        },
        422,
      ],
      ['4 MiB body', () => k.post(coll, configMap('huge', { blob: 'x'.repeat(4 * 1024 * 1024) })), 413],
      [
        'unsupported content type',
        () => k.post(coll, 'a=b', { contentType: 'application/x-www-form-urlencoded' }),
        415,
      ],
      ['unknown resource', () => k.post(`${NS}/widgets`, configMap('w')), 404],
      ['PUT on a collection', () => k.put(coll, configMap('x')), 405],
      ['bad label selector', () => k.get(`${coll}?labelSelector=${encodeURIComponent('a in (b')}`), 400],
      ['bad limit', () => k.get(`${coll}?limit=-3`), 400],
      ['bad continue token', () => k.get(`${coll}?limit=1&continue=garbage`), 400],
    ];
    for (const [what, send, code] of cases) {
      const res = await send();
      assert.equal(res.status, code, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`);
      assert.equal(res.body.kind, 'Status', what);
      assert.equal(res.body.code, code, what);
      assert.ok(res.body.message, what);
    }
    const invalid = await k.post(coll, { ...configMap('Bad_Name'), data: { a: 5 } });
    assert.ok(
      invalid.body.details.causes.some((c: any) => c.field === 'metadata.name'),
      JSON.stringify(invalid.body),
    );
    const after = (await k.get('/api/v1/configmaps')).body.items.map(
      (i: any) => `${i.metadata.name}@${i.metadata.resourceVersion}`,
    );
    assert.deepEqual(after, before);
    assert.ok(cp.proc.running);
  });

  test('requests without a token or with a wrong one are 401; probes need none', async () => {
    assertStatus(await api(cp.url, '').get('/api/v1/namespaces'), 401, 'Unauthorized');
    assertStatus(await api(cp.url, 'wrong').get('/api/v1/namespaces'), 401, 'Unauthorized');
    assertStatus(await api(cp.url, '').post(`${NS}/configmaps`, configMap('anon')), 401, 'Unauthorized');
    assertStatus(await api(cp.url, '').get('/metrics'), 401);
    assertStatus(await api(cp.url, '').get('/no/such/path'), 401, 'Unauthorized');
    assertStatus(await k.get('/no/such/path'), 404, 'NotFound');
    for (const p of ['/healthz', '/livez', '/readyz'])
      assert.equal((await api(cp.url, '').get(p)).status, 200, p);
    const m = await k.get('/metrics');
    assert.equal(m.status, 200);
    assert.match(
      m.body,
      /berth_apiserver_requests_total\{verb="CREATE",resource="configmaps",code="201"\} \d+/,
    );
    assert.match(m.body, /berth_store_operations_total\{op="[a-z]+",result="ok"\} \d+/);
    assert.match(m.body, /berth_apiserver_watchers/);
  });

  test('a watch resumes across a control-plane restart from the last version it saw', async () => {
    const start = (await k.get(`${NS}/configmaps`)).body.metadata.resourceVersion;
    let w = await openWatch(
      cp.url,
      cp.token,
      `${NS}/configmaps?watch=true&resourceVersion=${start}&labelSelector=r%3D1`,
    );
    await k.post(`${NS}/configmaps`, configMap('r1', { a: '1' }, { r: '1' }));
    const first = await w.next(10_000);
    assert.equal(first?.type, 'ADDED');
    const last = first!.object.metadata.resourceVersion;
    await cp.restart();
    await w.ended;
    w.close();
    // Changes made while nobody watched are delivered on resume.
    await k.patch(`${NS}/configmaps/r1`, { data: { a: '2' } });
    await k.post(`${NS}/configmaps`, configMap('r2', { a: '1' }, { r: '1' }));
    w = await openWatch(
      cp.url,
      cp.token,
      `${NS}/configmaps?watch=true&resourceVersion=${last}&labelSelector=r%3D1`,
    );
    try {
      const a = await w.next(10_000);
      const b = await w.next(10_000);
      assert.deepEqual([a?.type, a?.object.metadata.name, a?.object.data.a], ['MODIFIED', 'r1', '2']);
      assert.deepEqual([b?.type, b?.object.metadata.name], ['ADDED', 'r2']);
    } finally {
      w.close();
    }
  });

  test('Redis stopped: requests get 503 and /readyz 503; the server recovers when Redis returns', async () => {
    await redis.kill9();
    const r = await k.get(`${NS}/configmaps`);
    assertStatus(r, 503, 'ServiceUnavailable');
    assertStatus(await k.post(`${NS}/configmaps`, configMap('during-outage')), 503, 'ServiceUnavailable');
    assert.equal((await api(cp.url, '').get('/readyz')).status, 503);
    await redis.restart();
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = (await k.get(`${NS}/configmaps`)).status === 200;
      if (!ok) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(ok, 'the control plane serves again after Redis returns');
    assert.equal((await api(cp.url, '').get('/readyz')).status, 200);
  });

  test('kill -9 of the control plane and then Redis right after an acknowledged create loses nothing', async () => {
    const created = await k.post(`${NS}/configmaps`, configMap('durable', { keep: 'me' }));
    assert.equal(created.status, 201);
    await cp.kill9();
    await redis.kill9();
    await redis.restart();
    await cp.restart();
    const got = await k.get(`${NS}/configmaps/durable`);
    assert.equal(got.status, 200);
    assert.equal(got.body.metadata.uid, created.body.metadata.uid);
    assert.deepEqual(got.body.data, { keep: 'me' });
  });

  test('SIGTERM stops the control plane with exit code 0', async () => {
    await cp.proc.stop(15_000);
    assert.equal(await cp.proc.exited, 0);
    await cp.restart();
    assert.equal((await k.get('/api/v1/namespaces/default')).status, 200);
  });
});

describe('control plane with embedded Redis', () => {
  let cp: ControlPlane;
  after(async () => {
    await cp?.stop();
  });

  test('starts its own redis-server with data under --data-dir; data survives a restart', async () => {
    cp = await startControlPlane({});
    const k = api(cp.url, cp.token);
    const created = await k.post(`${NS}/configmaps`, configMap('embedded', { a: 'b' }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)],
      );
    assert.ok(
      files(cp.dataDir).some((f) => /appendonly|\.aof|dump\.rdb/.test(f)),
      files(cp.dataDir).join(','),
    );
    assert.ok(existsSync(path.join(cp.dataDir, 'admin.token')));
    await cp.restart();
    const got = await k.get(`${NS}/configmaps/embedded`);
    assert.equal(got.status, 200);
    assert.equal(got.body.metadata.uid, created.body.metadata.uid);
  });

  test('restarts its embedded redis-server after it is killed, keeping the data', async () => {
    const k = api(cp.url, cp.token);
    const before = await k.post(`${NS}/configmaps`, configMap('survives-redis-crash'));
    assert.equal(before.status, 201);
    const pidFile = path.join(cp.dataDir, 'redis', 'redis.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    let got: { status: number; body: any } = { status: 0, body: undefined };
    for (let i = 0; i < 200 && got.status !== 200; i++) {
      got = await k.get(`${NS}/configmaps/survives-redis-crash`);
      if (got.status !== 200) {
        assertStatus(got, 503, 'ServiceUnavailable');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(got.status, 200, 'served again once the control plane restarted redis-server');
    assert.equal(got.body.metadata.uid, before.body.metadata.uid);
    assert.notEqual(Number(readFileSync(pidFile, 'utf8').trim()), pid, 'a new redis-server runs');
  });

  test('a bad flag fails start-up with one line naming it and exit code 2', async () => {
    const { Managed } = await import('@berth/testing');
    const bin = path.resolve(__dirname, '..', '..', 'bin', 'berth-control-plane');
    const p = new Managed('cp-bad-flag', bin, ['--port', 'seventy']);
    assert.equal(await p.exited, 2);
    assert.match(p.output, /flag --port: "seventy" is not a whole number/);
  });
});
