import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ContentStore } from './content-store';
import { isOciError } from './errors';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('ContentStore', () => {
  let dir: string;
  let store: ContentStore;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cs-'));
    store = new ContentStore(dir);
    await store.init();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const ingestEmpty = () => assert.deepEqual(readdirSync(path.join(dir, 'ingest')), []);

  test('commits a blob under blobs/sha256/<hex> when size and digest match', async () => {
    const data = Buffer.from('hello world');
    const w = await store.writer({ digest: sha(data), size: data.length });
    await pipeline(Readable.from([data.subarray(0, 5), data.subarray(5)]), w);
    const info = await w.commit();
    assert.equal(info.size, data.length);
    assert.ok(existsSync(path.join(dir, 'blobs/sha256', sha(data).slice(7))));
    assert.equal((await store.readAll(sha(data))).toString(), 'hello world');
    assert.equal(await store.has(sha(data)), true);
    assert.ok((await store.list()).some((i) => i.digest === sha(data)));
    ingestEmpty();
  });

  test('a wrong digest is an error and nothing is kept', async () => {
    const data = Buffer.from('tampered');
    const claimed = sha(Buffer.from('original'));
    await assert.rejects(store.put({ digest: claimed, size: data.length }, data), (e) =>
      isOciError(e, 'DigestMismatch'),
    );
    assert.equal(await store.has(claimed), false);
    ingestEmpty();
  });

  test('more bytes than announced fail while streaming and nothing is kept', async () => {
    const data = Buffer.alloc(100, 1);
    await assert.rejects(store.put({ digest: sha(data), size: 10 }, data), (e) =>
      isOciError(e, 'SizeMismatch'),
    );
    assert.equal(await store.has(sha(data)), false);
    ingestEmpty();
  });

  test('fewer bytes than announced fail at commit', async () => {
    const data = Buffer.alloc(10, 2);
    await assert.rejects(store.put({ digest: sha(data), size: 11 }, data), (e) =>
      isOciError(e, 'SizeMismatch'),
    );
    assert.equal(await store.has(sha(data)), false);
  });

  test('info of a missing blob is NotFound; delete removes a blob', async () => {
    const data = Buffer.from('to delete');
    await store.put({ digest: sha(data), size: data.length }, data);
    assert.equal(await store.delete(sha(data)), true);
    assert.equal(await store.delete(sha(data)), false);
    await assert.rejects(store.info(sha(data)), (e) => isOciError(e, 'NotFound'));
  });

  test('invalid digests are refused', async () => {
    await assert.rejects(store.writer({ digest: 'md5:abc' }), /only sha256/);
  });
});
