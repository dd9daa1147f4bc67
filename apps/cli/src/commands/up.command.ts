import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, promises as fs, rmSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { configPath, loadConfig, saveConfig, upsertContext } from '@berth/client';
import { collect } from '../context';
import { CliError, EXIT } from '../errors';
import type { CliIO } from '../io';
import { writeKubeconfig } from '../kubeconfig';

/** The repository root: bin/ holds the launchers (dist/apps/cli/src/commands → five levels up). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..', '..');
export const LOCAL_CONTEXT = 'berth-local';

export interface UpFlags {
  dataDir: string;
  port: string;
  redisUrl?: string;
  agent?: boolean;
  agentListen?: string;
  nodeName?: string;
  registryMirror?: string[];
  insecureRegistry?: string[];
  graceSeconds?: string;
  syncDir?: string;
  syncName?: string;
  syncPrune?: boolean;
  /** false with --no-tls: plain HTTP (kubectl then sends no token). Default: --tls. */
  tls?: boolean;
}

/** Whether `up` serves HTTPS: yes unless --no-tls. */
export function useTls(flags: UpFlags): boolean {
  return flags.tls !== false;
}

/** The CA a control plane started with --tls writes under its data dir. */
export function caFileOf(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'pki', 'ca.crt');
}

/** One process `up` starts and supervises. */
export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  /** When set, `up` waits for this line before going on; its first group is the URL. */
  ready?: RegExp;
  /** How long stop() waits after SIGTERM before SIGKILL, when longer than --grace-seconds. */
  minGraceMs?: number;
}

/** A running child: its own process group (so stop() also reaches what it started), output kept for errors. */
class Supervised {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private tail = '';
  private log: WriteStream;
  stopping = false;

  constructor(
    readonly spec: ChildSpec,
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.proc = spawn(spec.command, spec.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (b: Buffer) => {
      this.log.write(b);
      this.tail = (this.tail + b.toString()).slice(-8192);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => resolve({ code, signal }));
      this.proc.once('error', (e) => {
        this.tail += `\n${e.message}`;
        resolve({ code: 127, signal: null });
      });
    });
  }

  get output(): string {
    return this.tail;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.tail.match(pattern);
      if (m) return m;
      if (!this.running) {
        await this.exited;
        throw new CliError(
          `${this.spec.name} exited before it was ready:\n${this.tail.trimEnd()}`,
          EXIT.FAILURE,
        );
      }
      if (Date.now() > deadline)
        throw new CliError(
          `${this.spec.name} was not ready after ${timeoutMs / 1000} s:\n${this.tail.trimEnd()}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private groupAlive(): boolean {
    try {
      process.kill(-this.proc.pid!, 0);
      return true;
    } catch {
      return false;
    }
  }

  private killGroup(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.proc.pid!, sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, SIGKILL after the grace period; then whatever is left of its process group. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.proc.pid === undefined) return;
    if (this.running) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.killGroup('SIGKILL'), Math.max(graceMs, this.spec.minGraceMs ?? 0));
      await this.exited;
      clearTimeout(t);
    }
    // Anything the child started and left behind (same process group): TERM, then KILL.
    if (this.groupAlive()) {
      this.killGroup('SIGTERM');
      const deadline = Date.now() + Math.min(graceMs, 3000);
      while (this.groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      this.killGroup('SIGKILL');
    }
    await new Promise<void>((r) => this.log.end(r));
  }
}

/** The children of `up`: the control plane, then the agent when bin/berth-agent exists. */
export function childSpecs(flags: UpFlags, root = REPO_ROOT): ChildSpec[] {
  const dataDir = path.resolve(flags.dataDir);
  const tls = useTls(flags);
  const cp: ChildSpec = {
    name: 'control plane',
    command: path.join(root, 'bin', 'berth-control-plane'),
    args: ['--data-dir', dataDir, '--port', String(flags.port)],
    ready: /listening on (https?:\/\/\S+)/,
  };
  // HTTPS with the control plane's own CA (DATA_DIR/pki), generated on the first start.
  if (tls) cp.args.push('--tls');
  if (flags.redisUrl) cp.args.push('--redis-url', flags.redisUrl);
  if (flags.syncDir) {
    cp.args.push('--sync-dir', path.resolve(flags.syncDir));
    if (flags.syncName) cp.args.push('--sync-name', flags.syncName);
    if (flags.syncPrune === false) cp.args.push('--sync-prune', 'false');
  }
  const specs = [cp];
  const agentBin = path.join(root, 'bin', 'berth-agent');
  if (flags.agent !== false && existsSync(agentBin)) {
    const args = [
      '--server',
      `${tls ? 'https' : 'http'}://127.0.0.1:${flags.port}`,
      ...(tls ? ['--ca-file', caFileOf(dataDir)] : []),
      '--token-file',
      path.join(dataDir, 'admin.token'),
      '--data-dir',
      path.join(dataDir, 'agent'),
      // Stopping the cluster stops its containers too (each pod gets its grace period).
      '--on-exit',
      'stop',
    ];
    if (flags.agentListen) args.push('--listen', flags.agentListen);
    if (flags.nodeName) args.push('--node-name', flags.nodeName);
    for (const m of flags.registryMirror ?? []) args.push('--registry-mirror', m);
    for (const r of flags.insecureRegistry ?? []) args.push('--insecure-registry', r);
    specs.push({
      name: 'agent',
      command: agentBin,
      args,
      ready: /berth agent (\S+) ready/,
      minGraceMs: 95_000,
    });
  }
  return specs;
}

