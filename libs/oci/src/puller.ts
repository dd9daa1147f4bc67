import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ContentStore } from './content-store';
import {
  DigestMismatchError,
  InvalidManifestError,
  OciError,
  RegistryError,
  UnsupportedError,
  isOciError,
} from './errors';
import type { Credentials } from './hosts';
import { ImageStore, type ImageLayer, type ImageRecord } from './image-store';
import { LayerStore, type LayerRecord } from './layer-store';
import { unpackLayer } from './layer-unpack';
import {
  chainIDs,
  layerCompression,
  parseImageConfig,
  parseManifest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type Platform,
} from './manifest';
import { formatPlatform, hostPlatform, parsePlatform, selectManifest } from './platform';
import { formatReference, parseReference, type ImageReference } from './reference';
import { RegistryClient } from './registry-client';

export interface PullProgress {
  reference: string;
  /** resolved: manifest and config known; layer-*: per layer (digest set); done: record saved. */
  phase: 'resolved' | 'layer-exists' | 'layer-downloading' | 'layer-done' | 'done';
  digest?: string;
  /** Bytes of the blob received so far (layer-downloading) and its size. */
  bytes?: number;
  total?: number;
}

export interface PullOptions {
  /** "linux/amd64" or a Platform; default: this host's (os linux, process.arch mapped to OCI names). */
  platform?: Platform | string;
  /** Credentials for this pull (e.g. from the pod's imagePullSecrets); else the configured ones. */
  credentials?: Credentials;
  onProgress?: (p: PullProgress) => void;
}

export interface PullerOptions {
  client?: RegistryClient;
  content: ContentStore;
  layers: LayerStore;
  images: ImageStore;
  /** Layers fetched at once per pull (default 3). */
  concurrency?: number;
  /** Whole-layer attempts when a blob download breaks mid-stream (default 3). */
  layerAttempts?: number;
  log?: (msg: string) => void;
}

const sha256hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Runs one `fn` per key at a time; concurrent callers with the same key share its result. */
class SingleFlight {
  private readonly inflight = new Map<string, Promise<unknown>>();

  do<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) return existing as Promise<T>;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inflight.size;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

