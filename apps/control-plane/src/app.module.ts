import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { ResourceStore } from '@berth/store';
import type { Logger } from 'pino';
import { ApiModule } from './api/api.module';
import { AuthModule } from './auth/auth.module';
import type { ServerConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { StatusFilter } from './errors/status.filter';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import type { MetricsService } from './metrics/metrics.service';
import { StorageModule, type Stoppable } from './storage/storage.module';

export interface AppDeps {
  config: ServerConfig;
  logger: Logger;
  tokens: string[];
  store: ResourceStore;
  backend?: Stoppable;
  metrics: MetricsService;
}

/** The control plane's root module: wires the bounded contexts with what main.ts built. */
@Module({})
export class AppModule {
  static forRoot(deps: AppDeps): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(deps.config),
        LoggingModule.forRoot(deps.logger),
        StorageModule.forRoot(deps.store, deps.backend),
        MetricsModule.forRoot(deps.metrics),
        AuthModule.forRoot(deps.tokens),
        HealthModule,
        ApiModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: StatusFilter }],
    };
  }
}
