import { setMaxListeners } from 'node:events';
import { All, Controller, Inject, Injectable, Req, Res, type OnModuleDestroy } from '@nestjs/common';
import { ApiError } from '@berth/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { SERVER_CONFIG, type ServerConfig } from '../config/config';
import { LOGGER } from '../logging/logger';
import { MetricsService } from '../metrics/metrics.service';
import { mediaType, patchTypeOf } from './codec';
import { discoveryDocument, versionInfo } from './discovery';
import { ResourceService, type Query } from './resource.service';
import { parseRoute, type ResourceRoute } from './route';
import { includeObjectOf, negotiateTable, tableWatchEncoder } from './table';
import { streamWatch } from './watch-stream';
import { PodLogService } from '../logs/pod-logs.service';

/** Aborted when the application shuts down: open watches end so the server can close. */
@Injectable()
export class ShutdownSignal implements OnModuleDestroy {
  private readonly ac = new AbortController();
  constructor() {
    // Every open watch listens to it: thousands of listeners are expected, not a leak.
    setMaxListeners(0, this.ac.signal);
  }
  get signal(): AbortSignal {
    return this.ac.signal;
  }
  onModuleDestroy(): void {
    this.ac.abort();
  }
}

/** Query string values as single strings (the first of repeated keys). */
export function flatQuery(q: unknown): Query {
  const out: Query = {};
  if (q && typeof q === 'object') {
    for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
      const s = Array.isArray(v) ? v[0] : v;
      if (typeof s === 'string') out[k] = s;
    }
  }
  return out;
}

/**
 * The one controller for every kind: parses the path into a route and hands it to the
 * ResourceService. Kubernetes paths: /api/v1/..., /apis/{group}/{version}/..., plus discovery.
 */
@Controller()
export class ResourceController {
  constructor(
    private readonly resources: ResourceService,
    private readonly shutdown: ShutdownSignal,
    private readonly metrics: MetricsService,
    private readonly podLogs: PodLogService,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @All('version')
  async version(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (req.method !== 'GET')
      throw new ApiError('MethodNotAllowed', `${req.method} is not allowed on /version`);
    await send(reply, 200, versionInfo());
  }

  @All(['api', 'api/*', 'apis', 'apis/*'])
  async handle(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const path = req.url.split('?')[0];
    const route = parseRoute(path);
    const q = flatQuery(req.query);
    if (route.type === 'discovery') {
      if (req.method !== 'GET')
        throw new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${path}`);
      const doc = discoveryDocument(route, req.headers.accept, req.host);
      await reply.code(200).header('content-type', doc.contentType).header('vary', 'Accept').send(doc.json);
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : undefined;
    const ct = req.headers['content-type'];
    // exec is a WebSocket upgrade (exec/pod-exec.proxy.ts); a plain request gets Kubernetes' answer
    if (route.subresource === 'exec') throw new ApiError('BadRequest', 'Upgrade request required');
    if (route.subresource === 'log') {
      if (req.method !== 'GET')
        throw new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${path}`);
      return this.podLogs.stream(req, reply, route.namespace!, route.name!, q);
    }
    switch (req.method) {
      case 'GET': {
        if (q.watch === 'true' || q.watch === '1') return this.watch(req, reply, route, q);
        // kubectl get asks for a meta.k8s.io Table (server-side printing); subresources stay plain.
        const table = route.subresource ? undefined : negotiateTable(req.headers.accept);
        if (table) return send(reply, 200, await this.resources.table(route, q, table));
        if (route.name === undefined) return sendText(reply, 200, await this.resources.listJson(route, q));
        return send(reply, 200, await this.resources.get(route));
      }
      case 'POST':
        if (route.name !== undefined)
          throw new ApiError(
            'MethodNotAllowed',
            `POST is not allowed on ${path}; create with POST on the collection`,
          );
        return sendResult(reply, await this.resources.create(route, body, ct, withUserAgent(q, req)));
      case 'PUT':
        needName(route, 'PUT');
        return sendResult(reply, await this.resources.update(route, body, ct, withUserAgent(q, req)));
      case 'PATCH':
        needName(route, 'PATCH');
        return sendResult(
          reply,
          await this.resources.patch(route, patchTypeOf(ct), body, withUserAgent(q, req)),
        );
      case 'DELETE':
        needName(route, 'DELETE');
        if (route.subresource)
          throw new ApiError(
            'MethodNotAllowed',
            `DELETE is not allowed on the ${route.subresource} subresource`,
          );
        if (body?.length && mediaType(ct) !== '' && mediaType(ct) !== 'application/json') {
          throw new ApiError(
            'UnsupportedMediaType',
            `DELETE takes DeleteOptions as application/json, not ${mediaType(ct)}`,
          );
        }
        return sendResult(reply, await this.resources.delete(route, body, q));
      default:
        throw new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${path}`);
    }
  }

  private async watch(
    req: FastifyRequest,
    reply: FastifyReply,
    route: ResourceRoute,
    q: Query,
  ): Promise<void> {
    if (route.subresource)
      throw new ApiError('MethodNotAllowed', `watch is not allowed on the ${route.subresource} subresource`);
    let timeoutSeconds: number | undefined;
    if (q.timeoutSeconds !== undefined && q.timeoutSeconds !== '') {
      if (!/^\d+$/.test(q.timeoutSeconds))
        throw new ApiError(
          'BadRequest',
          `timeoutSeconds must be a whole number, not ${JSON.stringify(q.timeoutSeconds)}`,
        );
      timeoutSeconds = Number(q.timeoutSeconds) || undefined;
    }
    const table = negotiateTable(req.headers.accept);
    const encode = table
      ? tableWatchEncoder(route.kind, { version: table, includeObject: includeObjectOf(q.includeObject) })
      : undefined;
    const resource = route.kind.resource;
    this.metrics.watchers.inc({ resource });
    this.log.debug({ path: req.url }, 'watch opened');
    try {
      await streamWatch(
        req,
        reply,
        (signal) => this.resources.watch(route, q, this.config.bookmarkIntervalMs, signal),
        {
          timeoutSeconds,
          shutdown: this.shutdown.signal,
          encode,
          onInternalError: (e) =>
            this.log.error({ err: String((e as Error)?.stack ?? e), path: req.url }, 'watch failed'),
        },
      );
    } finally {
      // The request log line and request counter come from the onResponse hook (verb WATCH).
      this.metrics.watchers.dec({ resource });
    }
  }
}

/** Writes name their field manager after the User-Agent when fieldManager is not given (as Kubernetes). */
function withUserAgent(q: Query, req: FastifyRequest): Query {
  return { ...q, userAgent: req.headers['user-agent'] };
}

function needName(route: ResourceRoute, method: string): void {
  if (route.name === undefined) {
    throw new ApiError(
      'MethodNotAllowed',
      `${method} needs an object path (/${route.kind.resource}/{name}), not a collection`,
    );
  }
}

async function sendText(reply: FastifyReply, code: number, json: string): Promise<void> {
  await reply.code(code).header('content-type', 'application/json').send(json);
}

async function send(reply: FastifyReply, code: number, body: unknown): Promise<void> {
  await reply.code(code).header('content-type', 'application/json').send(JSON.stringify(body));
}

function sendResult(reply: FastifyReply, r: { code: number; body: unknown }): Promise<void> {
  return send(reply, r.code, r.body);
}
