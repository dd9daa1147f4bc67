import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestMismatchError, NotFoundError, SizeMismatchError } from './errors';

export interface ContentInfo {
  digest: string;
  size: number;
  /** When the blob was committed. */
  createdAt: Date;
}

export interface ExpectedContent {
  digest: string;
  size?: number;
}

const SHA256 = /^sha256:([a-f0-9]{64})$/;

export function hexOf(digest: string): string {
  const m = SHA256.exec(digest);
  if (!m) throw new Error(`invalid digest "${digest}": only sha256:<64 hex> is supported`);
  return m[1];
}

/**
 * A writable that hashes and counts what it is given into an ingest file, and on `commit()` moves
 * it to its content-addressed place — only if size and sha256 match the expected descriptor. A
 * size overrun fails at once (a registry cannot make us store more than announced). Anything
 * unexpected deletes the ingest file: content is invisible until committed.
 */
export class ContentWriter extends Writable {
  private readonly hash: Hash = createHash('sha256');
  private written = 0;
  private file: WriteStream;
  private done = false;

  constructor(
    private readonly store: ContentStore,
    readonly expected: ExpectedContent,
    private readonly ingestPath: string,
  ) {
    super();
    this.file = createWriteStream(ingestPath, { flags: 'wx', mode: 0o600 });
    this.file.on('error', (e) => this.destroy(e));
  }

  get bytesWritten(): number {
    return this.written;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.written += chunk.length;
    if (this.expected.size !== undefined && this.written > this.expected.size) {
      cb(new SizeMismatchError(this.expected.size, this.written, `blob ${this.expected.digest}`));
      return;
    }
    this.hash.update(chunk);
    if (this.file.write(chunk)) cb();
    else this.file.once('drain', () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.file.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // After a clean finish the ingest file waits for commit() or abort(); on error it goes at once.
    if (!this.done && (err || !this.writableFinished)) {
      this.file.destroy();
      void fs.rm(this.ingestPath, { force: true }).finally(() => cb(err));
    } else cb(err);
  }

  /** Verifies size and digest of everything written (the stream must have finished) and publishes the blob. */
  /** Checks size and digest of everything written (the stream must have finished) without publishing. */
  verify(): string {
    if (!this.writableFinished) throw new Error('ContentWriter: verify/commit before the stream finished');
    const digest = `sha256:${this.hash.copy().digest('hex')}`;
    if (this.expected.size !== undefined && this.written !== this.expected.size)
      throw new SizeMismatchError(this.expected.size, this.written, `blob ${this.expected.digest}`);
    if (digest !== this.expected.digest) throw new DigestMismatchError(this.expected.digest, digest, 'blob');
    return digest;
  }

  async commit(): Promise<ContentInfo> {
    try {
      const digest = this.verify();
      const fh = await fs.open(this.ingestPath, 'r');
      await fh.sync().finally(() => fh.close());
      await fs.rename(this.ingestPath, this.store.blobPath(digest));
      this.done = true;
      return { digest, size: this.written, createdAt: new Date() };
    } finally {
      if (!this.done) await fs.rm(this.ingestPath, { force: true });
    }
  }

  /** Drops what was written. */
  async abort(): Promise<void> {
    this.destroy();
    await fs.rm(this.ingestPath, { force: true });
  }
}

/** Content-addressed blobs under `<root>/blobs/sha256/<hex>`; in-progress writes under `<root>/ingest`. */
export class ContentStore {
  private readonly blobDir: string;
  private readonly ingestDir: string;
  private ready?: Promise<void>;

  constructor(readonly root: string) {
    this.blobDir = path.join(root, 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'ingest');
  }

  /** Creates the directories and removes ingest files a crash left behind. */
  init(): Promise<void> {
    this.ready ??= (async () => {
      await fs.mkdir(this.blobDir, { recursive: true });
      await fs.rm(this.ingestDir, { recursive: true, force: true });
      await fs.mkdir(this.ingestDir, { recursive: true });
    })();
    return this.ready;
  }

  blobPath(digest: string): string {
    return path.join(this.blobDir, hexOf(digest));
  }

  async has(digest: string): Promise<boolean> {
    return (await this.info(digest).catch(() => undefined)) !== undefined;
  }

  async info(digest: string): Promise<ContentInfo> {
    try {
      const st = await fs.stat(this.blobPath(digest));
      return { digest, size: st.size, createdAt: st.mtime };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new NotFoundError(`blob ${digest} is not in the content store`);
      throw e;
    }
  }

  async reader(digest: string): Promise<Readable> {
    await this.info(digest);
    return createReadStream(this.blobPath(digest));
  }

  async readAll(digest: string): Promise<Buffer> {
    await this.info(digest);
    return fs.readFile(this.blobPath(digest));
  }

  /** A writer for one blob; see ContentWriter. Call `commit()` after the stream finished. */
  async writer(expected: ExpectedContent): Promise<ContentWriter> {
    hexOf(expected.digest);
    await this.init();
    const ingest = path.join(
      this.ingestDir,
      `${hexOf(expected.digest).slice(0, 16)}-${randomBytes(6).toString('hex')}`,
    );
    return new ContentWriter(this, expected, ingest);
  }

  /** Writes a whole stream (or buffer) and commits it; on any mismatch nothing is kept. */
  async put(expected: ExpectedContent, src: Readable | Buffer): Promise<ContentInfo> {
    if (await this.has(expected.digest)) return this.info(expected.digest);
    const w = await this.writer(expected);
    try {
      await pipeline(Buffer.isBuffer(src) ? Readable.from([src]) : src, w);
      return await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  async delete(digest: string): Promise<boolean> {
    try {
      await fs.unlink(this.blobPath(digest));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async list(): Promise<ContentInfo[]> {
    await this.init();
    const out: ContentInfo[] = [];
    for (const name of await fs.readdir(this.blobDir)) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const st = await fs.stat(path.join(this.blobDir, name)).catch(() => undefined);
      if (st) out.push({ digest: `sha256:${name}`, size: st.size, createdAt: st.mtime });
    }
    return out;
  }
}
