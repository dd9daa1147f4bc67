import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  Managed,
  TestRedis,
  api,
  haveKubectl,
  kubectl,
  kubectlPath,
  ok,
  startAuthProxy,
  startControlPlane,
  tempDir,
  waitFor,
  type ApiCaller,
  type AuthProxy,
  type ControlPlane,
  type KubectlResult,
  type KubectlTarget,
} from '@berth/testing';

/**
 * Real, unmodified kubectl (1.29 and 1.33) `get`, `get -w` and `delete` against a control plane:
 * the server-side Tables (columns, cells, wide columns, PartialObjectMetadata rows for
 * --show-labels and -A), the other output formats, label selectors, `get all`, watching with
 * one-row Tables, and `delete` waiting (list + watch on metadata.name) until the object is gone.
 *
 * No agent and no controllers: objects and their status are written through the API, so every
 * printed value is known in advance. kubectl goes through startAuthProxy (client-go sends a
 * bearer token only over TLS).
 */

const MINORS = [29, 33];
const NS = 'shop';
const FIVE_MIN_AGO = (): string => new Date(Date.now() - 5 * 60_000).toISOString();

/**
 * kubectl's table output: rows in order and keyed by NAME (else the first column), cells by header
 * (headers may hold one space, e.g. NOMINATED NODE).
 */
function table(stdout: string): {
  headers: string[];
  rows: Map<string, Record<string, string>>;
  list: Record<string, string>[];
} {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length > 0, `no table in:\n${stdout}`);
  const cols = [...lines[0].matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], start: m.index! }));
  const rows = new Map<string, Record<string, string>>();
  const list: Record<string, string>[] = [];
  const key = cols.some((c) => c.name === 'NAME') ? 'NAME' : cols[0].name;
  for (const line of lines.slice(1)) {
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      row[c.name] = line.slice(c.start, cols[i + 1]?.start ?? line.length).trim();
    });
    rows.set(row[key], row);
    list.push(row);
  }
  return { headers: cols.map((c) => c.name), rows, list };
}

