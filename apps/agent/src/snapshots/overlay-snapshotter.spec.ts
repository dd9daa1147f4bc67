import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@berth/testing';
import { OverlaySnapshotter, MOUNT_OPTIONS_LIMIT, SnapshotError } from './overlay-snapshotter';
import { parseMountinfo } from './mounter';

describe('OverlaySnapshotter', () => {
  const tmp = tempDir('berth-snap-');
  const root = path.join(tmp.path, 'snapshots');
  const layers: string[] = [];
  before(async () => {
    for (let i = 0; i < 3; i++) {
      // long paths on purpose: the options must not grow with them
      const d = path.join(tmp.path, 'content', 'layers', `sha256-${String(i).repeat(64)}`, 'fs');
      await fs.mkdir(d, { recursive: true });
      layers.push(d);
    }
  });
  after(() => tmp.remove());

  test('prepare creates upper and work dirs and lists lower layers topmost first, relative to root', async () => {
    const s = new OverlaySnapshotter(root);
    const m = await s.prepare('c1', layers);
    assert.equal(m.type, 'overlay');
    assert.equal(m.source, 'overlay');
    assert.equal(m.cwd, root);
    const id = s.idFor('c1');
    assert.deepEqual(m.options.slice(1), [`upperdir=s/${id}/upper`, `workdir=s/${id}/work`]);
    const lower = m.options[0].replace(/^lowerdir=/, '').split(':');
    assert.equal(lower.length, 3);
    for (const [i, l] of lower.entries()) {
      assert.ok(!path.isAbsolute(l), `${l} is relative`);
      assert.equal(await fs.readlink(path.join(root, l)), layers[2 - i]);
    }
    assert.ok((await fs.stat(path.join(root, 's', id, 'upper'))).isDirectory());
    assert.ok((await fs.stat(path.join(root, 's', id, 'work'))).isDirectory());
    assert.deepEqual(await s.mounts('c1'), m);
  });

  test('zero layers mount an empty directory as the one lower layer', async () => {
    const s = new OverlaySnapshotter(root);
    const m = await s.prepare('nolayers', []);
    assert.equal(m.options[0], 'lowerdir=empty');
    assert.deepEqual(await fs.readdir(path.join(root, 'empty')), []);
    await s.remove('nolayers');
  });

  test('a single layer gives a single lowerdir', async () => {
    const s = new OverlaySnapshotter(root);
    const m = await s.prepare('single', [layers[0]]);
    assert.match(m.options[0], /^lowerdir=l\/[0-9a-f]{10}$/);
    await s.remove('single');
  });

  test('two snapshots of one image share the same layer links', async () => {
    const s = new OverlaySnapshotter(root);
    const a = await s.prepare('share-a', layers);
    const b = await s.prepare('share-b', layers);
    assert.equal(a.options[0], b.options[0]);
    assert.notEqual(a.options[1], b.options[1]);
    await s.remove('share-a');
    // still used by share-b: the links stay
    for (const l of b.options[0].slice('lowerdir='.length).split(':'))
      assert.equal(
        await fs.readlink(path.join(root, l)),
        layers.find((d) => s.linkFor(d) === l),
      );
    await s.remove('share-b');
  });

  test('150 layers with 100-byte paths fit in the one-page option limit', async () => {
    const s = new OverlaySnapshotter(root);
    const many: string[] = [];
    for (let i = 0; i < 150; i++) {
      const d = path.join(tmp.path, 'many', `${'x'.repeat(80)}-${String(i).padStart(4, '0')}`);
      await fs.mkdir(d, { recursive: true });
      many.push(d);
    }
    const m = await s.prepare('many', many);
    assert.ok(m.options.join(',').length <= MOUNT_OPTIONS_LIMIT);
    assert.equal(m.options[0].split(':').length, 150);
    await s.remove('many');
  });

  test('remove deletes the snapshot dirs and unused links, and list forgets it', async () => {
    const s = new OverlaySnapshotter(root);
    await s.prepare('gone', layers);
    assert.ok((await s.list()).some((i) => i.key === 'gone'));
    await s.remove('gone');
    assert.ok(!(await s.list()).some((i) => i.key === 'gone'));
    await assert.rejects(fs.stat(path.join(root, 's', s.idFor('gone'))));
    const left = (await s.list()).flatMap((i) => i.parents);
    for (const l of await fs.readdir(path.join(root, 'l')))
      assert.ok(
        left.some((d) => s.linkFor(d) === `l/${l}`),
        `link ${l} is still used`,
      );
    await assert.rejects(
      s.mounts('gone'),
      (e: unknown) => e instanceof SnapshotError && e.code === 'NotFound',
    );
    await s.remove('gone'); // twice is fine
  });

  test('prepare is idempotent for the same parents and refuses other parents', async () => {
    const s = new OverlaySnapshotter(root);
    const a = await s.prepare('idem', layers);
    assert.deepEqual(await s.prepare('idem', layers), a);
    await assert.rejects(s.prepare('idem', [layers[0]]), /already exists/);
    await s.remove('idem');
  });

  test('bad layer dirs are rejected naming the index', async () => {
    const s = new OverlaySnapshotter(root);
    await assert.rejects(
      s.prepare('bad', ['relative/dir']),
      /parentLayerDirs\[0\]: must be an absolute path/,
    );
    await assert.rejects(
      s.prepare('bad', [layers[0], path.join(tmp.path, 'missing')]),
      /parentLayerDirs\[1\]: .* is not a directory/,
    );
  });
});

describe('parseMountinfo', () => {
  test('reads mount points and decodes escapes', () => {
    const text =
      '22 1 0:21 / / rw - ext4 /dev/root rw\n' +
      '43 26 0:38 / /tmp/a\\040b rw,relatime - overlay overlay rw,lowerdir=l/A1\n';
    assert.deepEqual(parseMountinfo(text), ['/', '/tmp/a b']);
  });
});
