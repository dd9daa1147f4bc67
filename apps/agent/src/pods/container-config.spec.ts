import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  containerId,
  expandVars,
  imagesInUse,
  mapContainer,
  PodConfigError,
  pullPolicyOf,
  referencedSources,
  resolveEnv,
  secretData,
  type Pod,
  type PodSources,
} from './container-config';

function pod(container: Record<string, any>, spec: Record<string, any> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'team', uid: 'uid-1', labels: { app: 'web' } },
    spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'busybox:1.36', ...container }], ...spec },
  } as Pod;
}

const none: PodSources = { configMaps: new Map(), secrets: new Map() };
const ips = { hostIP: '10.0.0.5', podIP: '' };

describe('container config mapping', () => {
  test('env: values, configMapKeyRef, secretKeyRef, fieldRef, envFrom with prefix, $(VAR) expansion', () => {
    const p = pod({
      envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }],
      env: [
        { name: 'A', value: 'a' },
        { name: 'B', value: '$(A)-b-$$(A)' },
        { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cm', key: 'mode' } } },
        { name: 'PASS', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'nope', key: 'x', optional: true } } },
      ],
    });
    const src: PodSources = {
      configMaps: new Map([['cm', { mode: 'fast', level: '3' }]]),
      secrets: new Map([['s', { password: 'hunter2' }]]),
    };
    const env = Object.fromEntries(
      resolveEnv(p, p.spec.containers[0], src, ips).map((e) => [e.name, e.value]),
    );
    assert.deepEqual(env, {
      CM_mode: 'fast',
      CM_level: '3',
      A: 'a',
      B: 'a-b-$(A)',
      MODE: 'fast',
      PASS: 'hunter2',
      POD: 'web',
      NS: 'team',
      NODE: 'n1',
      HOST: '10.0.0.5',
      APP: 'web',
    });
  });

  test('a missing ConfigMap or key names the field', () => {
    const p = pod({ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }] });
    assert.throws(
      () => resolveEnv(p, p.spec.containers[0], none, ips),
      (e: unknown) =>
        e instanceof PodConfigError &&
        /env\[0\]\.valueFrom\.configMapKeyRef: configmap "cm" not found/.test(e.message),
    );
    const src: PodSources = { configMaps: new Map([['cm', {}]]), secrets: new Map() };
    assert.throws(() => resolveEnv(p, p.spec.containers[0], src, ips), /key "k" not found in configmap "cm"/);
  });

  test('maps command/args, limits, security context, hostNetwork, hostname and mounts', () => {
    const p = pod(
      {
        command: ['sh', '-c'],
        args: ['echo $(GREETING)'],
        env: [{ name: 'GREETING', value: 'hi' }],
        workingDir: '/srv',
        resources: { limits: { memory: '64Mi', cpu: '500m' }, requests: { cpu: '250m' } },
        securityContext: {
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
        },
        volumeMounts: [
          { name: 'data', mountPath: '/data' },
          { name: 'cfg', mountPath: '/etc/app', readOnly: true, subPath: 'sub' },
        ],
      },
      { hostNetwork: true },
    );
    const c = mapContainer({
      pod: p,
      container: p.spec.containers[0],
      image: { cmd: ['sh'] },
      sources: none,
      volumes: new Map([
        ['data', '/var/lib/x/data'],
        ['cfg', '/var/lib/x/cfg'],
      ]),
      etcFiles: { hosts: '/p/etc/hosts' },
      hostIP: '10.0.0.5',
      podIP: '10.0.0.5',
    });
    assert.equal(c.id, containerId('uid-1', 'main'));
    assert.match(c.id, /^[a-f0-9]{32}$/);
    assert.equal(c.podName, 'web');
    assert.equal(c.podUID, 'uid-1');
    assert.deepEqual(c.command, ['sh', '-c']);
    assert.deepEqual(c.args, ['echo hi']);
    assert.equal(c.workingDir, '/srv');
    assert.deepEqual(c.resources, {
      memoryLimitBytes: 64 * 1024 * 1024,
      cpuLimitMillis: 500,
      cpuRequestMillis: 250,
    });
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    assert.equal(c.hostNetwork, true);
    assert.deepEqual(c.mounts, [
      { source: '/var/lib/x/data', destination: '/data', readOnly: false },
      { source: '/var/lib/x/cfg/sub', destination: '/etc/app', readOnly: true },
    ]);
  });

  test('a mount of an unknown volume or an escaping subPath is a PodConfigError naming the field', () => {
    const p = pod({ volumeMounts: [{ name: 'nope', mountPath: '/x' }] });
    const input = {
      pod: p,
      container: p.spec.containers[0],
      image: {},
      sources: none,
      volumes: new Map(),
      etcFiles: {},
      hostIP: '',
      podIP: '',
    };
    assert.throws(() => mapContainer(input), /volumeMounts\[0\]\.name: no volume named "nope"/);
    const q = pod({ volumeMounts: [{ name: 'v', mountPath: '/x', subPath: '../etc' }] });
    assert.throws(
      () =>
        mapContainer({ ...input, pod: q, container: q.spec.containers[0], volumes: new Map([['v', '/v']]) }),
      /volumeMounts\[0\]\.subPath/,
    );
  });

  test('pull policy defaults like Kubernetes; referenced sources; secret data decoding; $$ escapes', () => {
    assert.equal(pullPolicyOf({ name: 'a', image: 'busybox' } as never), 'Always');
    assert.equal(pullPolicyOf({ name: 'a', image: 'busybox:latest' } as never), 'Always');
    assert.equal(pullPolicyOf({ name: 'a', image: 'busybox:1.36' } as never), 'IfNotPresent');
    assert.equal(pullPolicyOf({ name: 'a', image: 'busybox', imagePullPolicy: 'Never' } as never), 'Never');
    const p = pod(
      { envFrom: [{ secretRef: { name: 's1' } }] },
      {
        volumes: [
          { name: 'v', configMap: { name: 'c1' } },
          { name: 'w', secret: { secretName: 's2' } },
        ],
      },
    );
    const r = referencedSources(p.spec);
    assert.deepEqual([...r.configMaps], ['c1']);
    assert.deepEqual([...r.secrets].sort(), ['s1', 's2']);
    assert.deepEqual(
      secretData({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {},
        data: { a: Buffer.from('x').toString('base64') },
      }),
      {
        a: 'x',
      },
    );
    assert.equal(expandVars('$(X) $(Y) $$(X)', new Map([['X', '1']])), '1 $(Y) $(X)');
    assert.deepEqual(
      [...imagesInUse([pod({ image: 'busybox' }), pod({ image: '127.0.0.1:5000/a/b:v1' })])],
      ['docker.io/library/busybox:latest', '127.0.0.1:5000/a/b:v1'],
    );
  });
});
