import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { RedisOptions } from 'ioredis';

/** The part of a pino logger EmbeddedRedis uses. */
export interface EmbeddedRedisLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EmbeddedRedisOptions {
  /** Directory for the AOF, the socket, the pid file and redis.conf (created, mode 0700). Used as is. */
  dataDir: string;
  /** Optional requirepass. */
  password?: string;
  /** Listen on a unix socket in dataDir (default; no TCP port) or on 127.0.0.1:<free port>. */
  listen?: 'unix' | 'tcp';
  /** TCP port when listen is 'tcp' (default: a free one). */
  port?: number;
  /** The redis-server binary (default `redis-server` from PATH). */
  binary?: string;
  logger?: EmbeddedRedisLogger;
  /** How long start() waits for Redis to answer (default 30 s; AOF loading may take a while). */
  startTimeoutMs?: number;
  /** Restart backoff: first delay (default 200 ms), doubled per crash up to maxRestartDelayMs (default 10 s). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

const SOCKET = 'redis.sock';
const PIDFILE = 'redis.pid';
/** sockaddr_un.sun_path is 108 bytes on Linux. */
const MAX_SOCKET_PATH = 100;

/**
 * A redis-server child process the control plane owns when no --redis-url is given: data in
 * `dataDir` with appendonly yes + appendfsync always (an acknowledged write survives kill -9),
 * listening on a unix socket (perm 700) or 127.0.0.1, restarted with backoff if it dies, and shut
 * down by stop() (SIGTERM, so Redis flushes; SIGKILL after a grace period).
 *
 * Events: 'ready' (pid), 'exit' (code, signal), 'restarting' (delayMs), 'error' (Error).
 */
export class EmbeddedRedis extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private startedAt = 0;
  private socketPath: string | undefined;
  private tcpPort = 0;
  private output = '';
  private readonly onProcessExit = () => this.child?.kill('SIGTERM');

  constructor(readonly options: EmbeddedRedisOptions) {
    super();
    // An 'error' event without a listener would throw; errors are also logged.
    this.on('error', () => undefined);
  }

  get dataDir(): string {
    return path.resolve(this.options.dataDir);
  }

  /** pid of the running redis-server, or undefined. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null
      ? this.child.pid
      : undefined;
  }

  /** `unix:///…/redis.sock` or `redis://127.0.0.1:port` (with the password when one is set). */
  get url(): string {
    const pw = this.options.password;
    if (this.socketPath) {
      return `unix://${this.socketPath}${pw ? `?password=${encodeURIComponent(pw)}` : ''}`;
    }
    return `redis://${pw ? `:${encodeURIComponent(pw)}@` : ''}127.0.0.1:${this.tcpPort}`;
  }

  /** ioredis connection options. */
  get connectionOptions(): RedisOptions {
    const o: RedisOptions = this.socketPath
      ? { path: this.socketPath }
      : { host: '127.0.0.1', port: this.tcpPort };
    if (this.options.password) o.password = this.options.password;
    return o;
  }

