/**
 * Raw runc, the peer of the container benchmarks: a busybox root directory and OCI bundles made
 * from the very config.json the Berth agent wrote for a container (same namespaces, mounts,
 * capabilities, masked paths, rlimits), or from `runc spec` when none is given. Everything lives
 * under one temp dir with its own `runc --root`; cleanup() deletes the containers by id and
 * removes their cgroups in every hierarchy.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeCgroup } from './cgroups';
import { nowMs } from './cluster';

export { removeCgroup };

interface OciConfigLike {
  process: { args: string[]; terminal?: boolean; env?: string[] };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: Array<{ destination: string; type?: string; source?: string; options?: string[] }>;
  linux?: { cgroupsPath?: string; namespaces?: Array<{ type: string }> };
}

export class RawRunc {
  readonly dir: string;
  readonly root: string;
  readonly rootfs: string;
  readonly cgroupParent: string;
  /** Where the config came from, for the output. */
  readonly configSource: string;
  private readonly template: OciConfigLike;
  private readonly ids = new Set<string>();

  /**
   * @param agentConfig a config.json the agent wrote (its bind mounts of files under
   *   `agentDataDir` are replaced by copies, its root by a plain busybox directory)
   */
  constructor(agentConfig?: { json: string; dataDir: string }) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-runc-'));
    this.root = path.join(this.dir, 'state');
    this.rootfs = path.join(this.dir, 'rootfs');
    this.cgroupParent = `/berth-bench-${process.pid}`;
    makeBusyboxRootfs(this.rootfs);
    let t: OciConfigLike;
    if (agentConfig) {
      t = JSON.parse(agentConfig.json) as OciConfigLike;
      const files = path.join(this.dir, 'files');
      mkdirSync(files, { recursive: true });
      for (const m of t.mounts ?? []) {
        if (m.type === 'bind' && m.source?.startsWith(agentConfig.dataDir + '/')) {
          const copy = path.join(files, path.basename(m.source));
          copyFileSync(m.source, copy);
          m.source = copy;
        }
      }
      this.configSource =
        "the agent's own config.json for the same container (root: a plain busybox directory)";
    } else {
      const spec = path.join(this.dir, 'spec');
      mkdirSync(spec);
      execFileSync('runc', ['spec', '--bundle', spec]);
      t = JSON.parse(readFileSync(path.join(spec, 'config.json'), 'utf8')) as OciConfigLike;
      t.process.terminal = false;
      this.configSource = '`runc spec` (namespaces pid, network, ipc, uts, mount)';
    }
    t.root = { path: this.rootfs, readonly: false };
    this.template = t;
  }

  /** Writes a bundle for container `id` running `args`; returns its directory. */
  bundle(id: string, args: string[]): string {
    const b = path.join(this.dir, 'bundles', id);
    mkdirSync(b, { recursive: true });
    const cfg = JSON.parse(JSON.stringify(this.template)) as OciConfigLike;
    cfg.process.args = args;
    cfg.hostname = id.slice(0, 63);
    cfg.linux = { ...cfg.linux, cgroupsPath: `${this.cgroupParent}/${id}` };
    writeFileSync(path.join(b, 'config.json'), JSON.stringify(cfg));
    this.ids.add(id);
    return b;
  }

  /**
   * `runc run -d`: resolves with the milliseconds from spawn to runc's exit, when the container's
   * process has been started (runc start returns once the init has been told to exec).
   */
  async runDetached(id: string, bundle: string): Promise<number> {
    // the container inherits runc's stdio: a file, not a pipe this process would wait on
    const errPath = path.join(this.dir, `${id}.err`);
    const errFd = openSync(errPath, 'w');
    const t0 = nowMs();
    let child;
    try {
      child = spawn('runc', ['--root', this.root, 'run', '-d', '--bundle', bundle, id], {
        stdio: ['ignore', errFd, errFd],
      });
    } finally {
      closeSync(errFd);
    }
    const code = await new Promise<number>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 : -1)));
    });
    const dt = nowMs() - t0;
    if (code !== 0) throw new Error(`runc run -d ${id}: exit ${code}: ${readFileSync(errPath, 'utf8')}`);
    return dt;
  }

  /**
   * `runc run` in the foreground, its stdout read by this process: `onLine(line, at)` gets each
   * line with its arrival time. Resolves with runc's exit code and the time it was seen.
   */
  runForeground(
    id: string,
    bundle: string,
    onLine: (line: string, at: number) => void,
  ): Promise<{ code: number; at: number; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('runc', ['--root', this.root, 'run', '--bundle', bundle, id], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let buf = '';
      let stderr = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        const at = nowMs();
        buf += s;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i), at);
          buf = buf.slice(i + 1);
        }
      });
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.once('error', reject);
      child.once('exit', (code, sig) => resolve({ code: code ?? (sig ? 128 : -1), at: nowMs(), stderr }));
    });
  }

  async delete(id: string): Promise<void> {
    await exec('runc', ['--root', this.root, 'delete', '--force', id]);
    removeCgroup(`${this.cgroupParent}/${id}`);
  }

  /** Deletes every container made here, removes the cgroups and the temp dir. */
  async cleanup(): Promise<void> {
    for (const id of this.ids) await exec('runc', ['--root', this.root, 'delete', '--force', id]);
    for (const id of this.ids) removeCgroup(`${this.cgroupParent}/${id}`);
    removeCgroup(this.cgroupParent);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function exec(
  cmd: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    child.once('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : -1), stdout, stderr }));
  });
}

/** A root directory with busybox-static and its applets as symlinks (the image's content). */
export function makeBusyboxRootfs(rootfs: string): void {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'usr/bin'])
    mkdirSync(path.join(rootfs, d), { recursive: true });
  chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\n');
  for (const f of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname']) writeFileSync(path.join(rootfs, f), '');
}
