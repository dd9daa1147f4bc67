import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LayerStore } from './layer-store';

const diff = (c: string) => `sha256:${c.repeat(64)}`;
const blob = { digest: `sha256:${'f'.repeat(64)}`, size: 1 };

describe('LayerStore', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'berth-ls-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('a layer appears only when its unpack completed, under a short id', async () => {
    const s = new LayerStore(root);
    const rec = await s.create(diff('a'), blob, async (tmp) => {
      writeFileSync(path.join(tmp, 'f'), 'x');
      assert.equal(await s.get(diff('a')), undefined, 'invisible while unpacking');
      return { unpackedSize: 1 };
    });
    assert.equal(rec.id, 'a'.repeat(12));
    assert.equal(rec.dir, path.join(root, 'l', rec.id));
    assert.ok(existsSync(path.join(rec.dir, 'f')));
    assert.deepEqual(await s.get(diff('a')), rec);
  });

  test('a failed unpack leaves nothing behind', async () => {
    const s = new LayerStore(root);
    await assert.rejects(
      s.create(diff('b'), blob, async (tmp) => {
        writeFileSync(path.join(tmp, 'half'), 'x');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await s.get(diff('b')), undefined);
    assert.deepEqual(readdirSync(path.join(root, 'l')).sort(), ['a'.repeat(12)]);
  });

  test('crash leftovers are cleared: temp dirs at init, a directory without metadata when its layer is made', async () => {
    mkdirSync(path.join(root, 'l', '.tmp-crashed'));
    mkdirSync(path.join(root, 'l', 'c'.repeat(12)));
    writeFileSync(path.join(root, 'l', 'c'.repeat(12), 'stale'), 'x');
    const s = new LayerStore(root);
    await s.init();
    assert.equal(existsSync(path.join(root, 'l', '.tmp-crashed')), false);
    assert.equal(await s.get(diff('c')), undefined, 'a dir without metadata is not a layer');
    const rec = await s.create(diff('c'), blob, async (tmp) => {
      writeFileSync(path.join(tmp, 'fresh'), 'x');
      return { unpackedSize: 1 };
    });
    assert.deepEqual(readdirSync(rec.dir), ['fresh']);
  });

  test('ids grow on a prefix collision; remove deletes metadata and directory', async () => {
    const s = new LayerStore(root);
    const other = `sha256:${'a'.repeat(12)}${'0'.repeat(52)}`;
    const rec = await s.create(other, blob, async () => ({ unpackedSize: 0 }));
    assert.equal(rec.id, `${'a'.repeat(12)}0000`);
    assert.equal(await s.remove(other), true);
    assert.equal(existsSync(rec.dir), false);
    assert.equal(await s.get(other), undefined);
    assert.equal(await s.remove(other), false);
  });
});
