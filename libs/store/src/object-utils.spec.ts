import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, KINDS, type KindInfo, type KubeObject } from '@berth/api';
import {
  RV_PLACEHOLDER,
  bumpsGeneration,
  decodeContinue,
  encodeContinue,
  generateName,
  jsonEqual,
  rfc3339,
  selectableProjection,
  serializeObject,
} from './object-utils';
import { nextState, redisOptionsFromUrl } from './redis-store';

const kind = (k: string) => KINDS.find((x) => x.kind === k) as KindInfo;
const POD = kind('Pod');

describe('continue tokens', () => {
  test('round-trip the revision and start key and look opaque', () => {
    const t = encodeContinue({ rv: '42', start: 'default/web-1' });
    assert.match(t, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeContinue(t), { rv: '42', start: 'default/web-1' });
  });

  test('reject garbage, foreign JSON and bad fields with BadRequest naming continue', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const bad of [
      'not a token!',
      b64({ rv: '1', start: 'a' }),
      b64({ v: 1, rv: 'x', start: 'a' }),
      b64({ v: 1, rv: '1' }),
      'e30',
    ]) {
      assert.throws(
        () => decodeContinue(bad),
        (e: unknown) => e instanceof ApiError && e.reason === 'BadRequest' && /continue/.test(e.message),
        bad,
      );
    }
  });
});

describe('generation', () => {
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'a', labels: { x: '1' } },
    spec: { containers: [{ name: 'c', image: 'i' }] },
    status: { phase: 'Pending' },
  };

  test('rises for a spec change, not for metadata or status changes', () => {
    const labels = { ...base, metadata: { ...base.metadata, labels: { x: '2' } } };
    const status = { ...base, status: { phase: 'Running' } };
    const spec = { ...base, spec: { containers: [{ name: 'c', image: 'j' }] } };
    assert.equal(bumpsGeneration(POD, base, labels), false);
    assert.equal(bumpsGeneration(POD, base, status), false);
    assert.equal(bumpsGeneration(POD, base, spec), true);
  });

  test('spec key order does not count as a change', () => {
    const a = { ...base, spec: { nodeName: 'n', restartPolicy: 'Always' } };
    const b = { ...base, spec: { restartPolicy: 'Always', nodeName: 'n' } };
    assert.equal(bumpsGeneration(POD, a, b), false);
  });

  test('for kinds without spec any non-metadata field counts; namespaces never move', () => {
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } };
    assert.equal(bumpsGeneration(kind('ConfigMap'), cm, { ...cm, data: { a: '2' } }), true);
    assert.equal(
      bumpsGeneration(kind('ConfigMap'), cm, { ...cm, metadata: { name: 'c', labels: { l: 'v' } } }),
      false,
    );
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' }, spec: {} };
    assert.equal(
      bumpsGeneration(kind('Namespace'), ns, { ...ns, spec: { finalizers: ['kubernetes'] } }),
      false,
    );
  });
});

describe('nextState', () => {
  const cur: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'a',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '5',
      generation: 3,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { x: '1' },
    },
    spec: { nodeName: 'n1' },
    status: { phase: 'Running' },
  };

  test('the main resource keeps system fields and status, and bumps generation on spec change', () => {
    const next = nextState(POD, cur, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'a',
        namespace: 'default',
        uid: 'u1',
        generation: 99,
        creationTimestamp: 'x',
        labels: { x: '2' },
      },
      spec: { nodeName: 'n2' },
      status: { phase: 'Failed' },
    });
    assert.equal(next.metadata.generation, 4);
    assert.equal(next.metadata.creationTimestamp, '2026-01-01T00:00:00Z');
    assert.equal(next.metadata.resourceVersion, '5');
    assert.deepEqual(next.metadata.labels, { x: '2' });
    assert.deepEqual(next.status, { phase: 'Running' });
  });

  test('the status subresource changes only status', () => {
    const next = nextState(
      POD,
      cur,
      { ...cur, metadata: { name: 'a', labels: {} }, spec: {}, status: { phase: 'Succeeded' } },
      'status',
    );
    assert.deepEqual({ ...next, status: undefined }, { ...cur, status: undefined });
    assert.deepEqual(next.status, { phase: 'Succeeded' });
  });

  test('does not modify its inputs', () => {
    const snapshot = structuredClone(cur);
    const obj = structuredClone({ ...cur, spec: { nodeName: 'n3' } });
    const objSnap = structuredClone(obj);
    nextState(POD, cur, obj);
    assert.deepEqual(cur, snapshot);
    assert.deepEqual(obj, objSnap);
  });
});

