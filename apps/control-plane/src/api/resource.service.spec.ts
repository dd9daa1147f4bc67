import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kindFor, type KindInfo, type KubeObject } from '@berth/api';
import type { UpdateOptions } from '@berth/store';
import { MemoryStore } from '../testing/memory-store';
import { ResourceService } from './resource.service';
import { parseRoute, type ResourceRoute } from './route';

const CM = kindFor('v1', 'ConfigMap')!;
const DEPLOY = kindFor('apps/v1', 'Deployment')!;

function route(path: string): ResourceRoute {
  return parseRoute(path) as ResourceRoute;
}

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

async function setup(store = new MemoryStore()): Promise<{ store: MemoryStore; svc: ResourceService }> {
  const svc = new ResourceService(store);
  await svc.ensureNamespaces(['default', 'kube-system']);
  await svc.ensureNamespaces(['default']); // idempotent
  return { store, svc };
}

function code(e: unknown): number | undefined {
  return e instanceof ApiError ? e.code : undefined;
}

const cm = (name: string, data: Record<string, string> = { a: '1' }) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data,
});

/** A store where someone else writes the object once, right before our first update. */
class RacingStore extends MemoryStore {
  raced = false;
  override async update(kind: KindInfo, obj: KubeObject, opts?: UpdateOptions): Promise<KubeObject> {
    if (!this.raced) {
      this.raced = true;
      const cur = await this.get(kind, obj.metadata.namespace, obj.metadata.name!);
      cur.metadata.labels = { ...cur.metadata.labels, other: 'writer' };
      await super.update(kind, cur);
    }
    return super.update(kind, obj, opts);
  }
}

test('create defaults the namespace from the URL; another namespace in the body is 400', async () => {
  const { svc } = await setup();
  const r = await svc.create(
    route('/api/v1/namespaces/default/configmaps'),
    json(cm('a')),
    'application/json',
    {},
  );
  assert.equal(r.code, 201);
  assert.equal((r.body as KubeObject).metadata.namespace, 'default');
  const other = { ...cm('b'), metadata: { name: 'b', namespace: 'kube-system' } };
  await assert.rejects(
    svc.create(route('/api/v1/namespaces/default/configmaps'), json(other), undefined, {}),
    (e) => code(e) === 400,
  );
  await assert.rejects(
    svc.create(route('/api/v1/configmaps'), json(cm('c')), undefined, {}),
    (e) => code(e) === 405,
  );
});

test('dryRun=All validates and stores nothing', async () => {
  const { svc, store } = await setup();
  const r = await svc.create(route('/api/v1/namespaces/default/configmaps'), json(cm('dry')), undefined, {
    dryRun: 'All',
  });
  assert.equal(r.code, 201);
  await assert.rejects(store.get(CM, 'default', 'dry'), (e) => code(e) === 404);
  await assert.rejects(
    svc.create(route('/api/v1/namespaces/default/configmaps'), json(cm('Bad_Name')), undefined, {
      dryRun: 'All',
    }),
    (e) => code(e) === 422,
  );
});

test('a merge patch without a resourceVersion retries over a concurrent write; one with a stale version is 409', async () => {
  const store = new RacingStore();
  const { svc } = await setup(store);
  await svc.create(route('/api/v1/namespaces/default/configmaps'), json(cm('p')), undefined, {});
  store.raced = false;
  const r = await svc.patch(
    route('/api/v1/namespaces/default/configmaps/p'),
    'merge',
    json({ data: { a: '2' } }),
    {},
  );
  const obj = r.body as KubeObject;
  assert.equal(obj.data.a, '2');
  assert.equal(obj.metadata.labels?.other, 'writer', 'the concurrent write is kept');
  await assert.rejects(
    svc.patch(
      route('/api/v1/namespaces/default/configmaps/p'),
      'merge',
      json({ metadata: { resourceVersion: '1' }, data: { a: '3' } }),
      {},
    ),
    (e) => code(e) === 409,
  );
});

