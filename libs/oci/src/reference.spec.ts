import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, parseReference, hasPinnedVersion, ReferenceError } from './reference';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference normalises like Docker', () => {
  const table: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['team/web', 'docker.io/team/web:latest'],
    ['127.0.0.1:5000/team/web:1.2', '127.0.0.1:5000/team/web:1.2'],
    ['localhost/web', 'localhost/web:latest'],
    ['localhost:5000/web', 'localhost:5000/web:latest'],
    ['registry.local:5000/a/b/c:v1.0-rc_1', 'registry.local:5000/a/b/c:v1.0-rc_1'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`],
    ['quay.io/my_org/my__app', 'quay.io/my_org/my__app:latest'],
    ['ghcr.io/a-b/c.d', 'ghcr.io/a-b/c.d:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
  ];
  for (const [input, want] of table) {
    test(`${input} → ${want}`, () => assert.equal(formatReference(parseReference(input)), want));
  }

  test('components: domain, path, tag, digest', () => {
    assert.deepEqual(parseReference(`host:5000/a/b:t@${D}`), {
      domain: 'host:5000',
      path: 'a/b',
      tag: 't',
      digest: D,
    });
  });

  const bad: [string, RegExp][] = [
    ['', /invalid reference format/],
    ['Busybox', /lowercase/],
    ['busybox:', /invalid tag/],
    ['busybox:-x', /invalid tag/],
    ['busybox@sha256:abc', /invalid digest/],
    [`busybox@sha256:${'A'.repeat(64)}`, /invalid (sha256 )?digest/],
    ['a//b', /lowercase/],
    ['a/b_-c', /lowercase/],
    ['-host:5000/x', /./],
    ['host:port/x', /./],
    [`x:${'t'.repeat(129)}`, /invalid tag/],
  ];
  for (const [input, re] of bad) {
    test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () =>
      assert.throws(
        () => parseReference(input),
        (e) => e instanceof ReferenceError && re.test(e.message),
      ));
  }

  test('hasPinnedVersion', () => {
    assert.equal(hasPinnedVersion('busybox'), false);
    assert.equal(hasPinnedVersion('busybox:latest'), false);
    assert.equal(hasPinnedVersion('busybox:1.36'), true);
    assert.equal(hasPinnedVersion(`busybox@${D}`), true);
    assert.equal(hasPinnedVersion('host:5000/busybox'), false);
  });
});
