import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hexOf } from './content-store';

/** One unpacked layer: the directory an overlay mount uses as a lower dir. */
export interface LayerRecord {
  /** sha256 of the uncompressed tar (config.rootfs.diff_ids[i]). */
  diffID: string;
  /** Digest of the blob it came from (compressed). */
  digest: string;
  /** Size of that blob. */
  size: number;
  /** Bytes of uncompressed tar (an estimate of the disk the directory uses). */
  unpackedSize: number;
  /** Short directory name under `<root>/l` (overlayfs mount options must fit one page). */
  id: string;
  /** Absolute path of the layer directory. */
  dir: string;
  createdAt: string;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  const fh = await fs.open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(JSON.stringify(value, null, 2));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}
export { writeJsonAtomic };

/**
 * Unpacked layers, each once, keyed by diffID: directories `<root>/l/<id>` with short ids (12 hex
 * of the diffID, longer only on a collision) and metadata `<root>/layers/<diffID hex>.json`.
 * A layer appears atomically: it is unpacked into `<root>/l/.tmp-*` and renamed when complete,
 * then its metadata is written; a directory without metadata (a crash in between) is not a layer
 * and is removed on the next attempt. Overlay mounts should use paths relative to `layersDir`.
 */
export class LayerStore {
  readonly layersDir: string;
  private readonly metaDir: string;
  private ready?: Promise<void>;

  constructor(readonly root: string) {
    this.layersDir = path.join(root, 'l');
    this.metaDir = path.join(root, 'layers');
  }

  /** Creates the directories and removes half-unpacked temp dirs a crash left behind. */
  init(): Promise<void> {
    this.ready ??= (async () => {
      await fs.mkdir(this.layersDir, { recursive: true });
      await fs.mkdir(this.metaDir, { recursive: true });
      for (const n of await fs.readdir(this.layersDir))
        if (n.startsWith('.tmp-'))
          await fs.rm(path.join(this.layersDir, n), { recursive: true, force: true });
      for (const n of await fs.readdir(this.metaDir))
        if (n.includes('.tmp-')) await fs.rm(path.join(this.metaDir, n), { force: true });
    })();
    return this.ready;
  }

  private metaPath(diffID: string): string {
    return path.join(this.metaDir, `${hexOf(diffID)}.json`);
  }

  async get(diffID: string): Promise<LayerRecord | undefined> {
    await this.init();
    let rec: LayerRecord;
    try {
      rec = JSON.parse(await fs.readFile(this.metaPath(diffID), 'utf8')) as LayerRecord;
    } catch {
      return undefined;
    }
    const st = await fs.lstat(rec.dir).catch(() => undefined);
    return st?.isDirectory() ? rec : undefined;
  }

  async list(): Promise<LayerRecord[]> {
    await this.init();
    const out: LayerRecord[] = [];
    for (const n of await fs.readdir(this.metaDir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(n)) continue;
      const rec = await this.get(`sha256:${n.slice(0, 64)}`);
      if (rec) out.push(rec);
    }
    return out;
  }

  private async allocateId(diffID: string): Promise<string> {
    const hex = hexOf(diffID);
    const taken = new Map<string, string>();
    for (const r of await this.list()) taken.set(r.id, r.diffID);
    for (let len = 12; len <= 64; len += 4) {
      const id = hex.slice(0, len);
      const owner = taken.get(id);
      if (owner === diffID) return id;
      if (owner) continue;
      // A directory nobody's metadata points at is a leftover of a crash: not a layer.
      await fs.rm(path.join(this.layersDir, id), { recursive: true, force: true });
      return id;
    }
    throw new Error(`cannot allocate a layer directory for ${diffID}`);
  }

  /**
   * Creates the layer by running `fill(tmpDir)` (which unpacks into it) and publishing the result;
   * on any error the temp dir is deleted and nothing is visible.
   */
  async create(
    diffID: string,
    blob: { digest: string; size: number },
    fill: (tmpDir: string) => Promise<{ unpackedSize: number }>,
  ): Promise<LayerRecord> {
    await this.init();
    const existing = await this.get(diffID);
    if (existing) return existing;
    const tmp = path.join(this.layersDir, `.tmp-${randomBytes(6).toString('hex')}`);
    await fs.mkdir(tmp, { mode: 0o755 });
    try {
      const { unpackedSize } = await fill(tmp);
      const id = await this.allocateId(diffID);
      const dir = path.join(this.layersDir, id);
      await fs.rename(tmp, dir);
      const rec: LayerRecord = {
        diffID,
        digest: blob.digest,
        size: blob.size,
        unpackedSize,
        id,
        dir,
        createdAt: new Date().toISOString(),
      };
      await writeJsonAtomic(this.metaPath(diffID), rec);
      return rec;
    } catch (e) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Removes a layer: metadata first (so it stops existing at once), then the directory. */
  async remove(diffID: string): Promise<boolean> {
    const rec = await this.get(diffID);
    await fs.rm(this.metaPath(diffID), { force: true });
    if (!rec) return false;
    // Rename away first so a half-deleted tree is never mistaken for the layer.
    const trash = path.join(this.layersDir, `.tmp-rm-${randomBytes(6).toString('hex')}`);
    await fs.rename(rec.dir, trash).catch(() => undefined);
    await fs.rm(trash, { recursive: true, force: true });
    return true;
  }
}
