import { promises as fs } from 'node:fs';
import path from 'node:path';

const MANIFEST_EXT = new Set(['.yaml', '.yml', '.json']);

/** Whether a file name is a manifest's (`.yaml`, `.yml`, `.json`, any case). */
export function isManifestFile(name: string): boolean {
  return MANIFEST_EXT.has(path.extname(name).toLowerCase());
}

/**
 * The manifest files of a directory: *.yaml, *.yml and *.json (with `recursive`, in
 * subdirectories too), sorted by path; hidden files and directories (editors' `.x.swp`, `.#x`,
 * `.git`) are skipped; a symlink counts as what it points to (a dangling one is skipped). Shared by
 * `berthctl apply -f DIR` and the GitOps sync so both read a directory the same way.
 */
export async function manifestFiles(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  await walk(dir, recursive, out, new Set());
  return out.sort();
}

async function walk(dir: string, recursive: boolean, acc: string[], visited: Set<string>): Promise<void> {
  // A symlinked directory that leads back up the tree must not loop.
  const real = await fs.realpath(dir).catch(() => dir);
  if (visited.has(real)) return;
  visited.add(real);
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const st = await fs.stat(p).catch(() => undefined);
      isDir = !!st?.isDirectory();
      isFile = !!st?.isFile();
    }
    if (isDir) {
      if (recursive) await walk(p, recursive, acc, visited);
    } else if (isFile && isManifestFile(e.name)) {
      acc.push(p);
    }
  }
}
