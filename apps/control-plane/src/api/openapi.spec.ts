import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { IMAGE_PULL_POLICIES, KINDS } from '@berth/api';
import { groupVersionDocument, openApiDocuments } from './openapi';
import { schemaName } from './openapi-schema';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any> };
};

function doc(group: string, version: string): Doc {
  return groupVersionDocument(group, version) as Doc;
}

test('the /openapi/v3 index names every served group/version with the hash of its document', () => {
  const { index, docs } = openApiDocuments();
  const paths = JSON.parse(index).paths as Record<string, { serverRelativeURL: string }>;
  assert.deepEqual(Object.keys(paths), ['api/v1', 'apis/apps/v1', 'apis/coordination.k8s.io/v1']);
  for (const [key, { serverRelativeURL }] of Object.entries(paths)) {
    const d = docs.get(key)!;
    const hash = createHash('sha512').update(d.json).digest('hex').toUpperCase();
    assert.equal(serverRelativeURL, `/openapi/v3/${key}?hash=${hash}`);
    assert.equal(d.hash, hash);
  }
});

test('every kind has a PATCH operation tagged with its group/version/kind that takes fieldValidation (kubectl then validates on the server)', () => {
  for (const k of KINDS) {
    const d = doc(k.group, k.version);
    assert.equal(d.openapi, '3.0.0');
    const patches = Object.entries(d.paths)
      .filter(([, p]) => p.patch)
      .filter(([, p]) => {
        const gvk = p.patch['x-kubernetes-group-version-kind'];
        return gvk.group === k.group && gvk.version === k.version && gvk.kind === k.kind;
      });
    assert.ok(patches.length > 0, `no PATCH for ${k.kind}`);
    for (const [path, p] of patches) {
      assert.ok(
        p.patch.parameters.some((x: any) => x.name === 'fieldValidation' && x.in === 'query'),
        `${path} PATCH lacks fieldValidation`,
      );
      assert.ok(p.patch.requestBody.content['application/strategic-merge-patch+json'], path);
      assert.ok(p.patch.requestBody.content['application/apply-patch+yaml'], path);
    }
  }
});

test('paths follow the kinds: namespaced collections, all-namespaces lists, cluster-scoped objects, subresources', () => {
  const core = doc('', 'v1');
  for (const p of [
    '/api/v1/namespaces/{namespace}/pods',
    '/api/v1/namespaces/{namespace}/pods/{name}',
    '/api/v1/namespaces/{namespace}/pods/{name}/status',
    '/api/v1/namespaces/{namespace}/pods/{name}/log',
    '/api/v1/pods',
    '/api/v1/nodes/{name}',
    '/api/v1/namespaces/{name}',
  ])
    assert.ok(core.paths[p], p);
  assert.equal(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/scale'], undefined);
  assert.equal(core.paths['/api/v1/namespaces/{namespace}/nodes'], undefined);
  const apps = doc('apps', 'v1');
  const scale = apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'];
  assert.deepEqual(scale.put['x-kubernetes-group-version-kind'], {
    group: 'autoscaling',
    version: 'v1',
    kind: 'Scale',
  });
  assert.equal(
    scale.get.responses['200'].content['application/json'].schema.$ref,
    '#/components/schemas/io.k8s.api.autoscaling.v1.Scale',
  );
});

test('each document defines every schema it references, and each kind schema names its group/version/kind', () => {
  for (const { group, version } of [
    { group: '', version: 'v1' },
    { group: 'apps', version: 'v1' },
    { group: 'coordination.k8s.io', version: 'v1' },
  ]) {
    const d = doc(group, version);
    const text = JSON.stringify(d);
    for (const m of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g))
      assert.ok(d.components.schemas[m[1]], `${group}/${version}: ${m[1]} is referenced but missing`);
    for (const k of KINDS.filter((x) => x.group === group && x.version === version)) {
      assert.deepEqual(d.components.schemas[schemaName(k)]['x-kubernetes-group-version-kind'], [
        { group, version, kind: k.kind },
      ]);
    }
  }
});

test('schemas come from the validation models: types, enums, ranges, required fields, maps, merge keys', () => {
  const s = doc('apps', 'v1').components.schemas;
  const container = s['io.k8s.api.core.v1.Container'];
  assert.deepEqual(container.properties.imagePullPolicy, { type: 'string', enum: [...IMAGE_PULL_POLICIES] });
  assert.deepEqual(container.required, ['image', 'name']);
  assert.deepEqual(container.properties.command, { type: 'array', items: { type: 'string' } });
  assert.equal(container.properties.env['x-kubernetes-patch-merge-key'], 'name');
  assert.equal(container.properties.volumeMounts['x-kubernetes-patch-merge-key'], 'mountPath');
  const port = s['io.k8s.api.core.v1.ContainerPort'];
  assert.deepEqual(port.properties.containerPort, { type: 'integer', minimum: 1, maximum: 65535 });
  assert.deepEqual(port.required, ['containerPort']);
  const spec = s['io.k8s.api.apps.v1.DeploymentSpec'];
  assert.deepEqual(spec.required, ['selector', 'template']);
  assert.deepEqual(spec.properties.replicas, { type: 'integer', minimum: 0 });
  assert.equal(spec.properties.strategy['x-kubernetes-patch-strategy'], 'retainKeys');
  const podSpec = s['io.k8s.api.core.v1.PodSpec'];
  assert.equal(podSpec.properties.containers['x-kubernetes-patch-merge-key'], 'name');
  assert.equal(podSpec.properties.volumes['x-kubernetes-patch-strategy'], 'merge,retainKeys');
  assert.equal(podSpec.properties.affinity['x-kubernetes-preserve-unknown-fields'], true);
  const meta = s['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'];
  assert.deepEqual(meta.properties.labels, {
    type: 'object',
    additionalProperties: { type: 'string', default: '' },
  });
  assert.equal(meta.properties.creationTimestamp.format, 'date-time');
  const resources = s['io.k8s.api.core.v1.ResourceRequirements'];
  assert.deepEqual(resources.properties.limits.additionalProperties, {
    $ref: '#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity',
  });
  const core = doc('', 'v1').components.schemas;
  assert.deepEqual(core['io.k8s.api.core.v1.ConfigMap'].properties.data, {
    type: 'object',
    additionalProperties: { type: 'string', default: '' },
  });
  assert.deepEqual(core['io.k8s.api.core.v1.Pod'].required, ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.deepEqual(core['io.k8s.api.core.v1.PodList'].properties.items.items, {
    $ref: '#/components/schemas/io.k8s.api.core.v1.Pod',
  });
});