  /** Starts redis-server and resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.pid) return;
    this.stopping = false;
    const dir = this.dataDir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await this.killStale();
    const sock = path.join(dir, SOCKET);
    const listen = this.options.listen ?? (sock.length <= MAX_SOCKET_PATH ? 'unix' : 'tcp');
    if (listen === 'unix') {
      if (sock.length > MAX_SOCKET_PATH) {
        throw new Error(
          `redis socket path ${sock} is longer than ${MAX_SOCKET_PATH} characters; use listen: 'tcp'`,
        );
      }
      this.socketPath = sock;
    } else {
      this.socketPath = undefined;
      this.tcpPort = this.options.port ?? this.tcpPort ?? 0;
      if (!this.tcpPort) this.tcpPort = await freePort();
    }
    this.writeConfig();
    await this.launch();
  }

  private writeConfig(): void {
    const dir = this.dataDir;
    const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    const lines = [
      '# Written by Berth at every start; edits are lost.',
      `dir ${q(dir)}`,
      `pidfile ${q(path.join(dir, PIDFILE))}`,
      'daemonize no',
      'appendonly yes',
      'appendfsync always',
      'appendfilename "appendonly.aof"',
      'save ""',
      'protected-mode yes',
      'loglevel notice',
      'logfile ""',
    ];
    if (this.socketPath) {
      lines.push('port 0', `unixsocket ${q(this.socketPath)}`, 'unixsocketperm 700');
    } else {
      lines.push(`port ${this.tcpPort}`, 'bind 127.0.0.1');
    }
    if (this.options.password) lines.push(`requirepass ${q(this.options.password)}`);
    writeFileSync(path.join(dir, 'redis.conf'), lines.join('\n') + '\n', { mode: 0o600 });
  }

  /** A redis-server left running by a previous, killed owner of this directory is stopped first. */
  private async killStale(): Promise<void> {
    const pidFile = path.join(this.dataDir, PIDFILE);
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return;
    }
    if (!cmd.includes('redis-server')) return;
    this.options.logger?.warn({ pid }, 'stopping a redis-server left over from a previous run');
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 40 && alive(pid); i++) await sleep(50);
  }

  private async launch(): Promise<void> {
    const bin = this.options.binary ?? 'redis-server';
    const conf = path.join(this.dataDir, 'redis.conf');
    this.output = '';
    const child = spawn(bin, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-16384);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    process.once('exit', this.onProcessExit);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', (e) => {
      this.output += `\nspawn error: ${e.message}`;
    });
    child.once('exit', (code, signal) => {
      process.off('exit', this.onProcessExit);
      if (this.child === child) this.child = undefined;
      this.emit('exit', code, signal);
      if (!this.stopping) this.scheduleRestart(code, signal);
    });
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
        await Promise.race([exited, sleep(100)]);
        throw new Error(`redis-server exited during start-up:\n${this.output.trim()}`);
      }
      if (await this.answers()) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not answer within the start timeout:\n${this.output.trim()}`);
      }
      await sleep(50);
    }
    this.startedAt = Date.now();
    this.options.logger?.info(
      { pid: child.pid, url: this.url.replace(/password=[^&]*/, 'password=***') },
      'redis-server ready',
    );
    this.emit('ready', child.pid);
  }

  /** PING (after AUTH) answered +PONG: not LOADING, not refusing. */
  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = this.socketPath ? net.connect(this.socketPath) : net.connect(this.tcpPort, '127.0.0.1');
      let buf = '';
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1000, () => done(false));
      s.once('error', () => done(false));
      s.once('connect', () => {
        const pw = this.options.password;
        const cmd = (...a: string[]) =>
          `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('');
        s.write((pw ? cmd('AUTH', pw) : '') + cmd('PING'));
      });
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('+PONG')) done(true);
        else if (buf.includes('-')) done(false);
      });
    });
  }

  private scheduleRestart(code: number | null, signal: NodeJS.Signals | null): void {
    if (Date.now() - this.startedAt > 30_000) this.restarts = 0;
    const base = this.options.restartDelayMs ?? 200;
    const delay = Math.min(base * 2 ** this.restarts, this.options.maxRestartDelayMs ?? 10_000);
    this.restarts++;
    this.options.logger?.error(
      { code, signal, restartInMs: delay, output: this.output.trim().split('\n').slice(-5).join('\n') },
      'redis-server exited; restarting',
    );
    this.emit('restarting', delay);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.launch().catch((e: Error) => {
        this.options.logger?.error({ err: e.message }, 'restarting redis-server failed');
        this.emit('error', e);
        if (!this.stopping && !this.child) this.scheduleRestart(null, null);
      });
    }, delay);
  }

  /** Stops supervising and shuts redis-server down (SIGTERM, then SIGKILL after graceMs). */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
