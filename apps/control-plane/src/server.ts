import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import { AppModule, type AppDeps } from './app.module';
import { ResourceService } from './api/resource.service';
import { parseRoute } from './api/route';
import { sendStatus } from './errors/status.filter';
import { PinoNestLogger } from './logging/logger';
import { MetricsService } from './metrics/metrics.service';

/** Largest accepted request body (as Kubernetes' 3 MiB). */
export const BODY_LIMIT = 3 * 1024 * 1024;
export const SYSTEM_NAMESPACES = ['default', 'kube-system'];

export interface RunningServer {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

/**
 * Builds the Nest application on Fastify, ensures the system namespaces, and listens. The caller
 * owns the store (and embedded Redis) it passes in deps; close() ends watches, the HTTP server,
 * the store and the embedded Redis, in that order.
 */
export async function startServer(deps: AppDeps): Promise<RunningServer> {
  const { config, logger } = deps;
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
    maxParamLength: 1024,
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(deps), adapter, {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  configureFastify(app.getHttpAdapter().getInstance(), logger, app.get(MetricsService));
  await app.init();
  await ensureNamespaces(app.get(ResourceService), logger);
  await app.listen({ port: config.port, host: config.host });
  const addr = app.getHttpServer().address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  return { app, url, close: () => app.close() };
}

function configureFastify(fastify: FastifyInstance, logger: Logger, metrics: MetricsService): void {
  // Bodies are read as bytes; the API layer decodes them by verb and Content-Type (JSON, YAML,
  // patch flavours), so one catch-all parser replaces Fastify's and Nest's JSON parsers.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  fastify.setErrorHandler((err, req, reply) => sendStatus(logger, err, req, reply));
  fastify.addHook('onResponse', async (req, reply) => {
    const ms = reply.elapsedTime;
    const { verb, resource } = describe(req);
    metrics.observeRequest(verb, resource, reply.statusCode, ms / 1000);
    logger.info(
      { method: req.method, path: req.url, code: reply.statusCode, ms: Math.round(ms * 10) / 10 },
      'request',
    );
  });
}

/** Kubernetes-style verb and resource of a request, for metrics labels. */
export function describe(req: FastifyRequest): { verb: string; resource: string } {
  const path = req.url.split('?')[0];
  let resource = '';
  let named = false;
  try {
    const r = parseRoute(path);
    if (r.type === 'resource') {
      resource = r.subresource ? `${r.kind.resource}/${r.subresource}` : r.kind.resource;
      named = r.name !== undefined;
    }
  } catch {
    resource = path.startsWith('/api') ? 'unknown' : (path.split('/')[1] ?? '');
  }
  const verb =
    req.method === 'GET'
      ? resource && !named
        ? 'LIST'
        : 'GET'
      : req.method === 'POST'
        ? 'CREATE'
        : req.method === 'PUT'
          ? 'UPDATE'
          : req.method;
  return { verb, resource };
}

async function ensureNamespaces(resources: ResourceService, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
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
