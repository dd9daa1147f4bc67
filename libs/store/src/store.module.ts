import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { EmbeddedRedis, type EmbeddedRedisOptions } from './embedded-redis';
import { RedisStore, type RedisStoreOptions } from './redis-store';
import type { ResourceStore } from './types';

/** Injection token of the ResourceStore. */
export const RESOURCE_STORE = Symbol.for('berth.ResourceStore');
/** Injection token of the EmbeddedRedis (null when an external Redis is used). */
export const EMBEDDED_REDIS = Symbol.for('berth.EmbeddedRedis');

export interface StoreModuleOptions extends RedisStoreOptions {
  /** External Redis; when absent an EmbeddedRedis is started under `embedded.dataDir`. */
  redisUrl?: string;
  embedded?: EmbeddedRedisOptions;
}

/**
 * Provides RESOURCE_STORE (a RedisStore) to the whole application. Without `redisUrl` it starts
 * and supervises its own redis-server (EmbeddedRedis). Closes the store, then Redis, at shutdown.
 */
@Global()
@Module({})
export class StoreModule implements OnApplicationShutdown {
  static forRoot(options: StoreModuleOptions): DynamicModule {
    return {
      module: StoreModule,
      providers: [
        {
          provide: EMBEDDED_REDIS,
          useFactory: async (): Promise<EmbeddedRedis | null> => {
            if (options.redisUrl) return null;
            if (!options.embedded) throw new Error('StoreModule: give redisUrl or embedded.dataDir');
            const e = new EmbeddedRedis(options.embedded);
            await e.start();
            return e;
          },
        },
        {
          provide: RESOURCE_STORE,
          inject: [EMBEDDED_REDIS],
          useFactory: (embedded: EmbeddedRedis | null): ResourceStore => {
            const { redisUrl, embedded: _e, ...rest } = options;
            return new RedisStore(redisUrl ?? (embedded as EmbeddedRedis).url, rest);
          },
        },
      ],
      exports: [RESOURCE_STORE, EMBEDDED_REDIS],
    };
  }

  constructor(
    @Inject(RESOURCE_STORE) private readonly store: ResourceStore,
    @Inject(EMBEDDED_REDIS) private readonly embedded: EmbeddedRedis | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
    await this.embedded?.stop();
  }
}
