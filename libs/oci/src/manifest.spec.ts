import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MediaType, chainIDs, layerCompression, parseImageConfig, parseManifest } from './manifest';
import { isOciError } from './errors';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifest,
  config: { mediaType: MediaType.DockerConfig, digest: D('a'), size: 10 },
  layers: [{ mediaType: MediaType.DockerLayerGzip, digest: D('b'), size: 20 }],
};

describe('manifest parsing', () => {
  test('a Docker v2s2 manifest and an OCI index', () => {
    const m = parseManifest(JSON.stringify(manifest));
    assert.equal(m.kind, 'manifest');
    const i = parseManifest(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: MediaType.OciManifest, digest: D('c'), size: 1 }],
      }),
      MediaType.OciIndex,
    );
    assert.equal(i.kind, 'index');
  });
  test('the Content-Type decides when the body has no mediaType', () => {
    const { mediaType: _m, ...bare } = manifest;
    assert.equal(
      parseManifest(JSON.stringify(bare), `${MediaType.DockerManifest}; charset=utf-8`).mediaType,
      MediaType.DockerManifest,
    );
  });
  test('schema 1 is refused with advice', () => {
    assert.throws(
      () => parseManifest(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] })),
      (e) => isOciError(e, 'InvalidManifest') && /schema 1 is not supported/.test(e.message),
    );
  });
  test('bad descriptors name the field', () => {
    const bad = {
      ...manifest,
      layers: [{ mediaType: MediaType.DockerLayerGzip, digest: 'sha256:xyz', size: 1 }],
    };
    assert.throws(() => parseManifest(JSON.stringify(bad)), /layers\[0\]\.digest/);
    const neg = { ...manifest, config: { ...manifest.config, size: -1 } };
    assert.throws(() => parseManifest(JSON.stringify(neg)), /config\.size/);
    assert.throws(() => parseManifest('{nope'), /not JSON/);
    assert.throws(
      () => parseManifest(JSON.stringify({ ...manifest, mediaType: 'text/html' })),
      /unsupported manifest media type "text\/html"/,
    );
  });
  test('config diff_ids are checked', () => {
    assert.throws(
      () => parseImageConfig('{"rootfs":{"type":"layers","diff_ids":["nope"]}}'),
      /diff_ids\[0\]/,
    );
    assert.throws(() => parseImageConfig('{}'), /rootfs\.diff_ids/);
  });
  test('layer compression by media type', () => {
    assert.equal(layerCompression(MediaType.DockerLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.OciLayer), 'none');
    assert.equal(layerCompression(MediaType.OciLayerZstd), 'zstd');
    assert.throws(() => layerCompression('application/x-foo'), /unsupported layer media type/);
  });
  test('chainIDs follow the OCI formula', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const ids = chainIDs([D('1'), D('2'), D('3')], sha);
    assert.equal(ids[0], D('1'));
    assert.equal(ids[1], `sha256:${sha(`${D('1')} ${D('2')}`)}`);
    assert.equal(ids[2], `sha256:${sha(`${ids[1]} ${D('3')}`)}`);
  });
});
