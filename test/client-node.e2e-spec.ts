// End-to-end: the official JavaScript client, @kubernetes/client-node 1.x (unmodified), against a
// real control plane over HTTPS with a real agent running a pod's container: a KubeConfig with the
// cluster CA and a bearer token; typed CoreV1/AppsV1 calls (list, create, read, replace, merge /
// strategic / JSON patch, the scale subresource, delete), the generic KubernetesObjectApi (which
// uses legacy discovery) with server-side apply, Watch, the informer helper and pod logs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type * as K8s from '@kubernetes/client-node';
import {
  TestRedis,
  buildBusyboxImage,
  startAgent,
  startControlPlane,
  startRegistry,
  waitFor,
  type ControlPlane,
  type TestAgent,
  type TestRegistry,
} from '@berth/testing';

// client-node 1.x is an ES module; the tests are compiled to CommonJS, where `import()` would be
// turned into require(). This keeps a real dynamic import.
const importEsm = new Function('s', 'return import(s)') as (s: string) => Promise<typeof K8s>;

const NS = 'clientnode';

describe('@kubernetes/client-node 1.x against Berth (HTTPS, token)', () => {
  let k8s: typeof K8s;
  let redis: TestRedis;
  let cp: ControlPlane;
  let reg: TestRegistry;
  let agent: TestAgent;
  let kc: K8s.KubeConfig;
  let core: K8s.CoreV1Api;
  let apps: K8s.AppsV1Api;
  let image: string;

  before(async () => {
    k8s = await importEsm('@kubernetes/client-node');
    redis = await TestRedis.start();
    cp = await startControlPlane({
      redisUrl: redis.url,
      tls: true,
      extraArgs: ['--controllers', 'deployment,replicaset,scheduler,garbagecollector'],
    });
    reg = await startRegistry();
    image = (await buildBusyboxImage(reg, 'e2e/clientnode', 'v1', { format: 'v2s2' })).ref;
    agent = await startAgent({
      server: cp.url,
      token: cp.token,
      caFile: cp.caFile,
      nodeName: 'clientnode-node',
      extraArgs: ['--heartbeat-interval', '1s'],
    });
    kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'berth', server: cp.url, caData: Buffer.from(cp.ca!).toString('base64') }],
      users: [{ name: 'admin', token: cp.token }],
      contexts: [{ name: 'berth', cluster: 'berth', user: 'admin', namespace: NS }],
      currentContext: 'berth',
    });
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
  });

  after(async () => {
    if (core) await core.deleteNamespacedPod({ name: 'logger', namespace: NS }).catch(() => undefined);
    if (core)
      await waitFor(
        'pods gone',
        async () => (await core.listNamespacedPod({ namespace: NS })).items.length === 0,
        30_000,
      ).catch(() => undefined);
    await agent?.stop();
    await reg?.stop();
    await cp?.stop();
    await redis?.stop();
  });

  test('typed calls: namespaces, ConfigMaps (create, read, replace, three patch types, delete)', async () => {
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
    assert.ok(names.includes(NS) && names.includes('default'), names.join(','));

    const created = await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'cfg', labels: { app: 'x' } }, data: { a: '1' } },
    });
    assert.equal(created.metadata?.namespace, NS);
    assert.ok(created.metadata?.uid && created.metadata.resourceVersion);

    const read = await core.readNamespacedConfigMap({ name: 'cfg', namespace: NS });
    read.data = { ...read.data, b: '2' };
    const replaced = await core.replaceNamespacedConfigMap({ name: 'cfg', namespace: NS, body: read });
    assert.deepEqual(replaced.data, { a: '1', b: '2' });

    const opts = (type: K8s.PatchStrategy) => k8s.setHeaderOptions('Content-Type', type);
    await core.patchNamespacedConfigMap(
      { name: 'cfg', namespace: NS, body: { data: { c: '3' } } },
      opts(k8s.PatchStrategy.MergePatch),
    );
    await core.patchNamespacedConfigMap(
      { name: 'cfg', namespace: NS, body: { metadata: { labels: { tier: 'web' } } } },
      opts(k8s.PatchStrategy.StrategicMergePatch),
    );
    const patched = await core.patchNamespacedConfigMap(
      { name: 'cfg', namespace: NS, body: [{ op: 'remove', path: '/data/a' }] },
      opts(k8s.PatchStrategy.JsonPatch),
    );
    assert.deepEqual(patched.data, { b: '2', c: '3' });
    assert.deepEqual(patched.metadata?.labels, { app: 'x', tier: 'web' });

    const selected = await core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'tier=web' });
    assert.deepEqual(
      selected.items.map((c) => c.metadata?.name),
      ['cfg'],
    );

    await core.deleteNamespacedConfigMap({ name: 'cfg', namespace: NS });
    await assert.rejects(
      core.readNamespacedConfigMap({ name: 'cfg', namespace: NS }),
      (e: any) => e.code === 404,
    );
  });

  test('a bad request comes back as an ApiException with the Status', async () => {
    await assert.rejects(
      core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'Bad_Name' } } }),
      (e: any) => {
        assert.equal(e.code, 422);
        const status = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
        assert.equal(status.kind, 'Status');
        assert.equal(status.reason, 'Invalid');
        assert.match(status.message, /metadata\.name/);
        return true;
      },
    );
  });

  test('Deployments: create, the scale subresource read and replaced (again on 409), the controllers make the pods, delete cascades', async () => {
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'main', image, command: ['sleep', '3600'] }] },
          },
        },
      },
    });
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: NS });
    assert.equal(scale.spec?.replicas, 1);
    // The scale carries the Deployment's resourceVersion, which the controllers' status writes move
    // on: a 409 means "read again", as with Kubernetes (client-go's RetryOnConflict).
    await waitFor('the scale replaced', async () => {
      const current = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: NS });
      try {
        await apps.replaceNamespacedDeploymentScale({
          name: 'web',
          namespace: NS,
          body: { ...current, spec: { replicas: 2 } },
        });
        return true;
      } catch (e) {
        if ((e as { code?: number }).code === 409) return false;
        throw e;
      }
    });
    await waitFor(
      'the ReplicaSet controller creating 2 pods',
      async () =>
        (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' })).items.length === 2,
    );
    await apps.deleteNamespacedDeployment({ name: 'web', namespace: NS });
    await waitFor(
      'the pods garbage-collected',
      async () =>
        (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' })).items.length === 0,
    );
  });

  test('KubernetesObjectApi (discovery-based): server-side apply creates, then updates; read; delete', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'generic', namespace: NS },
      data: { v: '1' },
    };
    const ssa = k8s.PatchStrategy.ServerSideApply;
    await objects.patch(cm, undefined, undefined, 'client-node-test', true, ssa);
    await objects.patch({ ...cm, data: { v: '2' } }, undefined, undefined, 'client-node-test', true, ssa);
    const got = await objects.read({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'generic', namespace: NS },
    });
    assert.deepEqual((got as any).data, { v: '2' });
    const created = await objects.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'generic-rs', namespace: NS },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'g' } },
        template: { metadata: { labels: { app: 'g' } }, spec: { containers: [{ name: 'c', image }] } },
      },
    } as K8s.KubernetesObject);
    assert.ok(created.metadata?.uid);
    await objects.delete(created);
    await objects.delete(got);
  });

  test('Watch and the informer see adds, updates and deletes', async () => {
    const seen: string[] = [];
    const watch = new k8s.Watch(kc);
    const ac = await watch.watch(
      `/api/v1/namespaces/${NS}/configmaps`,
      { allowWatchBookmarks: true },
      (type, obj) => seen.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${NS}/configmaps`, () =>
      core.listNamespacedConfigMap({ namespace: NS }),
    );
    const events: string[] = [];
    informer.on(k8s.ADD, (o) => events.push(`add ${o.metadata?.name}`));
    informer.on(k8s.UPDATE, (o) => events.push(`update ${o.metadata?.name} ${o.data?.v}`));
    informer.on(k8s.DELETE, (o) => events.push(`delete ${o.metadata?.name}`));
    await informer.start();
    try {
      await core.createNamespacedConfigMap({
        namespace: NS,
        body: { metadata: { name: 'w' }, data: { v: '1' } },
      });
      await core.patchNamespacedConfigMap(
        { name: 'w', namespace: NS, body: { data: { v: '2' } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await core.deleteNamespacedConfigMap({ name: 'w', namespace: NS });
      await waitFor('watch events', async () => seen.includes('DELETED w'));
      assert.deepEqual(
        seen.filter((s) => s.endsWith(' w')),
        ['ADDED w', 'MODIFIED w', 'DELETED w'],
      );
      await waitFor('informer events', async () => events.includes('delete w'));
      assert.deepEqual(
        events.filter((s) => s.includes(' w')),
        ['add w', 'update w 2', 'delete w'],
      );
    } finally {
      ac.abort();
      await informer.stop();
    }
  });

  test('pod logs, whole and followed', async () => {
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'logger' },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image,
              command: [
                'sh',
                '-c',
                'echo first; i=0; while true; do i=$((i+1)); echo line $i; sleep 0.3; done',
              ],
            },
          ],
        },
      },
    });
    await waitFor(
      'the pod Running',
      async () =>
        (await core.readNamespacedPod({ name: 'logger', namespace: NS })).status?.phase === 'Running',
      90_000,
    );
    const whole = await waitFor('some log', async () => {
      const text = await core.readNamespacedPodLog({ name: 'logger', namespace: NS, container: 'main' });
      return text.includes('line 2') ? text : undefined;
    });
    assert.match(whole, /^first\nline 1\n/);

    const out = new PassThrough();
    let followed = '';
    out.on('data', (b: Buffer) => (followed += b.toString()));
    const ac = await new k8s.Log(kc).log(NS, 'logger', 'main', out, { follow: true, tailLines: 1 });
    try {
      await waitFor('followed lines', async () => (followed.match(/line \d+/g) ?? []).length >= 3, 20_000);
      assert.ok(!followed.includes('first'), 'tailLines=1 starts at the last line');
    } finally {
      ac.abort();
    }
  });
});
