import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  CHANNEL,
  EXEC_PROTOCOLS,
  SERVED_PROTOCOLS,
  encodeFrame,
  negotiateProtocol,
  outcomePayload,
  parseExecQuery,
  protocolFeatures,
} from '@berth/api';
import { LogReader, previousLogPath } from '../runtime';
import { serveExec, type ExecRunner } from '../exec';

/** What the endpoint needs from the rest of the agent. */
export interface AgentServerDeps {
  /** Bearer token a caller must present (the control plane's). */
  token: string;
  /** The log file of a pod's container, and whether it is still running; undefined when unknown. */
  findContainer(
    namespace: string,
    pod: string,
    container: string | undefined,
  ): { logPath: string; running: () => boolean } | { error: string; code: number } | undefined;
  images(): Promise<unknown[]>;
  /**
   * For exec: the runc id of a pod's running container (the only one when container is
   * undefined), or why not with its HTTP code.
   */
  execTarget?(
    namespace: string,
    pod: string,
    container: string | undefined,
  ): { id: string } | { error: string; code: number };
  /** Runs exec'd commands (runc exec); without it exec is 501. */
  exec?: ExecRunner;
  log: { warn(o: object, m: string): void; info?(o: object, m: string): void };
}

export interface LogQuery {
  follow: boolean;
  previous: boolean;
  /** Prefix each line with its RFC 3339 time, as `kubectl logs --timestamps`. */
  timestamps: boolean;
  tailLines?: number;
}

/** Parses follow/previous/tailLines; throws a message naming the bad parameter. */
export function parseLogQuery(q: URLSearchParams): LogQuery {
  const bool = (name: string): boolean => {
    const v = q.get(name);
    if (v === null || v === '' || v === 'false' || v === '0') return false;
    if (v === 'true' || v === '1') return true;
    throw new Error(`${name} must be true or false, got "${v}"`);
  };
  const t = q.get('tailLines');
  let tailLines: number | undefined;
  if (t !== null && t !== '') {
    if (!/^\d+$/.test(t)) throw new Error(`tailLines must be a whole number ≥ 0, got "${t}"`);
    tailLines = Number(t);
  }
  return { follow: bool('follow'), previous: bool('previous'), timestamps: bool('timestamps'), tailLines };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Status',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      code,
    }) + '\n',
  );
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  500: 'InternalError',
  501: 'NotImplemented',
  503: 'ServiceUnavailable',
};

/** A Status answer written on a socket that asked for an upgrade (no ServerResponse there). */
export function rejectUpgrade(socket: Duplex, code: number, message: string): void {
  const body =
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Status',
      metadata: {},
      status: 'Failure',
      message,
      reason: REASONS[code] ?? 'BadRequest',
      code,
    }) + '\n';
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/**
 * The agent's own HTTP endpoint (node:http, like the kubelet's):
 *   GET /healthz                                              ok (no auth)
 *   GET /containerLogs/{ns}/{pod}/{container}?follow=&previous=&tailLines=&timestamps=   the log as plain text
 *   GET /images                                                the node's images (JSON)
 *   GET /exec/{ns}/{pod}/{container}?command=…&stdin=&stdout=&stderr=&tty=   WebSocket upgrade:
 *       the Kubernetes channel protocol (v5 … v1.channel.k8s.io) to `runc exec` in that container
 * Every route but /healthz needs `Authorization: Bearer <token>`.
 */
export class AgentServer {
  private server?: http.Server;
  private readonly reader = new LogReader();
  private readonly wss = new WebSocketServer({
    noServer: true,
    // the protocol was checked before the handshake; an absent header means channel.k8s.io
    handleProtocols: (offered) => negotiateProtocol(offered) ?? false,
    maxPayload: 4 * 1024 * 1024,
  });
  private readonly sessions = new Set<WebSocket>();

  constructor(private readonly deps: AgentServerDeps) {}

