import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, applyDefaults, type KubeObject } from '@berth/api';
import { LAST_APPLIED_ANNOTATION, planApply, type ApplyPlan, type ApplyRequest } from './apply';
import type { ManagedFieldsEntry } from './managed-fields';

const DEPLOY = { kind: 'Deployment', apiVersion: 'apps/v1', hasStatus: true };
const CM = { kind: 'ConfigMap', apiVersion: 'v1', hasStatus: false };

interface Container {
  name: string;
  image: string;
  env?: { name: string; value: string }[];
  ports?: { containerPort: number }[];
}

function deploy(
  opts: { labels?: Record<string, string>; replicas?: number; containers?: Container[] } = {},
): KubeObject {
  const spec: Record<string, unknown> = {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: opts.containers ?? [{ name: 'web', image: 'nginx:1' }] },
    },
  };
  if (opts.replicas !== undefined) spec.replicas = opts.replicas;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', ...(opts.labels ? { labels: opts.labels } : {}) },
    spec,
  };
}

let rv = 1;
/** What the store would hold after the plan: the object with a new resourceVersion. */
function stored(plan: ApplyPlan): KubeObject {
  const o = structuredClone(plan.object);
  if (plan.action !== 'unchanged') o.metadata.resourceVersion = String(++rv);
  o.metadata.uid ??= 'uid-1';
  return o;
}

function apply(
  config: KubeObject,
  live: KubeObject | undefined,
  manager: string,
  extra: Partial<ApplyRequest> = {},
): ApplyPlan {
  return planApply({
    config,
    live,
    manager,
    force: false,
    kind: config.kind === 'ConfigMap' ? CM : DEPLOY,
    prepare: (o) => applyDefaults(o),
    now: '2026-01-01T00:00:00Z',
    ...extra,
  });
}

function entries(o: KubeObject): ManagedFieldsEntry[] {
  return (o.metadata.managedFields ?? []) as ManagedFieldsEntry[];
}

function entry(o: KubeObject, manager: string): ManagedFieldsEntry | undefined {
  return entries(o).find((e) => e.manager === manager);
}

function conflictOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return e;
  }
  assert.fail('expected a conflict');
}

test('create: the applied fields become the manager Apply set, in the FieldsV1 key format', () => {
  const plan = apply(
    deploy({
      labels: { app: 'web' },
      containers: [{ name: 'web', image: 'nginx:1', ports: [{ containerPort: 80 }] }],
    }),
    undefined,
    'alice',
  );
  assert.equal(plan.action, 'create');
  const e = entry(plan.object, 'alice')!;
  assert.equal(e.operation, 'Apply');
  assert.equal(e.apiVersion, 'apps/v1');
  assert.equal(e.fieldsType, 'FieldsV1');
  assert.equal(e.time, '2026-01-01T00:00:00Z');
  assert.deepEqual(e.fieldsV1, {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': {
      'f:selector': {},
      'f:template': {
        'f:metadata': { 'f:labels': { 'f:app': {} } },
        'f:spec': {
          'f:containers': {
            'k:{"name":"web"}': {
              '.': {},
              'f:name': {},
              'f:image': {},
              'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
            },
          },
        },
      },
    },
  });
  // Defaults are applied but owned by nobody.
  assert.equal(plan.object.spec!.replicas, 1);
});

test('a field the manager stops applying is removed; one another manager also owns stays', () => {
  const v1 = stored(apply(deploy({ labels: { app: 'web', tier: 'front', team: 'a' } }), undefined, 'alice'));
  // bob applies the same team label: co-owned.
  const labelsOnly: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { team: 'a' } },
  };
  const v2 = stored(apply(labelsOnly, v1, 'bob'));
  const plan = apply(deploy({ labels: { app: 'web' } }), v2, 'alice');
  assert.equal(plan.action, 'update');
  assert.deepEqual(plan.object.metadata.labels, { app: 'web', team: 'a' });
  assert.deepEqual(entry(plan.object, 'alice')!.fieldsV1['f:metadata'], { 'f:labels': { 'f:app': {} } });
});

test('dropping replicas from the file removes them (back to the default) when nobody else owns them', () => {
  const v1 = stored(apply(deploy({ replicas: 5 }), undefined, 'alice'));
  const plan = apply(deploy(), v1, 'alice');
  assert.equal(plan.object.spec!.replicas, 1);
});

