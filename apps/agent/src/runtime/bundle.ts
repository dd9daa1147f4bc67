import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { OciSpec } from './types';

/** OCI bundles: <root>/<id>/config.json and <root>/<id>/rootfs (the overlay mount point). */
export class BundleStore {
  constructor(readonly root: string) {
    if (!path.isAbsolute(root)) throw new Error(`bundle root must be absolute, got "${root}"`);
  }

  dir(id: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) throw new Error(`bad container id "${id}"`);
    return path.join(this.root, id);
  }

  rootfs(id: string): string {
    return path.join(this.dir(id), 'rootfs');
  }

  /** Creates the bundle directory and its empty rootfs mount point. */
  async prepare(id: string): Promise<string> {
    await fs.mkdir(this.rootfs(id), { recursive: true });
    return this.dir(id);
  }

  async writeSpec(id: string, spec: OciSpec): Promise<void> {
    const file = path.join(this.dir(id), 'config.json');
    await fs.writeFile(`${file}.tmp`, JSON.stringify(spec, null, 2));
    await fs.rename(`${file}.tmp`, file);
  }

  async readSpec(id: string): Promise<OciSpec | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir(id), 'config.json'), 'utf8')) as OciSpec;
    } catch {
      return undefined;
    }
  }

  /** Removes the bundle; the rootfs must be unmounted first (rm would not cross a mount, but be sure). */
  async remove(id: string): Promise<void> {
    const rootfs = this.rootfs(id);
    // rmdir the mount point first: it fails if something is still mounted there, protecting the layers
    await fs.rmdir(rootfs).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw new Error(`cannot remove ${rootfs}: ${e.code} (still mounted?)`);
    });
    await fs.rm(this.dir(id), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    return fs.readdir(this.root).catch(() => []);
  }
}
