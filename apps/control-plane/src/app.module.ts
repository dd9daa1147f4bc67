import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import path from 'node:path';
import { StoreModule } from '@berth/store';
import type { Logger } from 'pino';
import { ApiModule } from './api/api.module';
import { AuthModule } from './auth/auth.module';
import type { ServerConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { ControllersModule } from './controllers/controllers.module';
import { DeploymentModule } from './deployment/deployment.module';
import { SchedulerModule } from './scheduler/scheduler.module';
import { StatusFilter } from './errors/status.filter';
import { HealthModule } from './health/health.module';
import { EventsModule } from './events/events.module';
import { ExecModule } from './exec/exec.module';
import { GarbageCollectorModule } from './garbagecollector/garbage-collector.module';
import { LoggingModule } from './logging/logging.module';
import { NodeLifecycleModule } from './nodelifecycle/node-lifecycle.module';
import { MetricsModule } from './metrics/metrics.module';
import { ReplicaSetModule } from './replicaset/replicaset.module';
import { SyncModule } from './sync/sync.module';
import type { MetricsService } from './metrics/metrics.service';

export interface AppDeps {
  config: ServerConfig;
  logger: Logger;
  tokens: string[];
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
        // Without --redis-url the store module starts and supervises redis-server under DATA_DIR/redis.
        StoreModule.forRoot({
          redisUrl: deps.config.redisUrl,
          embedded: {
            dataDir: path.join(deps.config.dataDir, 'redis'),
            logger: deps.logger.child({ subsystem: 'redis' }),
          },
          onOp: (op, _kind, ms, ok, reason) =>
            deps.metrics.observeStoreOp(op, ok ? 'ok' : (reason ?? 'error'), ms / 1000),
          onStateChange: (state, detail) =>
            deps.logger[state === 'ready' || state === 'end' ? 'info' : 'warn'](
              { redis: state, detail },
              `redis ${state}`,
            ),
        }),
        MetricsModule.forRoot(deps.metrics),
        AuthModule.forRoot(deps.tokens),
        HealthModule,
        ApiModule,
        ExecModule,
        // The controller runtime; each controller below registers with its ControllerManager.
        ControllersModule,
        NodeLifecycleModule,
        GarbageCollectorModule,
        EventsModule,
        DeploymentModule,
        ReplicaSetModule,
        SchedulerModule,
        SyncModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: StatusFilter }],
    };
  }
}
