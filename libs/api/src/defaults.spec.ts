import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, defaultPullPolicy } from './defaults';
import { deepEqual } from './merge';
import { validate } from './validate';
import type { KubeObject } from './meta';

const pod = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: {
    containers: [
      {
        name: 'web',
        image: 'nginx:1.25',
        ports: [{ containerPort: 80 }],
        livenessProbe: { httpGet: { port: 80 } },
        readinessProbe: { exec: { command: ['true'] }, periodSeconds: 3 },
        resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '100m' } },
        env: [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      },
      { name: 'latest', image: 'busybox' },
    ],
    initContainers: [{ name: 'init', image: 'busybox:latest' }],
    volumes: [{ name: 'v' }, { name: 'c', configMap: { name: 'cfg' } }],
  },
});

const deployment = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx' }] },
    },
  },
});

describe('applyDefaults', () => {
  test('pod spec defaults', () => {
    const input = pod();
    const d = applyDefaults(input);
    assert.equal(d.spec.restartPolicy, 'Always');
    assert.equal(d.spec.terminationGracePeriodSeconds, 30);
    assert.equal(d.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(d.spec.schedulerName, 'default-scheduler');
    const [web, latest] = d.spec.containers;
    assert.equal(web.imagePullPolicy, 'IfNotPresent');
    assert.equal(latest.imagePullPolicy, 'Always');
    assert.equal(d.spec.initContainers[0].imagePullPolicy, 'Always');
    assert.equal(web.terminationMessagePath, '/dev/termination-log');
    assert.equal(web.ports[0].protocol, 'TCP');
    assert.deepEqual(web.livenessProbe, {
      httpGet: { port: 80, path: '/', scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
    });
    assert.equal(web.readinessProbe.periodSeconds, 3, 'a set value is kept');
    assert.deepEqual(
      web.resources.requests,
      { cpu: '100m', memory: '1Gi' },
      'a limit without a request is requested',
    );
    assert.equal(web.env[0].valueFrom.fieldRef.apiVersion, 'v1');
    assert.deepEqual(d.spec.volumes[0], { name: 'v', emptyDir: {} });
    assert.equal(d.spec.volumes[1].configMap.defaultMode, 0o644);
    assert.deepEqual(validate(d), []);
    assert.deepEqual(input, pod(), 'the input is not modified');
  });

  test('image pull policy follows the tag as in Kubernetes', () => {
    assert.equal(defaultPullPolicy('nginx'), 'Always');
    assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
    assert.equal(defaultPullPolicy('registry.local:5000/nginx'), 'Always');
    assert.equal(defaultPullPolicy('registry.local:5000/nginx:1.2'), 'IfNotPresent');
    assert.equal(defaultPullPolicy(`nginx@sha256:${'a'.repeat(64)}`), 'IfNotPresent');
    assert.equal(defaultPullPolicy('NOT VALID'), undefined);
  });

  test('an explicit pull policy is kept', () => {
    const p = pod();
    p.spec.containers[1].imagePullPolicy = 'Never';
    assert.equal(applyDefaults(p).spec.containers[1].imagePullPolicy, 'Never');
  });

  test('Deployment defaults, and pod defaults in its template', () => {
    const d = applyDefaults(deployment());
    assert.equal(d.spec.replicas, 1);
    assert.deepEqual(d.spec.strategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
    });
    assert.equal(d.spec.revisionHistoryLimit, 10);
    assert.equal(d.spec.progressDeadlineSeconds, 600);
    assert.equal(d.spec.minReadySeconds, 0);
    assert.equal(d.spec.template.spec.restartPolicy, 'Always');
    assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'Always');
    assert.deepEqual(validate(d), []);
  });

  test('Recreate gets no rollingUpdate; replicas 0 is kept', () => {
    const input = deployment();
    input.spec.strategy = { type: 'Recreate' };
    input.spec.replicas = 0;
    const d = applyDefaults(input);
    assert.deepEqual(d.spec.strategy, { type: 'Recreate' });
    assert.equal(d.spec.replicas, 0);
    assert.deepEqual(validate(d), []);
  });

  test('ReplicaSet and Secret defaults', () => {
    const rs = applyDefaults({ ...deployment(), kind: 'ReplicaSet' });
    assert.equal(rs.spec.replicas, 1);
    assert.equal(rs.spec.template.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(rs.spec.strategy, undefined);
    const s = applyDefaults({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } });
    assert.equal(s.type, 'Opaque');
  });

  test('is idempotent and leaves metadata alone', () => {
    for (const o of [pod(), deployment()]) {
      const once = applyDefaults(o);
      assert.ok(deepEqual(applyDefaults(once), once));
      assert.deepEqual(once.metadata, o.metadata);
      assert.equal('namespace' in once.metadata, false);
    }
  });

  test('does not crash on malformed objects', () => {
    const odd = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'x' },
      spec: { containers: ['x', null, 3] },
    };
    assert.deepEqual(applyDefaults(odd).spec.containers, ['x', null, 3]);
    assert.equal(
      applyDefaults({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: {}, spec: 'x' }).spec,
      'x',
    );
  });
});
