import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { MountDescription, Mounter } from './types';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program and collects its output; never rejects for a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code =
          err && typeof (err as NodeJS.ErrnoException).code === 'number'
            ? ((err as { code: number }).code as number)
            : err
              ? 1
              : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr || (err && !stderr ? err.message : '')),
        });
      },
    );
  });
}

/** Decodes the octal escapes (\040 for space, …) the kernel uses in /proc/self/mountinfo. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points listed in a mountinfo text, in mount order. */
export function parseMountinfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(unescapeMountPath(f[4]));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Performs mounts with mount(8)/umount(8). An overlay is mounted from the description's `cwd`, so
 * its relative lowerdir/upperdir/workdir paths resolve there. Needs root.
 */
export class LinuxMounter implements Mounter {
  constructor(
    private readonly opts: {
      mountBin?: string;
      umountBin?: string;
      retries?: number;
      retryDelayMs?: number;
    } = {},
  ) {}

  async mount(m: MountDescription, target: string): Promise<void> {
    if (!path.isAbsolute(target)) throw new Error(`mount target must be absolute, got "${target}"`);
    await fs.mkdir(target, { recursive: true });
    const args = ['-t', m.type === 'bind' ? 'none' : m.type];
    if (m.type === 'bind') args.push('--bind');
    if (m.options.length) args.push('-o', m.options.join(','));
    args.push(m.source, target);
    const r = await run(this.opts.mountBin ?? 'mount', args, { cwd: m.cwd });
    if (r.code !== 0)
      throw new Error(`mount ${m.type} on ${target} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** Unmounts `target` (retrying while busy, lazily as a last resort); not mounted is fine. */
  async unmount(target: string): Promise<void> {
    const retries = this.opts.retries ?? 10;
    let last = '';
    for (let i = 0; i < retries; i++) {
      if (!(await this.isMounted(target))) return;
      const r = await run(this.opts.umountBin ?? 'umount', [target]);
      if (r.code === 0) continue;
      last = r.stderr.trim();
      await sleep(this.opts.retryDelayMs ?? 50);
    }
    if (!(await this.isMounted(target))) return;
    const r = await run(this.opts.umountBin ?? 'umount', ['-l', target]);
    if (r.code !== 0 && (await this.isMounted(target)))
      throw new Error(`umount ${target} failed: ${r.stderr.trim() || last}`);
  }

  async isMounted(target: string): Promise<boolean> {
    const want = path.resolve(target);
    return (await this.mountPoints()).includes(want);
  }

  async mountsUnder(dir: string): Promise<string[]> {
    const base = path.resolve(dir);
    return (await this.mountPoints()).filter((p) => p === base || p.startsWith(base + '/')).reverse();
  }

  private async mountPoints(): Promise<string[]> {
    return parseMountinfo(await fs.readFile('/proc/self/mountinfo', 'utf8'));
  }
}
