import { spawn } from 'node:child_process';
import { promises as fs, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { run, type ExecResult } from '../snapshots/mounter';

export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface ContainerState {
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  created: string;
}

export interface RuncRuntimeOptions {
  /** Agent state directory: runc state in <stateDir>/runc, exit files in <stateDir>/exits, monitor files in <stateDir>/monitor. */
  stateDir: string;
  /** The OCI runtime binary (runc-compatible CLI). */
  runtimeBinary?: string;
  /** The monitor binary (conmon). */
  conmonBinary?: string;
  /** Truncate a container's log when it grows past this many bytes (conmon --log-size-max). */
  logSizeMax?: number;
  /** How long to wait for the monitor to create a container. */
  createTimeoutMs?: number;
  /**
   * Move each monitor into this cgroup (in every hierarchy) so that whatever stops the agent's
   * own cgroup (a systemd service restart with KillMode=control-group) leaves the monitors alone.
   * Unset: monitors stay in the agent's cgroup.
   */
  monitorCgroup?: string;
  /** Where the cgroup hierarchies are mounted (for monitorCgroup). */
  cgroupMountRoot?: string;
}

export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly code: 'NotFound' | 'Failed' | 'Invalid' = 'Failed',
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Runs OCI bundles with runc, each under its own conmon monitor: conmon runs `runc create`, holds
 * the container's stdio (written to a CRI-format log), reaps it and writes its exit code to
 * <exitDir>/<id>. conmon is started in its own session with stdio away from the agent, so
 * containers outlive the agent; a new RuncRuntime over the same stateDir sees them again.
 */
export class RuncRuntime {
  readonly runtimeBinary: string;
  readonly conmonBinary: string;
  readonly runcRoot: string;
  readonly exitDir: string;
  readonly monitorDir: string;
  readonly socketDir: string;

  constructor(private readonly opts: RuncRuntimeOptions) {
    if (!path.isAbsolute(opts.stateDir))
      throw new RuntimeError(`stateDir must be absolute: ${opts.stateDir}`, 'Invalid');
    this.runtimeBinary = opts.runtimeBinary ?? '/usr/sbin/runc';
    this.conmonBinary = opts.conmonBinary ?? '/usr/bin/conmon';
    this.runcRoot = path.join(opts.stateDir, 'runc');
    this.exitDir = path.join(opts.stateDir, 'exits');
    this.monitorDir = path.join(opts.stateDir, 'monitor');
    this.socketDir = path.join(opts.stateDir, 'sock');
  }

  async init(): Promise<void> {
    for (const d of [this.runcRoot, this.exitDir, this.monitorDir, this.socketDir])
      await fs.mkdir(d, { recursive: true, mode: 0o700 });
  }

  exitFile(id: string): string {
    return path.join(this.exitDir, id);
  }

  private runc(args: string[]): Promise<ExecResult> {
    return run(this.runtimeBinary, ['--root', this.runcRoot, ...args]);
  }

  private check(id: string): void {
    if (!ID_RE.test(id)) throw new RuntimeError(`container id "${id}" must match ${ID_RE.source}`, 'Invalid');
  }

  /**
   * Starts the container's monitor, which creates (but does not start) the container. Resolves
   * with the container's pid once `runc create` has finished. A stale exit file is removed first.
   */
  async create(id: string, bundleDir: string, logPath: string): Promise<{ pid: number; monitorPid: number }> {
    this.check(id);
    await this.init();
    await fs.rm(this.exitFile(id), { force: true });
    await fs.mkdir(path.dirname(logPath), { recursive: true });
    const pidFile = path.join(this.monitorDir, `${id}.pid`);
    const monitorPidFile = path.join(this.monitorDir, `${id}.conmon.pid`);
    await fs.rm(pidFile, { force: true });
    const args = [
      '--api-version',
      '1',
      '-c',
      id,
      '-u',
      id,
      '-n',
      id,
      '-r',
      this.runtimeBinary,
      '--runtime-arg',
      '--root',
      '--runtime-arg',
      this.runcRoot,
      '-b',
      bundleDir,
      '-p',
      pidFile,
      '--exit-dir',
      this.exitDir,
      '-l',
      `k8s-file:${logPath}`,
      '--log-size-max',
      String(this.opts.logSizeMax ?? 10 * 1024 * 1024),
      '--socket-dir-path',
      this.socketDir,
      '--syslog=false',
      '--conmon-pidfile',
      monitorPidFile,
    ];
    // conmon's own complaints go to a file: a pipe to the agent would break when the agent goes
    const errFile = path.join(this.monitorDir, `${id}.err`);
    const errFd = openSync(errFile, 'w');
    let child;
    try {
      child = spawn(this.conmonBinary, args, {
        cwd: bundleDir,
        detached: true, // setsid: its own session, no signals from the agent's terminal
        stdio: ['ignore', 'ignore', errFd, 'pipe'],
        env: { ...process.env, _OCI_SYNCPIPE: '3' },
      });
    } finally {
      closeSync(errFd);
    }
    child.unref();
    const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    const msg = await new Promise<string>((resolve, reject) => {
      const timeoutMs = this.opts.createTimeoutMs ?? 30_000;
      let buf = '';
      const timer = setTimeout(() => {
        sync.destroy();
        reject(new RuntimeError(`monitor did not create ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      sync.on('data', (b: Buffer) => {
        buf += b.toString();
        if (buf.includes('}')) {
          clearTimeout(timer);
          resolve(buf);
        }
      });
      sync.on('end', () => {
        clearTimeout(timer);
        resolve(buf);
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new RuntimeError(`cannot start ${this.conmonBinary}: ${e.message}`));
      });
    }).catch(async (e: unknown) => {
      // a monitor that hangs is of no use: take it and whatever it created down
      await this.killMonitor(id);
      await this.delete(id, { force: true }).catch(() => undefined);
      throw e;
    });
    sync.destroy();
    let parsed: { data?: number; message?: string } = {};
    try {
      parsed = JSON.parse(msg.slice(0, msg.indexOf('}') + 1)) as { data?: number; message?: string };
    } catch {
      /* reported below */
    }
    if (typeof parsed.data !== 'number' || parsed.data <= 0) {
      const err = (await fs.readFile(errFile, 'utf8').catch(() => '')).trim();
      await this.delete(id, { force: true }).catch(() => undefined);
      throw new RuntimeError(
        `create ${id} failed: ${parsed.message || err || msg || 'the monitor exited without a word'}`.trim(),
      );
    }
    const monitorPid = Number((await fs.readFile(monitorPidFile, 'utf8').catch(() => '0')).trim()) || 0;
    if (monitorPid && this.opts.monitorCgroup) await this.moveToMonitorCgroup(monitorPid);
    return { pid: parsed.data, monitorPid };
  }

  /** Starts the process of a created container. */
  async start(id: string): Promise<void> {
    this.check(id);
    const r = await this.runc(['start', id]);
    if (r.code !== 0) throw this.failure('start', id, r);
  }

  /** create + start. */
  async run(id: string, bundleDir: string, logPath: string): Promise<{ pid: number; monitorPid: number }> {
    const created = await this.create(id, bundleDir, logPath);
    await this.start(id);
    return created;
  }

  async state(id: string): Promise<ContainerState | undefined> {
    this.check(id);
    const r = await this.runc(['state', id]);
    if (r.code !== 0) {
      if (/does not exist|not exist/.test(r.stderr)) return undefined;
      throw this.failure('state', id, r);
    }
    return toState(JSON.parse(r.stdout) as RuncStateJson);
  }

  async list(): Promise<ContainerState[]> {
    const r = await this.runc(['list', '--format', 'json']);
    if (r.code !== 0) throw this.failure('list', '', r);
    const arr = (JSON.parse(r.stdout || 'null') as RuncStateJson[] | null) ?? [];
    return arr.map(toState);
  }

  /** Sends a signal (name like SIGTERM or number) to the container's init process. */
  async kill(id: string, signal: string | number = 'SIGTERM'): Promise<void> {
    this.check(id);
    const r = await this.runc(['kill', id, String(signal)]);
    if (r.code !== 0) {
      if (/not running|process already finished|does not exist/.test(r.stderr)) return;
      throw this.failure('kill', id, r);
    }
  }

  /** Deletes the container (force: kills it first) and its monitor files. Missing is fine. */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    this.check(id);
    const monitor = await this.monitorPid(id);
    const r = await this.runc(['delete', ...(opts.force ? ['--force'] : []), id]);
    if (r.code !== 0 && !/does not exist/.test(r.stderr)) throw this.failure('delete', id, r);
    // the monitor exits once it has written the exit file; make sure it does not linger
    if (monitor) {
      for (let i = 0; i < 100 && isLive(monitor); i++) await sleep(20);
      if (isLive(monitor)) {
        try {
          process.kill(monitor, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
    }
    await this.forgetMonitor(id);
  }

  /** The monitor's pid, if it is still alive. */
  async monitorPid(id: string): Promise<number | undefined> {
    const pid = Number(
      (await fs.readFile(path.join(this.monitorDir, `${id}.conmon.pid`), 'utf8').catch(() => '')).trim(),
    );
    return pid && isLive(pid) ? pid : undefined;
  }

  /** Best effort: puts `pid` into monitorCgroup in every hierarchy that takes it. */
  private async moveToMonitorCgroup(pid: number): Promise<void> {
    const root = this.opts.cgroupMountRoot ?? '/sys/fs/cgroup';
    const rel = path.posix.normalize(`/${this.opts.monitorCgroup}`);
    const names = await fs.readdir(root).catch(() => [] as string[]);
    const dirs = [root, ...names.map((n) => path.join(root, n))];
    for (const h of dirs) {
      const st = await fs.lstat(h).catch(() => undefined);
      if (!st?.isDirectory() || st.isSymbolicLink()) continue;
      if (!(await fs.stat(path.join(h, 'cgroup.procs')).catch(() => undefined))) continue;
      const dir = path.join(h, rel);
      try {
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(path.join(dir, 'cgroup.procs'), String(pid));
      } catch {
        /* a hierarchy that refuses (e.g. v2 with controllers in use) is skipped */
      }
    }
  }

  /** SIGKILLs the monitor of `id` if it is alive. */
  async killMonitor(id: string): Promise<void> {
    const pid = await this.monitorPid(id);
    if (!pid) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** Removes the monitor's files and the exit file (after the container has been deleted). */
  async forgetMonitor(id: string): Promise<void> {
    for (const f of [`${id}.pid`, `${id}.conmon.pid`, `${id}.err`])
      await fs.rm(path.join(this.monitorDir, f), { force: true });
    await fs.rm(path.join(this.socketDir, id), { force: true, recursive: true });
    await fs.rm(this.exitFile(id), { force: true });
  }

  async version(): Promise<string> {
    const r = await run(this.runtimeBinary, ['--version']);
    return r.stdout.split('\n')[0]?.trim() ?? '';
  }

  private failure(op: string, id: string, r: ExecResult): RuntimeError {
    const msg = r.stderr
      .trim()
      .split('\n')
      .map((l) => l.replace(/^time="[^"]*" level=\w+ msg="(.*)"$/, '$1'))
      .join('; ');
    return new RuntimeError(
      `runc ${op} ${id}: ${msg || `exit ${r.code}`}`,
      /does not exist/.test(msg) ? 'NotFound' : 'Failed',
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True while `pid` exists and is not a zombie waiting to be reaped. */
export function isLive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface RuncStateJson {
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  created: string;
}

function toState(s: RuncStateJson): ContainerState {
  return { id: s.id, pid: s.pid, status: s.status, bundle: s.bundle, created: s.created };
}
