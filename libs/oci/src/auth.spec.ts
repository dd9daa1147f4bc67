import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWwwAuthenticate } from './auth';

describe('WWW-Authenticate parsing', () => {
  test('Bearer with realm, service and scope (as Distribution and Docker Hub send it)', () => {
    const c = parseWwwAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    );
    assert.deepEqual(c, [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ]);
  });
  test('Basic realm', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
  });
  test('scope with several actions keeps its commas inside quotes', () => {
    const [c] = parseWwwAuthenticate('Bearer realm="r",scope="repository:a/b:pull,push"');
    assert.equal(c.params.scope, 'repository:a/b:pull,push');
  });
  test('unquoted values, spaces after commas, escaped quotes, case-insensitive names', () => {
    const [c] = parseWwwAuthenticate(
      'bearer Realm=http://h/t, service="a \\"q\\" b", error=insufficient_scope',
    );
    assert.equal(c.scheme, 'bearer');
    assert.deepEqual(c.params, { realm: 'http://h/t', service: 'a "q" b', error: 'insufficient_scope' });
  });
  test('two challenges in one header', () => {
    const c = parseWwwAuthenticate('Basic realm="x", Bearer realm="y",service="z"');
    assert.deepEqual(
      c.map((x) => [x.scheme, x.params]),
      [
        ['basic', { realm: 'x' }],
        ['bearer', { realm: 'y', service: 'z' }],
      ],
    );
  });
  test('empty header gives no challenge', () => {
    assert.deepEqual(parseWwwAuthenticate(''), []);
  });
});
