import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Removes `<hierarchy>/<rel>` (and anything below it, deepest first) in every cgroup hierarchy;
 * true if there was any. A cgroup with live processes stays (rmdir is retried for about a second).
 */
export function removeCgroup(rel: string): boolean {
  let found = false;
  let hier: string[] = [];
  try {
    hier = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h));
  } catch {
    return false;
  }
  for (const h of hier) {
    const top = path.join(h, rel);
    if (!existsSync(top)) continue;
    found = true;
    const dirs: string[] = [];
    const walk = (d: string) => {
      dirs.push(d);
      for (const e of readdirSync(d)) {
        const p = path.join(d, e);
        try {
          if (statSync(p).isDirectory()) walk(p);
        } catch {
          /* raced */
        }
      }
    };
    try {
      walk(top);
    } catch {
      continue;
    }
    for (const d of dirs.reverse()) {
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(d);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
          execFileSync('sleep', ['0.05']);
        }
      }
    }
  }
  return found;
}
