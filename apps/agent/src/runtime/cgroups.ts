import { promises as fs } from 'node:fs';
import path from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Removes a container's cgroup directories in every hierarchy (cgroup v1 controllers, the v2
 * `unified` tree, named hierarchies), and then the parents runc created on the way (runc leaves
 * them behind), as long as they are empty. Only paths under `parent` are touched.
 */
export class CgroupCleaner {
  constructor(
    readonly mountRoot = '/sys/fs/cgroup',
    readonly parent = '/berth',
  ) {}

  /** Hierarchy mount points under mountRoot (directories, not the cpu,cpuacct style aliases). */
  async hierarchies(): Promise<string[]> {
    const out: string[] = [];
    let names: string[];
    try {
      names = await fs.readdir(this.mountRoot);
    } catch {
      return [];
    }
    for (const n of names) {
      const p = path.join(this.mountRoot, n);
      const st = await fs.lstat(p).catch(() => undefined);
      if (st?.isDirectory()) out.push(p);
    }
    // a v2-only host mounts the tree right at mountRoot
    const v2 = await fs.stat(path.join(this.mountRoot, 'cgroup.controllers')).catch(() => undefined);
    if (v2) out.push(this.mountRoot);
    return out;
  }

  private assertUnder(cgroupPath: string): string {
    const p = path.posix.normalize(`/${cgroupPath}`);
    if (!(p + '/').startsWith(this.parent.replace(/\/?$/, '/')) || p === this.parent)
      throw new Error(`refusing to touch cgroup ${cgroupPath}: not under ${this.parent}`);
    return p;
  }

  /** Existing directories of `cgroupPath` (and of no other path) across all hierarchies. */
  async existing(cgroupPath: string): Promise<string[]> {
    const p = path.posix.normalize(`/${cgroupPath}`);
    const out: string[] = [];
    for (const h of await this.hierarchies()) {
      const d = path.join(h, p);
      if (await fs.stat(d).catch(() => undefined)) out.push(d);
    }
    return out;
  }

  /** OOM kills counted in the cgroup: v1 memory.oom_control `oom_kill`, or v2 memory.events. */
  async oomKills(cgroupPath: string): Promise<number> {
    const p = path.posix.normalize(`/${cgroupPath}`);
    const candidates = [
      path.join(this.mountRoot, 'memory', p, 'memory.oom_control'),
      path.join(this.mountRoot, 'unified', p, 'memory.events'),
      path.join(this.mountRoot, p, 'memory.events'),
    ];
    for (const f of candidates) {
      const text = await fs.readFile(f, 'utf8').catch(() => undefined);
      const m = text?.match(/^oom_kill (\d+)$/m);
      if (m) return Number(m[1]);
    }
    return 0;
  }

  /**
   * rmdir the container's cgroup (children first) in every hierarchy, then each empty parent up
   * to and including `parent`. Busy directories (processes still exiting) are retried for a while.
   */
  async remove(cgroupPath: string, opts: { retries?: number } = {}): Promise<void> {
    const p = this.assertUnder(cgroupPath);
    const failures: string[] = [];
    for (const h of await this.hierarchies()) {
      const leaf = path.join(h, p);
      try {
        await this.rmTree(leaf, opts.retries ?? 50);
      } catch (e) {
        failures.push(`${leaf}: ${(e as Error).message}`);
        continue;
      }
      // parents: <h>/berth/<pod>, <h>/berth — only when empty
      let dir = path.dirname(p);
      const top = path.posix.normalize(this.parent);
      for (;;) {
        if (!(dir + '/').startsWith(top + '/')) break;
        try {
          await fs.rmdir(path.join(h, dir));
        } catch {
          break; // not empty (other containers) or gone
        }
        if (dir === top) break;
        dir = path.dirname(dir);
      }
    }
    if (failures.length) throw new Error(`cannot remove cgroup ${cgroupPath}: ${failures.join('; ')}`);
  }

  /**
   * Removes a whole pod's cgroup subtree (<parent>/<podUID> and every container under it) in every
   * hierarchy, then <parent> if empty. For when a pod is gone: it also sweeps directories a crashed
   * or interrupted cleanup left behind.
   */
  async removePod(podUID: string, opts: { retries?: number } = {}): Promise<void> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(podUID)) throw new Error(`bad pod UID "${podUID}"`);
    const p = path.posix.join(this.parent, podUID);
    const failures: string[] = [];
    for (const h of await this.hierarchies()) {
      try {
        await this.rmTree(path.join(h, p), opts.retries ?? 50);
        await fs.rmdir(path.join(h, this.parent)).catch(() => undefined);
      } catch (e) {
        failures.push(`${path.join(h, p)}: ${(e as Error).message}`);
      }
    }
    if (failures.length) throw new Error(`cannot remove pod cgroup ${p}: ${failures.join('; ')}`);
  }

  private async rmTree(dir: string, retries: number): Promise<void> {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!entries) return;
    for (const e of entries) if (e.isDirectory()) await this.rmTree(path.join(dir, e.name), retries);
    for (let i = 0; ; i++) {
      try {
        await fs.rmdir(dir);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || i >= retries) throw e;
        await sleep(20);
      }
    }
  }
}
