import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { loadTokens } from './auth/tokens';
import { FlagError, USAGE, parseFlags, type ServerConfig } from './config/config';
import { createLogger } from './logging/logger';
import { MetricsService } from './metrics/metrics.service';
import { startServer, type RunningServer } from './server';
import { openStore } from './storage/open-store';

/**
 * berth-control-plane: the API server. Prints exactly one line on stdout when ready:
 * `berth control plane listening on http://HOST:PORT`; logs go to stderr.
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
      process.stderr.write(`berth-control-plane: error: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logFormat);
  let server: RunningServer | undefined;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 15 s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      if (server) await server.close();
      else await backendStop?.();
      process.exit(0);
    } catch (e) {
      logger.error({ err: (e as Error).message }, 'shutdown failed');
      process.exit(1);
    }
  };
  let backendStop: (() => Promise<void>) | undefined;
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (e) =>
    logger.error({ err: String((e as Error)?.stack ?? e) }, 'unhandled rejection'),
  );

  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const tokens = loadTokens(config.tokenFile, config.dataDir);
    const metrics = new MetricsService();
    const { store, backend } = await openStore(config, logger, metrics);
    backendStop = backend ? () => store.close().then(() => backend.stop()) : () => store.close();
    if (stopping) return;
    logger.info({ dataDir: config.dataDir, redis: config.redisUrl ? 'external' : 'embedded' }, 'starting');
    server = await startServer({ config, logger, tokens, store, backend, metrics });
    if (stopping) return;
    logger.info({ url: server.url }, 'ready');
    process.stdout.write(`berth control plane listening on ${server.url}\n`);
  } catch (e) {
    logger.fatal({ err: (e as Error).message }, 'start-up failed');
    await backendStop?.().catch(() => undefined);
    process.exit(1);
  }
}

void main();
