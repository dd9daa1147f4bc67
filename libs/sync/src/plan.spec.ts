import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { planSync, refKey, type InventoryEntry, type SourceObject } from './plan';

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
});
const src = (o: KubeObject, file: string): SourceObject => ({ object: o, file });
const inv = (kind: string, name: string, file: string, namespace?: string): InventoryEntry => ({
  apiVersion: kind === 'Deployment' ? 'apps/v1' : 'v1',
  kind,
  name,
  file,
  ...(namespace ? { namespace } : {}),
});
const names = (xs: { object?: KubeObject; kind?: string; name?: string }[]) =>
  xs.map((x) => (x.object ? `${x.object.kind}/${x.object.metadata.name}` : `${x.kind}/${x.name}`));

describe('sync plan', () => {
  test('applies Namespaces, ConfigMaps and Secrets before workloads, each group in file order', () => {
    const plan = planSync({
      objects: [
        src(obj('apps/v1', 'Deployment', 'web', 'demo'), 'app/web.yaml'),
        src(obj('v1', 'ConfigMap', 'cfg', 'demo'), 'app/web.yaml'),
        src(obj('v1', 'Namespace', 'demo'), 'ns.yaml'),
        src(obj('v1', 'Secret', 'token', 'demo'), 'app/secret.yaml'),
        src(obj('apps/v1', 'Deployment', 'api', 'demo'), 'app/api.yaml'),
      ],
      brokenFiles: [],
      inventory: [],
      prune: true,
    });
    assert.deepEqual(names(plan.apply), [
      'Namespace/demo',
      'ConfigMap/cfg',
      'Secret/token',
      'Deployment/web',
      'Deployment/api',
    ]);
    assert.equal(plan.inventory.length, 5);
    assert.deepEqual(plan.prune, []);
  });

  test('prunes only what the inventory recorded and the source no longer has, workloads before Namespaces', () => {
    const plan = planSync({
      objects: [src(obj('v1', 'ConfigMap', 'keep', 'demo'), 'keep.yaml')],
      brokenFiles: [],
      inventory: [
        inv('Namespace', 'old', 'old.yaml'),
        inv('ConfigMap', 'keep', 'keep.yaml', 'demo'),
        inv('Deployment', 'gone', 'old.yaml', 'old'),
      ],
      prune: true,
    });
    assert.deepEqual(names(plan.prune), ['Deployment/gone', 'Namespace/old']);
    assert.deepEqual(names(plan.inventory), ['ConfigMap/keep']);
  });

  test("a broken file's objects are held (not pruned) and stay in the inventory", () => {
    const plan = planSync({
      objects: [src(obj('v1', 'ConfigMap', 'a', 'demo'), 'a.yaml')],
      brokenFiles: ['b.yaml'],
      inventory: [inv('ConfigMap', 'a', 'a.yaml', 'demo'), inv('ConfigMap', 'b', 'b.yaml', 'demo')],
      prune: true,
    });
    assert.deepEqual(plan.prune, []);
    assert.deepEqual(names(plan.held), ['ConfigMap/b']);
    assert.deepEqual(names(plan.inventory).sort(), ['ConfigMap/a', 'ConfigMap/b']);
  });

  test('an empty source never prunes everything unless allowed', () => {
    const inventory = [inv('ConfigMap', 'a', 'a.yaml', 'demo'), inv('Namespace', 'demo', 'ns.yaml')];
    const refused = planSync({ objects: [], brokenFiles: [], inventory, prune: true });
    assert.match(refused.refused ?? '', /no objects left: pruning all 2 objects .* needs --allow-empty/);
    assert.deepEqual(refused.prune, []);
    assert.deepEqual(refused.inventory, inventory, 'the inventory is kept as it was');
    const allowed = planSync({ objects: [], brokenFiles: [], inventory, prune: true, allowEmpty: true });
    assert.equal(allowed.refused, undefined);
    assert.deepEqual(names(allowed.prune), ['ConfigMap/a', 'Namespace/demo']);
  });

  test('without --prune nothing is deleted and departed objects stay recorded', () => {
    const plan = planSync({
      objects: [],
      brokenFiles: [],
      inventory: [inv('ConfigMap', 'a', 'a.yaml', 'demo')],
      prune: false,
    });
    assert.deepEqual(plan.prune, []);
    assert.equal(plan.refused, undefined);
    assert.deepEqual(names(plan.inventory), ['ConfigMap/a']);
  });

  test('the same object in two files: the first wins and the second is reported', () => {
    const plan = planSync({
      objects: [
        src(obj('v1', 'ConfigMap', 'dup', 'demo'), 'one.yaml'),
        src(obj('v1', 'ConfigMap', 'dup', 'demo'), 'two.yaml'),
      ],
      brokenFiles: [],
      inventory: [],
      prune: true,
    });
    assert.equal(plan.apply.length, 1);
    assert.equal(plan.apply[0].file, 'one.yaml');
    assert.deepEqual(plan.duplicates, [
      {
        ref: '/ConfigMap/demo/dup',
        entry: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'demo', name: 'dup', file: 'two.yaml' },
        file: 'two.yaml',
        first: 'one.yaml',
      },
    ]);
  });

  test('identity ignores the API version within a group', () => {
    assert.equal(
      refKey({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'a', name: 'b' }),
      refKey({ apiVersion: 'apps/v1beta2', kind: 'Deployment', namespace: 'a', name: 'b' }),
    );
  });
});
