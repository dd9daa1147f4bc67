import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { RESOURCE_STORE, type ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger';

/** Something started for the store that must stop after it (the embedded redis-server). */
export interface Stoppable {
  stop(): Promise<void>;
}
export const STORE_BACKEND = Symbol('STORE_BACKEND');

/**
 * Provides the ResourceStore (built in main.ts, which also starts the embedded Redis when no
 * --redis-url is given) as RESOURCE_STORE, and closes both at shutdown: store first, then Redis.
 */
@Global()
@Module({})
export class StorageModule implements OnApplicationShutdown {
  static forRoot(store: ResourceStore, backend?: Stoppable): DynamicModule {
    return {
      module: StorageModule,
      providers: [
        { provide: RESOURCE_STORE, useValue: store },
        { provide: STORE_BACKEND, useValue: backend ?? null },
      ],
      exports: [RESOURCE_STORE],
    };
  }

  constructor(
    @Inject(RESOURCE_STORE) private readonly store: ResourceStore,
    @Inject(STORE_BACKEND) private readonly backend: Stoppable | null,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    try {
      await this.store.close();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'closing the store failed');
    }
    if (this.backend) {
      await this.backend.stop();
      this.log.info('embedded redis stopped');
    }
  }
}
