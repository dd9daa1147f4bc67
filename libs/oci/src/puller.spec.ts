import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { sniffCompression } from './puller';

describe('layer compression sniffing', () => {
  test('gzip, zstd and plain tar are told apart by their first bytes', () => {
    assert.equal(sniffCompression(gzipSync(Buffer.from('x'))), 'gzip');
    assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
    assert.equal(sniffCompression(Buffer.from('etc/passwd\0\0\0\0')), 'none');
  });
  test('too few bytes to tell leaves the media type to decide', () => {
    assert.equal(sniffCompression(Buffer.from([0x1f])), undefined);
  });
});