describe('serializeObject', () => {
  test('puts the resourceVersion before any user-controlled key so the write script finds it first', () => {
    const o: KubeObject = {
      spec: { resourceVersion: 'user' },
      metadata: {
        annotations: { resourceVersion: RV_PLACEHOLDER },
        labels: { a: 'b' },
        name: 'n',
        namespace: 'd',
      },
      kind: 'Pod',
      apiVersion: 'v1',
    };
    const json = serializeObject(o, RV_PLACEHOLDER);
    const first = json.indexOf('"resourceVersion":');
    const want = `"resourceVersion":"${RV_PLACEHOLDER}"`;
    assert.equal(json.slice(first, first + want.length), want);
    assert.ok(first < json.indexOf('"annotations"'));
    assert.deepEqual(Object.keys(JSON.parse(json)), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.ok(jsonEqual(JSON.parse(serializeObject(o, '7')).spec, { resourceVersion: 'user' }));
  });
});

describe('helpers', () => {
  test('jsonEqual ignores key order and undefined members but not array order', () => {
    assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined }));
    assert.ok(!jsonEqual([1, 2], [2, 1]));
    assert.ok(!jsonEqual({ a: null }, { a: 0 }));
    assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: 2 }));
  });

  test('rfc3339 has no fractional seconds', () => {
    assert.equal(rfc3339(new Date('2026-03-04T05:06:07.891Z')), '2026-03-04T05:06:07Z');
  });

  test('generateName appends 5 characters and keeps the name within 63', () => {
    assert.match(generateName('web-'), /^web-[a-z0-9]{5}$/);
    const long = generateName('x'.repeat(80));
    assert.equal(long.length, 63);
    assert.equal(
      generateName('a-', () => 0),
      'a-bbbbb',
    );
  });

  test('selectableProjection keeps labels and the field labels of the kind only', () => {
    const p = selectableProjection(POD, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'a', namespace: 'd', labels: { x: '1' }, annotations: { big: 'y' } },
      spec: { nodeName: 'n1', containers: [{ name: 'c' }] },
      status: { phase: 'Running', conditions: [] },
    });
    assert.deepEqual(p.metadata, { name: 'a', namespace: 'd', labels: { x: '1' } });
    assert.equal(p.spec.nodeName, 'n1');
    assert.equal(p.spec.containers, undefined);
    assert.equal(p.status.phase, 'Running');
  });

  test('redisOptionsFromUrl reads tcp and unix URLs and rejects others', () => {
    assert.deepEqual(redisOptionsFromUrl('redis://:pw@10.0.0.1:6380/2'), {
      host: '10.0.0.1',
      port: 6380,
      password: 'pw',
      db: 2,
    });
    assert.deepEqual(redisOptionsFromUrl('unix:///var/lib/berth/redis/redis.sock?password=a%2Fb'), {
      path: '/var/lib/berth/redis/redis.sock',
      password: 'a/b',
    });
    assert.deepEqual(redisOptionsFromUrl('redis-sentinel://:pw@s1:26379,s2/berth?db=1'), {
      name: 'berth',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      password: 'pw',
      db: 1,
    });
    assert.throws(() => redisOptionsFromUrl('http://x'), /invalid Redis URL/);
  });
});
