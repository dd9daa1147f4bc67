import fs, { constants } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { UnsafeLayerError } from './errors';
import { FsHelper } from './fs-helper';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

/**
 * The path of a tar entry relative to the layer root, as a list of components. Leading "/" and
 * "./" are dropped (absolute names are made relative); "." components are dropped; ".." removes
 * the previous component but must never climb above the root: that is an UnsafeLayerError.
 * Returns [] for the root itself.
 */
export function normalizeEntryPath(name: string): string[] {
  if (name.includes('\0'))
    throw new UnsafeLayerError(`tar entry name contains a NUL byte: ${JSON.stringify(name)}`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!out.length) throw new UnsafeLayerError(`tar entry "${name}" escapes the layer directory`);
      out.pop();
    } else out.push(c);
  }
  return out;
}

export type EntryAction =
  | { kind: 'root' }
  | { kind: 'normal'; path: string[] }
  /** `.wh.NAME`: NAME is deleted in this layer → a 0/0 character device NAME for overlayfs. */
  | { kind: 'whiteout'; path: string[] }
  /** `.wh..wh..opq`: the directory hides everything below it → xattr trusted.overlay.opaque=y. */
  | { kind: 'opaque'; dir: string[] }
  /** Other `.wh..wh.*` names (aufs bookkeeping such as .wh..wh.plnk): ignored. */
  | { kind: 'ignore' };

/** What an entry name means for an overlayfs layer directory (OCI whiteouts → overlayfs whiteouts). */
export function classifyEntry(name: string): EntryAction {
  const p = normalizeEntryPath(name);
  if (!p.length) return { kind: 'root' };
  const base = p[p.length - 1];
  const parent = p.slice(0, -1);
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque', dir: parent };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'ignore' };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const target = base.slice(WHITEOUT_PREFIX.length);
    if (!target || target === '.' || target === '..')
      throw new UnsafeLayerError(`tar entry "${name}" is an invalid whiteout`);
    return { kind: 'whiteout', path: [...parent, target] };
  }
  return { kind: 'normal', path: p };
}

export interface UnpackOptions {
  /** Apply uid/gid from the tar (default: when running as root). */
  preserveOwnership?: boolean;
  log?: (msg: string) => void;
}

export interface UnpackStats {
  entries: number;
  whiteouts: number;
  xattrs: number;
}

interface XattrItem {
  path: string;
  name: string;
  /** base64 */
  value: string;
  required: boolean;
}

interface DirMeta {
  path: string;
  mode: number;
  mtime: Date;
}

/**
 * Unpacks one layer tar stream into `dest` (an empty directory) for use as an overlayfs lower dir:
 * regular files, dirs, symlinks, hardlinks (only to files inside this layer), devices and fifos
 * (with mknod from coreutils: Node has no mknod), modes including setuid/setgid/sticky, ownership,
 * mtimes and PAX `SCHILY.xattr.*`; whiteouts become 0/0 character devices and opaque markers the
 * `trusted.overlay.opaque=y` xattr.
 *
 * Safety: no entry may land outside `dest` — names climbing with "..", parents that are symlinks
 * (never followed: a parent must be a directory this unpack made) and hardlinks to targets outside the layer
 * are an UnsafeLayerError. The caller unpacks into a temp dir and discards it on any error.
 */
