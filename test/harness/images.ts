import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import type { RegistryUser } from './registry';

export interface RegistryLike {
  host: string;
  url: string;
}

export interface BuildImageOptions {
  format?: 'v2s2' | 'oci';
  /** Layers on top of the busybox base: files to write (path → content) and paths to delete (→ whiteouts). */
  extraLayers?: Array<{ files?: Record<string, string>; delete?: string[] }>;
  cmd?: string[];
  creds?: RegistryUser;
}

export interface BuiltImage {
  /** 127.0.0.1:PORT/repo:tag */
  ref: string;
  /** Manifest digest as pushed. */
  digest: string;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let base: Promise<string> | undefined;
const cleanup: string[] = [];
process.once('exit', () => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/**
 * The busybox base, built once per test process: an OCI layout `<dir>/oci:base` with one layer
 * (busybox-static, its applets as symlinks, a hardlink, a setuid file, /tmp 1777, /etc/passwd)
 * and its unpacked bundle `<dir>/bundle` for umoci repack.
 */
function busyboxBase(): Promise<string> {
  base ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-busybox-'));
    cleanup.push(dir);
    const layout = path.join(dir, 'oci');
    const bundle = path.join(dir, 'bundle');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:base`]);
    await run('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'usr/bin', 'root', 'var'])
      mkdirSync(path.join(rootfs, d), { recursive: true });
    chmodSync(path.join(rootfs, 'tmp'), 0o1777);
    copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
    const applets = (await run('/bin/busybox', ['--list'])).split('\n').filter((a) => a && a !== 'busybox');
    for (const a of applets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
    linkSync(path.join(rootfs, 'bin/busybox'), path.join(rootfs, 'usr/bin/busybox-hardlink'));
    writeFileSync(path.join(rootfs, 'usr/bin/setuid-tool'), '#!/bin/sh\necho setuid\n');
    chmodSync(path.join(rootfs, 'usr/bin/setuid-tool'), 0o4755);
    writeFileSync(
      path.join(rootfs, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
    );
    writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    await run('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:base`, bundle]);
    await run('umoci', [
      'config',
      '--image',
      `${layout}:base`,
      '--config.cmd',
      'sh',
      '--config.env',
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    return dir;
  })();
  return base;
}

/**
 * Builds a busybox image with umoci (base cached per test process, one `umoci repack` per extra
 * layer: deleting a file between repacks makes a whiteout) and pushes it with skopeo.
 */
export async function buildBusyboxImage(
  registry: RegistryLike,
  repo: string,
  tag: string,
  opts: BuildImageOptions = {},
): Promise<BuiltImage> {
  const baseDir = await busyboxBase();
  const work = mkdtempSync(path.join(os.tmpdir(), 'berth-img-'));
  try {
    await run('cp', ['-a', path.join(baseDir, 'oci'), path.join(baseDir, 'bundle'), work]);
    const layout = path.join(work, 'oci');
    const bundle = path.join(work, 'bundle');
    const rootfs = path.join(bundle, 'rootfs');
    for (const layer of opts.extraLayers ?? []) {
      for (const [p, content] of Object.entries(layer.files ?? {})) {
        const f = path.join(rootfs, p);
        mkdirSync(path.dirname(f), { recursive: true });
        writeFileSync(f, content);
      }
      for (const p of layer.delete ?? []) rmSync(path.join(rootfs, p), { recursive: true, force: true });
      await run('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:base`, bundle]);
    }
    if (opts.cmd) {
      const args = ['config', '--image', `${layout}:base`, '--clear=config.cmd'];
      for (const c of opts.cmd) args.push('--config.cmd', c);
      await run('umoci', args);
    }
    const digestFile = path.join(work, 'digest');
    const args = ['copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile];
    if (opts.format === 'v2s2') args.push('--format', 'v2s2');
    else args.push('--format', 'oci');
    if (opts.creds) args.push('--dest-creds', `${opts.creds.user}:${opts.creds.pass}`);
    args.push(`oci:${layout}:base`, `docker://${registry.host}/${repo}:${tag}`);
    await run('skopeo', args);
    return { ref: `${registry.host}/${repo}:${tag}`, digest: readFileSync(digestFile, 'utf8').trim() };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export type TarEntry = Partial<tar.Header> & {
  name: string;
  body?: string | Buffer;
  pax?: Record<string, string>;
};

/** A tar archive (as a Buffer) made from entry descriptions — for hand-crafted, even malicious, layers. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c) => void chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const { body, ...h } = e;
    const buf = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    pack.entry(
      { mode: 0o644, mtime: new Date(1_600_000_000_000), ...h, size: buf.length } as tar.Header,
      buf,
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function authHeader(creds?: RegistryUser): Record<string, string> {
  return creds
    ? { authorization: `Basic ${Buffer.from(`${creds.user}:${creds.pass}`).toString('base64')}` }
    : {};
}

/** Uploads one blob (monolithic POST + PUT) unless the registry has it. */
export async function pushBlob(
  registry: RegistryLike,
  repo: string,
  data: Buffer,
  creds?: RegistryUser,
): Promise<string> {
  const digest = sha256(data);
  const head = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, {
    method: 'HEAD',
    headers: authHeader(creds),
  });
  if (head.status === 200) return digest;
  const start = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
    headers: authHeader(creds),
  });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, registry.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    headers: {
      ...authHeader(creds),
      'content-type': 'application/octet-stream',
      'content-length': String(data.length),
    },
    body: data,
  });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/** PUTs a manifest (or index) under a tag or digest; returns its digest. */