/** Compression recognised from a blob's first bytes; undefined when too short to tell. */
export function sniffCompression(head: Buffer): 'gzip' | 'zstd' | 'none' | undefined {
  if (head.length < 4) return undefined;
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** Reads the first chunk of a stream and puts it back, so the stream can then be piped whole. */
function peek(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onReadable = () => {
      const chunk = stream.read() as Buffer | null;
      if (chunk === null) return;
      done();
      stream.unshift(chunk);
      resolve(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.alloc(0));
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

function isRetryableStreamError(e: unknown): boolean {
  if (e instanceof OciError) return e.retryable;
  const code = (e as NodeJS.ErrnoException).code;
  return (
    [
      'ECONNRESET',
      'EPIPE',
      'ETIMEDOUT',
      'ECONNREFUSED',
      'ERR_STREAM_PREMATURE_CLOSE',
      'ECONNABORTED',
    ].includes(code ?? '') || /aborted|socket hang up|no data from/i.test((e as Error).message ?? '')
  );
}

/**
 * Pulls images: manifest (digest verified when pulled by digest; always computed), platform
 * selection from an index, config (verified), then layers — each downloaded once, tee'd while it
 * streams into the content store (size and digest checked) and into gunzip → tar unpack (diffID
 * checked against the config), published atomically. Layers already unpacked are not downloaded
 * again, and concurrent pulls of one image or layer share one download.
 */
export class Puller {
  readonly client: RegistryClient;
  private readonly content: ContentStore;
  private readonly layers: LayerStore;
  private readonly images: ImageStore;
  private readonly concurrency: number;
  private readonly layerAttempts: number;
  private readonly log: (msg: string) => void;
  private readonly flights = new SingleFlight();

  constructor(opts: PullerOptions) {
    this.client = opts.client ?? new RegistryClient();
    this.content = opts.content;
    this.layers = opts.layers;
    this.images = opts.images;
    this.concurrency = opts.concurrency ?? 3;
    this.layerAttempts = opts.layerAttempts ?? 3;
    this.log = opts.log ?? (() => undefined);
  }

  /** Number of downloads / pulls in progress (the service waits for 0 before gc). */
  get busy(): number {
    return this.flights.size;
  }

  pull(reference: string, opts: PullOptions = {}): Promise<ImageRecord> {
    const ref = parseReference(reference);
    const platform =
      typeof opts.platform === 'string' ? parsePlatform(opts.platform) : (opts.platform ?? hostPlatform());
    const key = `pull:${formatReference(ref)}|${formatPlatform(platform)}|${opts.credentials?.username ?? ''}`;
    return this.flights.do(key, () => this.doPull(ref, platform, opts));
  }

  private async doPull(ref: ImageReference, platform: Platform, opts: PullOptions): Promise<ImageRecord> {
    const name = formatReference(ref);
    const req = { credentials: opts.credentials };
    const progress = (p: Omit<PullProgress, 'reference'>) => opts.onProgress?.({ reference: name, ...p });

    const top = await this.client.getManifest(ref, req);
    if (ref.digest && top.digest !== ref.digest)
      throw new DigestMismatchError(ref.digest, top.digest, `manifest of ${name}`);
    let parsed = parseManifest(top.body, top.contentType);
    let manifestDigest = top.digest;
    let manifestBody = top.body;
    let indexDigest: string | undefined;
    if (parsed.kind === 'index') {
      indexDigest = top.digest;
      await this.content.put({ digest: top.digest, size: top.body.length }, top.body);
      const desc = selectManifest(parsed.index, platform);
      const m = await this.client.getManifest(ref, { ...req, reference: desc.digest });
      if (m.digest !== desc.digest)
        throw new DigestMismatchError(desc.digest, m.digest, `manifest of ${name}`);
      parsed = parseManifest(m.body, m.contentType || desc.mediaType);
      if (parsed.kind !== 'manifest')
        throw new InvalidManifestError(
          `${name}: index entry ${desc.digest} is itself an index (nested indexes are not supported)`,
        );
      manifestDigest = m.digest;
      manifestBody = m.body;
    }
    const manifest: ImageManifest = parsed.manifest;
    await this.content.put({ digest: manifestDigest, size: manifestBody.length }, manifestBody);

    const config = await this.fetchConfig(ref, manifest.config, req);
    const diffIDs = config.rootfs.diff_ids;
    if (diffIDs.length !== manifest.layers.length)
      throw new InvalidManifestError(
        `${name}: manifest has ${manifest.layers.length} layers but the config lists ${diffIDs.length} diff_ids`,
      );
    for (const l of manifest.layers) {
      if (layerCompression(l.mediaType) === 'zstd')
        throw new UnsupportedError(
          `${name}: layer ${l.digest} is zstd-compressed (${l.mediaType}); only gzip and uncompressed layers are supported`,
        );
    }
    progress({ phase: 'resolved', digest: manifestDigest });

    const layerRecs = await mapLimit(manifest.layers, this.concurrency, async (desc, i) => {
      const have = await this.layers.get(diffIDs[i]);
      if (have) {
        progress({ phase: 'layer-exists', digest: desc.digest });
        return have;
      }
      const rec = await this.flights.do(`layer:${diffIDs[i]}`, () =>
        this.fetchLayer(ref, desc, diffIDs[i], req, progress),
      );
      progress({ phase: 'layer-done', digest: desc.digest, bytes: desc.size, total: desc.size });
      return rec;
    });

    const layers: ImageLayer[] = manifest.layers.map((d, i) => ({
      digest: d.digest,
      diffID: diffIDs[i],
      size: d.size,
      mediaType: d.mediaType,
      id: layerRecs[i].id,
      dir: layerRecs[i].dir,
    }));
    const rec: ImageRecord = {
      reference: name,
      digest: manifestDigest,
      ...(indexDigest ? { indexDigest } : {}),
      repoDigest: `${ref.domain}/${ref.path}@${indexDigest ?? manifestDigest}`,
      mediaType: parsed.mediaType,
      configDigest: manifest.config.digest,
      config,
      platform: {
        os: config.os ?? platform.os,
        architecture: config.architecture ?? platform.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      },
      layers,
      chainIDs: chainIDs(diffIDs, sha256hex),
      size: manifestBody.length + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
      pulledAt: new Date().toISOString(),
    };
    await this.images.put(rec);
    progress({ phase: 'done', digest: manifestDigest });
    return rec;
  }

  private async fetchConfig(
    ref: ImageReference,
    desc: Descriptor,
    req: { credentials?: Credentials },
  ): Promise<ImageConfig> {
    if (!(await this.content.has(desc.digest))) {
      await this.flights.do(`blob:${desc.digest}`, () =>
        this.retrying(`config ${desc.digest} of ${formatReference(ref)}`, async () => {
          if (await this.content.has(desc.digest)) return;
          const blob = await this.client.getBlob(ref, desc.digest, req);
          await this.content
            .put({ digest: desc.digest, size: desc.size }, blob.stream)
            .catch((e: unknown) => {
              blob.stream.destroy();
              throw isOciError(e, 'DigestMismatch')
                ? new DigestMismatchError(
                    desc.digest,
                    (e as DigestMismatchError).actual,
                    `config of ${formatReference(ref)}`,
                  )
                : e;
            });
        }),
      );
    }
    return parseImageConfig(await this.content.readAll(desc.digest));
  }

  private async fetchLayer(
    ref: ImageReference,
    desc: Descriptor,
    diffID: string,
    req: { credentials?: Credentials },
    progress: (p: Omit<PullProgress, 'reference'>) => void,
  ): Promise<LayerRecord> {
    return this.retrying(`layer ${desc.digest} of ${formatReference(ref)}`, () =>
      this.layers.create(diffID, desc, (tmp) =>
        this.downloadAndUnpack(ref, desc, diffID, tmp, req, progress),
      ),
    );
  }

  /** Runs a whole blob download again when the connection broke mid-stream (bounded; backoff doubles). */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isRetryableStreamError(e)) throw e;
        if (attempt >= this.layerAttempts) {
          if (e instanceof OciError) throw e;
          throw new RegistryError(
            `${what}: download failed ${attempt} times: ${(e as Error).message}`,
            undefined,
            true,
          );
        }
        this.log(`${what}: ${(e as Error).message}; retrying (${attempt})`);
        await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
      }
    }
  }

  private async downloadAndUnpack(
    ref: ImageReference,
    desc: Descriptor,
    diffID: string,
    dir: string,
    req: { credentials?: Credentials },
    progress: (p: Omit<PullProgress, 'reference'>) => void,
  ): Promise<{ unpackedSize: number }> {
    const name = formatReference(ref);
    const compression = layerCompression(desc.mediaType);
    const stored = await this.content.has(desc.digest);
    const source: Readable = stored
      ? await this.content.reader(desc.digest)
      : (await this.client.getBlob(ref, desc.digest, req)).stream;
    const writer = stored ? undefined : await this.content.writer({ digest: desc.digest, size: desc.size });
    // The bytes decide, not only the media type (registries do mislabel): gzip magic 1f 8b, zstd 28 b5 2f fd.
    const head = await peek(source).catch((e: unknown) => {
      source.destroy();
      throw e;
    });
    const sniffed = sniffCompression(head) ?? compression;
    if (sniffed === 'zstd') {
      source.destroy();
      throw new UnsupportedError(
        `${name}: layer ${desc.digest} is zstd-compressed; only gzip and uncompressed layers are supported`,
      );
    }
    const decompress: Transform = sniffed === 'gzip' ? zlib.createGunzip() : new PassThrough();
    const diffHash = createHash('sha256');
    let unpackedSize = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        diffHash.update(chunk);
        unpackedSize += chunk.length;
        cb(null, chunk);
      },
    });
    let received = 0;
    let lastReport = 0;
    source.on('data', (c: Buffer) => {
      received += c.length;
      if (received - lastReport >= 1 << 20 || received === desc.size) {
        lastReport = received;
        progress({ phase: 'layer-downloading', digest: desc.digest, bytes: received, total: desc.size });
      }
    });
    let sourceErr: unknown;
    let writerErr: unknown;
    source.on('error', (e) => {
      sourceErr ??= e;
      writer?.destroy(e);
      decompress.destroy(e);
    });
    writer?.on('error', (e) => {
      writerErr ??= e;
      source.destroy();
      decompress.destroy(e);
    });
    decompress.on('error', (e) => hasher.destroy(e));
    // Tee: the compressed bytes go to the content store and to the decompressor at the same time.
    if (writer) source.pipe(writer);
    source.pipe(decompress).pipe(hasher);

    let unpackErr: unknown;
    try {
      await unpackLayer(hasher, dir, { log: this.log });
    } catch (e) {
      unpackErr = e;
      if (writer && sourceErr === undefined && writerErr === undefined) {
        // Keep downloading into the (uncommitted) writer: a tampered blob must be reported as such.
        source.unpipe(decompress);
        decompress.destroy();
      } else source.destroy();
    }
    if (writer) {
      try {
        await finished(writer);
      } catch (e) {
        throw sourceErr ?? writerErr ?? e;
      }
      try {
        writer.verify();
      } catch (e) {
        await writer.abort();
        if (isOciError(e, 'DigestMismatch'))
          throw new DigestMismatchError(
            desc.digest,
            (e as DigestMismatchError).actual,
            `layer blob of ${name}`,
          );
        throw e;
      }
    }
    if (unpackErr !== undefined) {
      await writer?.abort();
      if (sourceErr !== undefined) throw sourceErr;
      if (unpackErr instanceof OciError || isRetryableStreamError(unpackErr)) throw unpackErr;
      throw new OciError(
        'InvalidLayer',
        `layer ${desc.digest} of ${name} could not be unpacked: ${(unpackErr as Error).message}`,
      );
    }
    const actualDiff = `sha256:${diffHash.digest('hex')}`;
    if (actualDiff !== diffID) {
      await writer?.abort();
      throw new DigestMismatchError(
        diffID,
        actualDiff,
        `uncompressed layer (diffID) ${desc.digest} of ${name}`,
      );
    }
    await writer?.commit();
    return { unpackedSize };
  }
}
