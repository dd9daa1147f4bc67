import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, promises as fs, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImageService, RegistryHosts, isOciError, parseDockerConfig, type ImageRecord } from '@berth/oci';
import {
  buildBusyboxImage,
  freePort,
  makeTar,
  pushManifest,
  pushRawImage,
  startRegistry,
  tempDir,
  type TestRegistry,
} from '@berth/testing';

/** An HTTP proxy in front of the registry that counts requests and can fail some on purpose. */
interface Proxy {
  host: string;
  url: string;
  blobGets: Map<string, number>;
  /** Every request URL, in order. */
  requests: string[];
  served500: number;
  /** Return true to answer this request with HTTP 500 instead of forwarding it. */
  failWhen?: (req: http.IncomingMessage) => boolean;
  /** Return true to send the headers and half the body, then break the connection. */
  cutWhen?: (req: http.IncomingMessage) => boolean;
  /** Return true to answer with a 307 redirect straight to the registry. */
  redirectWhen?: (req: http.IncomingMessage) => boolean;
  cuts: number;
  redirects: number;
  close(): Promise<void>;
}

async function startProxy(target: TestRegistry): Promise<Proxy> {
  const port = await freePort();
  const t = new URL(target.url);
  const p: Proxy = {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    blobGets: new Map(),
    requests: [],
    served500: 0,
    cuts: 0,
    redirects: 0,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
  const srv = http.createServer((req, res) => {
    p.requests.push(req.url ?? '');
    const m = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
    if (req.method === 'GET' && m) p.blobGets.set(m[1], (p.blobGets.get(m[1]) ?? 0) + 1);
    if (p.failWhen?.(req)) {
      p.served500++;
      res
        .writeHead(500, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}');
      return;
    }
    if (p.redirectWhen?.(req)) {
      p.redirects++;
      res.writeHead(307, { location: `${target.url}${req.url}` }).end();
      return;
    }
    const cut = p.cutWhen?.(req) ?? false;
    const up = http.request(
      {
        host: t.hostname,
        port: t.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: t.host },
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        const len = Number(r.headers['content-length'] ?? 0);
        if (cut && r.statusCode === 200 && len > 1) {
          p.cuts++;
          let sent = 0;
          r.on('data', (c: Buffer) => {
            if (sent >= len / 2) return;
            const part = c.subarray(0, Math.max(0, Math.ceil(len / 2) - sent));
            sent += part.length;
            res.write(part);
            if (sent >= len / 2) {
              r.destroy();
              res.socket?.destroy();
            }
          });
          return;
        }
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  srv.keepAliveTimeout = 1000;
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return p;
}

function newService(hosts?: RegistryHosts): { svc: ImageService; root: string; remove(): void } {
  const dir = tempDir('berth-oci-e2e-');
  const svc = new ImageService({ root: dir.path, hosts, client: { backoffMs: 20 } });
  return { svc, root: dir.path, remove: dir.remove };
}

function lowerDirs(rec: ImageRecord): string {
  // overlayfs lists the top layer first; names are relative to the layer root (short options string).
  return [...rec.layers]
    .reverse()
    .map((l) => l.id)
    .join(':');
}

/** Nothing of a failed pull may remain: no layer dirs or metadata, no ingest files, no image record. */
function assertNothingKept(root: string, blobDigests: string[]): void {
  assert.deepEqual(readdirSync(path.join(root, 'l')), [], 'no layer directory (not even a temp one)');
  assert.deepEqual(readdirSync(path.join(root, 'layers')), [], 'no layer metadata');
  assert.deepEqual(readdirSync(path.join(root, 'ingest')), [], 'no ingest file');
  for (const d of blobDigests)
    assert.equal(existsSync(path.join(root, 'blobs/sha256', d.slice(7))), false, `blob ${d} not kept`);
  assert.equal(existsSync(path.join(root, 'images.json')), false, 'no image record');
}

describe('OCI image pulls against a real registry', () => {
  let reg: TestRegistry;
  let v2s2: { ref: string; digest: string };
  let oci: { ref: string; digest: string };

  before(async () => {
    reg = await startRegistry();
    v2s2 = await buildBusyboxImage(reg, 'bb/v2s2', '1', { format: 'v2s2' });
    oci = await buildBusyboxImage(reg, 'bb/oci', '1', {
      format: 'oci',
      cmd: ['sh', '-c', 'echo hi'],
      extraLayers: [{ files: { 'etc/motd': 'hello\n', 'data/keep': 'kept\n' } }, { delete: ['etc/motd'] }],
    });
  });
  after(async () => {
    await reg?.stop();
  });

  test('pulls a Docker v2s2 image: files, modes, symlinks and hardlinks are unpacked', async () => {
    const { svc, remove } = newService();
    try {
      const phases = new Set<string>();
      const rec = await svc.pull(v2s2.ref, { onProgress: (p) => phases.add(p.phase) });
      assert.deepEqual([...phases], ['resolved', 'layer-downloading', 'layer-done', 'done']);
      assert.equal(rec.digest, v2s2.digest);
      assert.equal(rec.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      assert.equal(rec.reference, `${reg.host}/bb/v2s2:1`);
      assert.deepEqual(rec.config.config?.Cmd, ['sh']);
      assert.equal(rec.layers.length, 1);
      assert.equal(rec.chainIDs[0], rec.layers[0].diffID);
      const dir = rec.layers[0].dir;
      assert.ok(rec.layers[0].id.length <= 12, 'short layer directory name');
      const bb = await fs.stat(path.join(dir, 'bin/busybox'));
      assert.equal(bb.mode & 0o7777, 0o755);
      assert.deepEqual(readFileSync(path.join(dir, 'bin/busybox')), readFileSync('/bin/busybox'));
      assert.equal(await fs.readlink(path.join(dir, 'bin/sh')), 'busybox');
      assert.equal((await fs.stat(path.join(dir, 'usr/bin/busybox-hardlink'))).ino, bb.ino, 'hardlink kept');
      assert.equal(
        (await fs.stat(path.join(dir, 'usr/bin/setuid-tool'))).mode & 0o7777,
        0o4755,
        'setuid kept',
      );
      assert.equal((await fs.stat(path.join(dir, 'tmp'))).mode & 0o7777, 0o1777, 'sticky /tmp kept');
      assert.deepEqual(await svc.get(v2s2.ref), rec);
      assert.deepEqual(await svc.get(v2s2.digest), rec);
    } finally {
      remove();
    }
  });

  test('pulls an OCI image; a whiteout layer hides the lower file in an overlay mount', async () => {
    const { svc, root, remove } = newService();
    const mnt = path.join(root, 'mnt');
    let mounted = false;
    try {
      const rec = await svc.pull(oci.ref);
      assert.equal(rec.digest, oci.digest);
      assert.equal(rec.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.deepEqual(rec.config.config?.Cmd, ['sh', '-c', 'echo hi']);
      assert.equal(rec.layers.length, 3);
      assert.equal(readFileSync(path.join(rec.layers[1].dir, 'etc/motd'), 'utf8'), 'hello\n');
      const wh = await fs.lstat(path.join(rec.layers[2].dir, 'etc/motd'));
      assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0/0 char device');
      mkdirSync(mnt);
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerDirs(rec)}`, mnt], {
        cwd: svc.layersDir,
      });
      mounted = true;
      assert.equal(existsSync(path.join(mnt, 'etc/motd')), false, 'deleted file is hidden');
      assert.equal(readFileSync(path.join(mnt, 'data/keep'), 'utf8'), 'kept\n');
      assert.ok(existsSync(path.join(mnt, 'bin/busybox')));
      assert.ok(existsSync(path.join(mnt, 'etc/passwd')));
    } finally {
      if (mounted) execFileSync('umount', [mnt]);
      remove();
    }
  });

  test('ensure() follows the pull policy: Never looks locally, IfNotPresent pulls once, Always asks the registry', async () => {
    const proxy = await startProxy(reg);
    const { svc, remove } = newService();
    try {
      const ref = `${proxy.host}/bb/v2s2:1`;
      await assert.rejects(
        svc.ensure(ref, { pullPolicy: 'Never' }),
        (e) => isOciError(e, 'NotFound') && /Never/.test(e.message),
      );
      const manifestGets = () => proxy.requests.filter((u) => u.includes('/manifests/')).length;
      const rec = await svc.ensure(ref, { pullPolicy: 'IfNotPresent' });
      const afterFirst = manifestGets();
      assert.ok(afterFirst >= 1);
      assert.equal((await svc.ensure(ref, { pullPolicy: 'IfNotPresent' })).digest, rec.digest);
      assert.equal((await svc.ensure(ref)).digest, rec.digest, 'a pinned tag defaults to IfNotPresent');
      assert.equal((await svc.ensure(ref, { pullPolicy: 'Never' })).digest, rec.digest);
      assert.equal(manifestGets(), afterFirst, 'no registry request while present');
      await svc.ensure(ref, { pullPolicy: 'Always' });
      assert.equal(manifestGets(), afterFirst + 1, 'Always asks the registry again');
    } finally {
      remove();
      await proxy.close();
    }
  });

  test('pulls by digest and refuses a manifest whose digest differs from the reference', async () => {
    const { svc, remove } = newService();
    try {
      const repo = v2s2.ref.replace(/:1$/, '');
      const rec = await svc.pull(`${repo}@${v2s2.digest}`);
      assert.equal(rec.digest, v2s2.digest);
      const wrong = `sha256:${'0'.repeat(64)}`;
      await assert.rejects(svc.pull(`${repo}@${wrong}`), (e) => isOciError(e, 'NotFound'));
    } finally {
      remove();
    }
  });

  test('a registry mirror for docker.io resolves "busybox" from the local registry', async () => {
    await buildBusyboxImage(reg, 'library/busybox', 'latest', { format: 'v2s2' });
    const hosts = new RegistryHosts({ mirrors: RegistryHosts.parseMirrorFlags([`docker.io=${reg.url}`]) });
    const { svc, remove } = newService(hosts);
    try {
      const rec = await svc.pull('busybox');
      assert.equal(rec.reference, 'docker.io/library/busybox:latest');
      assert.ok(existsSync(path.join(rec.layers[0].dir, 'bin/busybox')));
      assert.equal((await svc.get('busybox'))?.digest, rec.digest);
    } finally {
      remove();
    }
  });

  test('concurrent pulls of one image share one download; a second pull downloads nothing', async () => {
    const proxy = await startProxy(reg);
    const { svc, remove } = newService();
    try {
      // The same image under a second tag: the pulls differ, the blobs do not.
      const manifest = await fetch(`${reg.url}/v2/bb/oci/manifests/1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      await pushManifest(
        reg,
        'bb/oci',
        'again',
        Buffer.from(await manifest.arrayBuffer()),
        'application/vnd.oci.image.manifest.v1+json',
      );
      const refs = [1, 2, 3]
        .map(() => `${proxy.host}/bb/oci:1`)
        .concat([`${proxy.host}/bb/oci:again`, `${proxy.host}/bb/oci:again`]);
      const recs = await Promise.all(refs.map((r) => svc.pull(r)));
      assert.ok(recs.every((r) => r.digest === oci.digest));
      const blobs = [recs[0].configDigest, ...recs[0].layers.map((l) => l.digest)];
      for (const b of blobs) assert.equal(proxy.blobGets.get(b), 1, `blob ${b} downloaded once`);
      assert.equal(proxy.blobGets.size, blobs.length);
      const again = await svc.pull(`${proxy.host}/bb/oci:1`);
      assert.equal(again.digest, oci.digest);
      for (const b of blobs) assert.equal(proxy.blobGets.get(b), 1, `blob ${b} not downloaded again`);
      assert.deepEqual(
        again.layers.map((l) => l.dir),
        recs[0].layers.map((l) => l.dir),
      );
    } finally {
      remove();
      await proxy.close();
    }
  });

  test('a flaky registry answering 500 first is retried and the pull succeeds', async () => {
    const proxy = await startProxy(reg);
    const failed = new Set<string>();
    proxy.failWhen = (req) => {
      // the first request of every URL fails
      const key = `${req.method} ${req.url}`;
      if (failed.has(key)) return false;
      failed.add(key);
      return true;
    };
    const { svc, remove } = newService();
    try {
      const rec = await svc.pull(`${proxy.host}/bb/v2s2:1`);
      assert.equal(rec.digest, v2s2.digest);
      assert.ok(proxy.served500 >= 3, `500s served: ${proxy.served500}`);
      assert.ok(existsSync(path.join(rec.layers[0].dir, 'bin/busybox')));
    } finally {
      remove();
      await proxy.close();
    }
  });

  test('a blob download broken mid-stream is retried from the start and verified', async () => {
    const proxy = await startProxy(reg);
    const cut = new Set<string>();
    proxy.cutWhen = (req) => {
      if (!/\/blobs\//.test(req.url ?? '') || cut.has(req.url!)) return false;
      cut.add(req.url!);
      return true;
    };
    const { svc, root, remove } = newService();
    try {
      const rec = await svc.pull(`${proxy.host}/bb/oci:1`);
      assert.equal(rec.digest, oci.digest);
      assert.equal(proxy.cuts, 1 + rec.layers.length, 'each blob (config and layers) was cut once');
      assert.ok(existsSync(path.join(rec.layers[0].dir, 'bin/busybox')));
      assert.deepEqual(readdirSync(path.join(root, 'ingest')), []);
      assert.deepEqual(
        readdirSync(path.join(root, 'l')).sort(),
        rec.layers.map((l) => l.id).sort(),
        'no half-unpacked layer left behind',
      );
    } finally {
      remove();
      await proxy.close();
    }
  });

  test('blob redirects (as to a storage backend) are followed', async () => {
    const proxy = await startProxy(reg);
    proxy.redirectWhen = (req) => /\/blobs\//.test(req.url ?? '');
    const { svc, remove } = newService();
    try {
      const rec = await svc.pull(`${proxy.host}/bb/v2s2:1`);
      assert.equal(rec.digest, v2s2.digest);
      assert.equal(proxy.redirects, 2, 'config and layer blobs were redirected');
    } finally {
      remove();
      await proxy.close();
    }
  });

  test('a missing image is a NotFound error naming the reference', async () => {
    const { svc, remove } = newService();
    try {
      await assert.rejects(
        svc.pull(`${reg.host}/nope/nothing:1`),
        (e) => isOciError(e, 'NotFound') && e.message.includes(`${reg.host}/nope/nothing:1`),
      );
      await assert.rejects(
        svc.pull(`${reg.host}/bb/v2s2:nosuchtag`),
        (e) => isOciError(e, 'NotFound') && e.message.includes('nosuchtag'),
      );
    } finally {
      remove();
    }
  });

  test('a tampered blob (changed on the registry disk) is a digest error and nothing is kept', async () => {
    const tarball = await makeTar([
      { name: 'file', body: 'x'.repeat(100_000) },
      { name: 'other', body: randomBytes(1000) },
    ]);
    const img = await pushRawImage(reg, 'bad/tampered', '1', { layers: [{ tar: tarball, gzip: false }] });
    const layer = img.manifest.layers[0].digest;
    const blobFile = reg.blobPath(layer);
    const data = readFileSync(blobFile);
    data[600] ^= 0xff; // same size, different content (still a valid tar for the unpacker)
    writeFileSync(blobFile, data);
    const { svc, root, remove } = newService();
    try {
      await assert.rejects(
        svc.pull(img.ref),
        (e) => isOciError(e, 'DigestMismatch') && e.message.includes(layer),
      );
      assertNothingKept(root, [layer]);
    } finally {
      remove();
    }
  });

  test('a gzip layer tampered on the registry disk is a digest error and nothing is kept', async () => {
    const tarball = await makeTar([{ name: 'file', body: randomBytes(50_000) }]);
    const img = await pushRawImage(reg, 'bad/tampered-gz', '1', { layers: [{ tar: tarball }] });
    const layer = img.manifest.layers[0].digest;
    const blobFile = reg.blobPath(layer);
    const data = readFileSync(blobFile);
    data[data.length >> 1] ^= 0xff;
    writeFileSync(blobFile, data);
    const { svc, root, remove } = newService();
    try {
      await assert.rejects(
        svc.pull(img.ref),
        (e) => isOciError(e, 'DigestMismatch') && e.message.includes(layer),
      );
      assertNothingKept(root, [layer]);
    } finally {
      remove();
    }
  });

  test('path-traversal and symlink-escape layers are rejected and nothing is left', async () => {
    const marker = `berth-evil-${randomBytes(4).toString('hex')}`;
    const layers = [
      await makeTar([
        { name: 'ok', body: 'fine' },
        { name: `../../../../../../tmp/${marker}`, body: 'pwned' },
      ]),
      await makeTar([
        { name: 'esc', type: 'symlink', linkname: '/tmp' },
        { name: `esc/${marker}`, body: 'pwned' },
      ]),
      await makeTar([{ name: 'h', type: 'link', linkname: '../../../../etc/passwd' }]),
    ];
    for (const [i, t] of layers.entries()) {
      const img = await pushRawImage(reg, `bad/escape${i}`, '1', { layers: [{ tar: t }] });
      const { svc, root, remove } = newService();
      try {
        await assert.rejects(svc.pull(img.ref), (e) => isOciError(e, 'UnsafeLayer'));
        assertNothingKept(
          root,
          img.manifest.layers.map((l) => l.digest),
        );
        assert.equal(existsSync(`/tmp/${marker}`), false, 'nothing written outside');
      } finally {
        remove();
      }
    }
  });

  test('a layer whose content does not match the config diffID is refused', async () => {
    const t = await makeTar([{ name: 'f', body: 'content' }]);
    const img = await pushRawImage(reg, 'bad/diffid', '1', {
      layers: [{ tar: t, diffID: `sha256:${'1'.repeat(64)}` }],
    });
    const { svc, root, remove } = newService();
    try {
      await assert.rejects(
        svc.pull(img.ref),
        (e) => isOciError(e, 'DigestMismatch') && /diffID/.test(e.message),
      );
      assertNothingKept(
        root,
        img.manifest.layers.map((l) => l.digest),
      );
    } finally {
      remove();
    }
  });

  test('mislabelled layers are unpacked by what their bytes are (gzip sniffed by magic)', async () => {
    const t1 = await makeTar([{ name: 'one', body: 'gzip labelled as tar' }]);
    const t2 = await makeTar([{ name: 'two', body: 'tar labelled as gzip' }]);
    const img = await pushRawImage(reg, 'odd/labels', '1', {
      layers: [
        { tar: t1, gzip: true, mediaType: 'application/vnd.oci.image.layer.v1.tar' },
        { tar: t2, gzip: false, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
      ],
    });
    const { svc, remove } = newService();
    try {
      const rec = await svc.pull(img.ref);
      assert.equal(readFileSync(path.join(rec.layers[0].dir, 'one'), 'utf8'), 'gzip labelled as tar');
      assert.equal(readFileSync(path.join(rec.layers[1].dir, 'two'), 'utf8'), 'tar labelled as gzip');
    } finally {
      remove();
    }
  });

  test('zstd layers are refused with a clear error', async () => {
    const t = await makeTar([{ name: 'f', body: 'content' }]);
    const img = await pushRawImage(reg, 'bad/zstd', '1', {
      layers: [{ tar: t, gzip: false, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }],
    });
    const { svc, remove } = newService();
    try {
      await assert.rejects(svc.pull(img.ref), (e) => isOciError(e, 'Unsupported') && /zstd/.test(e.message));
    } finally {
      remove();
    }
  });

  test('an index selects the manifest of the wanted platform', async () => {
    const amd = await pushRawImage(reg, 'multi/arch', 'amd64', {
      layers: [{ tar: await makeTar([{ name: 'arch', body: 'amd64' }]) }],
      architecture: 'amd64',
    });
    const arm = await pushRawImage(reg, 'multi/arch', 'arm64', {
      layers: [{ tar: await makeTar([{ name: 'arch', body: 'arm64' }]) }],
      architecture: 'arm64',
    });
    const desc = async (digest: string, architecture: string) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest,
      size: Number(
        (
          await fetch(`${reg.url}/v2/multi/arch/manifests/${digest}`, {
            method: 'HEAD',
            headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
          })
        ).headers.get('content-length'),
      ),
      platform: { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) },
    });
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [await desc(arm.digest, 'arm64'), await desc(amd.digest, 'amd64')],
    };
    const indexDigest = await pushManifest(reg, 'multi/arch', 'latest', index, index.mediaType);
    const { svc, remove } = newService();
    try {
      const a = await svc.pull(`${reg.host}/multi/arch`, { platform: 'linux/arm64' });
      assert.equal(a.digest, arm.digest);
      assert.equal(a.indexDigest, indexDigest);
      assert.equal(readFileSync(path.join(a.layers[0].dir, 'arch'), 'utf8'), 'arm64');
      const b = await svc.pull(`${reg.host}/multi/arch`, { platform: 'linux/amd64' });
      assert.equal(readFileSync(path.join(b.layers[0].dir, 'arch'), 'utf8'), 'amd64');
      await assert.rejects(svc.pull(`${reg.host}/multi/arch`, { platform: 'linux/s390x' }), (e) =>
        isOciError(e, 'NoMatchingPlatform'),
      );
    } finally {
      remove();
    }
  });

  test('gc removes images no container uses and their unshared layers and blobs', async () => {
    const shared = await makeTar([{ name: 'shared', body: 'base' }]);
    const a = await pushRawImage(reg, 'gc/a', '1', {
      layers: [{ tar: shared }, { tar: await makeTar([{ name: 'a', body: 'a' }]) }],
    });
    const b = await pushRawImage(reg, 'gc/b', '1', {
      layers: [{ tar: shared }, { tar: await makeTar([{ name: 'b', body: 'b' }]) }],
    });
    const { svc, remove } = newService();
    try {
      const ra = await svc.pull(a.ref);
      const rb = await svc.pull(b.ref);
      assert.equal(ra.layers[0].dir, rb.layers[0].dir, 'shared layer unpacked once');
      assert.equal((await svc.images.layerRefCounts()).get(ra.layers[0].diffID), 2);
      const none = await svc.gc(new Set([ra.digest]), { thresholdBytes: 1 << 30 });
      assert.deepEqual(none.removedImages, [], 'below threshold nothing goes');
      const res = await svc.gc(new Set([ra.digest]), { thresholdBytes: 0 });
      assert.deepEqual(res.removedImages, [rb.reference]);
      assert.deepEqual(res.removedLayers, [rb.layers[1].diffID]);
      assert.ok(res.removedBlobs.includes(rb.digest) && res.removedBlobs.includes(rb.layers[1].digest));
      assert.ok(!res.removedBlobs.includes(ra.layers[0].digest), 'shared blob kept');
      assert.equal(existsSync(rb.layers[1].dir), false);
      assert.ok(existsSync(ra.layers[0].dir) && existsSync(ra.layers[1].dir));
      assert.equal(await svc.get(b.ref), undefined);
      assert.ok(await svc.get(a.ref));
    } finally {
      remove();
    }
  });
});

describe('registry authentication', () => {
  const user = { user: 'berth', pass: 's3cret-pass' };

  test('anonymous bearer tokens (Docker Hub style): a public image pulls without credentials', async () => {
    const reg = await startRegistry({ token: { user, allowAnonymousPull: true } });
    try {
      const img = await buildBusyboxImage(reg, 'public/bb', '1', { format: 'v2s2', creds: user });
      const anon = newService();
      try {
        const rec = await anon.svc.pull(img.ref);
        assert.equal(rec.digest, img.digest);
        assert.ok(reg.tokensIssued > 0);
      } finally {
        anon.remove();
      }
    } finally {
      await reg.stop();
    }
  });

  test('basic auth: pull with credentials works, without fails clearly', async () => {
    const reg = await startRegistry({ htpasswd: user });
    try {
      const img = await buildBusyboxImage(reg, 'private/bb', '1', { format: 'v2s2', creds: user });
      const anon = newService();
      try {
        await assert.rejects(
          anon.svc.pull(img.ref),
          (e) =>
            isOciError(e, 'Unauthorized') && e.message.includes(reg.host) && /no credentials/.test(e.message),
        );
      } finally {
        anon.remove();
      }
      const wrong = newService();
      try {
        await assert.rejects(
          wrong.svc.pull(img.ref, { credentials: { username: user.user, password: 'nope' } }),
          (e) => isOciError(e, 'Unauthorized') && e.message.includes(`"${user.user}"`),
        );
      } finally {
        wrong.remove();
      }
      // Credentials from a kubernetes.io/dockerconfigjson secret's payload.
      const cfg = {
        auths: { [reg.host]: { auth: Buffer.from(`${user.user}:${user.pass}`).toString('base64') } },
      };
      const ok = newService(new RegistryHosts({ credentials: parseDockerConfig(JSON.stringify(cfg)) }));
      try {
        const rec = await ok.svc.pull(img.ref);
        assert.equal(rec.digest, img.digest);
      } finally {
        ok.remove();
      }
    } finally {
      await reg.stop();
    }
  });

  test('bearer token auth: a token is fetched from the realm with the credentials and used', async () => {
    const reg = await startRegistry({ token: { user } });
    try {
      const img = await buildBusyboxImage(reg, 'tok/bb', '1', { format: 'oci', creds: user });
      const before = reg.tokensIssued;
      const ok = newService();
      try {
        const rec = await ok.svc.pull(img.ref, { credentials: { username: user.user, password: user.pass } });
        assert.equal(rec.digest, img.digest);
        assert.ok(reg.tokensIssued > before, 'a token was issued');
        assert.ok(
          reg.tokensIssued - before <= 2,
          `token cached per scope (issued ${reg.tokensIssued - before})`,
        );
      } finally {
        ok.remove();
      }
      const anon = newService();
      try {
        await assert.rejects(
          anon.svc.pull(img.ref),
          (e) => isOciError(e, 'Unauthorized') && /token server/.test(e.message),
        );
      } finally {
        anon.remove();
      }
    } finally {
      await reg.stop();
    }
  });
});
