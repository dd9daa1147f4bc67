import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The git commit checked out in `dir` (or a parent up to the filesystem root), read from .git
 * without running git: HEAD, the loose ref it names, or packed-refs. undefined when `dir` is not in
 * a git checkout or HEAD cannot be resolved.
 */
export async function gitHead(dir: string): Promise<string | undefined> {
  let cur = path.resolve(dir);
  for (;;) {
    const gitDir = await resolveGitDir(path.join(cur, '.git'));
    if (gitDir) return readHead(gitDir);
    const up = path.dirname(cur);
    if (up === cur) return undefined;
    cur = up;
  }
}

/** .git is a directory, or (worktrees, submodules) a file `gitdir: PATH`. */
async function resolveGitDir(p: string): Promise<string | undefined> {
  const st = await fs.stat(p).catch(() => undefined);
  if (!st) return undefined;
  if (st.isDirectory()) return p;
  const text = await fs.readFile(p, 'utf8').catch(() => '');
  const m = /^gitdir:\s*(.+)\s*$/m.exec(text);
  return m ? path.resolve(path.dirname(p), m[1]) : undefined;
}

async function readHead(gitDir: string): Promise<string | undefined> {
  const head = (await fs.readFile(path.join(gitDir, 'HEAD'), 'utf8').catch(() => '')).trim();
  if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(head)) return head; // detached
  const m = /^ref:\s*(\S+)$/.exec(head);
  if (!m) return undefined;
  const ref = m[1];
  // A worktree's refs live in the common dir.
  const common = (await fs.readFile(path.join(gitDir, 'commondir'), 'utf8').catch(() => '')).trim();
  const dirs = [gitDir, ...(common ? [path.resolve(gitDir, common)] : [])];
  for (const d of dirs) {
    const loose = (await fs.readFile(path.join(d, ref), 'utf8').catch(() => '')).trim();
    if (/^[0-9a-f]{40}/.test(loose)) return loose.slice(0, loose.length >= 64 ? 64 : 40);
    const packed = await fs.readFile(path.join(d, 'packed-refs'), 'utf8').catch(() => '');
    for (const line of packed.split('\n')) {
      const [sha, name] = line.split(' ');
      if (name === ref && /^[0-9a-f]{40}/.test(sha)) return sha;
    }
  }
  return undefined;
}

/**
 * A revision for a directory that is not a git checkout: sha256 over the sorted relative paths
 * and contents of its manifest files, as `sha256:<hex>`.
 */
export function contentRevision(files: { path: string; content: Buffer | string }[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const body = typeof f.content === 'string' ? Buffer.from(f.content) : f.content;
    h.update(`${f.path}\0${body.length}\0`);
    h.update(body);
  }
  return `sha256:${h.digest('hex')}`;
}