  async listen(host: string, port: number): Promise<number> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.deps.log.warn({ err: (e as Error).message, path: req.url }, 'agent endpoint error');
        status(res, 500, 'InternalError', (e as Error).message);
      });
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      try {
        this.upgrade(req, socket, head);
      } catch (e) {
        this.deps.log.warn({ err: (e as Error).message, path: req.url }, 'agent endpoint error');
        rejectUpgrade(socket, 500, (e as Error).message);
      }
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    // open exec sessions end: their commands are killed
    for (const ws of this.sessions) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  /** GET /exec/{ns}/{pod}/{container}: checks everything it can before the handshake. */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (!tokenMatches(req.headers.authorization, this.deps.token))
      return rejectUpgrade(socket, 401, 'a valid bearer token is required');
    const m = /^\/exec\/([^/]+)\/([^/]+)(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (!m) return rejectUpgrade(socket, 404, `no upgrade is served at ${url.pathname}`);
    if (req.method !== 'GET') return rejectUpgrade(socket, 405, `${req.method} is not allowed on exec`);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
      return rejectUpgrade(
        socket,
        400,
        `exec is served over WebSocket only, not ${req.headers.upgrade ?? 'a plain request'}`,
      );
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const chosen = offered.length ? negotiateProtocol(offered) : EXEC_PROTOCOLS.v1;
    if (!chosen)
      return rejectUpgrade(
        socket,
        400,
        `none of the offered subprotocols (${offered.join(', ')}) is served; served: ${SERVED_PROTOCOLS.join(', ')}`,
      );
    const [ns, pod, container] = [m[1], m[2], m[3]].map((s) =>
      s === undefined ? undefined : decodeURIComponent(s),
    );
    let opts;
    try {
      opts = parseExecQuery(url.searchParams);
    } catch (e) {
      return rejectUpgrade(socket, 400, (e as Error).message);
    }
    const runner = this.deps.exec;
    if (!runner || !this.deps.execTarget)
      return rejectUpgrade(socket, 501, 'exec is not served by this agent');
    const target = this.deps.execTarget(ns!, pod!, container);
    if ('error' in target) return rejectUpgrade(socket, target.code, target.error);
    const proto = protocolFeatures(chosen)!;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sessions.add(ws);
      ws.once('close', () => this.sessions.delete(ws));
      let proc;
      try {
        proc = runner.start({ id: target.id, command: opts.command, stdin: opts.stdin, tty: opts.tty });
      } catch (e) {
        this.deps.log.warn({ err: (e as Error).message, pod: `${ns}/${pod}` }, 'exec failed to start');
        const payload = outcomePayload(
          { error: `cannot exec: ${(e as Error).message}` },
          opts.command,
          proto,
        );
        ws.send(encodeFrame(CHANNEL.error, payload));
        ws.close(1000);
        return;
      }
      const started = Date.now();
      void serveExec(ws, proto, opts, proc, this.deps.log).then((outcome) =>
        this.deps.log.info?.(
          {
            pod: `${ns}/${pod}`,
            container: container ?? '',
            protocol: chosen,
            ms: Date.now() - started,
            ...outcome,
          },
          'exec ended',
        ),
      );
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', `${req.method} is not allowed`);
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (!tokenMatches(req.headers.authorization, this.deps.token))
      return status(res, 401, 'Unauthorized', 'a valid bearer token is required');
    if (url.pathname === '/images') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ images: await this.deps.images() }) + '\n');
      return;
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (!m) return status(res, 404, 'NotFound', `no route ${url.pathname}`);
    const [ns, pod, container] = [m[1], m[2], m[3]].map((s) =>
      s === undefined ? undefined : decodeURIComponent(s),
    );
    let q: LogQuery;
    try {
      q = parseLogQuery(url.searchParams);
    } catch (e) {
      return status(res, 400, 'BadRequest', (e as Error).message);
    }
    const found = this.deps.findContainer(ns!, pod!, container);
    if (!found)
      return status(
        res,
        404,
        'NotFound',
        `pod "${ns}/${pod}" has no container${container ? ` "${container}"` : ''} on this node`,
      );
    if ('error' in found)
      return status(res, found.code, found.code === 400 ? 'BadRequest' : 'NotFound', found.error);
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    res.on('close', () => abort.abort());
    const file = q.previous ? previousLogPath(found.logPath) : found.logPath;
    if (!(await fs.stat(file).catch(() => undefined)) && (q.previous || !q.follow))
      return q.previous
        ? status(
            res,
            400,
            'BadRequest',
            `previous terminated container "${container ?? ''}" in pod "${pod}" not found`,
          )
        : status(res, 404, 'NotFound', `container "${container ?? ''}" in pod "${pod}" has no log yet`);
    let stoppedSeen = false;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    try {
      for await (const e of this.reader.read(found.logPath, {
        previous: q.previous,
        tail: q.tailLines,
        follow: q.follow,
        signal: abort.signal,
        until: () => {
          // one more look at the file after the container stopped: its last lines may have
          // landed between the reader's last read and this check
          if (found.running()) return false;
          if (!stoppedSeen) return !(stoppedSeen = true);
          return true;
        },
      })) {
        if (!res.write(q.timestamps ? `${e.time} ${e.line}\n` : e.line + '\n'))
          await new Promise((ok) => res.once('drain', ok));
        if (abort.signal.aborted) break;
      }
    } catch (e) {
      this.deps.log.warn({ err: (e as Error).message, path: req.url }, 'log stream ended with an error');
    }
    res.end();
  }
}