function succeeded(r: KubectlResult, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

const podSpec = (node?: string): Record<string, unknown> => ({
  ...(node ? { nodeName: node } : {}),
  containers: [{ name: 'web', image: 'busybox:1.36', command: ['sleep', '3600'] }],
});

async function seed(k: ApiCaller): Promise<void> {
  await ok(k.post('/api/v1/namespaces', { metadata: { name: NS } }), 'create namespace');
  const node = await ok(
    k.post('/api/v1/nodes', {
      metadata: { name: 'node-a', labels: { 'node-role.kubernetes.io/control-plane': '' } },
    }),
    'create node',
  );
  await ok(
    k.put('/api/v1/nodes/node-a/status', {
      ...node,
      status: {
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready' }],
        addresses: [
          { type: 'InternalIP', address: '10.0.0.5' },
          { type: 'Hostname', address: 'node-a' },
        ],
        nodeInfo: {
          kubeletVersion: 'v1.32.0-berth',
          osImage: 'Debian GNU/Linux 12 (bookworm)',
          kernelVersion: '6.1.0-test',
          containerRuntimeVersion: 'runc://1.1.12',
        },
      },
    }),
    'node status',
  );

  const pod = async (name: string, labels: Record<string, string>, status: Record<string, unknown>) => {
    const p = await ok(
      k.post(`/api/v1/namespaces/${NS}/pods`, { metadata: { name, labels }, spec: podSpec('node-a') }),
      `create pod ${name}`,
    );
    await ok(k.put(`/api/v1/namespaces/${NS}/pods/${name}/status`, { ...p, status }), `pod ${name} status`);
  };
  const running = { running: { startedAt: new Date().toISOString() } };
  await pod(
    'web-1',
    { app: 'web', tier: 'front' },
    {
      phase: 'Running',
      podIP: '10.1.0.7',
      podIPs: [{ ip: '10.1.0.7' }],
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [
        {
          name: 'web',
          ready: true,
          restartCount: 2,
          state: running,
          lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: FIVE_MIN_AGO() } },
          image: 'busybox:1.36',
          imageID: '',
        },
      ],
    },
  );
  await pod(
    'web-2',
    { app: 'web' },
    {
      phase: 'Running',
      podIP: '10.1.0.8',
      containerStatuses: [
        {
          name: 'web',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
          image: 'busybox:1.36',
          imageID: '',
        },
      ],
    },
  );
  await pod(
    'batch-1',
    { app: 'batch' },
    {
      phase: 'Succeeded',
      containerStatuses: [
        {
          name: 'web',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed' } },
          image: 'busybox:1.36',
          imageID: '',
        },
      ],
    },
  );

  const template = {
    metadata: { labels: { app: 'web' } },
    spec: podSpec(),
  };
  const d = await ok(
    k.post(`/apis/apps/v1/namespaces/${NS}/deployments`, {
      metadata: { name: 'web' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
    }),
    'create deployment',
  );
  await ok(
    k.put(`/apis/apps/v1/namespaces/${NS}/deployments/web/status`, {
      ...d,
      status: { replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    }),
    'deployment status',
  );
  const rs = await ok(
    k.post(`/apis/apps/v1/namespaces/${NS}/replicasets`, {
      metadata: { name: 'web-7d4b9c' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
    }),
    'create replicaset',
  );
  await ok(
    k.put(`/apis/apps/v1/namespaces/${NS}/replicasets/web-7d4b9c/status`, {
      ...rs,
      status: { replicas: 3, readyReplicas: 2 },
    }),
    'replicaset status',
  );

  await ok(
    k.post(`/api/v1/namespaces/${NS}/configmaps`, {
      metadata: { name: 'settings', labels: { app: 'web' } },
      data: { a: '1', b: '2', c: '3' },
    }),
    'create configmap',
  );
  await ok(
    k.post('/api/v1/namespaces/default/configmaps', { metadata: { name: 'elsewhere' }, data: { x: 'y' } }),
    'create configmap in default',
  );
  await ok(
    k.post(`/api/v1/namespaces/${NS}/secrets`, {
      metadata: { name: 'creds' },
      data: { user: 'YWRtaW4=', pass: 'c2VjcmV0' },
    }),
    'create secret',
  );
  const seen = new Date(Date.now() - 90_000).toISOString();
  await ok(
    k.post(`/api/v1/namespaces/${NS}/events`, {
      metadata: { name: 'web-1.17a2b3c4d5e6f708' },
      involvedObject: { kind: 'Pod', namespace: NS, name: 'web-1', apiVersion: 'v1' },
      reason: 'Started',
      message: 'Started container web',
      type: 'Normal',
      count: 3,
      firstTimestamp: seen,
      lastTimestamp: seen,
      source: { component: 'berth-agent', host: 'node-a' },
    }),
    'create event',
  );
  const earlier = new Date(Date.now() - 10 * 60_000).toISOString();
  await ok(
    k.post(`/api/v1/namespaces/${NS}/events`, {
      metadata: { name: 'web-2.17a2b3c4d5e6f709' },
      involvedObject: { kind: 'Pod', namespace: NS, name: 'web-2', apiVersion: 'v1' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container web',
      type: 'Warning',
      count: 1,
      firstTimestamp: earlier,
      lastTimestamp: earlier,
      source: { component: 'berth-agent', host: 'node-a' },
    }),
    'create older event',
  );
}

describe('real kubectl get: server-side Tables, watch and delete', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let proxy: AuthProxy;
  let k: ApiCaller;
  const dir = tempDir('berth-kubectl-get-');
  const background = new Set<Managed>();

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url, extraArgs: ['--controllers', 'none'] });
    proxy = await startAuthProxy(cp.url, cp.token);
    k = api(cp.url, cp.token);
    await seed(k);
  });

  after(async () => {
    for (const m of background) await m.stop(2000);
    await proxy?.stop();
    await cp?.stop();
    await redis?.stop();
    dir.remove();
  });

  for (const minor of MINORS) {
    describe(
      `kubectl 1.${minor}`,
      { skip: !haveKubectl(minor) && `kubectl.1.${minor} is not installed` },
      () => {
        let target: KubectlTarget;
        const run = (...args: string[]): Promise<KubectlResult> => kubectl(minor, target, args);
        const get = async (...args: string[]): Promise<ReturnType<typeof table>> => {
          const r = await run('get', ...args);
          succeeded(r, `get ${args.join(' ')}`);
          return table(r.stdout);
        };
        /** Starts kubectl in the background (get -w, a waiting delete); stopped by pid at the end. */
        const start = (...args: string[]): Managed => {
          const m = new Managed(
            `kubectl 1.${minor} ${args.join(' ')}`,
            kubectlPath(minor),
            [`--server=${target.url}`, `--token=${target.token}`, `--cache-dir=${target.cacheDir}`, ...args],
            { env: { ...process.env, KUBECONFIG: path.join(dir.path, 'no-kubeconfig') } },
          );
          background.add(m);
          return m;
        };

        before(() => {
          target = {
            url: proxy.url,
            token: 'unused-the-proxy-adds-it',
            cacheDir: path.join(dir.path, `cache-${minor}`),
          };
        });

        test('get pods: READY, STATUS and RESTARTS worked out from the pod status', async () => {
          const t = await get('pods', '-n', NS);
          assert.deepEqual(t.headers, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
          assert.deepEqual([...t.rows.keys()], ['batch-1', 'web-1', 'web-2']);
          const web1 = t.rows.get('web-1')!;
          assert.deepEqual([web1.READY, web1.STATUS], ['1/1', 'Running']);
          assert.match(web1.RESTARTS, /^2 \(5m\d*s? ago\)$/);
          assert.match(web1.AGE, /^(\d+s|\d+m\d*s?)$/);
          const web2 = t.rows.get('web-2')!;
          assert.deepEqual([web2.READY, web2.STATUS, web2.RESTARTS], ['0/1', 'CrashLoopBackOff', '0']);
          const batch = t.rows.get('batch-1')!;
          assert.deepEqual([batch.READY, batch.STATUS], ['0/1', 'Completed']);
        });

        test('get pods -o wide adds IP, NODE, NOMINATED NODE and READINESS GATES', async () => {
          const t = await get('pods', '-n', NS, '-o', 'wide');
          assert.deepEqual(t.headers, [
            'NAME',
            'READY',
            'STATUS',
            'RESTARTS',
            'AGE',
            'IP',
            'NODE',
            'NOMINATED NODE',
            'READINESS GATES',
          ]);
          const web1 = t.rows.get('web-1')!;
          assert.deepEqual(
            [web1.IP, web1.NODE, web1['NOMINATED NODE'], web1['READINESS GATES']],
            ['10.1.0.7', 'node-a', '<none>', '<none>'],
          );
          assert.equal(t.rows.get('batch-1')!.IP, '<none>');
        });

        test('get pod NAME prints its one row; a missing one is NotFound', async () => {
          const t = await get('pod', 'web-2', '-n', NS);
          assert.deepEqual([...t.rows.keys()], ['web-2']);
          assert.equal(t.rows.get('web-2')!.STATUS, 'CrashLoopBackOff');
          const missing = await run('get', 'pod', 'nope', '-n', NS);
          assert.equal(missing.code, 1);
          assert.match(missing.stderr, /pods "nope" not found/);
        });

        test('get deployments and replicasets, default and wide', async () => {
          const d = await get('deployments', '-n', NS, '-o', 'wide');
          assert.deepEqual(d.headers, [
            'NAME',
            'READY',
            'UP-TO-DATE',
            'AVAILABLE',
            'AGE',
            'CONTAINERS',
            'IMAGES',
            'SELECTOR',
          ]);
          const web = d.rows.get('web')!;
          assert.deepEqual(
            [web.READY, web['UP-TO-DATE'], web.AVAILABLE, web.CONTAINERS, web.IMAGES, web.SELECTOR],
            ['2/3', '3', '2', 'web', 'busybox:1.36', 'app=web'],
          );
          assert.deepEqual((await get('deploy', '-n', NS)).headers, [
            'NAME',
            'READY',
            'UP-TO-DATE',
            'AVAILABLE',
            'AGE',
          ]);

          const rs = await get('rs', '-n', NS, '-o', 'wide');
          assert.deepEqual(rs.headers, [
            'NAME',
            'DESIRED',
            'CURRENT',
            'READY',
            'AGE',
            'CONTAINERS',
            'IMAGES',
            'SELECTOR',
          ]);
          const row = rs.rows.get('web-7d4b9c')!;
          assert.deepEqual([row.DESIRED, row.CURRENT, row.READY, row.SELECTOR], ['3', '3', '2', 'app=web']);
          assert.deepEqual((await get('replicasets', '-n', NS)).headers, [
            'NAME',
            'DESIRED',
            'CURRENT',
            'READY',
            'AGE',
          ]);
        });

        test('get nodes: STATUS from the Ready condition, ROLES from labels; wide adds the node info', async () => {
          const t = await get('nodes');
          assert.deepEqual(t.headers, ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
          const n = t.rows.get('node-a')!;
          assert.deepEqual([n.STATUS, n.ROLES, n.VERSION], ['Ready', 'control-plane', 'v1.32.0-berth']);
          const w = (await get('nodes', '-o', 'wide')).rows.get('node-a')!;
          assert.deepEqual(
            [w['INTERNAL-IP'], w['EXTERNAL-IP'], w['OS-IMAGE'], w['KERNEL-VERSION'], w['CONTAINER-RUNTIME']],
            ['10.0.0.5', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-test', 'runc://1.1.12'],
          );
        });

        test('get namespaces, configmaps, secrets and events', async () => {
          const ns = await get('namespaces');
          assert.deepEqual(ns.headers, ['NAME', 'STATUS', 'AGE']);
          for (const name of ['default', 'kube-system', NS])
            assert.equal(ns.rows.get(name)?.STATUS, 'Active', name);

          const cm = await get('configmaps', '-n', NS);
          assert.deepEqual(cm.headers, ['NAME', 'DATA', 'AGE']);
          assert.equal(cm.rows.get('settings')!.DATA, '3');

          const s = await get('secrets', '-n', NS);
          assert.deepEqual(s.headers, ['NAME', 'TYPE', 'DATA', 'AGE']);
          assert.deepEqual([s.rows.get('creds')!.TYPE, s.rows.get('creds')!.DATA], ['Opaque', '2']);

          const ev = await get('events', '-n', NS);
          assert.deepEqual(ev.headers, ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
          const row = ev.list.find((r) => r.OBJECT === 'pod/web-1')!;
          assert.match(row['LAST SEEN'], /^(9\d|1[01]\d)s$|^\dm\d*s?$/);
          assert.deepEqual(
            [row.TYPE, row.REASON, row.OBJECT, row.MESSAGE],
            ['Normal', 'Started', 'pod/web-1', 'Started container web'],
          );
          const wide = (await get('events', '-n', NS, '-o', 'wide')).list.find(
            (r) => r.OBJECT === 'pod/web-1',
          )!;
          assert.deepEqual(
            [wide.SOURCE, wide.COUNT, wide.NAME],
            ['berth-agent, node-a', '3', 'web-1.17a2b3c4d5e6f708'],
          );
          // --sort-by asks for the objects in the rows (includeObject=Object) and sorts on them.
          const byName = (await get('events', '-n', NS)).list.map((r) => r.OBJECT);
          assert.deepEqual(byName, ['pod/web-1', 'pod/web-2']);
          const byTime = (await get('events', '-n', NS, '--sort-by=.lastTimestamp')).list;
          assert.deepEqual(
            byTime.map((r) => `${r.OBJECT} ${r.TYPE}`),
            ['pod/web-2 Warning', 'pod/web-1 Normal'],
          );
          assert.match(byTime[0]['LAST SEEN'], /^1\dm$/);
        });

        test('-o yaml, json, name and jsonpath print the objects themselves', async () => {
          const json = await run('get', 'pods', '-n', NS, '-o', 'json');
          succeeded(json, 'get -o json');
          const doc = JSON.parse(json.stdout);
          assert.equal(doc.kind, 'List');
          assert.deepEqual(
            doc.items.map(
              (p: { kind: string; metadata: { name: string } }) => `${p.kind}/${p.metadata.name}`,
            ),
            ['Pod/batch-1', 'Pod/web-1', 'Pod/web-2'],
          );
          const yaml = await run('get', 'deployment', 'web', '-n', NS, '-o', 'yaml');
          succeeded(yaml, 'get -o yaml');
          assert.match(yaml.stdout, /^apiVersion: apps\/v1\nkind: Deployment\n/);
          assert.match(yaml.stdout, /\n {2}replicas: 3\n/);
          const names = await run('get', 'pods,configmaps', '-n', NS, '-o', 'name');
          succeeded(names, 'get -o name');
          assert.equal(names.stdout, 'pod/batch-1\npod/web-1\npod/web-2\nconfigmap/settings\n');
          const jp = await run('get', 'pods', '-n', NS, '-o', 'jsonpath={.items[*].status.podIP}');
          succeeded(jp, 'get -o jsonpath');
          assert.equal(jp.stdout, '10.1.0.7 10.1.0.8');
        });

        test("--show-labels, -l and -A use the rows' object metadata", async () => {
          const labels = await get('pods', '-n', NS, '--show-labels');
          assert.equal(labels.headers.at(-1), 'LABELS');
          assert.equal(labels.rows.get('web-1')!.LABELS, 'app=web,tier=front');

          const web = await get('pods', '-n', NS, '-l', 'app=web');
          assert.deepEqual([...web.rows.keys()], ['web-1', 'web-2']);
          const front = await get('pods', '-n', NS, '-l', 'app in (web,batch),tier!=front');
          assert.deepEqual([...front.rows.keys()], ['batch-1', 'web-2']);

          const all = await get('configmaps', '-A');
          assert.deepEqual(all.headers, ['NAMESPACE', 'NAME', 'DATA', 'AGE']);
          assert.deepEqual(all.list.map((r) => `${r.NAMESPACE}/${r.NAME}`).sort(), [
            'default/elsewhere',
            `${NS}/settings`,
          ]);
        });

        test('get all lists the pods, deployments and replicasets with kind-qualified names', async () => {
          const r = await run('get', 'all', '-n', NS);
          succeeded(r, 'get all');
          const names = r.stdout
            .split('\n')
            .filter((l) => l && !l.startsWith('NAME'))
            .map((l) => l.split(/\s+/)[0]);
          assert.deepEqual(names, [
            'pod/batch-1',
            'pod/web-1',
            'pod/web-2',
            'deployment.apps/web',
            'replicaset.apps/web-7d4b9c',
          ]);
          assert.match(r.stdout, /^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$/m);
        });

        test('get -w prints the list, then one row per change under the same header', async () => {
          const name = `watched-${minor}`;
          const w = start('get', 'configmaps', '-n', NS, '-w');
          await w.waitForOutput(/settings +3 +\S+\n/);
          await ok(
            k.post(`/api/v1/namespaces/${NS}/configmaps`, { metadata: { name }, data: { one: '1' } }),
            'create',
          );
          await w.waitForOutput(new RegExp(`${name} +1 +\\S+\\n`));
          await ok(k.patch(`/api/v1/namespaces/${NS}/configmaps/${name}`, { data: { two: '2' } }), 'patch');
          await w.waitForOutput(new RegExp(`${name} +2 +\\S+\\n`));
          assert.ok(w.running, 'get -w ended by itself');
          await w.stop();
          const out = w.output;
          assert.equal(out.match(/^NAME +DATA +AGE$/gm)?.length, 1, `one header line:\n${out}`);
          assert.equal(out.match(new RegExp(`^${name} `, 'gm'))?.length, 2, out);
          await ok(k.delete(`/api/v1/namespaces/${NS}/configmaps/${name}`), 'clean up');
        });

        test('delete waits for a finalizer, then exits 0 once the object is gone', async () => {
          const name = `held-${minor}`;
          await ok(
            k.post(`/api/v1/namespaces/${NS}/configmaps`, {
              metadata: { name, finalizers: ['example.com/hold'] },
              data: { a: '1' },
            }),
            'create held configmap',
          );
          const from = proxy.requests.length;
          const del = start('delete', 'configmap', name, '-n', NS);
          await del.waitForOutput(new RegExp(`configmap "${name}" deleted`));
          // kubectl now waits on list + watch with fieldSelector=metadata.name=NAME.
          await waitFor('the waiting watch', async () =>
            proxy.requests
              .slice(from)
              .some((l) => /watch=true/.test(l) && l.includes(`metadata.name%3D${name}`)),
          );
          await new Promise((r) => setTimeout(r, 500));
          assert.ok(del.running, `delete returned before the object was gone:\n${del.output}`);
          await ok(
            k.patch(`/api/v1/namespaces/${NS}/configmaps/${name}`, { metadata: { finalizers: null } }),
            'drop the finalizer',
          );
          assert.equal(await del.exited, 0, del.output);
          assert.equal((await k.get(`/api/v1/namespaces/${NS}/configmaps/${name}`)).status, 404);

          // Without finalizers the object is gone at once and delete returns.
          await ok(k.post(`/api/v1/namespaces/${NS}/configmaps`, { metadata: { name } }), 'create again');
          const quick = await run('delete', 'configmap', name, '-n', NS);
          succeeded(quick, 'delete');
          assert.equal(quick.stdout, `configmap "${name}" deleted\n`);
        });
      },
    );
  }

  describe('the Table API kubectl relies on', () => {
    const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
    const getTable = (p: string, accept = TABLE) => k('GET', p, undefined, { headers: { accept } });

    test('a list is a meta.k8s.io/v1 Table with column definitions, PartialObjectMetadata rows and the list metadata', async () => {
      const r = await getTable(`/api/v1/namespaces/${NS}/pods`);
      assert.equal(r.status, 200);
      assert.equal(r.body.kind, 'Table');
      assert.equal(r.body.apiVersion, 'meta.k8s.io/v1');
      assert.match(r.body.metadata.resourceVersion, /^\d+$/);
      assert.deepEqual(
        r.body.columnDefinitions.map(
          (c: { name: string; type: string; priority: number }) => `${c.name}:${c.type}:${c.priority}`,
        ),
        [
          'Name:string:0',
          'Ready:string:0',
          'Status:string:0',
          'Restarts:string:0',
          'Age:string:0',
          'IP:string:1',
          'Node:string:1',
          'Nominated Node:string:1',
          'Readiness Gates:string:1',
        ],
      );
      assert.equal(r.body.columnDefinitions[0].format, 'name');
      const row = r.body.rows[1];
      assert.deepEqual(row.cells.slice(0, 3), ['web-1', '1/1', 'Running']);
      assert.deepEqual(Object.keys(row.object), ['kind', 'apiVersion', 'metadata']);
      assert.equal(row.object.kind, 'PartialObjectMetadata');
      assert.equal(row.object.apiVersion, 'meta.k8s.io/v1');
      assert.equal(row.object.metadata.name, 'web-1');
      assert.deepEqual(r.body.rows[0].conditions, [
        {
          type: 'Completed',
          status: 'True',
          reason: 'Succeeded',
          message: 'The pod has completed successfully.',
        },
      ]);
    });

    test('includeObject=Object carries the object, None nothing; an unknown value is 400', async () => {
      const full = await getTable(`/api/v1/namespaces/${NS}/configmaps/settings?includeObject=Object`);
      assert.equal(full.status, 200);
      assert.equal(full.body.rows.length, 1);
      assert.deepEqual(full.body.rows[0].object.data, { a: '1', b: '2', c: '3' });
      assert.equal(full.body.metadata.resourceVersion, full.body.rows[0].object.metadata.resourceVersion);
      const none = await getTable(`/api/v1/namespaces/${NS}/configmaps?includeObject=None`);
      assert.equal(none.body.rows[0].object, null);
      const bad = await getTable(`/api/v1/namespaces/${NS}/configmaps?includeObject=All`);
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /includeObject/);
    });

    test('limit/continue pages keep their token; v1beta1 and q values are negotiated; plain JSON otherwise', async () => {
      const page = await getTable(`/api/v1/namespaces/${NS}/pods?limit=2`);
      assert.equal(page.body.rows.length, 2);
      assert.ok(page.body.metadata.continue, 'a continue token');
      const rest = await getTable(
        `/api/v1/namespaces/${NS}/pods?limit=2&continue=${encodeURIComponent(page.body.metadata.continue)}`,
      );
      assert.deepEqual(
        rest.body.rows.map((r: { cells: string[] }) => r.cells[0]),
        ['web-2'],
      );

      const beta = await getTable('/api/v1/namespaces', 'application/json;as=Table;v=v1beta1;g=meta.k8s.io');
      assert.equal(beta.body.apiVersion, 'meta.k8s.io/v1beta1');
      const preferJson = await getTable('/api/v1/namespaces', `${TABLE};q=0.5,application/json`);
      assert.equal(preferJson.body.kind, 'NamespaceList');
      const unknownVersion = await getTable(
        '/api/v1/namespaces',
        'application/json;as=Table;v=v9;g=meta.k8s.io',
      );
      assert.equal(unknownVersion.body.kind, 'NamespaceList');
      // Subresources are never printed as Tables.
      const scale = await getTable(`/apis/apps/v1/namespaces/${NS}/deployments/web/scale`);
      assert.equal(scale.body.kind, 'Scale');
    });
  });
});
