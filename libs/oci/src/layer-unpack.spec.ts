import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync, promises as fs, readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { classifyEntry, normalizeEntryPath, unpackLayer } from './layer-unpack';
import { isOciError } from './errors';

type Entry = Partial<tar.Header> & { name: string; body?: string; pax?: Record<string, string> };

/** A tar stream made by tar-stream from entry descriptions. */
export function makeTar(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const e of entries) {
    const { body, ...h } = e;
    pack.entry(
      {
        mode: 0o644,
        mtime: new Date(1_600_000_000_000),
        ...h,
        size: body ? Buffer.byteLength(body) : 0,
      } as tar.Header,
      body ?? '',
    );
  }
  pack.finalize();
  return pack as unknown as Readable;
}

const isRoot = process.getuid?.() === 0;

describe('layer entry paths', () => {
  test('leading / and ./ are made relative; . and inner .. are resolved', () => {
    assert.deepEqual(normalizeEntryPath('/etc/passwd'), ['etc', 'passwd']);
    assert.deepEqual(normalizeEntryPath('./usr//bin/./sh'), ['usr', 'bin', 'sh']);
    assert.deepEqual(normalizeEntryPath('a/b/../c'), ['a', 'c']);
    assert.deepEqual(normalizeEntryPath('./'), []);
  });
  test('climbing above the layer root is refused', () => {
    for (const n of ['../x', 'a/../../x', '/../etc/passwd', './../../..'])
      assert.throws(
        () => normalizeEntryPath(n),
        (e) => isOciError(e, 'UnsafeLayer') && e.message.includes('escapes'),
      );
  });
  test('whiteouts: .wh.NAME deletes NAME, .wh..wh..opq marks the dir opaque, other .wh..wh. names are ignored', () => {
    assert.deepEqual(classifyEntry('etc/.wh.motd'), { kind: 'whiteout', path: ['etc', 'motd'] });
    assert.deepEqual(classifyEntry('./.wh.tmp'), { kind: 'whiteout', path: ['tmp'] });
    assert.deepEqual(classifyEntry('var/cache/.wh..wh..opq'), { kind: 'opaque', dir: ['var', 'cache'] });
    assert.deepEqual(classifyEntry('.wh..wh.plnk'), { kind: 'ignore' });
    assert.deepEqual(classifyEntry('usr/bin/sh'), { kind: 'normal', path: ['usr', 'bin', 'sh'] });
    assert.deepEqual(classifyEntry('.'), { kind: 'root' });
    assert.throws(
      () => classifyEntry('a/.wh...'),
      (e) => isOciError(e, 'UnsafeLayer'),
    );
  });
});