test('a value another manager owns is a 409 conflict naming field and manager; force takes it over', () => {
  const v1 = stored(apply(deploy({ replicas: 2 }), undefined, 'alice'));
  const e = conflictOf(() => apply(deploy({ replicas: 3 }), v1, 'bob'));
  assert.equal(e.code, 409);
  assert.equal(e.reason, 'Conflict');
  assert.equal(e.message, 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas');
  assert.deepEqual(e.details?.causes, [
    { reason: 'FieldManagerConflict', message: 'conflict with "alice"', field: '.spec.replicas' },
  ]);

  const forced = apply(deploy({ replicas: 3 }), v1, 'bob', { force: true });
  assert.equal(forced.object.spec!.replicas, 3);
  assert.equal(
    entry(forced.object, 'alice')!.fieldsV1['f:spec'] &&
      JSON.stringify(entry(forced.object, 'alice')!.fieldsV1).includes('f:replicas'),
    false,
  );
  assert.ok(JSON.stringify(entry(forced.object, 'bob')!.fieldsV1).includes('f:replicas'));
});

test('the same value applied by two managers is shared, not a conflict', () => {
  const v1 = stored(apply(deploy({ replicas: 2 }), undefined, 'alice'));
  const plan = apply(deploy({ replicas: 2 }), v1, 'bob');
  assert.equal(plan.action, 'update', 'ownership changed, so it is written');
  assert.ok(JSON.stringify(entry(plan.object, 'alice')!.fieldsV1).includes('f:replicas'));
  assert.ok(JSON.stringify(entry(plan.object, 'bob')!.fieldsV1).includes('f:replicas'));
});

test('several conflicts are listed per manager', () => {
  const v1 = stored(apply(deploy({ replicas: 2, labels: { app: 'x' } }), undefined, 'alice'));
  const e = conflictOf(() => apply(deploy({ replicas: 3, labels: { app: 'y' } }), v1, 'bob'));
  assert.equal(e.details?.causes?.length, 2);
  assert.match(
    e.message,
    /^Apply failed with 2 conflicts: conflicts with "alice":\n- \.metadata\.labels\.app\n- \.spec\.replicas$/,
  );
});

test('associative lists: containers by name are owned item by item', () => {
  const v1 = stored(apply(deploy({ containers: [{ name: 'web', image: 'nginx:1' }] }), undefined, 'alice'));
  // bob adds a sidecar and an env var on web, by their keys.
  const bobConfig = deploy({
    containers: [
      { name: 'web', image: 'nginx:1', env: [{ name: 'MODE', value: 'x' }] },
      { name: 'side', image: 'busybox:1' },
    ],
  });
  const v2 = stored(apply(bobConfig, v1, 'bob'));
  const names = (o: KubeObject) =>
    (o.spec!.template.spec.containers as { name: string }[]).map((c) => c.name);
  assert.deepEqual(names(v2), ['web', 'side']);
  // alice changes her image: bob co-owns web's image with the old value → conflict.
  const e = conflictOf(() => apply(deploy({ containers: [{ name: 'web', image: 'nginx:2' }] }), v2, 'alice'));
  assert.equal(e.details?.causes?.[0].field, '.spec.template.spec.containers[name="web"].image');
  assert.equal(e.details?.causes?.[0].message, 'conflict with "bob"');
  // bob stops applying: his sidecar and env go, alice's container stays whole.
  const v3 = stored(apply(deploy({ containers: [{ name: 'web', image: 'nginx:1' }] }), v2, 'bob'));
  assert.deepEqual(names(v3), ['web']);
  assert.equal((v3.spec!.template.spec.containers as Container[])[0].env, undefined);
  assert.equal((v3.spec!.template.spec.containers as Container[])[0].image, 'nginx:1');
});

test('atomic lists (args) and structs (selector) are owned whole', () => {
  const cfg = deploy();
  (cfg.spec!.template.spec.containers[0] as Record<string, unknown>).args = ['a', 'b'];
  const plan = apply(cfg, undefined, 'alice');
  const c = (entry(plan.object, 'alice')!.fieldsV1 as any)['f:spec']['f:template']['f:spec']['f:containers'][
    'k:{"name":"web"}'
  ];
  assert.deepEqual(c['f:args'], {});
  assert.deepEqual((entry(plan.object, 'alice')!.fieldsV1 as any)['f:spec']['f:selector'], {});
});

test('re-applying the same file is unchanged (same object, same managedFields)', () => {
  const v1 = stored(apply(deploy(), undefined, 'alice'));
  const again = apply(deploy(), v1, 'alice', { now: '2026-02-02T00:00:00Z' });
  assert.equal(again.action, 'unchanged');
  assert.equal(again.object, v1);
});

test('an apply holding only the last-applied annotation (kubectl-last-applied) does not wipe the spec', () => {
  const v1 = stored(apply(deploy({ replicas: 2 }), undefined, 'kubectl'));
  v1.metadata.annotations = { [LAST_APPLIED_ANNOTATION]: '{"kind":"Deployment"}' };
  const just: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      annotations: { [LAST_APPLIED_ANNOTATION]: '{"kind":"Deployment"}' },
    },
  };
  const plan = apply(just, v1, 'kubectl-last-applied');
  assert.equal(plan.object.spec!.replicas, 2);
  assert.equal((plan.object.spec!.template.spec.containers as Container[])[0].image, 'nginx:1');
  assert.ok(entry(plan.object, 'kubectl-last-applied'));
  assert.ok(entry(plan.object, 'kubectl'));
});

