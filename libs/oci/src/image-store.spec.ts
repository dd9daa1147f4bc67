import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContentStore } from './content-store';
import { LayerStore } from './layer-store';
import { ImageStore, type ImageRecord } from './image-store';

const D = (c: string) => `sha256:${c.repeat(64)}`;
function record(reference: string, digest: string, diffIDs: string[], pulledAt: string): ImageRecord {
  return {
    reference,
    digest,
    repoDigest: `${reference.replace(/:[^:/]+$/, '')}@${digest}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    configDigest: D('c'),
    config: { rootfs: { type: 'layers', diff_ids: diffIDs } },
    platform: { os: 'linux', architecture: 'amd64' },
    layers: diffIDs.map((d) => ({
      digest: d,
      diffID: d,
      size: 1,
      mediaType: 'x',
      id: d.slice(7, 19),
      dir: `/x/${d}`,
    })),
    chainIDs: diffIDs,
    size: 3,
    pulledAt,
  };
}

describe('ImageStore', () => {
  let root: string;
  let store: ImageStore;
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'berth-is-'));
    store = new ImageStore(root, new ContentStore(root), new LayerStore(root));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('finds images by familiar name, full reference, digest and repo@digest', async () => {
    await store.put(
      record('docker.io/library/busybox:latest', D('1'), [D('a'), D('b')], '2024-01-01T00:00:00Z'),
    );
    await store.put(record('reg.local:5000/web:1.2', D('2'), [D('a')], '2024-01-02T00:00:00Z'));
    assert.equal((await store.get('busybox'))?.digest, D('1'));
    assert.equal((await store.get('docker.io/library/busybox'))?.digest, D('1'));
    assert.equal((await store.get(D('2')))?.reference, 'reg.local:5000/web:1.2');
    assert.equal((await store.get(`reg.local:5000/web@${D('2')}`))?.reference, 'reg.local:5000/web:1.2');
    assert.equal(await store.get('busybox:1.0'), undefined);
    assert.equal(await store.get('Not A Ref'), undefined);
    assert.deepEqual(
      (await store.list()).map((r) => r.reference),
      ['docker.io/library/busybox:latest', 'reg.local:5000/web:1.2'],
    );
  });

  test('layer refcounts count images per diffID', async () => {
    const rc = await store.layerRefCounts();
    assert.equal(rc.get(D('a')), 2);
    assert.equal(rc.get(D('b')), 1);
  });

  test('concurrent puts are all kept; remove forgets one record', async () => {
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((t, i) =>
        store.put(record(`x.io/p:${t}`, D(String(i + 3)), [], '2024-01-03T00:00:00Z')),
      ),
    );
    assert.equal((await store.list()).filter((r) => r.reference.startsWith('x.io/p:')).length, 4);
    assert.equal(await store.remove('x.io/p:a'), true);
    assert.equal(await store.remove('x.io/p:a'), false);
    assert.equal(await store.get('x.io/p:a'), undefined);
  });
});