describe('unpackLayer', () => {
  let base: string;
  let n = 0;
  const fresh = () => {
    const d = path.join(base, `d${n++}`);
    mkdirSync(d);
    return d;
  };
  before(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'berth-unpack-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test(
    'files, dirs, symlinks, hardlinks, modes incl. setuid, ownership and mtimes',
    { skip: !isRoot && 'needs root' },
    async () => {
      const d = fresh();
      await unpackLayer(
        makeTar([
          { name: 'bin/', type: 'directory', mode: 0o755 },
          { name: 'bin/tool', body: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1001 },
          { name: 'bin/alias', type: 'link', linkname: 'bin/tool' },
          { name: 'bin/sh', type: 'symlink', linkname: '/bin/tool' },
          { name: 'tmp/', type: 'directory', mode: 0o1777 },
          { name: 'ro/', type: 'directory', mode: 0o555, mtime: new Date(1_500_000_000_000) },
          { name: 'ro/f', body: 'x' },
        ]),
        d,
      );
      const st = await fs.stat(path.join(d, 'bin/tool'));
      assert.equal(st.mode & 0o7777, 0o4755);
      assert.equal(st.uid, 1000);
      assert.equal(st.gid, 1001);
      assert.equal(st.mtimeMs, 1_600_000_000_000);
      assert.equal((await fs.stat(path.join(d, 'bin/alias'))).ino, st.ino, 'hardlink shares the inode');
      assert.equal(await fs.readlink(path.join(d, 'bin/sh')), '/bin/tool');
      assert.equal((await fs.stat(path.join(d, 'tmp'))).mode & 0o7777, 0o1777);
      const ro = await fs.stat(path.join(d, 'ro'));
      assert.equal(ro.mode & 0o7777, 0o555);
      assert.equal(ro.mtimeMs, 1_500_000_000_000, 'dir mtime set after its children were written');
    },
  );

  test(
    'whiteout becomes a 0/0 char device, opaque dir gets trusted.overlay.opaque=y',
    { skip: !isRoot && 'needs root' },
    async () => {
      const d = fresh();
      const stats = await unpackLayer(
        makeTar([
          { name: 'etc/', type: 'directory', mode: 0o755 },
          { name: 'etc/.wh.motd', body: '' },
          { name: 'var/cache/.wh..wh..opq', body: '' },
        ]),
        d,
      );
      assert.equal(stats.whiteouts, 2);
      const st = await fs.lstat(path.join(d, 'etc/motd'));
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, 0);
      assert.equal(existsSync(path.join(d, 'etc/.wh.motd')), false);
      const x = spawnSync('python3', [
        '-c',
        `import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], 'trusted.overlay.opaque').decode())`,
        path.join(d, 'var/cache'),
      ]);
      assert.equal(x.stdout.toString(), 'y');
    },
  );

  test('devices, fifos and PAX xattrs', { skip: !isRoot && 'needs root' }, async () => {
    const d = fresh();
    await unpackLayer(
      makeTar([
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
        { name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.note': 'hello' } },
      ]),
      d,
    );
    const nul = await fs.lstat(path.join(d, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    assert.equal(nul.mode & 0o777, 0o666);
    assert.ok((await fs.lstat(path.join(d, 'dev/fifo'))).isFIFO());
    const x = spawnSync('python3', [
      '-c',
      `import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], 'user.note').decode())`,
      path.join(d, 'f'),
    ]);
    assert.equal(x.stdout.toString(), 'hello');
  });

  const malicious: [string, Entry[]][] = [
    ['a ../ entry', [{ name: '../evil', body: 'x' }]],
    [
      'a climbing entry after a normal one',
      [
        { name: 'ok', body: 'x' },
        { name: 'a/../../evil', body: 'x' },
      ],
    ],
    [
      'a file written through a symlink to outside',
      [
        { name: 'esc', type: 'symlink', linkname: '/tmp' },
        { name: 'esc/evil', body: 'x' },
      ],
    ],
    [
      'a file written through a relative symlink climbing out',
      [
        { name: 'esc', type: 'symlink', linkname: '../..' },
        { name: 'esc/evil', body: 'x' },
      ],
    ],
    ['a hardlink to a file outside the layer', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
    [
      'a hardlink to an absolute host path not in the layer',
      [{ name: 'h', type: 'link', linkname: '/etc/passwd' }],
    ],
    [
      'a hardlink through a symlink',
      [
        { name: 's', type: 'symlink', linkname: '/etc' },
        { name: 'h', type: 'link', linkname: 's/passwd' },
      ],
    ],
    [
      'a whiteout through a symlink',
      [
        { name: 's', type: 'symlink', linkname: '/tmp' },
        { name: 's/.wh.x', body: '' },
      ],
    ],
  ];
  for (const [what, entries] of malicious) {
    test(`rejects ${what} and writes nothing outside`, async () => {
      const outer = fresh();
      const d = path.join(outer, 'layer');
      mkdirSync(d);
      const before = readdirSync('/tmp').length;
      await assert.rejects(unpackLayer(makeTar(entries), d), (e) => isOciError(e, 'UnsafeLayer'));
      assert.deepEqual(readdirSync(outer), ['layer'], 'nothing next to the layer dir');
      assert.equal(existsSync('/tmp/evil'), false);
      assert.ok(readdirSync('/tmp').length <= before + 5);
    });
  }
});