test('kubectl: fields in the last-applied annotation are taken over without force, and the annotation follows the file', () => {
  const csa = deploy({ replicas: 2 });
  const live = stored(apply(csa, undefined, 'someone'));
  // Written by client-side apply (an Update owner) with the annotation.
  live.metadata.annotations = { [LAST_APPLIED_ANNOTATION]: JSON.stringify(csa) };
  live.metadata.managedFields = (live.metadata.managedFields as ManagedFieldsEntry[]).map((e) => ({
    ...e,
    manager: 'kubectl-client-side-apply',
    operation: 'Update',
  }));
  const plan = apply(deploy({ replicas: 4 }), live, 'kubectl');
  assert.equal(plan.object.spec!.replicas, 4);
  const ann = JSON.parse(plan.object.metadata.annotations![LAST_APPLIED_ANNOTATION]);
  assert.equal(ann.spec.replicas, 4);
  // Another manager gets the conflict.
  assert.equal(conflictOf(() => apply(deploy({ replicas: 4 }), live, 'other')).code, 409);
});

test('migration: a manager with an old last-applied record and no entry prunes what that record held', () => {
  const old = deploy({ labels: { app: 'web', old: 'yes' } });
  const live = applyDefaults(structuredClone(old));
  live.metadata.resourceVersion = '7';
  const plan = apply(deploy({ labels: { app: 'web' } }), live, 'berthctl', {
    legacy: [{ manager: 'berthctl', config: old }],
  });
  assert.equal(plan.action, 'update');
  assert.equal((plan as { migrated: boolean }).migrated, true);
  assert.deepEqual(plan.object.metadata.labels, { app: 'web' });
});

test('bad applied configurations: items without keys are 422 naming the list; managedFields must be nil', () => {
  const cfg = deploy();
  (cfg.spec!.template.spec.containers[0] as Record<string, unknown>).env = [{ value: 'x' }];
  const e = conflictOf(() => apply(cfg, undefined, 'alice'));
  assert.equal(e.code, 422);
  assert.equal(e.details?.causes?.[0].field, 'spec.template.spec.containers[0].env');
  const withMf = deploy();
  withMf.metadata.managedFields = [{ manager: 'x' }];
  assert.equal(conflictOf(() => apply(withMf, undefined, 'alice')).code, 400);
});

test('a ConfigMap (no status subresource): data keys are owned one by one', () => {
  const cm = (data: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', namespace: 'default' },
    data,
  });
  const v1 = stored(apply(cm({ a: '1', b: '2' }), undefined, 'alice'));
  const v2 = stored(apply(cm({ c: '3' }), v1, 'bob'));
  const v3 = apply(cm({ a: '1' }), v2, 'alice');
  assert.deepEqual(v3.object.data, { a: '1', c: '3' });
});

test('an item another manager partly owns stays, with its key, when the applier drops it', () => {
  const v1 = stored(
    apply(
      deploy({
        containers: [
          { name: 'web', image: 'nginx:1' },
          { name: 'side', image: 'busybox:1' },
        ],
      }),
      undefined,
      'alice',
    ),
  );
  // bob (an update) changed the sidecar's image: he owns that field only, not the item.
  v1.metadata.managedFields = [
    ...(v1.metadata.managedFields as ManagedFieldsEntry[]),
    {
      manager: 'bob',
      operation: 'Update',
      apiVersion: 'apps/v1',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:spec': {
          'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"side"}': { 'f:image': {} } } } },
        },
      },
    },
  ];
  const plan = apply(deploy({ containers: [{ name: 'web', image: 'nginx:1' }] }), v1, 'alice');
  const cs = plan.object.spec!.template.spec.containers as Container[];
  assert.deepEqual(
    cs.map((c) => [c.name, c.image]),
    [
      ['web', 'nginx:1'],
      ['side', 'busybox:1'],
    ],
  );
});
