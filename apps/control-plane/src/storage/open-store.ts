import path from 'node:path';
import { EmbeddedRedis, RedisStore, type ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/config';
import type { MetricsService } from '../metrics/metrics.service';
import type { Stoppable } from './storage.module';

/**
 * Connects the ResourceStore: to --redis-url, or to an embedded redis-server started (and
 * supervised) under DATA_DIR/redis. Store operations feed the metrics; Redis state changes are logged.
 */
export async function openStore(
  config: ServerConfig,
  logger: Logger,
  metrics: MetricsService,
): Promise<{ store: ResourceStore; backend?: Stoppable }> {
  let url = config.redisUrl;
  let backend: Stoppable | undefined;
  if (!url) {
    const embedded = new EmbeddedRedis({ dataDir: path.join(config.dataDir, 'redis'), logger });
    await embedded.start();
    url = embedded.url;
    backend = embedded;
    logger.info({ url }, 'embedded redis started');
  }
  const store = new RedisStore({
    url,
    onOp: (op: string, result: string, ms?: number) =>
      metrics.observeStoreOp(op, result, ms === undefined ? undefined : ms / 1000),
    onStateChange: (state: string, detail?: string) =>
      logger.info({ redis: state, detail }, `redis ${state}`),
  });
  return { store, backend };
}
