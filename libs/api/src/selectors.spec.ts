import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  labelSelectorToString,
  matchFields,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
  selectorFromLabelSelectorSpec,
} from './selectors';
import { ApiError } from './errors';
import type { KubeObject } from './meta';

const badRequest = (re: RegExp) => (e: unknown) =>
  e instanceof ApiError && e.code === 400 && re.test(e.message);

describe('label selectors', () => {
  test('equality, inequality, sets and existence', () => {
    const l = { app: 'web', tier: 'front', env: 'prod' };
    const yes = [
      '',
      'app=web',
      'app==web',
      'app = web',
      'tier!=db',
      'missing!=x',
      'env in (prod, staging)',
      'env notin (dev)',
      'missing notin (dev)',
      'app',
      '!legacy',
      'app=web,tier=front,env in (prod),!legacy',
    ];
    const no = [
      'app=api',
      'app!=web',
      'env in (dev,staging)',
      'env notin (prod)',
      'legacy',
      '!app',
      'app=web,tier=db',
    ];
    for (const s of yes) assert.equal(matchLabels(parseLabelSelector(s), l), true, s);
    for (const s of no) assert.equal(matchLabels(parseLabelSelector(s), l), false, s);
    assert.equal(matchLabels(parseLabelSelector('app'), undefined), false);
    assert.equal(matchLabels(parseLabelSelector('!app'), undefined), true);
  });

  test('prefixed keys and empty values', () => {
    const sel = parseLabelSelector('app.kubernetes.io/name=web,empty=');
    assert.equal(matchLabels(sel, { 'app.kubernetes.io/name': 'web', empty: '' }), true);
    assert.equal(matchLabels(sel, { 'app.kubernetes.io/name': 'web' }), false);
  });

  test('bad syntax is a BadRequest naming the problem', () => {
    assert.throws(() => parseLabelSelector('app in prod'), badRequest(/expected '\('/));
    assert.throws(() => parseLabelSelector('app in (a'), badRequest(/\)/));
    assert.throws(() => parseLabelSelector('app in ()'), badRequest(/must not be empty/));
    assert.throws(() => parseLabelSelector('app=web,'), badRequest(/followed by another requirement/));
    assert.throws(() => parseLabelSelector('=web'), badRequest(/expected a label key/));
    assert.throws(() => parseLabelSelector('app=web x'), badRequest(/separated by ','/));
    assert.throws(() => parseLabelSelector('-bad-=x'), badRequest(/key "-bad-"/));
    assert.throws(() => parseLabelSelector('app=has space'), badRequest(/separated by ','/));
    assert.throws(() => parseLabelSelector('app=' + 'v'.repeat(64)), badRequest(/63 characters/));
    assert.throws(() => parseLabelSelector('app foo'), badRequest(/expected =, ==, !=, in, notin/));
  });

  test('spec selectors: matchLabels and matchExpressions', () => {
    const sel = selectorFromLabelSelectorSpec({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod', 'staging'] },
        { key: 'track', operator: 'NotIn', values: ['canary'] },
        { key: 'tier', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    assert.equal(matchLabels(sel, { app: 'web', env: 'prod', tier: 'x' }), true);
    assert.equal(matchLabels(sel, { app: 'web', env: 'prod', tier: 'x', track: 'canary' }), false);
    assert.equal(matchLabels(sel, { app: 'web', env: 'prod' }), false);
    assert.equal(matchLabels(sel, { app: 'web', env: 'prod', tier: 'x', legacy: '1' }), false);
    assert.equal(matchLabels(selectorFromLabelSelectorSpec({}), { any: 'thing' }), true);
    assert.equal(matchLabels(selectorFromLabelSelectorSpec(undefined), { any: 'thing' }), false);
    assert.throws(
      () => selectorFromLabelSelectorSpec({ matchExpressions: [{ key: 'a', operator: 'Bogus' as 'In' }] }),
      badRequest(/In, NotIn, Exists or DoesNotExist/),
    );
  });

  test('labelSelectorToString round-trips', () => {
    const s = labelSelectorToString(
      parseLabelSelector('tier!=db, app==web,env in (staging,prod),!legacy,track'),
    );
    assert.equal(s, 'app=web,env in (prod,staging),!legacy,tier!=db,track');
    const again = parseLabelSelector(s);
    assert.equal(labelSelectorToString(again), s);
    assert.equal(
      labelSelectorToString(selectorFromLabelSelectorSpec({ matchLabels: { b: '2', a: '1' } })),
      'a=1,b=2',
    );
  });
});

describe('field selectors', () => {
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'default' },
    spec: { nodeName: 'node-a' },
    status: { phase: 'Running' },
  };
  const unbound: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-2', namespace: 'default' },
    spec: {},
  };
  const event: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e1', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u1' },
    reason: 'Started',
  };

  test('matches metadata, spec.nodeName and status.phase with =, == and !=', () => {
    assert.equal(matchFields(parseFieldSelector('spec.nodeName=node-a'), pod), true);
    assert.equal(matchFields(parseFieldSelector('spec.nodeName==node-b'), pod), false);
    assert.equal(matchFields(parseFieldSelector('spec.nodeName!=node-b,status.phase=Running'), pod), true);
    assert.equal(
      matchFields(parseFieldSelector('metadata.name=web-1,metadata.namespace=default', 'Pod'), pod),
      true,
    );
    assert.equal(matchFields(parseFieldSelector(''), pod), true);
  });

  test('an empty value finds objects without the field (unbound pods)', () => {
    const sel = parseFieldSelector('spec.nodeName=');
    assert.equal(matchFields(sel, unbound), true);
    assert.equal(matchFields(sel, pod), false);
  });

  test('events are selected by involvedObject', () => {
    const sel = parseFieldSelector(
      'involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.uid=u1',
      'Event',
    );
    assert.equal(matchFields(sel, event), true);
    assert.equal(matchFields(parseFieldSelector('involvedObject.name=other', 'Event'), event), false);
  });

  test('unset booleans and counts compare as Kubernetes zero values', () => {
    const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } };
    assert.equal(matchFields(parseFieldSelector('spec.unschedulable=false', 'Node'), node), true);
    assert.equal(matchFields(parseFieldSelector('spec.unschedulable=true', 'Node'), node), false);
    node.spec = { unschedulable: true };
    assert.equal(matchFields(parseFieldSelector('spec.unschedulable=true', 'Node'), node), true);
  });

  test('unknown fields and bad syntax are BadRequest', () => {
    assert.throws(
      () => parseFieldSelector('spec.foo=bar'),
      badRequest(/^field label not supported: spec\.foo/),
    );
    assert.throws(
      () => parseFieldSelector('spec.nodeName=x', 'Deployment'),
      badRequest(/field label not supported: spec\.nodeName/),
    );
    assert.throws(() => parseFieldSelector('metadata.name'), badRequest(/field=value/));
  });
});
