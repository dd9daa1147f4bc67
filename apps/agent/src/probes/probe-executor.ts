import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ContainerPortV1, ProbeV1 } from '@berth/api';
import type { Outcome } from './probe-state';

/** The container a probe runs against. */
export interface ProbeTarget {
  /** Runtime (runc) container id. */
  id: string;
  /** The container's init process: its network namespace is /proc/<pid>/ns/net. */
  pid: number;
  /** The pod shares the host's network namespace: connect directly. */
  hostNetwork: boolean;
  /** The container's ports, for named probe ports. */
  ports: Pick<ContainerPortV1, 'name' | 'containerPort'>[];
}

export interface ProbeOutput {
  outcome: Outcome;
  /** Why it failed (the text after "Liveness probe failed: "), or output worth keeping. */
  message: string;
}

/** Runs one probe once. Implementations must honour timeoutMs and never reject. */
export interface ProbeExecutor {
  run(probe: ProbeV1, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutput>;
}

/** A probe's port: a number, or the name of one of the container's ports. */
export function resolvePort(
  port: number | string | undefined,
  ports: ProbeTarget['ports'],
): { port: number } | { error: string } {
  if (typeof port === 'number') return { port };
  if (port === undefined || port === '') return { error: 'no port given' };
  if (/^\d+$/.test(port)) return { port: Number(port) };
  const p = ports.find((x) => x.name === port);
  return p ? { port: p.containerPort } : { error: `port "${port}" is not a named port of the container` };
}

const CRLF = /[\r\n]/;

/** The HTTP/1.1 request an httpGet probe sends (as the kubelet does: User-Agent kube-probe, Connection: close). */
export function httpRequest(
  get: NonNullable<ProbeV1['httpGet']>,
  host: string,
  port: number,
): { request: string } | { error: string } {
  let p = get.path || '/';
  if (!p.startsWith('/')) p = '/' + p;
  if (CRLF.test(p) || /\s/.test(p))
    return { error: `path ${JSON.stringify(get.path)} may not contain spaces or line breaks` };
  const headers = new Map<string, [string, string]>();
  const set = (name: string, value: string) => headers.set(name.toLowerCase(), [name, value]);
  set('Host', `${host}:${port}`);
  set('User-Agent', 'kube-probe/berth');
  set('Accept', '*/*');
  for (const h of get.httpHeaders ?? []) {
    if (CRLF.test(h.name) || CRLF.test(h.value ?? '') || !h.name)
      return { error: `header ${JSON.stringify(h.name)} may not contain line breaks` };
    set(h.name, h.value ?? '');
  }
  set('Connection', 'close');
  const lines = [`GET ${p} HTTP/1.1`, ...[...headers.values()].map(([n, v]) => `${n}: ${v}`)];
  return { request: lines.join('\r\n') + '\r\n\r\n' };
}

/** The status code of an HTTP response's first line, if it is one. */
export function parseHttpStatus(text: string): number | undefined {
  const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})\b/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Kubernetes: 200 ≤ status < 400 is success. */
export function httpOutcome(status: number): ProbeOutput {
  return status >= 200 && status < 400
    ? { outcome: 'success', message: '' }
    : { outcome: 'failure', message: `HTTP probe failed with statuscode: ${status}` };
}

export interface LinuxProbeExecutorOptions {
  /** runc (or crun) binary and its --root, for exec probes. */
  runtimeBinary: string;
  runtimeRoot: string;
  /** Default /bin/busybox (busybox-static): its nc does the TCP and HTTP connections. */
  busybox?: string;
  /** Default /usr/bin/nsenter: enters the container's network namespace. */
  nsenter?: string;
  /** Default /usr/bin/openssl: `s_client` for HTTPS probes. */
  openssl?: string;
  /** How long a timed-out helper gets after SIGTERM before SIGKILL. */
  killGraceMs?: number;
}

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  error?: string;
}

const MAX_OUTPUT = 10 * 1024;

