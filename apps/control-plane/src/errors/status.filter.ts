import { Catch, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger';
import { toStatus } from './to-status';

/** Every error leaving a handler (ours, Nest's, Fastify's) becomes a Status with its HTTP code. */
@Catch()
export class StatusFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: Logger) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const req = ctx.getRequest<FastifyRequest>();
    sendStatus(this.log, err, req, reply);
  }
}

export function sendStatus(log: Logger, err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, internal } = toStatus(err);
  if (internal) {
    log.error(
      {
        err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
        method: req.method,
        path: req.url,
      },
      'internal error',
    );
  }
  if (reply.sent || reply.raw.headersSent) {
    if (!reply.raw.writableEnded) reply.raw.end();
    return;
  }
  void reply.code(status.code).header('content-type', 'application/json').send(status);
}