test('apply creates with the applied configuration, then merges over a concurrent write', async () => {
  const store = new RacingStore();
  const { svc } = await setup(store);
  const p = route('/api/v1/namespaces/default/configmaps/ap');
  const created = await svc.patch(
    p,
    'apply',
    Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  a: "1"\n'),
    { fieldManager: 'm' },
  );
  assert.equal(created.code, 201);
  assert.deepEqual((created.body as KubeObject).metadata.managedFields, [
    {
      manager: 'm',
      operation: 'Apply',
      apiVersion: 'v1',
      time: (created.body as { metadata: { managedFields: { time: string }[] } }).metadata.managedFields[0]
        .time,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:data': { 'f:a': {} } },
    },
  ]);
  store.raced = false;
  const updated = await svc.patch(p, 'apply', json(cm('ap', { b: '2' })), { fieldManager: 'm' });
  const obj = updated.body as KubeObject;
  assert.equal(updated.code, 200);
  assert.deepEqual(obj.data, { b: '2' }, 'a key dropped from the file is removed');
  assert.equal(obj.metadata.labels?.other, 'writer');
  const again = await svc.patch(p, 'apply', json(cm('ap', { b: '2' })), { fieldManager: 'm' });
  assert.equal((again.body as KubeObject).metadata.resourceVersion, obj.metadata.resourceVersion);
  await assert.rejects(
    svc.patch(p, 'apply', json(cm('other-name')), { fieldManager: 'm' }),
    (e) => code(e) === 400,
  );
});

test('apply needs a fieldManager (422 naming it, as Kubernetes); bad managers and force values are refused', async () => {
  const { svc } = await setup();
  const p = route('/api/v1/namespaces/default/configmaps/fm');
  const named = (field: string) => (e: unknown) =>
    code(e) === 422 && (e as ApiError).details?.causes?.[0]?.field === field;
  await assert.rejects(svc.patch(p, 'apply', json(cm('fm')), {}), named('fieldManager'));
  await assert.rejects(
    svc.patch(p, 'apply', json(cm('fm')), { fieldManager: 'x'.repeat(129) }),
    named('fieldManager'),
  );
  await assert.rejects(
    svc.patch(p, 'apply', json(cm('fm')), { fieldManager: 'a', force: 'maybe' }),
    (e) => code(e) === 400,
  );
  await svc.patch(p, 'apply', json(cm('fm')), { fieldManager: 'a' });
  await assert.rejects(svc.patch(p, 'merge', json({ data: { a: '2' } }), { force: 'true' }), named('force'));
});

test('updates record their manager: fieldManager, else the User-Agent up to "/"; apply then conflicts with them', async () => {
  const { svc } = await setup();
  const cms = route('/api/v1/namespaces/default/configmaps');
  const p = route('/api/v1/namespaces/default/configmaps/own');
  await svc.create(cms, json(cm('own', { a: '1' })), 'application/json', {
    userAgent: 'berthctl/v0.1.0 (linux)',
  });
  const patched = await svc.patch(p, 'merge', json({ data: { b: '2' } }), { fieldManager: 'kubectl-edit' });
  const mf = (patched.body as KubeObject).metadata.managedFields as { manager: string; fieldsV1: unknown }[];
  assert.deepEqual(
    mf.map((e) => [e.manager, e.fieldsV1]),
    [
      ['berthctl', { 'f:data': { '.': {}, 'f:a': {} } }],
      ['kubectl-edit', { 'f:data': { 'f:b': {} } }],
    ],
  );
  // PUT by an unnamed client without a User-Agent.
  const cur = (await svc.get(p)) as KubeObject;
  cur.data = { a: '1', b: '3' };
  const put = await svc.update(p, json(cur), 'application/json', {});
  assert.ok(
    ((put.body as KubeObject).metadata.managedFields as { manager: string }[]).some(
      (e) => e.manager === 'unknown',
    ),
  );
  // An apply changing b conflicts with the PUT's manager, not with kubectl-edit any more.
  await assert.rejects(
    svc.patch(p, 'apply', json(cm('own', { b: '4' })), { fieldManager: 'kubectl' }),
    (e) => code(e) === 409 && /conflict with "unknown" using v1 at /.test((e as Error).message),
  );
  const forced = await svc.patch(p, 'apply', json(cm('own', { b: '4' })), {
    fieldManager: 'kubectl',
    force: 'true',
  });
  assert.deepEqual((forced.body as KubeObject).data, { a: '1', b: '4' });
});