/**
 * Runs probes with real processes, never blocking the agent: exec probes through `runc exec`;
 * tcpSocket and httpGet through busybox `nc` inside the container's network namespace
 * (`nsenter --net=/proc/<pid>/ns/net`), or in the agent's own namespace for hostNetwork pods and
 * probes that name a `host`. HTTPS goes through `openssl s_client` the same way (the certificate
 * is not verified, as the kubelet does not); without openssl an HTTPS probe fails saying so.
 * Every helper is killed by its pid when the timeout passes.
 */
export class LinuxProbeExecutor implements ProbeExecutor {
  private readonly busybox: string;
  private readonly nsenter: string;
  private readonly openssl: string;

  constructor(private readonly o: LinuxProbeExecutorOptions) {
    this.busybox = o.busybox ?? '/bin/busybox';
    this.nsenter = o.nsenter ?? '/usr/bin/nsenter';
    this.openssl = o.openssl ?? '/usr/bin/openssl';
  }

  async run(probe: ProbeV1, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutput> {
    try {
      if (probe.exec) return await this.exec(probe.exec.command ?? [], target, timeoutMs);
      if (probe.httpGet) return await this.http(probe.httpGet, target, timeoutMs);
      if (probe.tcpSocket) return await this.tcp(probe.tcpSocket, target, timeoutMs);
      if (probe.grpc) return { outcome: 'failure', message: 'gRPC probes are not supported by berth' };
      return { outcome: 'failure', message: 'the probe has no handler (exec, httpGet or tcpSocket)' };
    } catch (e) {
      return { outcome: 'failure', message: (e as Error).message };
    }
  }

  private async exec(command: string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeOutput> {
    if (!command.length) return { outcome: 'failure', message: 'exec probe has no command' };
    const r = await this.spawn(
      this.o.runtimeBinary,
      ['--root', this.o.runtimeRoot, 'exec', target.id, ...command],
      timeoutMs,
    );
    const output = (r.stdout + r.stderr).trim();
    if (r.timedOut)
      return {
        outcome: 'failure',
        message: `command ${JSON.stringify(command.join(' '))} timed out after ${timeoutMs / 1000}s`,
      };
    if (r.error) return { outcome: 'failure', message: r.error };
    if (r.code === 0) return { outcome: 'success', message: output };
    return {
      outcome: 'failure',
      message: output || `command ${JSON.stringify(command.join(' '))} exited with ${r.code}`,
    };
  }

  /** The command that runs busybox nc in the right network namespace. */
  netCommand(target: ProbeTarget, host: string | undefined, ncArgs: string[]): [string, string[]] {
    return this.inNetns(target, host, [this.busybox, 'nc', ...ncArgs]);
  }

  /** `argv` in the container's network namespace, or as is for hostNetwork pods and named hosts. */
  inNetns(target: ProbeTarget, host: string | undefined, argv: string[]): [string, string[]] {
    if (target.hostNetwork || host) return [argv[0], argv.slice(1)];
    return [this.nsenter, [`--net=/proc/${target.pid}/ns/net`, ...argv]];
  }

  private async tcp(
    sock: NonNullable<ProbeV1['tcpSocket']>,
    target: ProbeTarget,
    timeoutMs: number,
  ): Promise<ProbeOutput> {
    const port = resolvePort(sock.port, target.ports);
    if ('error' in port) return { outcome: 'failure', message: port.error };
    const host = sock.host || '127.0.0.1';
    const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    // -e runs a program once connected: connected and closed again at once
    const [cmd, args] = this.netCommand(target, sock.host, [
      '-w',
      secs,
      host,
      String(port.port),
      '-e',
      '/bin/true',
    ]);
    const r = await this.spawn(cmd, args, timeoutMs);
    const addr = `${host}:${port.port}`;
    if (r.timedOut) return { outcome: 'failure', message: `dial tcp ${addr}: i/o timeout` };
    if (r.code === 0) return { outcome: 'success', message: '' };
    return { outcome: 'failure', message: `dial tcp ${addr}: ${connectError(r)}` };
  }

  private async http(
    get: NonNullable<ProbeV1['httpGet']>,
    target: ProbeTarget,
    timeoutMs: number,
  ): Promise<ProbeOutput> {
    const port = resolvePort(get.port, target.ports);
    if ('error' in port) return { outcome: 'failure', message: port.error };
    const https = get.scheme === 'HTTPS';
    if (https && !existsSync(this.openssl))
      return {
        outcome: 'failure',
        message: `HTTPS probes need ${this.openssl} on the node (install openssl, or use HTTP, tcpSocket or exec)`,
      };
    const host = get.host || '127.0.0.1';
    const req = httpRequest(get, host, port.port);
    if ('error' in req) return { outcome: 'failure', message: req.error };
    const url = `${https ? 'https' : 'http'}://${host}:${port.port}${get.path || '/'}`;
    const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    const [cmd, args] = https
      ? this.inNetns(target, get.host, [
          this.openssl,
          's_client',
          '-quiet',
          '-connect',
          `${host.includes(':') ? `[${host}]` : host}:${port.port}`,
          ...(/^[\d.:]+$/.test(host) ? [] : ['-servername', host]),
        ])
      : this.netCommand(target, get.host, ['-w', secs, host, String(port.port)]);
    // the status line is all we need: stop reading once it is there
    const r = await this.spawn(cmd, args, timeoutMs, req.request, (out) => /\r?\n/.test(out));
    const status = parseHttpStatus(r.stdout);
    if (status !== undefined) return httpOutcome(status);
    if (r.timedOut)
      return {
        outcome: 'failure',
        message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      };
    if (r.stdout) return { outcome: 'failure', message: `Get "${url}": malformed HTTP response` };
    return { outcome: 'failure', message: `Get "${url}": dial tcp ${host}:${port.port}: ${connectError(r)}` };
  }

  /**
   * Runs a helper with a deadline: past it, SIGTERM (runc exec passes it on to the process), then
   * SIGKILL after killGraceMs, by pid. `enough` ends it early once its stdout says all we need.
   */
  private spawn(
    cmd: string,
    args: string[],
    timeoutMs: number,
    input?: string,
    enough?: (stdout: string) => boolean,
  ): Promise<Spawned> {
    return new Promise((resolve) => {
      const out: Spawned = { code: null, stdout: '', stderr: '', timedOut: false };
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let killTimer: NodeJS.Timeout | undefined;
      let finished = false;
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(child.pid, sig);
        } catch {
          /* gone */
        }
      };
      const stop = () => {
        kill('SIGTERM');
        killTimer = setTimeout(() => kill('SIGKILL'), this.o.killGraceMs ?? 1000);
      };
      const deadline = setTimeout(() => {
        out.timedOut = true;
        stop();
      }, timeoutMs);
      child.stdout.on('data', (b: Buffer) => {
        if (out.stdout.length < MAX_OUTPUT) out.stdout += b.toString();
        if (enough && !finished && enough(out.stdout)) {
          finished = true;
          kill('SIGKILL');
        }
      });
      child.stderr.on('data', (b: Buffer) => {
        if (out.stderr.length < MAX_OUTPUT) out.stderr += b.toString();
      });
      child.stdin.on('error', () => undefined);
      child.once('error', (e) => {
        out.error = `cannot run ${cmd}: ${e.message}`;
      });
      child.once('close', (code) => {
        clearTimeout(deadline);
        if (killTimer) clearTimeout(killTimer);
        out.code = code;
        resolve(out);
      });
      if (input !== undefined) child.stdin.end(input);
      else child.stdin.end();
    });
  }
}

function connectError(r: Spawned): string {
  if (r.error) return r.error;
  const text = r.stderr.trim();
  if (/refused|errno=111/i.test(text)) return 'connect: connection refused';
  if (/No such file|can't open/i.test(text)) return 'the container has no network namespace (not running?)';
  return text.replace(/^nc: /, '').split('\n')[0] || `exit ${r.code ?? 'signal'}`;
}
