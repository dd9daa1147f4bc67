import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCause, ManifestError, parseFieldPath, parseManifests, toJson, toYaml } from './codec';

const deployment = `# a comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox
`;

function thrown(fn: () => unknown): ManifestError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ManifestError, `expected ManifestError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ManifestError');
}

describe('parseManifests', () => {
  test('reads a multi-document YAML stream and skips empty documents', () => {
    const text = `${deployment}---\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: "1"\n`;
    const ms = parseManifests(text, 'manifests/web.yaml');
    assert.equal(ms.length, 2);
    assert.equal(ms[0].object.kind, 'Deployment');
    assert.equal(ms[0].object.spec.template.spec.containers[1].image, 'busybox');
    assert.equal(ms[1].object.kind, 'ConfigMap');
    assert.deepEqual(ms[1].object.data, { a: '1' });
    assert.equal(ms[1].index, 1);
    assert.equal(ms[1].file, 'manifests/web.yaml');
  });

  test('position maps field paths to 1-based line and column', () => {
    const [m] = parseManifests(deployment, 'web.yaml');
    assert.deepEqual(m.position('spec.template.spec.containers[0].image'), { line: 20, col: 9 });
    assert.deepEqual(m.position('spec.template.spec.containers[1]'), { line: 23, col: 9 });
    assert.deepEqual(m.position('spec.template.spec.containers[0].ports[0].containerPort'), {
      line: 22,
      col: 11,
    });
    assert.deepEqual(m.position('metadata.labels[app.kubernetes.io/name]'), { line: 7, col: 5 });
    assert.deepEqual(m.position('spec.replicas'), { line: 9, col: 3 });
  });

  test('position of a missing field falls back to its nearest existing parent', () => {
    const [m] = parseManifests(deployment, 'web.yaml');
    // containers[1] has no ports: the item itself is the nearest parent.
    assert.deepEqual(m.position('spec.template.spec.containers[1].ports[0].name'), { line: 23, col: 9 });
    assert.deepEqual(m.position('spec.strategy.type'), { line: 8, col: 1 });
    assert.deepEqual(m.position(''), { line: 2, col: 1 });
  });

  test('positions in a second document count lines from the start of the file', () => {
    const text = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: BAD\n`;
    const ms = parseManifests(text, 'x.yaml');
    assert.deepEqual(ms[1].position('spec.containers[0].image'), { line: 13, col: 5 });
  });

  test('reads JSON objects and arrays, with positions', () => {
    const json = `{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "p"},\n  "spec": {\n    "containers": [\n      {"name": "c", "image": "busybox"}\n    ]\n  }\n}\n`;
    const [m] = parseManifests(json, 'pod.json');
    assert.equal(m.object.spec.containers[0].image, 'busybox');
    assert.deepEqual(m.position('spec.containers[0].image'), { line: 7, col: 21 });
    const arr = parseManifests(
      '[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}]',
    );
    assert.deepEqual(
      arr.map((x) => x.object.metadata.name),
      ['a', 'b'],
    );
  });

  test('flattens List kinds, keeping item positions', () => {
    const text = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: one\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: two\n`;
    const ms = parseManifests(text, 'l.yaml');
    assert.deepEqual(
      ms.map((m) => m.object.metadata.name),
      ['one', 'two'],
    );
    assert.deepEqual(ms[1].position('metadata.name'), { line: 11, col: 5 });
    const podList = parseManifests(
      `apiVersion: v1\nkind: PodList\nmetadata: {}\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n`,
    );
    assert.equal(podList.length, 1);
    assert.equal(podList[0].object.kind, 'Pod');
  });

  test('reads YAML 1.1 scalars as Kubernetes does: octal modes, yes/no booleans, timestamps as strings', () => {
    const [m] = parseManifests(
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  creationTimestamp: 2024-01-02T03:04:05Z\nspec:\n  stdin: yes\n  mode: 0644\n  port: 8080\n`,
    );
    assert.equal(m.object.metadata.creationTimestamp, '2024-01-02T03:04:05Z');
    assert.equal(m.object.spec.stdin, true);
    assert.equal(m.object.spec.mode, 0o644);
    assert.equal(m.object.spec.port, 8080);
  });

  test('malformed YAML is a ManifestError with file:line:col', () => {
    const e = thrown(() => parseManifests('apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n', 'bad.yaml'));
    assert.equal(e.file, 'bad.yaml');
    assert.ok(e.line >= 4, `line ${e.line}`);
    assert.match(e.message, /^bad\.yaml:\d+:\d+: invalid YAML/);
  });

  test('duplicate keys are rejected where the duplicate is', () => {
    const e = thrown(() =>
      parseManifests('apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n', 'manifests/web.yaml'),
    );
    assert.equal(e.line, 5);
    assert.equal(e.col, 3);
    assert.match(e.message, /^manifests\/web\.yaml:5:3: .*duplicate key/i);
  });

  test('a document that is not a mapping is rejected', () => {
    const e = thrown(() => parseManifests('apiVersion: v1\nkind: Pod\n---\n- a\n- b\n', 'f.yaml'));
    assert.equal(e.line, 4);
    assert.match(e.message, /must be a mapping/);
    assert.match(thrown(() => parseManifests('just a string\n', 'f.yaml')).message, /must be a mapping/);
  });

  test('binary input is "not a text file"', () => {
    assert.match(
      thrown(() => parseManifests('apiVersion: v1\u0000\u0001', 'x.bin')).message,
      /not a text file/,
    );
    const invalidUtf8 = new Uint8Array([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]);
    assert.match(thrown(() => parseManifests(invalidUtf8, 'x.bin')).message, /^x\.bin:1:1: not a text file/);
  });

  test('apiVersion and kind are required', () => {
    const e = thrown(() =>
      parseManifests('apiVersion: v1\nkind: Pod\n---\nmetadata:\n  name: x\n', 'm.yaml'),
    );
    assert.equal(e.line, 4);
    assert.match(e.message, /apiVersion is missing/);
    assert.match(thrown(() => parseManifests('apiVersion: v1\nmetadata: {}\n')).message, /kind is missing/);
  });

  test('a file with only comments has no objects', () => {
    assert.deepEqual(parseManifests('# nothing here\n\n'), []);
    assert.deepEqual(parseManifests(''), []);
  });

  test('formatCause prints file:line:col: field: message', () => {
    const [m] = parseManifests(deployment, 'manifests/web.yaml');
    assert.equal(
      formatCause(m, { field: 'spec.template.spec.containers[0].image', message: 'bad image' }),
      'manifests/web.yaml:20:9: spec.template.spec.containers[0].image: bad image',
    );
  });
});