export async function unpackLayer(
  src: Readable,
  dest: string,
  opts: UnpackOptions = {},
): Promise<UnpackStats> {
  const log = opts.log ?? (() => undefined);
  const chown = opts.preserveOwnership ?? process.getuid?.() === 0;
  const root = path.resolve(dest);
  const stats: UnpackStats = { entries: 0, whiteouts: 0, xattrs: 0 };
  const dirs = new Map<string, DirMeta>();
  const xattrs: XattrItem[] = [];
  if (fs.readdirSync(root).length) throw new Error(`unpack target ${root} must be an empty directory`);
  /**
   * Everything this unpack created under root (root starts empty and only we write into it), so
   * existence checks need no syscalls, and a parent is only ever a directory we made ourselves:
   * symlinks are never followed.
   */
  const seen = new Map<string, 'dir' | 'symlink' | 'other'>([[root, 'dir']]);
  /** Whiteout nodes being made (not awaited one by one: each is a round trip to the helper). */
  const inflight: Promise<void>[] = [];
  let inflightError: unknown;
  async function flush(): Promise<void> {
    if (inflight.length) await Promise.all(inflight.splice(0));
    if (inflightError !== undefined) throw inflightError;
  }
  // Metadata work is done with synchronous calls: each is a few microseconds, far less than a
  // thread-pool round trip, and the event loop still runs between tar entries and data chunks.

  const abs = (p: string[]) => path.join(root, ...p);
  const rel = (p: string) => path.relative(root, p);

  /** Makes sure every parent of `p` is a real directory inside root, creating missing ones. */
  function ensureParents(p: string[], name: string): void {
    let cur = root;
    for (const c of p.slice(0, -1)) {
      cur = path.join(cur, c);
      const kind = seen.get(cur);
      if (kind === 'dir') continue;
      if (kind === 'symlink')
        throw new UnsafeLayerError(
          `tar entry "${name}" would be written through the symlink "${rel(cur)}" (symlinks are not followed while unpacking)`,
        );
      if (kind === 'other')
        throw new UnsafeLayerError(`tar entry "${name}": parent "${rel(cur)}" is not a directory`);
      fs.mkdirSync(cur, { mode: 0o755 });
      seen.set(cur, 'dir');
    }
  }

  /** Removes whatever is at `target` unless both it and the new entry are directories. Returns true when a directory stays. */
  async function clear(target: string, newIsDir: boolean): Promise<boolean> {
    const kind = seen.get(target);
    if (!kind) return false;
    await flush();
    if (kind === 'dir') {
      if (newIsDir) return true;
      fs.rmSync(target, { recursive: true, force: true });
      const prefix = target + path.sep;
      for (const k of [...seen.keys()]) if (k === target || k.startsWith(prefix)) seen.delete(k);
      for (const k of [...dirs.keys()]) if (k === target || k.startsWith(prefix)) dirs.delete(k);
      return false;
    }
    fs.unlinkSync(target);
    seen.delete(target);
    return false;
  }

  function owner(target: string, h: tar.Header): void {
    if (chown && ((h.uid ?? 0) !== 0 || (h.gid ?? 0) !== 0)) fs.lchownSync(target, h.uid ?? 0, h.gid ?? 0);
  }

  const helper = new FsHelper();
  const mknod = (target: string, type: 'c' | 'b' | 'p', major = 0, minor = 0): Promise<void> =>
    helper.mknod(target, type, major, minor);

  async function handle(h: tar.Header, stream: Readable): Promise<void> {
    stats.entries++;
    const action = classifyEntry(h.name);
    const type = h.type ?? 'file';
    const drain = (): void => void stream.resume();
    if (action.kind === 'ignore') return drain();
    if (action.kind === 'root') {
      if (type === 'directory') {
        dirs.set(root, { path: root, mode: (h.mode ?? 0o755) & 0o7777, mtime: h.mtime ?? new Date() });
        owner(root, h);
      }
      return drain();
    }
    if (action.kind === 'opaque') {
      drain();
      ensureParents([...action.dir, OPAQUE_WHITEOUT], h.name);
      const d = abs(action.dir);
      if (action.dir.length && !(await clear(d, true))) {
        fs.mkdirSync(d, { mode: 0o755 });
        seen.set(d, 'dir');
      }
      xattrs.push({
        path: d,
        name: OVERLAY_OPAQUE_XATTR,
        value: Buffer.from('y').toString('base64'),
        required: true,
      });
      stats.whiteouts++;
      return;
    }
    if (action.kind === 'whiteout') {
      drain();
      ensureParents(action.path, h.name);
      const target = abs(action.path);
      await clear(target, false);
      inflight.push(mknod(target, 'c', 0, 0).catch((e: unknown) => void (inflightError ??= e)));
      seen.set(target, 'other');
      stats.whiteouts++;
      return;
    }
    const p = action.path;
    ensureParents(p, h.name);
    const target = abs(p);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = h.mtime ?? new Date();
    switch (type) {
      case 'directory': {
        drain();
        if (!(await clear(target, true))) {
          fs.mkdirSync(target, { mode: 0o700 });
          seen.set(target, 'dir');
        }
        owner(target, h);
        dirs.set(target, { path: target, mode, mtime });
        break;
      }
      case 'file':
      case 'contiguous-file': {
        await clear(target, false);
        const fd = fs.openSync(
          target,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        seen.set(target, 'other');
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            for (let off = 0; off < chunk.length;) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          }
          if (chown && ((h.uid ?? 0) !== 0 || (h.gid ?? 0) !== 0)) fs.fchownSync(fd, h.uid ?? 0, h.gid ?? 0);
          fs.fchmodSync(fd, mode); // after chown, which clears setuid/setgid
          fs.futimesSync(fd, mtime, mtime);
        } finally {
          fs.closeSync(fd);
        }
        break;
      }
      case 'symlink': {
        drain();
        if (!h.linkname) throw new UnsafeLayerError(`tar entry "${h.name}": symlink without target`);
        await clear(target, false);
        fs.symlinkSync(h.linkname, target);
        seen.set(target, 'symlink');
        owner(target, h);
        fs.lutimesSync(target, mtime, mtime);
        break;
      }
      case 'link': {
        drain();
        const lp = normalizeEntryPath(h.linkname ?? '');
        if (!lp.length) throw new UnsafeLayerError(`tar entry "${h.name}": hardlink without target`);
        // The target must be a non-directory this layer created, under directories it created.
        let cur = root;
        for (const c of lp.slice(0, -1)) {
          cur = path.join(cur, c);
          if (seen.get(cur) !== 'dir')
            throw new UnsafeLayerError(
              `tar entry "${h.name}": hardlink target "${h.linkname}" is not inside this layer (through "${rel(cur)}")`,
            );
        }
        const src = abs(lp);
        const kind = seen.get(src);
        if (!kind)
          throw new UnsafeLayerError(
            `tar entry "${h.name}": hardlink target "${h.linkname}" is not in this layer`,
          );
        if (kind === 'dir')
          throw new UnsafeLayerError(`tar entry "${h.name}": hardlink to a directory "${h.linkname}"`);
        if (src === target) break;
        await flush();
        await clear(target, false);
        fs.linkSync(src, target);
        seen.set(target, kind);
        break;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        drain();
        await clear(target, false);
        await mknod(
          target,
          type === 'fifo' ? 'p' : type === 'block-device' ? 'b' : 'c',
          h.devmajor,
          h.devminor,
        );
        seen.set(target, 'other');
        owner(target, h);
        fs.chmodSync(target, mode);
        fs.utimesSync(target, mtime, mtime);
        break;
      }
      default:
        drain();
        log(`skipping tar entry "${h.name}" of unsupported type ${String(type)}`);
        return;
    }
    const pax = (h as tar.Header & { pax?: Record<string, string> | null }).pax;
    if (pax) {
      for (const [k, v] of Object.entries(pax)) {
        if (!k.startsWith('SCHILY.xattr.')) continue;
        if (v.includes('\uFFFD')) {
          // tar-stream decodes PAX values as UTF-8, so binary values (e.g. security.capability) arrive damaged.
          log(
            `skipping binary xattr ${k.slice('SCHILY.xattr.'.length)} on "${h.name}" (value not representable)`,
          );
          continue;
        }
        xattrs.push({
          path: target,
          name: k.slice('SCHILY.xattr.'.length),
          value: Buffer.from(v).toString('base64'),
          required: false,
        });
        stats.xattrs++;
      }
    }
  }

  const extract = tar.extract();
  extract.on('entry', (h, entry, next) => {
    const stream = entry as unknown as Readable;
    stream.on('error', () => undefined); // reported through the extract stream
    handle(h, stream).then(
      () => next(),
      (e: unknown) => {
        stream.resume();
        next(e as Error);
      },
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: unknown) => {
        extract.destroy();
        src.destroy();
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      src.on('error', fail);
      extract.on('error', fail);
      extract.on('finish', () => resolve());
      src.pipe(extract as unknown as NodeJS.WritableStream);
    });
    await flush();
    for (const x of xattrs) {
      try {
        await helper.setxattr(x.path, x.name, Buffer.from(x.value, 'base64'));
      } catch (e) {
        if (x.required) throw new Error(`cannot set xattr ${x.name} on ${x.path}: ${(e as Error).message}`);
        log(`skipping xattr ${x.name} on ${x.path}: ${(e as Error).message}`);
      }
    }
  } finally {
    await Promise.allSettled(inflight);
    helper.close();
  }
  // Directories last, deepest first: creating children changed their mtimes, and a 0555 dir must stay writable until then.
  for (const d of [...dirs.values()].sort((a, b) => b.path.length - a.path.length)) {
    fs.chmodSync(d.path, d.mode);
    fs.utimesSync(d.path, d.mtime, d.mtime);
  }
  return stats;
}
