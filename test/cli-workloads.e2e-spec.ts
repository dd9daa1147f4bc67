import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ApiError, resolveKindName, type KubeObject } from '@berth/api';
import { BerthClient } from '@berth/client';
import { TestRedis, startControlPlane, tempDir, waitFor, type ControlPlane } from '@berth/testing';

/**
 * berthctl's workload commands (rollout, cordon/uncordon/drain, events, describe, delete --cascade)
 * as a child process against a real control plane with every controller off: the test plays the
 * Deployment controller itself, writing ReplicaSets with the Kubernetes annotations and the
 * Deployment's status, so each assertion is about the CLI alone.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'berthctl');
const NO_CONTROLLERS = '*,-scheduler,-replicaset,-deployment,-nodelifecycle,-garbagecollector,-eventttl';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<Result>;
}

function start(args: string[], env: Record<string, string>): Running {
  const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

const DEPLOY = resolveKindName('deploy')!;
const RS = resolveKindName('rs')!;
const PODS = resolveKindName('pods')!;
const NODES = resolveKindName('nodes')!;

function template(image: string, hash?: string) {
  return {
    metadata: { labels: { app: 'web', ...(hash ? { 'pod-template-hash': hash } : {}) } },
    spec: { containers: [{ name: 'app', image, command: ['sleep', '3600'] }] },
  };
}

describe('berthctl workload commands against a real control plane (the test plays the controllers)', () => {
  let redis: TestRedis;
  let cp: ControlPlane;
  const dir = tempDir('berth-cli-workloads-');
  let env: Record<string, string>;
  let client: BerthClient;
  const running: ChildProcess[] = [];
  const berthctl = (...args: string[]) => {
    const r = start(args, env);
    running.push(r.child);
    return r.done;
  };

  /** A Deployment `name` at revision 2 with ReplicaSets for revisions 1 (busybox:1) and 2 (busybox:2). */
  async function deploymentWithHistory(name: string): Promise<KubeObject> {
    const d = await client.create<KubeObject>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name,
        namespace: 'default',
        annotations: { 'deployment.kubernetes.io/revision': '2', 'kubernetes.io/change-cause': 'image 2' },
      },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: template('busybox:2') },
    });
    const owner = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata.uid!, controller: true },
    ];
    for (const [rev, image, hash, cause] of [
      ['1', 'busybox:1', 'aaa', 'first'],
      ['2', 'busybox:2', 'bbb', 'image 2'],
    ]) {
      await client.create({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace: 'default',
          labels: { app: 'web', 'pod-template-hash': hash },
          annotations: { 'deployment.kubernetes.io/revision': rev, 'kubernetes.io/change-cause': cause },
          ownerReferences: owner,
        },
        spec: {
          replicas: rev === '2' ? 3 : 0,
          selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } },
          template: template(image, hash),
        },
      });
    }
    return d;
  }

  /** Writes the Deployment's status as its controller would, observing the current generation. */
  async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
    const d = await client.get(DEPLOY, 'default', name);
    await client.updateStatus({
      ...d,
      status: { observedGeneration: d.metadata.generation, ...status },
    });
  }

  before(async () => {
    redis = await TestRedis.start();
    cp = await startControlPlane({ redisUrl: redis.url, extraArgs: ['--controllers', NO_CONTROLLERS] });
    env = { BERTH_SERVER: cp.url, BERTH_TOKEN: cp.token, BERTH_CONFIG: path.join(dir.path, 'config') };
    client = new BerthClient({ server: cp.url, token: cp.token });
  });
  after(async () => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await cp?.stop();
    await redis?.stop();
    dir.remove();
  });

  test('rollout history lists revisions with their change cause; --revision shows that pod template; unknown revision is exit 3', async () => {
    await deploymentWithHistory('hist');
    const r = await berthctl('rollout', 'history', 'deploy/hist');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'deployment.apps/hist\nREVISION   CHANGE-CAUSE\n1          first\n2          image 2\n',
    );
    const one = await berthctl('rollout', 'history', 'deployment', 'hist', '--revision', '1');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^deployment\.apps\/hist with revision #1\nPod Template:\n/);
    assert.match(one.stdout, /Image: +busybox:1\n/);
    assert.doesNotMatch(one.stdout, /busybox:2/);
    const missing = await berthctl('rollout', 'history', 'deploy/hist', '--revision', '9');
    assert.equal(missing.code, 3);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /error: unable to find the specified revision 9/);
    assert.match(missing.stderr, /known revisions: 1, 2/);
  });

  test('rollout undo copies the previous revision template (without pod-template-hash) and its change cause; again is skipped; unknown revision is exit 3', async () => {
    await deploymentWithHistory('undo');
    const before = await client.get(DEPLOY, 'default', 'undo');
    const r = await berthctl('rollout', 'undo', 'deploy/undo');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/undo rolled back\n');
    const after = await client.get(DEPLOY, 'default', 'undo');
    assert.equal(after.spec.template.spec.containers[0].image, 'busybox:1');
    assert.deepEqual(after.spec.template.metadata.labels, { app: 'web' });
    assert.equal(after.metadata.annotations?.['kubernetes.io/change-cause'], 'first');
    assert.equal(after.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
    assert.equal(after.metadata.generation, (before.metadata.generation ?? 0) + 1);

    const again = await berthctl('rollout', 'undo', 'deploy/undo', '--to-revision', '1');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      again.stdout,
      'deployment.apps/undo skipped rollback (current template already matches revision 1)\n',
    );
    const back = await berthctl('rollout', 'undo', 'deploy/undo', '--to-revision=2');
    assert.equal(back.code, 0, back.stderr);
    assert.equal(
      (await client.get(DEPLOY, 'default', 'undo')).spec.template.spec.containers[0].image,
      'busybox:2',
    );

    const unknown = await berthctl('rollout', 'undo', 'deploy/undo', '--to-revision', '7');
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /error: unable to find the specified revision 7/);
    const notDeploy = await berthctl('rollout', 'undo', 'rs/undo-aaa');
    assert.equal(notDeploy.code, 2);
    assert.match(notDeploy.stderr, /rollout undo works on deployments, not replicasets/);
    const absent = await berthctl('rollout', 'undo', 'deploy/nope');
    assert.equal(absent.code, 3);
  });

  test('the rollback patch is pinned to the version read: a stale resourceVersion is a 409 Conflict, not a lost write', async () => {
    const d = await deploymentWithHistory('race');
    await client.patch(DEPLOY, 'default', 'race', { metadata: { labels: { touched: 'yes' } } });
    await assert.rejects(
      client.patch(
        DEPLOY,
        'default',
        'race',
        [
          { op: 'replace', path: '/metadata/resourceVersion', value: d.metadata.resourceVersion },
          { op: 'replace', path: '/spec/template', value: template('busybox:1') },
        ],
        'json',
      ),
      (e: unknown) => e instanceof ApiError && e.code === 409,
    );
  });

  test('rollout restart sets the restartedAt annotation of the pod template to an RFC 3339 time', async () => {
    await deploymentWithHistory('rst');
    const r = await berthctl('rollout', 'restart', 'deploy/rst');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/rst restarted\n');
    const d = await client.get(DEPLOY, 'default', 'rst');
    const at = d.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'];
    assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Math.abs(Date.parse(at) - Date.now()) < 600_000, at);
    assert.equal(d.spec.template.spec.containers[0].image, 'busybox:2');
  });

  test('rollout status waits on a watch, prints progress, and exits 0 once the rollout is complete', async () => {
    await deploymentWithHistory('st');
    await setStatus('st', { replicas: 3, updatedReplicas: 1, availableReplicas: 1 });
    const r = start(['rollout', 'status', 'deploy/st', '--timeout', '120s'], env);
    running.push(r.child);
    await waitFor('the first progress line', async () =>
      r
        .stderr()
        .includes(
          'Waiting for deployment "st" rollout to finish: 1 out of 3 new replicas have been updated...',
        ),
    );
    await setStatus('st', { replicas: 4, updatedReplicas: 3, availableReplicas: 2 });
    await waitFor('the old-replicas line', async () =>
      r.stderr().includes('1 old replicas are pending termination...'),
    );
    await setStatus('st', { replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    const res = await r.done;
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'deployment "st" successfully rolled out\n');
  });

  test('rollout status fails (exit 1) when the Progressing condition says ProgressDeadlineExceeded', async () => {
    await deploymentWithHistory('dead');
    await setStatus('dead', { replicas: 3, updatedReplicas: 1, availableReplicas: 0 });
    const r = start(['rollout', 'status', 'deploy/dead'], env);
    running.push(r.child);
    await waitFor('a progress line', async () =>
      r.stderr().includes('1 out of 3 new replicas have been updated'),
    );
    await setStatus('dead', {
      replicas: 3,
      updatedReplicas: 1,
      availableReplicas: 0,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    const res = await r.done;
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /error: deployment "dead" exceeded its progress deadline\n/);
  });

  test('rollout status: an unobserved generation waits; --timeout ends it non-zero; --watch=false prints once and exits 0', async () => {
    await deploymentWithHistory('slow');
    const once = await berthctl('rollout', 'status', 'deploy/slow', '--watch=false');
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stderr, /Waiting for deployment spec update to be observed\.\.\./);
    const r = await berthctl('rollout', 'status', 'deploy/slow', '--timeout', '2s');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: timed out waiting for deployment "slow" rollout to finish/);
    const bad = await berthctl('rollout', 'status', 'deploy/slow', '--timeout', 'soon');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout: "soon" is not a duration/);
  });

  test('cordon and uncordon set spec.unschedulable; a second cordon says already cordoned', async () => {
    await client.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'c1' } });
    const r = await berthctl('cordon', 'c1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'node/c1 cordoned\n');
    assert.equal((await client.get(NODES, undefined, 'c1')).spec?.unschedulable, true);
    assert.equal((await berthctl('cordon', 'c1')).stdout, 'node/c1 already cordoned\n');
    const get = await berthctl('get', 'nodes', 'c1');
    assert.match(get.stdout, /c1 +Unknown,SchedulingDisabled/);
    const u = await berthctl('uncordon', 'c1');
    assert.equal(u.stdout, 'node/c1 uncordoned\n');
    assert.ok(!(await client.get(NODES, undefined, 'c1')).spec?.unschedulable);
    assert.equal((await berthctl('uncordon', 'c1')).stdout, 'node/c1 already uncordoned\n');
    const missing = await berthctl('cordon', 'nope');
    assert.equal(missing.code, 3);
  });

  test('drain refuses unmanaged and emptyDir pods with kubectl reasons (node stays cordoned); --dry-run deletes nothing; --force --delete-emptydir-data deletes and waits', async () => {
    const d = await deploymentWithHistory('dr');
    const rs = await client.get(RS, 'default', 'dr-bbb');
    await client.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'd1' } });
    const owned = [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'dr-bbb', uid: rs.metadata.uid!, controller: true },
    ];
    const pod = (name: string, extra: Record<string, unknown> = {}, ownerReferences = owned) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', ownerReferences },
      spec: { nodeName: 'd1', containers: [{ name: 'app', image: 'busybox:2' }], ...extra },
    });
    await client.create(pod('dr-web'));
    await client.create(pod('dr-solo', {}, []));
    await client.create(
      pod('dr-scratch', {
        volumes: [{ name: 'tmp', emptyDir: {} }],
        containers: [{ name: 'app', image: 'busybox:2', volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }] }],
      }),
    );
    await client.create(pod('elsewhere', { nodeName: 'd2' }));
    assert.ok(d.metadata.uid);

    const refused = await berthctl('drain', 'd1');
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, 'node/d1 cordoned\n');
    assert.match(
      refused.stderr,
      /error: unable to drain node "d1": .*cannot delete Pods with local storage \(use --delete-emptydir-data to override\): default\/dr-scratch/,
    );
    assert.match(
      refused.stderr,
      /cannot delete Pods that declare no controller \(use --force to override\): default\/dr-solo/,
    );
    assert.equal((await client.get(NODES, undefined, 'd1')).spec?.unschedulable, true);
    const podsOn = async () =>
      (await client.list(PODS, { namespace: 'default', fieldSelector: 'spec.nodeName=d1' })).items
        .map((p) => p.metadata.name)
        .sort();
    assert.deepEqual(await podsOn(), ['dr-scratch', 'dr-solo', 'dr-web']);

    const dry = await berthctl('drain', 'd1', '--force', '--delete-emptydir-data', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /evicting pod default\/dr-web \(dry run\)\n/);
    assert.match(dry.stdout, /node\/d1 drained \(dry run\)\n$/);
    assert.deepEqual(await podsOn(), ['dr-scratch', 'dr-solo', 'dr-web']);

    const r = await berthctl('drain', 'd1', '--force', '--delete-emptydir-data', '--timeout', '60s');
    assert.equal(r.code, 0, r.stderr);
    for (const n of ['dr-web', 'dr-solo', 'dr-scratch'])
      assert.match(r.stdout, new RegExp(`pod/${n} deleted\n`));
    assert.match(r.stdout, /^node\/d1 already cordoned\n/);
    assert.match(r.stdout, /node\/d1 drained\n$/);
    assert.match(r.stderr, /Warning: deleting Pods that declare no controller: default\/dr-solo/);
    assert.deepEqual(await podsOn(), []);
    assert.equal((await client.get(PODS, 'default', 'elsewhere')).spec.nodeName, 'd2');
  });

  test('events: sorted table with (xN over ...) for repeats, --types, --for, -A, and describe shows only the events of that object (by uid)', async () => {
    const d = await deploymentWithHistory('ev');
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'evother' } });
    const now = Date.now();
    const t = (agoMs: number) => new Date(now - agoMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ev = (
      name: string,
      ns: string,
      involved: Record<string, unknown>,
      fields: Record<string, unknown>,
    ) =>
      client.create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        involvedObject: { namespace: ns, ...involved },
        source: { component: 'test' },
        ...fields,
      });
    const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ev', uid: d.metadata.uid };
    await ev('ev.2', 'default', deployRef, {
      type: 'Warning',
      reason: 'Stuck',
      message: 'repeated',
      count: 5,
      firstTimestamp: t(300_000),
      lastTimestamp: t(10_000),
    });
    await ev('ev.1', 'default', deployRef, {
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set ev-bbb to 3',
      count: 1,
      firstTimestamp: t(120_000),
      lastTimestamp: t(120_000),
    });
    await ev(
      'ev.old',
      'default',
      { ...deployRef, uid: 'a-previous-deployment' },
      {
        type: 'Normal',
        reason: 'OldLife',
        message: 'about an earlier object of that name',
        lastTimestamp: t(100_000),
      },
    );
    await ev(
      'node.1',
      'evother',
      { kind: 'Node', name: 'n9' },
      {
        type: 'Warning',
        reason: 'NodeNotReady',
        message: 'node n9 is not ready',
        lastTimestamp: t(5_000),
      },
    );

    const r = await berthctl('events');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE$/);
    const i1 = lines.findIndex((l) => l.includes('ScalingReplicaSet'));
    const i2 = lines.findIndex((l) => l.includes('Stuck'));
    assert.ok(i1 > 0 && i2 > i1, r.stdout);
    assert.match(lines[i2], /\(x5 over 5m\d*s?\) +Warning +Stuck +Deployment\/ev +repeated$/);
    assert.doesNotMatch(r.stdout, /NodeNotReady/);

    const warn = await berthctl('events', '--types', 'Warning');
    assert.match(warn.stdout, /Stuck/);
    assert.doesNotMatch(warn.stdout, /ScalingReplicaSet|OldLife/);
    const all = await berthctl('events', '-A', '--types=warning');
    assert.match(all.stdout, /^NAMESPACE +LAST SEEN/);
    assert.match(all.stdout, /evother +\S+ +Warning +NodeNotReady +Node\/n9 +node n9 is not ready\n/);
    const forPod = await berthctl('events', '--for', 'pod/ev-nothing');
    assert.equal(forPod.code, 0);
    assert.equal(forPod.stdout, '');
    assert.equal(forPod.stderr, 'No events found in default namespace.\n');
    const bad = await berthctl('events', '--types', 'Bogus');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /valid --types are Normal or Warning/);
    const json = await berthctl('events', '--for', 'deploy/ev', '-o', 'json');
    assert.equal(JSON.parse(json.stdout).items.length, 3);

    const desc = await berthctl('describe', 'deploy/ev');
    assert.equal(desc.code, 0, desc.stderr);
    assert.match(
      desc.stdout,
      /Replicas: +3 desired \| 0 updated \| 0 total \| 0 available \| 0 unavailable\n/,
    );
    assert.match(desc.stdout, /StrategyType: +RollingUpdate\n/);
    assert.match(desc.stdout, /OldReplicaSets: +<none>\n/);
    assert.match(desc.stdout, /NewReplicaSet: +ev-bbb \(0\/3 replicas created\)\n/);
    assert.match(desc.stdout, /Events:\n +Type +Reason +Age +From +Message\n/);
    assert.match(desc.stdout, /Warning +Stuck +\S+ \(x5 over 5m\d*s?\) +test +repeated/);
    assert.match(desc.stdout, /ScalingReplicaSet/);
    assert.doesNotMatch(desc.stdout, /OldLife/);
  });

  test('events -w prints events created after the list, filtered by --types', async () => {
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'evwatch' } });
    const r = start(['events', '-n', 'evwatch', '-w', '--types', 'Warning'], env);
    running.push(r.child);
    const ev = (name: string, type: string, reason: string) =>
      client.create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: 'evwatch' },
        involvedObject: { kind: 'Pod', name: 'w1', namespace: 'evwatch' },
        type,
        reason,
        message: `${reason} happened`,
        lastTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
    // The watch starts after the (empty) list: keep adding until one is seen, then check the filter.
    await ev('n.1', 'Normal', 'Quiet');
    await waitFor('the watched Warning event', async () => {
      await ev(`w.${Date.now()}`, 'Warning', 'Loud').catch(() => undefined);
      return r.stdout().includes('Loud happened');
    });
    r.child.kill('SIGTERM');
    const res = await r.done;
    assert.match(res.stdout, /^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n/);
    assert.match(res.stdout, /Warning +Loud +Pod\/w1 +Loud happened\n/);
    assert.doesNotMatch(res.stdout, /Quiet/);
  });

  test('describe: a ReplicaSet shows Controlled By and Pods Status; a node its pods and allocated resources', async () => {
    const d = await deploymentWithHistory('ds');
    const rs = await client.get(RS, 'default', 'ds-bbb');
    await client.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n-desc' },
      spec: { taints: [{ key: 'dedicated', value: 'web', effect: 'NoSchedule' }] },
    });
    await client.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'ds-p1',
        namespace: 'default',
        labels: { app: 'web', 'pod-template-hash': 'bbb' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'ds-bbb',
            uid: rs.metadata.uid!,
            controller: true,
          },
        ],
      },
      spec: {
        nodeName: 'n-desc',
        containers: [
          {
            name: 'app',
            image: 'busybox:2',
            resources: { requests: { cpu: '250m', memory: '64Mi' } },
            readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
          },
        ],
      },
    });
    const r = await berthctl('describe', 'rs', 'ds-bbb');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Controlled By: +Deployment\/ds\n/);
    assert.match(r.stdout, /Pods Status: +0 Running \/ 1 Waiting \/ 0 Succeeded \/ 0 Failed\n/);
    const n = await berthctl('describe', 'node', 'n-desc');
    assert.equal(n.code, 0, n.stderr);
    assert.match(n.stdout, /Taints: +dedicated=web:NoSchedule\n/);
    assert.match(n.stdout, /Unschedulable: +false\n/);
    assert.match(n.stdout, /Non-terminated Pods: +\(1 in total\)\n/);
    assert.match(n.stdout, /default +ds-p1 +250m \(0%\) +0 \(0%\) +64Mi \(0%\) +0 \(0%\)/);
    assert.match(n.stdout, /Allocated resources:\n/);
    const p = await berthctl('describe', 'pod', 'ds-p1');
    assert.match(p.stdout, /Controlled By: +ReplicaSet\/ds-bbb\n/);
    assert.match(
      p.stdout,
      /Readiness: +http-get http:\/\/:8080\/ready delay=0s timeout=1s period=5s #success=1 #failure=3\n/,
    );
    assert.ok(d.metadata.uid);
  });

  test('get shows kubectl columns for deployments and replicasets', async () => {
    await deploymentWithHistory('cols');
    await setStatus('cols', { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2 });
    const d = await berthctl('get', 'deploy', 'cols');
    assert.match(d.stdout, /^NAME +READY +UP-TO-DATE +AVAILABLE +AGE\ncols +2\/3 +3 +2 +\S+\n$/);
    const rs = await berthctl('get', 'rs', 'cols-aaa', 'cols-bbb');
    assert.match(
      rs.stdout,
      /^NAME +DESIRED +CURRENT +READY +AGE\ncols-aaa +0 +0 +0 +\S+\ncols-bbb +3 +0 +0 +\S+\n$/,
    );
  });

  test('delete --cascade sends the propagation policy: orphan and foreground leave the finalizer the GC acts on; a bad value is exit 2', async () => {
    await deploymentWithHistory('orph');
    await deploymentWithHistory('fore');
    await deploymentWithHistory('back');
    const o = await berthctl('delete', 'deploy/orph', '--cascade=orphan');
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stdout, 'deployment.apps "orph" deleted\n');
    const orph = await client.get(DEPLOY, 'default', 'orph');
    assert.ok(orph.metadata.deletionTimestamp);
    assert.deepEqual(orph.metadata.finalizers, ['orphan']);
    const f = await berthctl('delete', 'deployment', 'fore', '--cascade', 'foreground');
    assert.equal(f.code, 0, f.stderr);
    assert.deepEqual((await client.get(DEPLOY, 'default', 'fore')).metadata.finalizers, [
      'foregroundDeletion',
    ]);
    const b = await berthctl('delete', 'deploy/back', '--cascade=true');
    assert.equal(b.code, 0, b.stderr);
    await assert.rejects(
      client.get(DEPLOY, 'default', 'back'),
      (e: unknown) => e instanceof ApiError && e.code === 404,
    );
    const bad = await berthctl('delete', 'deploy/orph-aaa', '--cascade=sometimes');
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /invalid --cascade value "sometimes": must be "background", "foreground" or "orphan"/,
    );
  });
});