test('scale reads and writes spec.replicas; a stale resourceVersion is 409 and a negative count 422', async () => {
  const { svc } = await setup();
  const d = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web', tier: 'fe' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'fe' } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
  await svc.create(route('/apis/apps/v1/namespaces/default/deployments'), json(d), undefined, {});
  const sr = route('/apis/apps/v1/namespaces/default/deployments/web/scale');
  const scale = (await svc.get(sr)) as {
    metadata: { resourceVersion: string };
    spec: { replicas: number };
    status: { selector: string };
  };
  assert.equal(scale.spec.replicas, 2);
  assert.equal(scale.status.selector, 'app=web,tier=fe');
  const put = await svc.update(sr, json({ ...scale, spec: { replicas: 4 } }), undefined, {});
  assert.equal((put.body as { spec: { replicas: number } }).spec.replicas, 4);
  await assert.rejects(
    svc.update(sr, json({ ...scale, spec: { replicas: 5 } }), undefined, {}),
    (e) => code(e) === 409,
  );
  await assert.rejects(svc.patch(sr, 'merge', json({ spec: { replicas: -1 } }), {}), (e) => code(e) === 422);
  const store = (svc as unknown as { store: MemoryStore }).store;
  assert.equal((await store.get(DEPLOY, 'default', 'web')).spec.replicas, 4);
});

test('a status write checks only identity and the shape of .status; the stored spec stays', async () => {
  const { svc } = await setup();
  const d = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
  await svc.create(route('/apis/apps/v1/namespaces/default/deployments'), json(d), 'application/json', {});
  const statusRoute = route('/apis/apps/v1/namespaces/default/deployments/web/status');
  // A body whose spec would not validate (the store ignores it on /status) still writes status.
  const r = await svc.update(
    statusRoute,
    json({ ...d, spec: { replicas: 'many' }, status: { replicas: 3 } }),
    'application/json',
    {},
  );
  assert.equal((r.body as KubeObject & { status: { replicas: number } }).status.replicas, 3);
  assert.deepEqual((r.body as KubeObject & { spec: { selector: unknown } }).spec.selector, d.spec.selector);
  // A status that is not an object is refused with its field.
  await assert.rejects(
    svc.update(statusRoute, json({ ...d, status: 'ok' }), 'application/json', {}),
    (e: unknown) => code(e) === 422 && (e as ApiError).details?.causes?.[0]?.field === 'status',
  );
  // So is a body for another kind.
  await assert.rejects(
    svc.update(statusRoute, json({ ...d, kind: 'ReplicaSet' }), 'application/json', {}),
    (e: unknown) => code(e) === 400,
  );
});

test('apply migrates the last-applied configuration Berth kept before managedFields, then drops it', async () => {
  const { store, svc } = await setup();
  const old = cm('legacy', { a: '1', gone: 'x' });
  // An object written by the old apply: a last-applied record, no managedFields.
  await store.create(CM, { ...old, metadata: { ...old.metadata, namespace: 'default' } } as KubeObject, {
    applied: { manager: 'berthctl', config: old as KubeObject },
  });
  const p = route('/api/v1/namespaces/default/configmaps/legacy');
  const r = await svc.patch(p, 'apply', json(cm('legacy', { a: '1' })), {
    fieldManager: 'berthctl',
    force: 'true',
  });
  const obj = r.body as KubeObject;
  assert.deepEqual(obj.data, { a: '1' }, 'the key the old record held and the file dropped is removed');
  assert.deepEqual(
    (obj.metadata.managedFields as { manager: string; operation: string }[]).map((e) => [
      e.manager,
      e.operation,
    ]),
    [['berthctl', 'Apply']],
  );
  assert.deepEqual(await store.listApplied(CM, 'default', 'legacy'), []);
});
