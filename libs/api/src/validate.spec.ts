import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatCause, parseManifests } from './codec';
import { validate } from './validate';
import { applyDefaults } from './defaults';
import { deepCopy } from './merge';
import type { StatusCause } from './errors';
import type { KubeObject } from './meta';

// Specs run from dist/; the manifests stay in the source tree.
const testdata = path.resolve(__dirname, '../../../../libs/api/src/testdata');
const read = (f: string) => parseManifests(readFileSync(path.join(testdata, f), 'utf8'), f);

function deployment(): KubeObject {
  return deepCopy(read('nginx-deployment.yaml')[0].object);
}

function pod(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

/** The causes at one field path. */
function at(causes: StatusCause[], field: string): StatusCause[] {
  return causes.filter((c) => c.field === field);
}

function assertCause(obj: unknown, field: string, message: RegExp, reason?: string): void {
  const causes = validate(obj);
  const hit = at(causes, field).find((c) => message.test(c.message));
  assert.ok(hit, `no cause at ${field} matching ${message}; got ${JSON.stringify(causes, null, 1)}`);
  if (reason) assert.equal(hit.reason, reason);
}

describe('valid real-world manifests have no causes', () => {
  for (const f of ['nginx-deployment.yaml', 'misc.yaml', 'server-objects.json', 'kubectl-generated.yaml'])
    test(f, () => {
      const ms = read(f);
      assert.ok(ms.length > 0);
      for (const m of ms) {
        assert.deepEqual(validate(m.object), [], `${m.object.kind} ${m.object.metadata.name}`);
        assert.deepEqual(
          validate(applyDefaults(m.object)),
          [],
          `defaulted ${m.object.kind} ${m.object.metadata.name}`,
        );
      }
    });

  test('the Kubernetes docs nginx deployment', () => {
    const [m] = parseManifests(
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx-deployment\n  labels:\n    app: nginx\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: nginx\n  template:\n    metadata:\n      labels:\n        app: nginx\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.14.2\n        ports:\n        - containerPort: 80\n`,
    );
    assert.deepEqual(validate(m.object), []);
  });
});

describe('kinds', () => {
  test('an unknown kind names the supported kinds', () => {
    assertCause(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' } },
      'kind',
      /supported kinds are .*apps\/v1 Deployment/,
    );
  });
  test('a known kind in the wrong version says which version to use', () => {
    assertCause(
      { apiVersion: 'v1', kind: 'Deployment', metadata: { name: 'x' } },
      'apiVersion',
      /use apiVersion: apps\/v1/,
    );
  });
  test('not an object', () => {
    assert.equal(validate('x').length, 1);
    assert.equal(validate(null)[0].reason, 'FieldValueTypeInvalid');
  });
  test('missing apiVersion and kind', () => {
    assertCause({ kind: 'Pod' }, 'apiVersion', /Required value/);
    assertCause({ apiVersion: 'v1' }, 'kind', /Required value/);
  });
});

describe('structure', () => {
  test('unknown fields anywhere are rejected, with a suggestion', () => {
    const d = deployment();
    d.spec.template.spec.containers[0].imagePullpolicy = 'Always';
    d.spec.bogus = 1;
    (d.metadata as Record<string, unknown>).nme = 'x';
    const causes = validate(d);
    assert.match(
      at(causes, 'spec.template.spec.containers[0].imagePullpolicy')[0]?.message,
      /unknown field "imagePullpolicy" \(did you mean "imagePullPolicy"\?\)/,
    );
    assert.match(at(causes, 'spec.bogus')[0]?.message, /unknown field "bogus"/);
    assert.match(at(causes, 'metadata.nme')[0]?.message, /unknown field "nme"/);
    assertCause({ ...pod(), extra: true }, 'extra', /unknown field "extra"/);
  });

  test('unsupported volume types say which are supported', () => {
    assertCause(
      pod({ volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'x' } }] }),
      'spec.volumes[0].persistentVolumeClaim',
      /supported volume types are emptyDir, hostPath, configMap, secret/,
    );
  });

  test('wrong types are named with the field', () => {
    assertCause(
      pod({ containers: 'nginx' }),
      'spec.containers',
      /must be a list, not "nginx"/,
      'FieldValueTypeInvalid',
    );
    assertCause(pod({ hostNetwork: 'yes' }), 'spec.hostNetwork', /must be a boolean/);
    assertCause(
      pod({ terminationGracePeriodSeconds: '30' }),
      'spec.terminationGracePeriodSeconds',
      /must be an integer/,
    );
    assertCause(
      pod({ terminationGracePeriodSeconds: 1.5 }),
      'spec.terminationGracePeriodSeconds',
      /must be an integer/,
    );
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', args: ['a', 3] }] }),
      'spec.containers[0].args[1]',
      /must be a string/,
    );
    assertCause(pod({ containers: ['c'] }), 'spec.containers[0]', /must be an object/);
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', resources: [] }] }),
      'spec.containers[0].resources',
      /must be an object/,
    );
    assertCause(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: ['a'] }, spec: pod().spec },
      'metadata.labels',
      /map of labels/,
    );
  });

  test('required fields', () => {
    assertCause(
      pod({ containers: [{ name: 'c' }] }),
      'spec.containers[0].image',
      /Required value/,
      'FieldValueRequired',
    );
    assertCause(pod({ containers: [{ image: 'busybox' }] }), 'spec.containers[0].name', /Required value/);
    assertCause(
      pod({ containers: [{ name: 'c', image: '' }] }),
      'spec.containers[0].image',
      /Required value/,
    );
    assertCause({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }, 'spec', /Required value/);
    assertCause(pod({ containers: [] }), 'spec.containers', /at least one container/);
    assertCause(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} },
      'metadata.name',
      /name or generateName is required/,
    );
    const d = deployment();
    delete d.spec.selector;
    assertCause(d, 'spec.selector', /Required value/);
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http' }] }] }),
      'spec.containers[0].ports[0].containerPort',
      /Required value/,
    );
  });
});

describe('names', () => {
  test('object names are DNS-1123 subdomains', () => {
    const p = pod();
    p.metadata.name = 'Web_1';
    assertCause(p, 'metadata.name', /RFC 1123 subdomain/);
    p.metadata.name = 'web.example-1';
    assert.deepEqual(validate(p), []);
    p.metadata.name = 'a'.repeat(254);
    assertCause(p, 'metadata.name', /no more than 253/);
  });
  test('namespace names are DNS-1123 labels', () => {
    assertCause(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } },
      'metadata.name',
      /RFC 1123 label/,
    );
    assert.deepEqual(validate({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } }), []);
    const p = pod();
    p.metadata.namespace = 'Default';
    assertCause(p, 'metadata.namespace', /RFC 1123 label/);
  });
  test('container and port names', () => {
    assertCause(
      pod({ containers: [{ name: 'My_App', image: 'busybox' }] }),
      'spec.containers[0].name',
      /RFC 1123 label/,
    );
    assertCause(
      pod({
        containers: [
          { name: 'c', image: 'busybox', ports: [{ name: 'http-metrics-port', containerPort: 80 }] },
        ],
      }),
      'spec.containers[0].ports[0].name',
      /no more than 15/,
    );
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', ports: [{ name: '8080', containerPort: 80 }] }] }),
      'spec.containers[0].ports[0].name',
      /at least one letter/,
    );
  });
  test('label keys and values; annotation keys', () => {
    const p = pod();
    p.metadata.labels = {
      'app.kubernetes.io/name': 'ok',
      'bad key': 'x',
      good: 'bad value!',
      '/x': 'y',
      long: 'v'.repeat(64),
    };
    p.metadata.annotations = { 'example.com/ok': 'anything at all: !@#', 'Bad..Prefix/x': 'y' };
    const causes = validate(p);
    assert.equal(at(causes, 'metadata.labels[app.kubernetes.io/name]').length, 0);
    assert.match(at(causes, 'metadata.labels[bad key]')[0]?.message, /invalid label key "bad key"/);
    assert.match(at(causes, 'metadata.labels[good]')[0]?.message, /invalid label value "bad value!"/);
    assert.match(at(causes, 'metadata.labels[/x]')[0]?.message, /prefix part must be non-empty/);
    assert.match(at(causes, 'metadata.labels[long]')[0]?.message, /no more than 63/);
    assert.equal(at(causes, 'metadata.annotations[example.com/ok]').length, 0);
    assert.match(at(causes, 'metadata.annotations[Bad..Prefix/x]')[0]?.message, /invalid annotation key/);
    p.metadata.labels = { n: 3 } as never;
    assertCause(p, 'metadata.labels[n]', /must be a string/);
  });
  test('env var names', () => {
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', env: [{ name: '1BAD', value: 'x' }] }] }),
      'spec.containers[0].env[0].name',
      /must not start with a digit/,
    );
  });
});

describe('values', () => {
  test('image references', () => {
    for (const bad of ['NGINX', 'nginx:', 'nginx@sha256:abc', 'a b', ' nginx', 'registry:99999999/x'])
      assertCause(
        pod({ containers: [{ name: 'c', image: bad }] }),
        'spec.containers[0].image',
        /image|reference|tag|digest|whitespace|host/i,
      );
    for (const good of [
      'nginx',
      'nginx:1.25',
      'library/nginx',
      'registry.local:5000/team/web:1.2',
      'localhost/x',
      '127.0.0.1:5000/a/b',
    ])
      assert.deepEqual(validate(pod({ containers: [{ name: 'c', image: good }] })), [], good);
  });
  test('quantities', () => {
    const c = (resources: unknown) => pod({ containers: [{ name: 'c', image: 'busybox', resources }] });
    assert.deepEqual(
      validate(
        c({
          requests: { cpu: '100m', memory: '128Mi' },
          limits: { cpu: 0.5, memory: '1G', 'example.com/gpu': 1 },
        }),
      ),
      [],
    );
    assert.deepEqual(validate(c({ requests: { cpu: '1e-3', memory: '1e3' } })), []);
    assertCause(
      c({ requests: { memory: '12xyz' } }),
      'spec.containers[0].resources.requests[memory]',
      /must be a quantity such as 100m/,
    );
    assertCause(c({ limits: { cpu: '-1' } }), 'spec.containers[0].resources.limits[cpu]', /non-negative/);
    assertCause(
      c({ requests: { cpu: '2' }, limits: { cpu: '1' } }),
      'spec.containers[0].resources.requests[cpu]',
      /less than or equal to cpu limit/,
    );
  });
  test('enums', () => {
    assertCause(
      pod({ restartPolicy: 'Sometimes' }),
      'spec.restartPolicy',
      /supported values: "Always", "OnFailure", "Never"/,
      'FieldValueNotSupported',
    );
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', imagePullPolicy: 'always' }] }),
      'spec.containers[0].imagePullPolicy',
      /"Always", "IfNotPresent", "Never"/,
    );
    assertCause(
      pod({
        containers: [{ name: 'c', image: 'busybox', ports: [{ containerPort: 80, protocol: 'HTTP' }] }],
      }),
      'spec.containers[0].ports[0].protocol',
      /"TCP", "UDP", "SCTP"/,
    );
  });
  test('port ranges', () => {
    const ports = (p: unknown) => pod({ containers: [{ name: 'c', image: 'busybox', ports: [p] }] });
    assertCause(
      ports({ containerPort: 0 }),
      'spec.containers[0].ports[0].containerPort',
      /between 1 and 65535/,
    );
    assertCause(
      ports({ containerPort: 65536 }),
      'spec.containers[0].ports[0].containerPort',
      /between 1 and 65535/,
    );
    assertCause(
      ports({ containerPort: 80, hostPort: 70000 }),
      'spec.containers[0].ports[0].hostPort',
      /between 0 and 65535/,
    );
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', livenessProbe: { httpGet: { port: 0 } } }] }),
      'spec.containers[0].livenessProbe.httpGet.port',
      /between 1 and 65535.*or a port name/,
    );
  });
  test('replicas must not be negative', () => {
    const d = deployment();
    d.spec.replicas = -1;
    assertCause(d, 'spec.replicas', /greater than or equal to 0/);
  });
  test('timestamps', () => {
    const p = pod();
    p.metadata.creationTimestamp = 'yesterday';
    assertCause(p, 'metadata.creationTimestamp', /RFC 3339/);
  });
});

describe('rules across fields', () => {
  test('duplicate container names, including init containers', () => {
    const c = { name: 'app', image: 'busybox' };
    assertCause(
      pod({ containers: [c, c] }),
      'spec.containers[1].name',
      /Duplicate value: "app"/,
      'FieldValueDuplicate',
    );
    assertCause(pod({ initContainers: [c], containers: [c] }), 'spec.containers[0].name', /Duplicate value/);
  });
  test('duplicate volume names and mounts of missing volumes', () => {
    const spec = {
      containers: [
        {
          name: 'c',
          image: 'busybox',
          volumeMounts: [
            { name: 'data', mountPath: '/d' },
            { name: 'nope', mountPath: '/n' },
          ],
        },
      ],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'data', emptyDir: {} },
      ],
    };
    const causes = validate(pod(spec));
    assert.match(at(causes, 'spec.volumes[1].name')[0]?.message, /Duplicate value: "data"/);
    assert.match(at(causes, 'spec.containers[0].volumeMounts[1].name')[0]?.message, /Not found: "nope"/);
    assert.equal(at(causes, 'spec.containers[0].volumeMounts[0].name').length, 0);
  });
  test('a volume has one source', () => {
    assertCause(
      pod({ volumes: [{ name: 'v', emptyDir: {}, hostPath: { path: '/x' } }] }),
      'spec.volumes[0]',
      /more than 1 volume type/,
    );
  });
  test('Deployment selector must match the template labels', () => {
    const d = deployment();
    d.spec.template.metadata.labels = { app: 'other', tier: 'frontend' };
    assertCause(d, 'spec.template.metadata.labels', /selector` does not match template `labels/);
    const rs = read('misc.yaml').find((m) => m.object.kind === 'ReplicaSet')!.object;
    rs.spec.template.metadata.labels = {};
    assertCause(rs, 'spec.template.metadata.labels', /does not match/);
    const empty = deployment();
    empty.spec.selector = {};
    assertCause(empty, 'spec.selector', /empty selector is invalid/);
  });
  test('selector expressions: In needs values, Exists takes none', () => {
    const d = deployment();
    d.spec.selector.matchExpressions = [
      { key: 'tier', operator: 'In', values: [] },
      { key: 'tier', operator: 'Exists', values: ['x'] },
      { key: 'tier', operator: 'Near' },
    ];
    const causes = validate(d);
    assert.match(at(causes, 'spec.selector.matchExpressions[0].values')[0]?.message, /Required value/);
    assert.match(at(causes, 'spec.selector.matchExpressions[1].values')[0]?.message, /may not be specified/);
    assert.match(
      at(causes, 'spec.selector.matchExpressions[2].operator')[0]?.message,
      /"In", "NotIn", "Exists", "DoesNotExist"/,
    );
  });

  test('Deployment strategy', () => {
    const d = deployment();
    d.spec.strategy = { type: 'Recreate', rollingUpdate: { maxSurge: 1 } };
    assertCause(d, 'spec.strategy.rollingUpdate', /Recreate/);
    d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } };
    assertCause(d, 'spec.strategy.rollingUpdate.maxUnavailable', /may not be 0 when `maxSurge` is 0/);
    d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 'lots' } };
    assertCause(d, 'spec.strategy.rollingUpdate.maxSurge', /percentage such as "25%"/);
    d.spec.strategy = { type: 'Blue' };
    assertCause(d, 'spec.strategy.type', /"RollingUpdate", "Recreate"/);
  });
  test('pod templates of workloads must restart Always', () => {
    const d = deployment();
    d.spec.template.spec.restartPolicy = 'OnFailure';
    assertCause(d, 'spec.template.spec.restartPolicy', /supported values: "Always"/);
  });
  test('env: value and valueFrom, one source', () => {
    const env = (e: unknown) => pod({ containers: [{ name: 'c', image: 'busybox', env: [e] }] });
    assertCause(
      env({ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }),
      'spec.containers[0].env[0].valueFrom',
      /`value` is not empty/,
    );
    assertCause(
      env({ name: 'A', valueFrom: {} }),
      'spec.containers[0].env[0].valueFrom',
      /must specify one of/,
    );
    assertCause(
      env({ name: 'A', valueFrom: { secretKeyRef: { key: 'k' } } }),
      'spec.containers[0].env[0].valueFrom.secretKeyRef.name',
      /Required value/,
    );
    assertCause(
      pod({ containers: [{ name: 'c', image: 'busybox', envFrom: [{ prefix: 'X_' }] }] }),
      'spec.containers[0].envFrom[0]',
      /configMapRef, secretRef/,
    );
  });
  test('probes need exactly one handler', () => {
    const probe = (p: unknown) => pod({ containers: [{ name: 'c', image: 'busybox', livenessProbe: p }] });
    assertCause(
      probe({ periodSeconds: 5 }),
      'spec.containers[0].livenessProbe',
      /must specify a handler type/,
    );
    assertCause(
      probe({ exec: { command: ['true'] }, tcpSocket: { port: 80 } }),
      'spec.containers[0].livenessProbe',
      /more than 1 handler/,
    );
    assertCause(
      probe({ exec: { command: ['true'] }, successThreshold: 2 }),
      'spec.containers[0].livenessProbe.successThreshold',
      /must be 1/,
    );
    assertCause(
      probe({ exec: { command: ['true'] }, periodSeconds: 0 }),
      'spec.containers[0].livenessProbe.periodSeconds',
      /greater than or equal to 1/,
    );
  });
});

describe('ConfigMap and Secret', () => {
  const cm = (o: Record<string, unknown>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c' },
    ...o,
  });
  const secret = (o: Record<string, unknown>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
    ...o,
  });
  test('ConfigMap keys must be valid and values strings', () => {
    assertCause(cm({ data: { 'bad/key': 'x' } }), 'data[bad/key]', /valid config key/);
    assertCause(cm({ data: { '..x': 'x' } }), 'data[..x]', /must not start with '\.\.'/);
    assertCause(
      cm({ data: { port: 8080 } }),
      'data[port]',
      /must be a string, not 8080 \(quote it in YAML\)/,
    );
    assertCause(
      cm({ data: { a: 'x' }, binaryData: { a: 'eA==' } }),
      'binaryData[a]',
      /duplicate of key present in data/,
    );
    assertCause(cm({ immutable: 'yes' }), 'immutable', /boolean/);
  });
  test('Secret data must be base64', () => {
    assertCause(secret({ data: { password: 'not base64!' } }), 'data[password]', /base64/);
    assertCause(secret({ data: { password: 'YWJj' + '=' } }), 'data[password]', /base64/);
    assert.deepEqual(
      validate(secret({ data: { password: 'YWJj', p2: 'YQ==' }, stringData: { x: 'plain text ok' } })),
      [],
    );
  });
});

describe('causes point into the source', () => {
  test('formatCause gives file:line:col of the bad field', () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: "BAD IMAGE"\n`;
    const [m] = parseManifests(text, 'manifests/web.yaml');
    const causes = validate(m.object);
    assert.equal(causes.length, 1);
    assert.match(
      formatCause(m, causes[0]),
      /^manifests\/web\.yaml:8:5: spec\.containers\[0\]\.image: invalid value "BAD IMAGE"/,
    );
  });
  test('a missing required field points at its parent', () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n`;
    const [m] = parseManifests(text, 'p.yaml');
    const [cause] = validate(m.object);
    assert.equal(cause.field, 'spec.containers[0].image');
    assert.equal(formatCause(m, cause), 'p.yaml:7:5: spec.containers[0].image: Required value');
  });
  test('a bad label key points at the key', () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    ok: yes-it-is\n    "bad key": v\n`;
    const [m] = parseManifests(text, 'c.yaml');
    const [cause] = validate(m.object);
    assert.deepEqual(m.position(cause.field!), { line: 7, col: 5 });
  });
});
