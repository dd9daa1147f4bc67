import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Node has no mknod and no setxattr. This helper does both through one long-lived `python3`
 * process per layer (started on first use; commands are JSON lines, answered in order), because
 * spawning a process per whiteout costs ~30 ms here. Without python3, device nodes fall back to
 * coreutils `mknod` (one process each) and xattrs are unavailable.
 */
const SCRIPT = `
import sys, os, json, base64, stat
for line in sys.stdin:
    c = json.loads(line)
    try:
        if c["op"] == "mknod":
            kind = {"c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[c["type"]]
            os.mknod(c["path"], kind | 0o600, os.makedev(c["major"], c["minor"]))
        elif c["op"] == "setxattr":
            os.setxattr(c["path"], c["name"], base64.b64decode(c["value"]), follow_symlinks=False)
        else:
            raise ValueError("unknown op " + c["op"])
        sys.stdout.write('{"ok":true}\\n')
    except Exception as e:
        sys.stdout.write(json.dumps({"ok": False, "error": str(e)}) + "\\n")
    sys.stdout.flush()
`;

function onPath(cmd: string, searchPath = process.env.PATH ?? '/usr/bin:/bin'): string | undefined {
  for (const dir of searchPath.split(':')) {
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

let python: string | null | undefined;
function pythonPath(): string | null {
  // The system interpreter first: version-manager shims on PATH (pyenv) can take seconds to start.
  if (python === undefined)
    python =
      ['/usr/bin/python3', '/bin/python3'].find((p) => onPath(path.basename(p), path.dirname(p))) ??
      onPath('python3') ??
      null;
  return python;
}

function runOnce(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${err.trim()}`)),
    );
  });
}

export class FsHelper {
  private proc?: ChildProcessWithoutNullStreams;
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private buf = '';
  private dead?: Error;

  /** True when xattrs can be set (python3 is present). */
  get canSetXattr(): boolean {
    return pythonPath() !== null;
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.proc) return this.proc;
    const p = spawn(pythonPath()!, ['-u', '-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.stdout.on('data', (b: Buffer) => {
      this.buf += b.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.shift();
        if (!w) continue;
        const r = JSON.parse(line) as { ok: boolean; error?: string };
        if (r.ok) w.resolve();
        else w.reject(new Error(r.error ?? 'failed'));
      }
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    p.on('error', (e) => fail(new Error(`fs helper (python3) failed: ${e.message}`)));
    p.on('close', (code) => fail(new Error(`fs helper (python3) exited (${code}): ${stderr.trim()}`)));
    p.stdin.on('error', () => undefined);
    this.proc = p;
    return p;
  }

  private call(cmd: Record<string, unknown>): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const p = this.start();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      p.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
  }

  /** Creates a device node or fifo (never following a symlink: mknod does not). */
  async mknod(target: string, type: 'c' | 'b' | 'p', major = 0, minor = 0): Promise<void> {
    if (pythonPath() === null)
      return runOnce('mknod', type === 'p' ? [target, 'p'] : [target, type, String(major), String(minor)]);
    await this.call({ op: 'mknod', path: target, type, major, minor }).catch((e: Error) => {
      throw new Error(`mknod ${target}: ${e.message}`);
    });
  }

  /** Sets an extended attribute on the path itself (not a symlink's target). */
  async setxattr(target: string, name: string, value: Buffer): Promise<void> {
    if (pythonPath() === null)
      throw new Error(`cannot set xattr ${name} on ${target}: python3 is not installed`);
    await this.call({ op: 'setxattr', path: target, name, value: value.toString('base64') });
  }

  /** Ends the helper process (idempotent). */
  close(): void {
    this.proc?.stdin.end();
    this.proc = undefined;
  }
}
