import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { loadTokens } from './auth/tokens';
import { FlagError, USAGE, parseFlags, type ServerConfig } from './config/config';
import { createLogger } from './logging/logger';
import { MetricsService } from './metrics/metrics.service';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServer, listen } from './server';
import { TlsConfigError, servingTls, type ServingTls } from './tls/serving-tls';

/**
 * berth-control-plane: the API server. Prints exactly one line on stdout when ready:
 * `berth control plane listening on http://HOST:PORT` (https:// with --tls or
 * --tls-cert-file); logs go to stderr.
 */
async function main(): Promise<void> {
  let config: ServerConfig;
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  try {
    config = parseFlags(argv, process.env, Boolean(process.stderr.isTTY));
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`berth-control-plane: error: ${e.message} (see --help)\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logFormat);
  let app: NestFastifyApplication | undefined;
  const stopping = new AbortController();
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping.signal.aborted) return;
    stopping.abort();
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 15 s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    // Still starting: main() closes what it built once createServer returns.
    if (!app) return;
    try {
      await app.close();
      process.exit(0);
    } catch (e) {
      logger.error({ err: (e as Error).message }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A bug must not take the API down for everyone: log it and keep serving (each request's own
  // errors are already turned into Status responses).
  process.on('uncaughtException', (e) => logger.error({ err: String(e?.stack ?? e) }, 'uncaught exception'));
  process.on('unhandledRejection', (e) =>
    logger.error({ err: String((e as Error)?.stack ?? e) }, 'unhandled rejection'),
  );

  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    let tokens: string[];
    try {
      tokens = loadTokens(config.tokenFile, config.dataDir);
    } catch (e) {
      const flag = config.tokenFile ? 'flag --token-file' : 'the default token file';
      process.stderr.write(`berth-control-plane: error: ${flag}: ${(e as Error).message}\n`);
      process.exit(2);
    }
    let tls: ServingTls | undefined;
    try {
      tls = await servingTls(config);
    } catch (e) {
      if (!(e instanceof TlsConfigError)) throw e;
      process.stderr.write(`berth-control-plane: error: ${e.message}\n`);
      process.exit(2);
    }
    if (tls?.pki) {
      const { pki } = tls;
      logger.info(
        {
          caFile: pki.caFile,
          certFile: pki.certFile,
          caFingerprint: pki.caFingerprint,
          generated: pki.generated,
          reason: pki.reason,
          dns: pki.sans.dns,
          ips: pki.sans.ips,
        },
        pki.generated === 'none'
          ? 'tls: reusing the serving certificate'
          : 'tls: issued a serving certificate',
      );
    } else if (tls) logger.info({ certFile: tls.certFile }, 'tls: serving with the given certificate');
    const metrics = new MetricsService();
    logger.info({ dataDir: config.dataDir, redis: config.redisUrl ? 'external' : 'embedded' }, 'starting');
    app = await createServer({ config, logger, tokens, metrics }, tls);
    if (stopping.signal.aborted) {
      await app.close();
      process.exit(0);
    }
    const url = await listen(app, config, logger, stopping.signal);
    if (stopping.signal.aborted) return;
    logger.info({ url }, 'ready');
    process.stdout.write(`berth control plane listening on ${url}\n`);
  } catch (e) {
    logger.fatal({ err: (e as Error).message }, 'start-up failed');
    process.exit(1);
  }
}

void main();