describe('parseFieldPath', () => {
  test('splits keys, indexes and bracketed map keys', () => {
    assert.deepEqual(parseFieldPath('spec.containers[0].env[12].name'), [
      'spec',
      'containers',
      0,
      'env',
      12,
      'name',
    ]);
    assert.deepEqual(parseFieldPath('metadata.labels[app.kubernetes.io/name]'), [
      'metadata',
      'labels',
      'app.kubernetes.io/name',
    ]);
  });
});

describe('printing', () => {
  test('toYaml prints kubectl style and reads back to the same object', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { app: 'web' }, annotations: { note: 'yes', mode: '0644' } },
      spec: { containers: [{ name: 'c', image: 'busybox', args: ['sh', '-c', 'echo hi'] }] },
    };
    const y = toYaml(obj);
    assert.equal(
      y,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        '  name: p',
        '  labels:',
        '    app: web',
        '  annotations:',
        '    note: "yes"',
        '    mode: "0644"',
        'spec:',
        '  containers:',
        '  - name: c',
        '    image: busybox',
        '    args:',
        '    - sh',
        '    - -c',
        '    - echo hi',
        '',
      ].join('\n'),
    );
    assert.deepEqual(parseManifests(y)[0].object, obj);
  });

  test('toYaml quotes strings a YAML 1.1 reader would not read back as strings', () => {
    const obj = { a: '2024-01-02T03:04:05Z', b: '12:30', c: 'on', d: '0x1F', e: '', f: 'line 1\nline 2\n' };
    const y = toYaml(obj);
    assert.match(y, /^a: "2024-01-02T03:04:05Z"$/m);
    assert.match(y, /^b: "12:30"$/m);
    assert.match(y, /^c: "on"$/m);
    assert.match(y, /^f: \|$/m);
    assert.deepEqual(parseManifests(`apiVersion: v1\nkind: X\n${y}`)[0].object, {
      apiVersion: 'v1',
      kind: 'X',
      ...obj,
    });
  });

  test('toJson is indented JSON with a final newline', () => {
    assert.equal(toJson({ a: 1 }), '{\n    "a": 1\n}\n');
  });
});
