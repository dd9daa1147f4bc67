import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { MountDescription, SnapshotInfo, Snapshotter } from './types';

/** The kernel copies mount options into one page; the string plus its NUL must fit. */
export const MOUNT_OPTIONS_LIMIT = 4095;
/** overlayfs refuses more lower layers than this. */
export const OVERLAY_MAX_LOWER = 500;

export class SnapshotError extends Error {
  constructor(
    message: string,
    readonly code: 'NotFound' | 'AlreadyExists' | 'Invalid',
  ) {
    super(message);
    this.name = 'SnapshotError';
  }
}

function shortHash(s: string, n: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

/**
 * Writable overlay snapshots over read-only layer directories.
 *
 * Layout under `root`:
 *   l/<10 hex>        short symlink to each layer directory in use (podman's trick): every lowerdir in
 *                     the mount options is `l/xxxxxxxxxx`, 13 bytes with its separator, so ~300 layers
 *                     fit in the one-page option string whatever the real layer paths look like
 *   s/<12 hex>/upper  private writable layer, s/<id>/work overlay's work dir, s/<id>/meta.json
 *   empty/            the lower layer of an image with no layers (overlay needs at least one)
 * Option paths are relative to `root`; the returned description's `cwd` is `root`.
 * Operations are serialised, so a remove never deletes a link a concurrent prepare relies on.
 */
export class OverlaySnapshotter implements Snapshotter {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly root: string) {
    if (!path.isAbsolute(root))
      throw new SnapshotError(`snapshot root must be absolute, got "${root}"`, 'Invalid');
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  idFor(key: string): string {
    return shortHash(`snapshot:${key}`, 12);
  }

  private dir(id: string): string {
    return path.join(this.root, 's', id);
  }

  prepare(key: string, parentLayerDirs: string[]): Promise<MountDescription> {
    return this.serial(async () => {
      if (!key) throw new SnapshotError('snapshot key must not be empty', 'Invalid');
      if (parentLayerDirs.length > OVERLAY_MAX_LOWER)
        throw new SnapshotError(
          `parentLayerDirs: ${parentLayerDirs.length} layers, overlayfs allows at most ${OVERLAY_MAX_LOWER}`,
          'Invalid',
        );
      for (const [i, d] of parentLayerDirs.entries()) {
        if (!path.isAbsolute(d))
          throw new SnapshotError(`parentLayerDirs[${i}]: must be an absolute path, got "${d}"`, 'Invalid');
        const st = await fs.stat(d).catch(() => undefined);
        if (!st?.isDirectory())
          throw new SnapshotError(`parentLayerDirs[${i}]: "${d}" is not a directory`, 'Invalid');
      }
      const existing = await this.readMeta(key);
      if (existing) {
        if (JSON.stringify(existing.parents) === JSON.stringify(parentLayerDirs))
          return this.describe(existing);
        throw new SnapshotError(`snapshot "${key}" already exists with other parents`, 'AlreadyExists');
      }
      const id = this.idFor(key);
      const dir = this.dir(id);
      await fs.mkdir(path.join(this.root, 'l'), { recursive: true });
      await fs.mkdir(path.join(this.root, 'empty'), { recursive: true });
      for (const d of parentLayerDirs) await this.ensureLink(d);
      await fs.mkdir(path.join(dir, 'upper'), { recursive: true });
      await fs.mkdir(path.join(dir, 'work'), { recursive: true });
      const info: SnapshotInfo = {
        key,
        id,
        parents: [...parentLayerDirs],
        createdAt: new Date().toISOString(),
        upperDir: path.join(dir, 'upper'),
        workDir: path.join(dir, 'work'),
      };
      const desc = this.describe(info);
      const tmp = path.join(dir, 'meta.json.tmp');
      await fs.writeFile(tmp, JSON.stringify(info));
      await fs.rename(tmp, path.join(dir, 'meta.json'));
      return desc;
    });
  }

  async mounts(key: string): Promise<MountDescription> {
    const info = await this.readMeta(key);
    if (!info) throw new SnapshotError(`snapshot "${key}" not found`, 'NotFound');
    return this.describe(info);
  }

  async info(key: string): Promise<SnapshotInfo | undefined> {
    return this.readMeta(key);
  }

  /** Deletes the snapshot's directories (the caller unmounts first). Missing snapshots are fine. */
  remove(key: string): Promise<void> {
    return this.serial(async () => {
      const dir = this.dir(this.idFor(key));
      await fs.rm(dir, { recursive: true, force: true });
      await this.pruneLinks();
    });
  }

  async list(): Promise<SnapshotInfo[]> {
    let ids: string[];
    try {
      ids = await fs.readdir(path.join(this.root, 's'));
    } catch {
      return [];
    }
    const out: SnapshotInfo[] = [];
    for (const id of ids) {
      const info = await this.readMetaFile(path.join(this.dir(id), 'meta.json'));
      if (info) out.push(info);
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Name of the short link for a layer directory, relative to root. */
  linkFor(layerDir: string): string {
    return path.join('l', shortHash(`layer:${layerDir}`, 10));
  }

  private async ensureLink(layerDir: string): Promise<void> {
    const link = path.join(this.root, this.linkFor(layerDir));
    const cur = await fs.readlink(link).catch(() => undefined);
    if (cur === layerDir) return;
    if (cur !== undefined) await fs.rm(link, { force: true });
    await fs.symlink(layerDir, link);
  }

  private async pruneLinks(): Promise<void> {
    const used = new Set<string>();
    for (const s of await this.list()) for (const p of s.parents) used.add(path.basename(this.linkFor(p)));
    let links: string[];
    try {
      links = await fs.readdir(path.join(this.root, 'l'));
    } catch {
      return;
    }
    for (const l of links) if (!used.has(l)) await fs.rm(path.join(this.root, 'l', l), { force: true });
  }

  private describe(info: SnapshotInfo): MountDescription {
    return describeOverlay(
      this.root,
      info.id,
      info.parents.map((d) => this.linkFor(d)),
    );
  }

  private async readMeta(key: string): Promise<SnapshotInfo | undefined> {
    const info = await this.readMetaFile(path.join(this.dir(this.idFor(key)), 'meta.json'));
    return info && info.key === key ? info : undefined;
  }

  private async readMetaFile(file: string): Promise<SnapshotInfo | undefined> {
    try {
      return JSON.parse(await fs.readFile(file, 'utf8')) as SnapshotInfo;
    } catch {
      return undefined;
    }
  }
}

/**
 * The overlay mount for snapshot `id` over `lowerLinks` (relative to `root`, lowest first).
 * overlayfs lists the topmost lower layer first, so the order is reversed. Throws when the option
 * string would not fit in one page (the kernel would cut it silently).
 */
export function describeOverlay(root: string, id: string, lowerLinks: string[]): MountDescription {
  const lower = lowerLinks.length ? [...lowerLinks].reverse().join(':') : 'empty';
  const options = [`lowerdir=${lower}`, `upperdir=s/${id}/upper`, `workdir=s/${id}/work`];
  const len = options.join(',').length;
  if (len > MOUNT_OPTIONS_LIMIT)
    throw new SnapshotError(
      `overlay options for ${lowerLinks.length} layers take ${len} bytes, more than the ${MOUNT_OPTIONS_LIMIT} a mount allows`,
      'Invalid',
    );
  return { type: 'overlay', source: 'overlay', options, cwd: root };
}
