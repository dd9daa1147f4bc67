// End-to-end: the GitOps sync (issue 5) with real processes and real files. First `berthctl sync
// DIR --watch --prune` (the real CLI binary) against a control plane with a real agent running
// the Deployment's containers (runc) from a local registry: objects appear, an image edit rolls
// out, `berthctl scale` and `berthctl delete` are put back, a broken file is reported with
// file:line while the rest still syncs and its objects stay, deleting a file prunes its objects and
// nothing made by hand, removing the directory stops the sync without pruning. Then the control
// plane's own `--sync-dir` (calling its own API over HTTPS) following a git checkout of 50
// manifests between two revisions, and one-shot passes (--dry-run, --allow-empty).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  Managed,
  TestRedis,
  api,
  buildBusyboxImage,
  ok,
  sleep,
  startAgent,
  startControlPlane,
  startRegistry,
  tempDir,
  waitFor,
  type ApiCaller,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'berthctl');
const LABEL = 'sync.berth.dev/name';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function berthctl(env: Record<string, string>, ...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(BIN, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function write(dir: string, file: string, body: string): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  // As editors do: write a temporary file beside it, then rename over the old one.
  const tmp = path.join(dir, path.dirname(file), `.${path.basename(file)}.swp`);
  writeFileSync(tmp, body);
  renameSync(tmp, path.join(dir, file));
}

const namespace = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

const configMap = (name: string, ns: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${ns}\ndata:\n  value: "${value}"\n`;

const webDeployment = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: gitops
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 1
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: ${image}
        command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
        envFrom:
        - configMapRef:
            name: settings
`;

describe('berthctl sync --watch --prune against a cluster with a real agent', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let reg: TestRegistry;
  let agent: TestAgent;
  let k: ApiCaller;
  let env: Record<string, string>;
  let images: { v1: string; v2: string };
  let sync: Managed;
  const work = tempDir('berth-sync-e2e-');
  const dir = path.join(work.path, 'manifests');

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({
      redisUrl: redis.url,
      extraArgs: ['--controllers', 'deployment,replicaset,scheduler,garbagecollector'],
    });
    k = api(cp.url, cp.token);
    env = { BERTH_SERVER: cp.url, BERTH_TOKEN: cp.token, BERTH_CONFIG: path.join(work.path, 'config') };
    reg = await startRegistry();
    images = {
      v1: (await buildBusyboxImage(reg, 'e2e/sync', 'v1', { format: 'v2s2' })).ref,
      v2: (await buildBusyboxImage(reg, 'e2e/sync', 'v2', { format: 'v2s2' })).ref,
    };
    agent = await startAgent({
      server: cp.url,
      token: cp.token,
      nodeName: 'sync-node',
      extraArgs: ['--heartbeat-interval', '1s'],
    });
    write(dir, 'namespace.yaml', namespace('gitops'));
    write(dir, 'config/settings.yaml', configMap('settings', 'gitops', 'one'));
    write(dir, 'apps/web.yaml', webDeployment(images.v1));
    sync = new Managed('berthctl sync', BIN, ['sync', dir, '--watch', '--prune', '--name', 'e2e'], {
      env: { ...process.env, ...env },
    });
  });

  after(async () => {
    await sync?.stop();
    if (k) await k.delete('/apis/apps/v1/namespaces/gitops/deployments/web').catch(() => undefined);
    if (k)
      await waitFor(
        'pods gone',
        async () => ((await k.get('/api/v1/namespaces/gitops/pods')).body.items ?? []).length === 0,
        30_000,
      ).catch(() => undefined);
    await agent?.stop();
    await reg?.stop();
    await cp?.stop();
    await redis?.stop();
    work.remove();
  });

  const deploymentOf = async (): Promise<any> => {
    const r = await k.get('/apis/apps/v1/namespaces/gitops/deployments/web');
    return r.status === 200 ? r.body : undefined;
  };
  const podsRunning = async (image: string, n: number): Promise<boolean> => {
    const pods: any[] = (await ok(k.get('/api/v1/namespaces/gitops/pods'), 'pods')).items;
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    return (
      live.length === n &&
      live.every((p) => p.status?.phase === 'Running' && p.spec.containers[0].image === image)
    );
  };
  const configMapValue = async (name: string): Promise<string | undefined> => {
    const r = await k.get(`/api/v1/namespaces/gitops/configmaps/${name}`);
    return r.status === 200 ? r.body.data?.value : undefined;
  };

  test('a Namespace, a ConfigMap and a Deployment appear, labelled with the sync and their file; its pods run', async () => {
    const d = await waitFor('the synced Deployment', deploymentOf, 30_000);
    assert.equal(d.metadata.labels[LABEL], 'e2e');
    assert.equal(d.metadata.annotations['sync.berth.dev/file'], 'apps/web.yaml');
    const ns = await ok(k.get('/api/v1/namespaces/gitops'), 'namespace');
    assert.equal(ns.metadata.labels[LABEL], 'e2e');
    assert.equal(await configMapValue('settings'), 'one');
    await waitFor('2 pods Running v1', () => podsRunning(images.v1, 2), 90_000);
    await sync.waitForOutput(/deployment\.apps\/web -n gitops created/, 5000);
  });

  test('editing the Deployment image rolls it out', async () => {
    write(dir, 'apps/web.yaml', webDeployment(images.v2));
    await waitFor('image v2 in the Deployment', async () => {
      const d = await deploymentOf();
      return d?.spec.template.spec.containers[0].image === images.v2;
    });
    await waitFor('2 pods Running v2', () => podsRunning(images.v2, 2), 90_000);
    const rs: any[] = (await ok(k.get('/apis/apps/v1/namespaces/gitops/replicasets'), 'rs')).items;
    assert.equal(rs.length, 2, 'a new ReplicaSet for the new template, the old one kept for history');
    assert.deepEqual(rs.map((r) => r.spec.replicas).sort(), [0, 2]);
  });

  test('berthctl scale and berthctl delete of the synced Deployment are put back, with Events', async () => {
    const scaled = await berthctl(env, 'scale', 'deployment/web', '-n', 'gitops', '--replicas', '5');
    assert.equal(scaled.code, 0, scaled.stderr);
    await waitFor('replicas back to 2', async () => (await deploymentOf())?.spec.replicas === 2 && true);
    const before = (await deploymentOf()).metadata.uid;
    const deleted = await berthctl(env, 'delete', 'deployment', 'web', '-n', 'gitops');
    assert.equal(deleted.code, 0, deleted.stderr);
    const again = await waitFor('the Deployment recreated', async () => {
      const d = await deploymentOf();
      return d && d.metadata.uid !== before ? d : undefined;
    });
    assert.equal(again.spec.template.spec.containers[0].image, images.v2);
    const events: any[] = (await ok(k.get('/api/v1/namespaces/gitops/events'), 'events')).items;
    const reasons = events.filter((e) => e.involvedObject.name === 'web').map((e) => e.reason);
    assert.ok(reasons.includes('DriftCorrected'), `events: ${reasons.join(', ')}`);
    assert.ok(reasons.includes('Recreated'), `events: ${reasons.join(', ')}`);
    const corrected = events.find((e) => e.reason === 'DriftCorrected');
    assert.match(corrected.message, /spec\.replicas: 5 → 2/);
    assert.match(sync.output, /deployment\.apps\/web -n gitops recreated/);
    await waitFor('2 pods Running v2 again', () => podsRunning(images.v2, 2), 90_000);
  });

  test('a broken file is reported with file:line, the other files still sync and its objects stay', async () => {
    write(dir, 'config/settings.yaml', configMap('settings', 'gitops', 'two') + 'data: [\n');
    write(dir, 'config/fresh.yaml', configMap('fresh', 'gitops', 'new'));
    await waitFor('the new ConfigMap', async () => (await configMapValue('fresh')) === 'new');
    await sync.waitForOutput(/error: config\/settings\.yaml:\d+:\d+: /, 5000);
    assert.equal(await configMapValue('settings'), 'one', 'the broken file keeps its last good state');
    const status = await berthctl(env, 'sync', 'status', 'e2e');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Phase: +Failed/);
    assert.match(status.stdout, /config\/settings\.yaml:\d+:\d+: /);
    write(dir, 'config/settings.yaml', configMap('settings', 'gitops', 'two'));
    await waitFor('the fixed ConfigMap', async () => (await configMapValue('settings')) === 'two');
    await waitFor('status Synced', async () =>
      /Phase: +Synced/.test((await berthctl(env, 'sync', 'status', 'e2e')).stdout),
    );
  });

  test('deleting a file prunes its objects; an object made by hand in the namespace survives', async () => {
    await ok(
      k.post('/api/v1/namespaces/gitops/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'handmade' },
        data: { value: 'mine' },
      }),
      'handmade',
    );
    rmSync(path.join(dir, 'apps', 'web.yaml'));
    await waitFor('the Deployment pruned', async () => !(await deploymentOf()));
    await sync.waitForOutput(/deployment\.apps\/web -n gitops pruned/, 5000);
    await waitFor(
      'its pods gone',
      async () => ((await k.get('/api/v1/namespaces/gitops/pods')).body.items ?? []).length === 0,
      60_000,
    );
    assert.equal(await configMapValue('handmade'), 'mine');
    assert.equal(await configMapValue('settings'), 'two');
    assert.equal(await configMapValue('fresh'), 'new');
  });

  test('removing the whole directory stops the sync with an error and prunes nothing', async () => {
    rmSync(dir, { recursive: true, force: true });
    const code = await Promise.race([sync.exited, sleep(10_000).then(() => 'still running')]);
    assert.equal(code, 1, sync.output);
    assert.match(sync.output, /error: the sync stopped: the directory .* does not exist/);
    for (const name of ['settings', 'fresh', 'handmade'])
      assert.ok(await configMapValue(name), `${name} still there`);
    assert.equal((await k.get('/api/v1/namespaces/gitops')).status, 200);
    const status = await berthctl(env, 'sync', 'status', 'e2e', '-o', 'json');
    assert.equal(JSON.parse(status.stdout).phase, 'Stalled');
  });
});