async function readToken(file: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const t = (await fs.readFile(file, 'utf8'))
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l && !l.startsWith('#'));
      if (t) return t;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline)
      throw new CliError(`the control plane did not write its admin token to ${file}`, EXIT.FAILURE);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function validateFlags(flags: UpFlags): void {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new CliError(`--port "${flags.port}" is not a TCP port (1-65535)`, EXIT.USAGE);
  for (const m of flags.registryMirror ?? [])
    if (!/^[^=\s]+=https?:\/\/\S+$/.test(m))
      throw new CliError(
        `--registry-mirror "${m}" is not REGISTRY=URL`,
        EXIT.USAGE,
        'e.g. --registry-mirror docker.io=http://127.0.0.1:5000',
      );
  for (const r of flags.insecureRegistry ?? [])
    if (!/^[^\s/:]+(:\d+)?$/.test(r))
      throw new CliError(
        `--insecure-registry "${r}" is not HOST[:PORT]`,
        EXIT.USAGE,
        'e.g. --insecure-registry 127.0.0.1:5000',
      );
}

/**
 * Points berthctl (the berth-local context, made current) and kubectl (DATA_DIR/kubeconfig) at the
 * cluster just started. With https the CA the control plane generated is trusted: the context names
 * its file, the kubeconfig embeds it. kubectl sends a token only over TLS, so a plain-HTTP cluster
 * gets no kubeconfig (a stale one from an earlier TLS run is removed).
 */
async function writeClientConfigs(io: CliIO, dataDir: string, url: string, token: string): Promise<void> {
  const https = url.startsWith('https:');
  const caFile = caFileOf(dataDir);
  let caPem = '';
  if (https) {
    try {
      caPem = await fs.readFile(caFile, 'utf8');
    } catch (e) {
      throw new CliError(
        `the control plane serves HTTPS but its CA ${caFile} cannot be read: ${(e as NodeJS.ErrnoException).code}`,
      );
    }
  }
  const file = configPath(io.env);
  const ctx = { name: LOCAL_CONTEXT, server: url, token, ...(https ? { certificateAuthority: caFile } : {}) };
  const cfg = upsertContext(loadConfig(file), ctx);
  saveConfig({ ...cfg, currentContext: LOCAL_CONTEXT }, file);
  io.err(`context "${LOCAL_CONTEXT}" in ${file} is now current\n`);
  const kubeconfig = path.join(dataDir, 'kubeconfig');
  if (https) {
    writeKubeconfig(kubeconfig, { name: LOCAL_CONTEXT, server: url, caPem, token });
    io.err(`kubectl: export KUBECONFIG=${kubeconfig}\n`);
  } else {
    rmSync(kubeconfig, { force: true });
    io.err('plain HTTP (--no-tls): kubectl will not send its token; run without --no-tls to use kubectl\n');
  }
}

