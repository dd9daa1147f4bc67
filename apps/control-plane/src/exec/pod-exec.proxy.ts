import http from 'node:http';
import type { Duplex } from 'node:stream';
import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiError, execQuery, kindFor, parseExecQuery, type KubeObject, type Status } from '@berth/api';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { AUTH_TOKENS } from '../auth/auth.guard';
import { bearerToken, tokenMatches } from '../auth/tokens';
import { parseRoute } from '../api/route';
import { LOGGER } from '../logging/logger';
import { MetricsService } from '../metrics/metrics.service';
import { podAgentEndpoint, podContainer } from '../pods/pod-agent';

const POD = kindFor('v1', 'Pod')!;
const NODE = kindFor('v1', 'Node')!;

export interface AgentExecTarget {
  host: string;
  port: number;
  /** /exec/{ns}/{pod}/{container}?command=…&stdin=… on the agent. */
  path: string;
}

/**
 * Which agent runs a pod's container and the exec path to ask it for (pure: the pod and its node
 * as read from the store, the request's query). Errors read as Kubernetes' do.
 */
export function execTarget(
  pod: KubeObject,
  node: KubeObject | undefined,
  query: URLSearchParams,
): AgentExecTarget {
  const name = pod.metadata.name!;
  let opts;
  try {
    opts = parseExecQuery(query);
  } catch (e) {
    throw new ApiError('BadRequest', (e as Error).message);
  }
  const container = podContainer(pod, opts.container);
  const phase: string | undefined = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed')
    throw new ApiError(
      'BadRequest',
      `cannot exec into a container in a completed pod; current phase is ${phase}`,
    );
  const { host, port } = podAgentEndpoint(pod, node, '', '');
  const ns = pod.metadata.namespace!;
  const path =
    `/exec/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?` +
    execQuery({ ...opts, container: undefined });
  return { host, port, path };
}

/** Writes an HTTP error answer on a socket that asked for an upgrade, then closes it. */
function writeStatus(socket: Duplex, code: number, body: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-cache, private\r\n' +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** Headers of the client's handshake the agent needs (never the client's Authorization). */
const FORWARDED = [
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'user-agent',
];

/**
 * `pods/{name}/exec` (kubectl exec): an HTTP upgrade, which Fastify does not route, so this
 * listens to the server's 'upgrade' event (every upgrade request comes here; only exec is
 * served). Same bearer-token check as the AuthHook, then the pod, container and query are
 * checked with Kubernetes' messages, and the WebSocket handshake is proxied to the agent of the
 * pod's node (`GET /exec/{ns}/{pod}/{container}` with the control plane's token); once the agent
 * answers 101 the two sockets are piped, so the channel protocol (v5 … v1.channel.k8s.io) is the
 * agent's. Non-WebSocket upgrades (SPDY, kubectl ≤ 1.29's default) get 400 after those checks,
 * so a kubectl falling back from WebSocket to SPDY still reports the real error.
 */
@Injectable()
export class PodExecProxy implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly open = new Set<Duplex>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(RESOURCE_STORE) private readonly store: ResourceStore,
    @Inject(AUTH_TOKENS) private readonly tokens: string[],
    @Inject(LOGGER) private readonly log: Logger,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as http.Server;
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
  }

  /** Open exec connections end at shutdown (the agents then kill their commands). */
  beforeApplicationShutdown(): void {
    for (const s of this.open) s.destroy();
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const started = performance.now();
    socket.on('error', () => undefined);
    const done = (code: number): void => {
      const ms = performance.now() - started;
      this.metrics.observeRequest('CONNECT', code === 401 ? '' : 'pods/exec', code, ms / 1000);
      this.log.info({ method: req.method, path: req.url, code, ms: Math.round(ms * 10) / 10 }, 'request');
    };
    this.proxy(req, socket, head, done).catch((e: unknown) => {
      const err =
        e instanceof ApiError
          ? e
          : new ApiError('InternalError', `exec failed: ${(e as Error)?.message ?? String(e)}`);
      if (!(e instanceof ApiError))
        this.log.error({ err: String((e as Error)?.stack ?? e), path: req.url }, 'exec failed');
      const status: Status = err.toStatus();
      writeStatus(socket, err.code, JSON.stringify(status));
      done(err.code);
    });
  }

  private async proxy(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    done: (code: number) => void,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://berth');
    const token = bearerToken(req.headers.authorization);
    if (!token || !tokenMatches(token, this.tokens))
      throw new ApiError(
        'Unauthorized',
        token ? 'the bearer token is not valid' : 'a bearer token is required (Authorization: Bearer TOKEN)',
      );
    const route = parseRoute(url.pathname);
    if (route.type !== 'resource' || route.subresource !== 'exec')
      throw new ApiError(
        'BadRequest',
        `${url.pathname} does not take an upgrade: only pods/{name}/exec does`,
      );
    if (req.method !== 'GET' && req.method !== 'POST')
      throw new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
    const pod = await this.store.get(POD, route.namespace!, route.name!);
    const nodeName: string | undefined = pod.spec?.nodeName;
    const node = nodeName
      ? await this.store.get(NODE, undefined, nodeName).catch(() => undefined)
      : undefined;
    const target = execTarget(pod, node, url.searchParams);
    const upgrade = String(req.headers.upgrade ?? '');
    if (upgrade.toLowerCase() !== 'websocket')
      throw new ApiError(
        'BadRequest',
        `exec over ${upgrade || 'plain HTTP'} is not served: Berth speaks the WebSocket channel protocols ` +
          '(v5.channel.k8s.io … channel.k8s.io); kubectl 1.29 needs KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true',
      );
    if (socket.destroyed) return;

    const headers: http.OutgoingHttpHeaders = {
      connection: 'Upgrade',
      authorization: `Bearer ${this.tokens[0]}`,
    };
    for (const h of FORWARDED) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
    await new Promise<void>((resolve, reject) => {
      const up = http.request({
        host: target.host,
        port: target.port,
        method: 'GET',
        path: target.path,
        headers,
        timeout: 10_000,
      });
      const gone = (): void => void up.destroy();
      socket.once('close', gone);
      up.on('timeout', () => up.destroy(new Error(`no answer within 10 s`)));
      up.on('error', (e) => {
        socket.off('close', gone);
        reject(
          new ApiError(
            'ServiceUnavailable',
            `cannot reach the agent of node ${nodeName} at ${target.host}:${target.port}: ${e.message}`,
          ),
        );
      });
      up.on('response', (res) => {
        // the agent refused (its Status): relay it
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          socket.off('close', gone);
          const code = res.statusCode ?? 502;
          writeStatus(socket, code, Buffer.concat(chunks).toString());
          done(code);
          resolve();
        });
        res.on('error', (e) => reject(e));
      });
      up.on('upgrade', (res, agent, agentHead) => {
        socket.off('close', gone);
        up.setTimeout(0);
        agent.setTimeout(0);
        let lines = 'HTTP/1.1 101 Switching Protocols\r\n';
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          lines += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
        socket.write(lines + '\r\n');
        if (agentHead.length) socket.write(agentHead);
        if (head.length) agent.write(head);
        this.open.add(socket);
        const close = (): void => {
          this.open.delete(socket);
          agent.destroy();
          socket.destroy();
        };
        agent.on('error', close);
        agent.on('close', close);
        socket.on('close', close);
        agent.pipe(socket);
        socket.pipe(agent);
        done(101);
        resolve();
      });
      up.end();
    });
  }
}
