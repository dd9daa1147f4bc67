import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ContentStore } from './content-store';
import type { LayerStore } from './layer-store';
import { writeJsonAtomic } from './layer-store';
import type { ImageConfig, Platform } from './manifest';
import { formatReference, parseReference } from './reference';

export interface ImageLayer {
  /** Blob digest (compressed). */
  digest: string;
  diffID: string;
  /** Blob size. */
  size: number;
  mediaType: string;
  /** Short layer id (directory name under the layer store's `l/`). */
  id: string;
  /** Absolute path of the unpacked layer directory. */
  dir: string;
}

/** A pulled image as the agent uses it. Layers are lowest first. */
export interface ImageRecord {
  /** Normalised reference it was pulled by, e.g. docker.io/library/busybox:latest. */
  reference: string;
  /** Digest of the image manifest (the platform-specific one, not the index). */
  digest: string;
  /** Digest of the index / manifest list the tag pointed at, when there was one. */
  indexDigest?: string;
  /** `repo@digest` form of the reference. */
  repoDigest: string;
  mediaType: string;
  configDigest: string;
  config: ImageConfig;
  platform: Platform;
  layers: ImageLayer[];
  chainIDs: string[];
  /** Sum of the blob sizes (manifest, config and layers). */
  size: number;
  pulledAt: string;
}

export interface GcOptions {
  /** GC runs only when the disk used by blobs and layers is above this (default 0: always). */
  thresholdBytes?: number;
  /** Stop removing images once usage is at or below this (default: thresholdBytes). */
  targetBytes?: number;
}

export interface GcResult {
  usageBefore: number;
  usageAfter: number;
  removedImages: string[];
  removedLayers: string[];
  removedBlobs: string[];
}

interface Db {
  images: Record<string, ImageRecord>;
}

/**
 * Records of pulled images (one JSON file, rewritten atomically), by normalised reference; looked
 * up by reference or digest. Layer refcounts are derived from the records; `gc` removes images no
 * container uses and their unreferenced layers and blobs when disk use passes a threshold.
 */
export class ImageStore {
  private readonly file: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly root: string,
    private readonly content: ContentStore,
    private readonly layers: LayerStore,
  ) {
    this.file = path.join(root, 'images.json');
  }

  private async load(): Promise<Db> {
    try {
      return JSON.parse(await fs.readFile(this.file, 'utf8')) as Db;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { images: {} };
      throw new Error(`image store ${this.file} is unreadable: ${(e as Error).message}`);
    }
  }

  /** Serialises read-modify-write of the records file. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async save(db: Db): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    await writeJsonAtomic(this.file, db);
  }

  async put(rec: ImageRecord): Promise<void> {
    await this.locked(async () => {
      const db = await this.load();
      db.images[rec.reference] = rec;
      await this.save(db);
    });
  }

  async list(): Promise<ImageRecord[]> {
    return Object.values((await this.load()).images).sort((a, b) => a.reference.localeCompare(b.reference));
  }

  /** By reference (normalised as Docker does: `busybox` finds docker.io/library/busybox:latest), by digest, or by repo@digest. */
  async get(refOrDigest: string): Promise<ImageRecord | undefined> {
    const all = await this.list();
    if (/^sha256:[a-f0-9]{64}$/.test(refOrDigest))
      return all.find((r) => r.digest === refOrDigest || r.indexDigest === refOrDigest);
    let key: string;
    try {
      key = formatReference(parseReference(refOrDigest));
    } catch {
      return undefined;
    }
    const direct = all.find((r) => r.reference === key || r.repoDigest === key);
    if (direct) return direct;
    const ref = parseReference(refOrDigest);
    if (ref.digest) {
      const repo = `${ref.domain}/${ref.path}`;
      return all.find((r) =>
        r.reference.startsWith(`${repo}:`) || r.reference.startsWith(`${repo}@`)
          ? r.digest === ref.digest || r.indexDigest === ref.digest
          : false,
      );
    }
    return undefined;
  }

  /** Forgets an image record (layers and blobs stay until gc). Returns false when there was none. */
  async remove(refOrDigest: string): Promise<boolean> {
    const rec = await this.get(refOrDigest);
    if (!rec) return false;
    return this.locked(async () => {
      const db = await this.load();
      const had = rec.reference in db.images;
      delete db.images[rec.reference];
      await this.save(db);
      return had;
    });
  }

  /** How many image records use each layer (by diffID). */
  async layerRefCounts(): Promise<Map<string, number>> {
    const m = new Map<string, number>();
    for (const r of await this.list())
      for (const l of new Set(r.layers.map((x) => x.diffID))) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  }

  /** Disk used by blobs plus unpacked layers (uncompressed tar bytes as the estimate). */
  async usage(): Promise<number> {
    const blobs = await this.content.list();
    const layers = await this.layers.list();
    return blobs.reduce((n, b) => n + b.size, 0) + layers.reduce((n, l) => n + l.unpackedSize, 0);
  }

  /**
   * When usage is above `thresholdBytes`: removes image records not in `inUse` (matched against
   * digest, reference and repoDigest), oldest pull first, until usage reaches `targetBytes`; then
   * deletes every layer and blob no remaining record references. Callers must not pull meanwhile
   * (ImageService serialises this).
   */
  async gc(inUse: Set<string>, opts: GcOptions = {}): Promise<GcResult> {
    const threshold = opts.thresholdBytes ?? 0;
    const target = opts.targetBytes ?? threshold;
    const usageBefore = await this.usage();
    const result: GcResult = {
      usageBefore,
      usageAfter: usageBefore,
      removedImages: [],
      removedLayers: [],
      removedBlobs: [],
    };
    if (usageBefore <= threshold) return result;
    const candidates = (await this.list())
      .filter((r) => !inUse.has(r.digest) && !inUse.has(r.reference) && !inUse.has(r.repoDigest))
      .sort((a, b) => a.pulledAt.localeCompare(b.pulledAt));
    let usage = usageBefore;
    for (const rec of candidates) {
      if (usage <= target) break;
      await this.remove(rec.reference);
      result.removedImages.push(rec.reference);
      await this.sweep(result);
      usage = await this.usage();
    }
    await this.sweep(result);
    result.usageAfter = await this.usage();
    return result;
  }

  /** Deletes layers and blobs that no record references. */
  private async sweep(result: GcResult): Promise<void> {
    const keepLayers = new Set<string>();
    const keepBlobs = new Set<string>();
    for (const r of await this.list()) {
      keepBlobs.add(r.digest).add(r.configDigest);
      if (r.indexDigest) keepBlobs.add(r.indexDigest);
      for (const l of r.layers) {
        keepLayers.add(l.diffID);
        keepBlobs.add(l.digest);
      }
    }
    for (const l of await this.layers.list())
      if (!keepLayers.has(l.diffID) && (await this.layers.remove(l.diffID)))
        result.removedLayers.push(l.diffID);
    for (const b of await this.content.list())
      if (!keepBlobs.has(b.digest) && (await this.content.delete(b.digest)))
        result.removedBlobs.push(b.digest);
  }
}