export async function runUp(
  io: CliIO,
  flags: UpFlags,
  signals: NodeJS.EventEmitter = process,
  root = REPO_ROOT,
): Promise<number> {
  validateFlags(flags);
  const dataDir = path.resolve(flags.dataDir);
  const logDir = path.join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const graceMs = Number(flags.graceSeconds ?? '10') * 1000;
  const running: Supervised[] = [];
  let stopRequested: (sig: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  const onSignal = (sig: NodeJS.Signals) => stopRequested(sig);
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  signals.on('SIGHUP', onSignal);
  const stopAll = async () => {
    for (const c of [...running].reverse()) await c.stop(graceMs);
  };
  try {
    let url = `${useTls(flags) ? 'https' : 'http'}://127.0.0.1:${flags.port}`;
    let token = '';
    for (const spec of childSpecs(flags, root)) {
      const child = new Supervised(spec, path.join(logDir, `${spec.name.replace(/\s+/g, '-')}.log`));
      running.push(child);
      io.err(
        `started ${spec.name} (pid ${child.proc.pid ?? '?'}), log in ${path.join(logDir, spec.name.replace(/\s+/g, '-') + '.log')}\n`,
      );
      if (spec.ready) {
        const ready = child.waitFor(spec.ready, 120_000);
        const first = await Promise.race([ready, stopSignal.then(() => undefined)]);
        if (!first) {
          await stopAll();
          return EXIT.OK;
        }
        if (spec.name === 'control plane')
          url = first[1].replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://127.0.0.1');
      }
      if (spec.name === 'control plane') {
        const tokenFile = path.join(dataDir, 'admin.token');
        token = await readToken(tokenFile, 10_000);
        await writeClientConfigs(io, dataDir, url, token);
      }
    }
    io.out(`Berth is up: ${url} (admin token in ${path.join(dataDir, 'admin.token')})\n`);
    const died = Promise.race(running.map((c) => c.exited.then((r) => ({ child: c, ...r }))));
    const first = await Promise.race([stopSignal.then((sig) => ({ sig })), died]);
    if ('sig' in first) {
      io.err(`${first.sig}: stopping\n`);
      await stopAll();
      return EXIT.OK;
    }
    const how = first.signal ? `was killed by ${first.signal}` : `exited with code ${first.code}`;
    io.err(`error: the ${first.child.spec.name} ${how}; its last output:\n${first.child.output.trimEnd()}\n`);
    io.err(
      `see ${logDir} for the full logs, then run \`berthctl up\` again` +
        (first.child.spec.name === 'agent' ? ' (the agent needs root; --no-agent runs without it)' : '') +
        '\n',
    );
    await stopAll();
    return EXIT.FAILURE;
  } catch (e) {
    await stopAll();
    throw e;
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
    signals.off('SIGHUP', onSignal);
  }
}

export function registerUp(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('up')
    .description(
      'Run a single-host cluster in the foreground (control plane with embedded Redis, agent); Ctrl-C stops it',
    )
    .option(
      '--data-dir <dir>',
      'where the cluster keeps its data',
      path.join(process.env.HOME ?? '.', '.berth', 'data'),
    )
    .option('--port <port>', 'API server port on 127.0.0.1', '6443')
    .option('--redis-url <url>', 'use this Redis instead of the embedded one')
    .option('--no-agent', 'do not start the node agent')
    .option(
      '--agent-listen <host:port>',
      'agent: address of its API (logs); a single-host cluster needs no more than loopback',
      '127.0.0.1:10250',
    )
    .option('--node-name <name>', "agent: the Node's name (default: the host name)")
    .option('--registry-mirror <registry=url>', 'agent: pull REGISTRY images from URL (repeatable)', collect)
    .option(
      '--insecure-registry <host:port>',
      'agent: use plain HTTP for this registry (repeatable)',
      collect,
    )
    .option('--grace-seconds <n>', 'how long children get to stop before SIGKILL', '10')
    .option(
      '--sync-dir <dir>',
      'keep the cluster in sync with this directory of manifests (GitOps, with prune)',
    )
    .option('--sync-name <name>', "the sync's name (default: the directory's name)")
    .option('--no-sync-prune', 'with --sync-dir: never delete objects whose manifests left the directory')
    .option(
      '--no-tls',
      'serve plain HTTP instead of HTTPS with a generated CA (DATA_DIR/pki/ca.crt); kubectl then cannot authenticate',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  berthctl up --data-dir /var/lib/berth --port 6443\n  berthctl up --data-dir /tmp/b --port 7000 --insecure-registry 127.0.0.1:5000\n  berthctl up --sync-dir ./manifests',
    )
    .action(async (opts: UpFlags) => {
      setExit(await runUp(io, opts));
    });
}
