import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { ApiError } from '@berth/api';
import { AppModule, type AppDeps } from './app.module';
import type { ServerConfig } from './config/config';
import { ResourceService } from './api/resource.service';
import { parseRoute } from './api/route';
import { sendStatus } from './errors/status.filter';
import { PinoNestLogger } from './logging/logger';
import { MetricsService } from './metrics/metrics.service';
import type { ServingTls } from './tls/serving-tls';

/** Largest accepted request body (as Kubernetes' 3 MiB). */
export const BODY_LIMIT = 3 * 1024 * 1024;
/** Paths polled by probes and scrapers: logged at debug so they do not drown the request log. */
const PROBES = new Set(['/healthz', '/livez', '/readyz', '/metrics']);
export const SYSTEM_NAMESPACES = ['default', 'kube-system'];

/**
 * Builds the Nest application on Fastify (which starts the store, and the embedded Redis when no
 * --redis-url is given). listen() then ensures the system namespaces and serves; app.close() ends
 * watches, the HTTP server, the store and the embedded Redis, in that order. With `tls` the server
 * speaks HTTPS only (HTTP/1.1; no plain-HTTP listener beside it).
 */
export async function createServer(deps: AppDeps, tls?: ServingTls): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    ...(tls ? { https: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' as const } } : {}),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
    return503OnClosing: true,
    // Errors Fastify raises before routing (a path with bad percent-encoding) as Status too.
    frameworkErrors: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) =>
      sendStatus(deps.logger, err, req, reply),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(deps), adapter, {
    bodyParser: false,
    logger: new PinoNestLogger(deps.logger),
    abortOnError: false,
  });
  configureFastify(app.getHttpAdapter().getInstance(), deps.logger, app.get(MetricsService));
  await app.init();
  return app;
}

/** Waits for storage to create the system namespaces, then listens; returns the URL. */
export async function listen(
  app: NestFastifyApplication,
  config: ServerConfig,
  logger: Logger,
  signal: AbortSignal,
): Promise<string> {
  await ensureNamespaces(app.get(ResourceService), logger, signal);
  if (signal.aborted) return '';
  await app.listen({ port: config.port, host: config.host });
  const addr = app.getHttpServer().address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const scheme = app.getHttpServer() instanceof TlsServer ? 'https' : 'http';
  return `${scheme}://${host}:${addr.port}`;
}

function configureFastify(fastify: FastifyInstance, logger: Logger, metrics: MetricsService): void {
  // Bodies are read as bytes; the API layer decodes them by verb and Content-Type (JSON, YAML,
  // patch flavours), so one catch-all parser replaces Fastify's and Nest's JSON parsers.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, payload, done) => readBody(payload, done));
  // Fastify's own errors (body too large, bad Content-Length) reach the StatusFilter through
  // Nest's error handler as HttpExceptions.
  fastify.addHook('onResponse', async (req, reply) => {
    const ms = reply.elapsedTime;
    const { verb, resource } = describe(req);
    metrics.observeRequest(verb, resource, reply.statusCode, ms / 1000);
    const quiet = PROBES.has(req.url.split('?')[0]);
    logger[quiet ? 'debug' : 'info'](
      { method: req.method, path: req.url, code: reply.statusCode, ms: Math.round(ms * 10) / 10 },
      'request',
    );
  });
}

/** Bytes of an oversized body still read (and dropped) so the client can read its 413. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/**
 * Reads a request body up to BODY_LIMIT. A larger one is read to its end and dropped (up to
 * DRAIN_LIMIT) before the 413 is sent: answering mid-upload would reset the connection and the
 * client would see a broken pipe instead of the Status.
 */
function readBody(payload: NodeJS.ReadableStream, done: (err: Error | null, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (err: Error | null, body?: Buffer): void => {
    if (finished) return;
    finished = true;
    done(err, body);
  };
  const tooLarge = (): ApiError =>
    new ApiError(
      'RequestEntityTooLarge',
      `the request body is larger than the ${BODY_LIMIT / 1024 / 1024} MiB limit`,
    );
  payload.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= BODY_LIMIT) chunks.push(c);
    else if (size > DRAIN_LIMIT) finish(tooLarge());
    else chunks.length = 0;
  });
  payload.on('end', () => finish(size > BODY_LIMIT ? tooLarge() : null, Buffer.concat(chunks)));
  payload.on('error', (e: Error) => finish(e));
}

/**
 * Kubernetes-style verb and resource of a request, for metrics labels. Paths that are not
 * resources (discovery, probes, unknown paths) get resource '' and the HTTP method as verb, so
 * arbitrary URLs cannot grow the label set.
 */
export function describe(req: FastifyRequest): { verb: string; resource: string } {
  try {
    const r = parseRoute(req.url.split('?')[0]);
    if (r.type === 'resource') {
      const resource = r.subresource ? `${r.kind.resource}/${r.subresource}` : r.kind.resource;
      const verbs: Record<string, string> = {
        POST: 'CREATE',
        PUT: 'UPDATE',
        PATCH: 'PATCH',
        DELETE: 'DELETE',
      };
      const verb =
        req.method === 'GET' ? (r.name === undefined ? 'LIST' : 'GET') : (verbs[req.method] ?? req.method);
      return { verb, resource };
    }
  } catch {
    /* not a resource path */
  }
  return { verb: req.method, resource: '' };
}

async function ensureNamespaces(
  resources: ResourceService,
  logger: Logger,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      await resources.ensureNamespaces(SYSTEM_NAMESPACES);
      return;
    } catch (e) {
      if (attempt === 1 || attempt % 10 === 0) {
        logger.warn(
          { err: (e as Error).message, attempt },
          'waiting for storage to create the system namespaces',
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * attempt)));
    }
  }
}
