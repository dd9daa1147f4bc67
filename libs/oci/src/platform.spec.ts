import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ociArch, parsePlatform, platformMatches, selectManifest } from './platform';
import type { ImageIndex } from './manifest';
import { isOciError } from './errors';

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const index: ImageIndex = {
  schemaVersion: 2,
  manifests: [
    { mediaType: 'x', digest: d(1), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { mediaType: 'x', digest: d(2), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    {
      mediaType: 'x',
      digest: d(3),
      size: 1,
      platform: { os: 'linux', architecture: 'amd64', variant: 'v3' },
    },
    {
      mediaType: 'x',
      digest: d(4),
      size: 1,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
    { mediaType: 'x', digest: d(5), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    { mediaType: 'x', digest: d(6), size: 1, platform: { os: 'windows', architecture: 'amd64' } },
  ],
};

describe('platform selection', () => {
  test('maps Node arch names to OCI names', () => {
    assert.equal(ociArch('x64'), 'amd64');
    assert.equal(ociArch('ia32'), '386');
    assert.equal(ociArch('arm64'), 'arm64');
  });
  test('ignores the variant for amd64', () => {
    assert.equal(selectManifest(index, { os: 'linux', architecture: 'amd64' }).digest, d(3));
  });
  test('honours the variant for arm (v7 picks v7, not the first arm entry)', () => {
    assert.equal(selectManifest(index, parsePlatform('linux/arm/v7')).digest, d(2));
    assert.equal(selectManifest(index, parsePlatform('linux/arm/v6')).digest, d(1));
    assert.equal(selectManifest(index, parsePlatform('linux/arm')).digest, d(2), 'arm defaults to v7');
  });
  test('arm64 with and without v8 match', () => {
    assert.equal(selectManifest(index, parsePlatform('linux/arm64')).digest, d(4));
    assert.ok(
      platformMatches(
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
        { os: 'linux', architecture: 'arm64' },
      ),
    );
  });
  test('the os must match', () => {
    assert.equal(selectManifest(index, parsePlatform('windows/amd64')).digest, d(6));
  });
  test('no match names the wanted and the available platforms', () => {
    assert.throws(
      () => selectManifest(index, parsePlatform('linux/s390x')),
      (e) =>
        isOciError(e, 'NoMatchingPlatform') &&
        /linux\/s390x/.test(e.message) &&
        /linux\/amd64\/v3/.test(e.message),
    );
  });
  test('parsePlatform rejects malformed input', () => {
    assert.throws(() => parsePlatform('linux'), /expected os\/arch/);
  });
});