describe('control plane --sync-dir (over its own HTTPS API) following a git checkout; one-shot passes', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  let k: ApiCaller;
  let env: Record<string, string>;
  const work = tempDir('berth-sync-git-');
  const repo = path.join(work.path, 'repo');
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();

  /** Revision A: a Namespace and 49 ConfigMaps; B: 15 removed, 15 changed, 10 added, one Secret. */
  const revA = new Map<string, string>();
  const revB = new Map<string, string>();
  for (let i = 0; i < 49; i++) revA.set(`cm-${i}`, `a${i}`);
  for (const [n, v] of revA) {
    const i = Number(n.slice(3));
    if (i < 15) continue; // removed in B
    revB.set(n, i < 30 ? `b${i}` : v);
  }
  for (let i = 49; i < 59; i++) revB.set(`cm-${i}`, `b${i}`);

  function writeRevision(values: Map<string, string>, secret: boolean): void {
    for (const f of ['namespace.yaml', 'team', 'secret.yaml'])
      rmSync(path.join(repo, f), { recursive: true, force: true });
    write(repo, 'namespace.yaml', namespace('repo'));
    for (const [name, value] of values)
      write(repo, `team/${Number(name.slice(3)) % 5}/${name}.yaml`, configMap(name, 'repo', value));
    if (secret)
      write(
        repo,
        'secret.yaml',
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: repo\nstringData:\n  t: s3cret\n',
      );
  }

  /** `berthctl sync status NAME -o json`, parsed. */
  const statusOf = async (name: string): Promise<any> =>
    JSON.parse((await berthctl(env, 'sync', 'status', name, '-o', 'json')).stdout);

  /** The synced objects of namespace repo match `values` exactly (names and data). */
  async function matches(values: Map<string, string>, secret: boolean): Promise<boolean> {
    const sel = `labelSelector=${encodeURIComponent(`${LABEL}=gitrepo`)}`;
    const cms: any[] = (await ok(k.get(`/api/v1/namespaces/repo/configmaps?${sel}`), 'cms')).items;
    const secrets: any[] = (await ok(k.get(`/api/v1/namespaces/repo/secrets?${sel}`), 'secrets')).items;
    if (cms.length !== values.size || secrets.length !== (secret ? 1 : 0)) return false;
    return cms.every((c) => values.get(c.metadata.name) === c.data?.value);
  }

  before(async () => {
    mkdirSync(repo, { recursive: true });
    git('init', '-q', '-b', 'main');
    writeRevision(revA, false);
    git('add', '-A');
    git('commit', '-q', '-m', 'A');
    git('tag', 'A');
    writeRevision(revB, true);
    git('add', '-A');
    git('commit', '-q', '-m', 'B');
    git('tag', 'B');
    git('checkout', '-q', 'A');
    redis = await TestRedis.start();
    cp = await startControlPlane({
      redisUrl: redis.url,
      tls: true,
      extraArgs: ['--controllers', 'sync,garbagecollector', '--sync-dir', repo, '--sync-name', 'gitrepo'],
    });
    k = api(cp.url, cp.token, { ca: cp.ca });
    env = {
      BERTH_SERVER: cp.url,
      BERTH_TOKEN: cp.token,
      BERTH_CA_FILE: cp.caFile!,
      BERTH_CONFIG: path.join(work.path, 'config'),
    };
  });

  after(async () => {
    await cp?.stop();
    await redis?.stop();
    work.remove();
  });

  test('git checkout between two revisions of 50 manifests: the cluster matches each one exactly', async () => {
    await waitFor('revision A synced', () => matches(revA, false), 30_000);
    await ok(
      k.post('/api/v1/namespaces/repo/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cm-0-by-hand' },
        data: { value: 'x' },
      }),
      'by hand',
    );
    for (const [rev, values, secret] of [
      ['B', revB, true],
      ['A', revA, false],
      ['B', revB, true],
    ] as const) {
      git('checkout', '-q', rev);
      await waitFor(`revision ${rev} synced`, () => matches(values, secret), 30_000);
      const head = git('rev-parse', 'HEAD');
      await waitFor(`status at ${rev}`, async () => {
        const s = await statusOf('gitrepo');
        return s.revision === head && s.phase === 'Synced';
      });
    }
    assert.equal((await k.get('/api/v1/namespaces/repo/configmaps/cm-0-by-hand')).status, 200);
    const list = await berthctl(env, 'sync', 'status');
    assert.match(list.stdout, /^gitrepo +Synced +[0-9a-f]{12} /m);
  });

  test('the synced directory vanishing stalls the in-cluster sync; nothing is pruned', async () => {
    const moved = `${repo}.moved`;
    renameSync(repo, moved);
    try {
      await waitFor('status Stalled', async () => {
        const s = await statusOf('gitrepo');
        return s.phase === 'Stalled' && /does not exist/.test(s.message);
      });
      await sleep(1500);
      assert.ok(await matches(revB, true), 'every object is still there');
    } finally {
      renameSync(moved, repo);
    }
    await waitFor('synced again once it is back', async () => {
      const s = await statusOf('gitrepo');
      return s.phase === 'Synced';
    });
  });

  test('one-shot: --dry-run writes nothing; an empty directory prunes only with --allow-empty', async () => {
    const one = path.join(work.path, 'one');
    write(one, 'a.yaml', configMap('one-a', 'default', '1'));
    write(one, 'b.yaml', configMap('one-b', 'default', '2'));
    const dry = await berthctl(env, 'sync', one, '--dry-run', '--prune');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /configmap\/one-a -n default created \(server dry run\)/);
    assert.equal((await k.get('/api/v1/namespaces/default/configmaps/one-a')).status, 404);
    const first = await berthctl(env, 'sync', one, '--prune');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /synced .*: 2 created, 0 configured, 0 unchanged, 0 pruned, 0 failed/);
    rmSync(path.join(one, 'a.yaml'));
    rmSync(path.join(one, 'b.yaml'));
    const refused = await berthctl(env, 'sync', one, '--prune');
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /no objects left: pruning all 2 objects this sync applied needs --allow-empty/,
    );
    assert.equal((await k.get('/api/v1/namespaces/default/configmaps/one-a')).status, 200);
    const emptied = await berthctl(env, 'sync', one, '--prune', '--allow-empty');
    assert.equal(emptied.code, 0, emptied.stderr);
    assert.match(emptied.stdout, /configmap\/one-a -n default pruned/);
    assert.equal((await k.get('/api/v1/namespaces/default/configmaps/one-a')).status, 404);
  });

  test('a watching berthctl sync outlives a control plane crash: an edit made while it is down lands after', async () => {
    const d = path.join(work.path, 'crash');
    write(d, 'cm.yaml', configMap('crash-cm', 'default', 'before'));
    const watcher = new Managed('berthctl sync', BIN, ['sync', d, '--watch', '--name', 'crash'], {
      env: { ...process.env, ...env },
    });
    try {
      const value = async () => {
        const r = await k.get('/api/v1/namespaces/default/configmaps/crash-cm');
        return r.status === 200 ? r.body.data?.value : undefined;
      };
      await waitFor('first value', async () => (await value()) === 'before');
      await cp.kill9();
      write(d, 'cm.yaml', configMap('crash-cm', 'default', 'after'));
      await sleep(1000);
      await cp.restart();
      k = api(cp.url, cp.token, { ca: cp.ca });
      await waitFor(
        'the edit made while the server was down',
        async () => (await value()) === 'after',
        30_000,
      );
      assert.ok(watcher.running, watcher.output);
    } finally {
      await watcher.stop();
    }
  });
});
