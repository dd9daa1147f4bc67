import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';

export const LOGGER = Symbol('LOGGER');

/**
 * The process logger: one JSON line per event on stderr, or pino-pretty's human form (also on
 * stderr; stdout carries only the ready line). JSON lines are written asynchronously: under load
 * the lines logged while a write is in flight go out together in the next one instead of one
 * blocking write (and one wake-up of the reader) per request. pino flushes what is left
 * synchronously when the process exits, so nothing is lost at exit.
 */
export function createLogger(
  format: 'json' | 'pretty',
  level = process.env.BERTH_LOG_LEVEL || 'info',
): Logger {
  const opts = { level, base: { component: 'control-plane' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') {
    // pino-pretty is a dev dependency: fall back to JSON when it is not installed.
    try {
      const pretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
      return pino(
        opts,
        pretty({
          destination: 2,
          sync: true,
          colorize: process.stderr.isTTY,
          ignore: 'pid,hostname,component',
        }),
      );
    } catch {
      /* fall through */
    }
  }
  return pino(opts, pino.destination({ fd: 2, sync: false }));
}

/** Nest's own log calls routed to pino (Nest's chatty bootstrap 'log' lines go to debug). */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pinoLog: Logger) {}
  log(message: unknown, context?: string): void {
    this.pinoLog.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.pinoLog.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.pinoLog.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.pinoLog.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pinoLog.trace({ context }, String(message));
  }
}
