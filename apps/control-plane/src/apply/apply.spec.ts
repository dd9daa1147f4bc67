import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@berth/api';
import { planApply } from './apply';

const file = (labels: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels },
  spec: { selector: { matchLabels: { app: 'web' } }, ...extra },
});
const same = (o: KubeObject): KubeObject => o;

test('no live object: create the file as given (prepared)', () => {
  const plan = planApply(file({ app: 'web' }), undefined, undefined, (o) => ({ ...o, prepared: true }));
  assert.equal(plan.action, 'create');
  assert.equal(plan.object.prepared, true);
});

test('update keeps fields others set (replicas by scale) and drops labels removed from the file', () => {
  const last = file({ app: 'web', old: 'x' });
  const live: KubeObject = {
    ...file({ app: 'web', old: 'x', ownedByController: 'y' }, { replicas: 5 }),
    metadata: {
      name: 'web',
      namespace: 'default',
      labels: { app: 'web', old: 'x', ownedByController: 'y' },
      resourceVersion: '42',
      uid: 'u',
    },
    status: { replicas: 5 },
  };
  const desired = file({ app: 'web' });
  const plan = planApply(desired, last, live, same);
  assert.equal(plan.action, 'update');
  assert.equal(plan.object.spec.replicas, 5);
  assert.deepEqual(plan.object.metadata.labels, { app: 'web', ownedByController: 'y' });
  assert.equal(plan.object.metadata.resourceVersion, '42');
  assert.equal(plan.object.metadata.uid, 'u');
});

test('same file again over an unchanged object: nothing to write', () => {
  const desired = file({ app: 'web' });
  const live: KubeObject = {
    ...structuredClone(desired),
    metadata: { ...desired.metadata, resourceVersion: '7' },
    status: { replicas: 1 },
  };
  const plan = planApply(desired, structuredClone(desired), live, same);
  assert.equal(plan.action, 'unchanged');
  assert.equal(plan.object, live);
});

test('same file but someone changed a field the file sets: the file wins', () => {
  const desired = file({ app: 'web' }, { replicas: 2 });
  const live: KubeObject = {
    ...structuredClone(desired),
    metadata: { ...desired.metadata, resourceVersion: '7' },
  };
  live.spec.replicas = 9;
  const plan = planApply(desired, structuredClone(desired), live, same);
  assert.equal(plan.action, 'update');
  assert.equal(plan.object.spec.replicas, 2);
});