export async function pushManifest(
  registry: RegistryLike,
  repo: string,
  reference: string,
  manifest: object | Buffer,
  mediaType: string,
  creds?: RegistryUser,
): Promise<string> {
  const body = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...authHeader(creds), 'content-type': mediaType },
    body,
  });
  if (res.status !== 201)
    throw new Error(`manifest PUT ${repo}:${reference}: HTTP ${res.status} ${await res.text()}`);
  return sha256(body);
}

export interface RawLayer {
  /** The uncompressed tar. */
  tar: Buffer;
  /** gzip it (default true). */
  gzip?: boolean;
  /** Override the media type (e.g. a zstd type to test refusal). */
  mediaType?: string;
  /** Override the diffID written into the config (to test diffID verification). */
  diffID?: string;
}

export interface RawImage extends BuiltImage {
  manifest: {
    config: { digest: string; size: number };
    layers: { digest: string; size: number; mediaType: string }[];
  };
  configDigest: string;
  diffIDs: string[];
}

/**
 * Pushes a hand-made image: layer blobs, a config listing their diffIDs and a manifest (OCI or
 * Docker v2s2), through the registry API — for malicious and edge-case layers umoci cannot make.
 */
export async function pushRawImage(
  registry: RegistryLike,
  repo: string,
  tag: string,
  opts: {
    layers: RawLayer[];
    format?: 'oci' | 'v2s2';
    architecture?: string;
    cmd?: string[];
    creds?: RegistryUser;
  },
): Promise<RawImage> {
  const oci = (opts.format ?? 'oci') === 'oci';
  const layers: { digest: string; size: number; mediaType: string }[] = [];
  const diffIDs: string[] = [];
  for (const l of opts.layers) {
    const gz = l.gzip ?? true;
    const blob = gz ? gzipSync(l.tar) : l.tar;
    const digest = await pushBlob(registry, repo, blob, opts.creds);
    const mediaType =
      l.mediaType ??
      (oci
        ? gz
          ? 'application/vnd.oci.image.layer.v1.tar+gzip'
          : 'application/vnd.oci.image.layer.v1.tar'
        : 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    layers.push({ digest, size: blob.length, mediaType });
    diffIDs.push(l.diffID ?? sha256(l.tar));
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? 'amd64',
      os: 'linux',
      config: { Cmd: opts.cmd ?? ['sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIDs },
    }),
  );
  const configDigest = await pushBlob(registry, repo, config, opts.creds);
  const manifest = {
    schemaVersion: 2,
    mediaType: oci
      ? 'application/vnd.oci.image.manifest.v1+json'
      : 'application/vnd.docker.distribution.manifest.v2+json',
    config: {
      mediaType: oci
        ? 'application/vnd.oci.image.config.v1+json'
        : 'application/vnd.docker.container.image.v1+json',
      digest: configDigest,
      size: config.length,
    },
    layers,
  };
  const digest = await pushManifest(registry, repo, tag, manifest, manifest.mediaType, opts.creds);
  return { ref: `${registry.host}/${repo}:${tag}`, digest, manifest, configDigest, diffIDs };
}
